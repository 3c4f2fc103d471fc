"""JWKS, discovery metadata, the catch-all error handler and the app factory."""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

import anyio
import httpx
import pytest

from m2m_guard._tools.server import ServerThread
from m2m_guard.issuer import IssuerConfigError, LocalIssuer, create_app
from tests.issuer._helpers import FAST, asgi_client
from tests.support.clock import FakeClock


def jwks_paths(issuer: LocalIssuer) -> list[str]:
    """The consumer and B2B JWKS paths."""
    return [
        f"/v1/sessions/jwks/{issuer.project_id}",
        f"/v1/b2b/sessions/jwks/{issuer.project_id}",
    ]


def test_jwks_is_served_on_both_stytch_paths_without_auth(
    http: httpx.Client, issuer: LocalIssuer
) -> None:
    """Consumer and B2B paths serve the same keys, with Stytch's fields."""
    for path in jwks_paths(issuer):
        response = http.get(path)
        assert response.status_code == 200
        body = response.json()
        assert body["status_code"] == 200
        assert body["request_id"].startswith("request-id-test-")
        assert body["keys"] == issuer.jwks()["keys"]
        assert response.headers["cache-control"] == "public, max-age=300"


def test_jwks_honours_if_none_match(http: httpx.Client, issuer: LocalIssuer) -> None:
    """A matching ETag (strong, weak, in a list, or *) gets 304 with no body."""
    path = jwks_paths(issuer)[0]
    etag = http.get(path).headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = http.get(path, headers={"If-None-Match": header})
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert "max-age=300" in response.headers["cache-control"]
    assert http.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_the_etag_changes_when_keys_rotate(
    http: httpx.Client, issuer: LocalIssuer, clock: FakeClock
) -> None:
    """Rotation and grace expiry both change the ETag; nothing else does."""
    path = jwks_paths(issuer)[0]
    first = http.get(path).headers["etag"]
    assert http.get(path).headers["etag"] == first
    issuer.rotate_keys(grace_seconds=60)
    second = http.get(path).headers["etag"]
    clock.advance(60)
    third = http.get(path).headers["etag"]
    assert len({first, second, third}) == 3


def test_jwks_of_a_foreign_project_is_404(http: httpx.Client) -> None:
    """Only this project's keys exist."""
    response = http.get("/v1/sessions/jwks/project-test-other")
    assert response.status_code == 404
    assert response.json()["error_type"] == "project_not_found"


def test_the_jwks_max_age_is_configurable(issuer: LocalIssuer) -> None:
    """jwks_max_age sets Cache-Control."""
    with asgi_client(create_app(issuer=issuer, jwks_max_age=7)) as http:
        response = http.get(jwks_paths(issuer)[0])
        assert response.headers["cache-control"] == "public, max-age=7"


@pytest.mark.parametrize(
    "path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
)
def test_discovery_metadata_points_at_the_token_endpoint_and_jwks(
    http: httpx.Client, issuer: LocalIssuer, path: str
) -> None:
    """OIDC and RFC 8414 documents: issuer is the tokens' iss; endpoints on the base URL."""
    body = http.get(path).json()
    pid = issuer.project_id
    assert body["issuer"] == issuer.issuer == f"stytch.com/{pid}"
    assert body["token_endpoint"] == f"http://issuer.test/v1/public/{pid}/oauth2/token"
    assert body["jwks_uri"] == f"http://issuer.test/v1/sessions/jwks/{pid}"
    assert body["grant_types_supported"] == ["client_credentials"]
    assert body["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]
    assert (body["status_code"], body["request_id"][:16]) == (200, "request-id-test-")


def test_a_configured_base_url_wins_over_the_request(issuer: LocalIssuer) -> None:
    """base_url (trailing slash dropped) is where the advertised endpoints live."""
    with asgi_client(create_app(issuer=issuer, base_url="https://auth.example/")) as http:
        body = http.get("/.well-known/openid-configuration").json()
    assert body["issuer"] == issuer.issuer
    assert body["jwks_uri"].startswith("https://auth.example/v1/sessions/jwks/")
    assert body["token_endpoint"].startswith("https://auth.example/v1/public/")


@pytest.mark.parametrize(
    "headers",
    [
        {"host": "evil.example"},
        {"host": "evil.example:8443", "x-forwarded-host": "evil.example"},
        {"x-forwarded-proto": "https", "forwarded": "host=evil.example;proto=https"},
    ],
)
def test_the_host_header_never_names_the_endpoints(
    issuer: LocalIssuer, headers: dict[str, str]
) -> None:
    """Without a configured URL, metadata names the bound address, not what the client says."""
    with ServerThread(create_app(issuer=issuer)) as server:
        base = server.base_url
        body = httpx.get(f"{base}/.well-known/openid-configuration", headers=headers).json()
    assert body["token_endpoint"] == f"{base}/v1/public/{issuer.project_id}/oauth2/token"
    assert body["jwks_uri"] == f"{base}/v1/sessions/jwks/{issuer.project_id}"
    assert "evil" not in json.dumps(body)


@pytest.mark.parametrize(
    "url", ["ftp://auth.example", "https://auth.example/?q=1", "https://", "not a url", 7]
)
def test_a_bad_base_url_is_a_configuration_error(issuer: LocalIssuer, url: object) -> None:
    """base_url must be an http(s) URL without query or fragment."""
    with pytest.raises(IssuerConfigError, match="issuer URL"):
        create_app(issuer=issuer, base_url=url)  # type: ignore[arg-type]


def test_a_bug_becomes_a_generic_logged_500(
    http: httpx.Client,
    issuer: LocalIssuer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Unexpected exceptions answer a body without details and are logged."""

    def explode() -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(issuer, "jwks", explode)
    with caplog.at_level(logging.ERROR, logger="m2m_guard.issuer"):
        response = http.get(jwks_paths(issuer)[0])
    assert response.status_code == 500
    body = response.json()
    assert body["error_type"] == "internal_server_error"
    assert "secret internal detail" not in response.text
    assert "secret internal detail" in caplog.text


def test_a_bug_on_the_token_endpoint_is_an_oauth_server_error(
    http: httpx.Client, issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token endpoint's 500 is OAuth-shaped: server_error."""

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    client, secret = issuer.create_client(scopes=[])
    monkeypatch.setattr(issuer, "issue_token", explode)
    response = http.post(
        f"/v1/public/{issuer.project_id}/oauth2/token",
        json={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": secret,
        },
    )
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"


def test_secrets_and_tokens_never_reach_the_logs(
    http: httpx.Client, issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    """Logging names clients, never secrets or tokens."""
    with caplog.at_level(logging.DEBUG, logger="m2m_guard.issuer"):
        auth = (issuer.project_id, issuer.project_secret)
        created = http.post("/v1/m2m/clients", json={"scopes": []}, auth=auth).json()
        client = created["m2m_client"]
        token = http.post(
            f"/v1/public/{issuer.project_id}/oauth2/token",
            json={
                "grant_type": "client_credentials",
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
            },
        ).json()["access_token"]
        http.post(
            f"/v1/public/{issuer.project_id}/oauth2/token",
            json={
                "grant_type": "client_credentials",
                "client_id": client["client_id"],
                "client_secret": "wrong-guess-1234",
            },
        )
    assert client["client_id"] in caplog.text
    for secret in (client["client_secret"], token, issuer.project_secret, "wrong-guess-1234"):
        assert secret not in caplog.text


def run_lifespan(app: Any) -> list[str]:
    """Drive an ASGI app through lifespan startup and shutdown; returns its replies."""
    sent: list[str] = []

    async def main() -> None:
        messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

        async def receive() -> dict[str, str]:
            return next(messages)

        async def send(message: dict[str, str]) -> None:
            sent.append(message["type"])

        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)

    anyio.run(main)
    return sent


def test_create_app_opens_and_closes_its_own_issuer() -> None:
    """Without an issuer the app owns one and closes it at lifespan shutdown."""
    app = create_app(db_path=":memory:", project_id="project-test-own", scrypt=FAST)
    issuer: LocalIssuer = app.state.issuer
    assert issuer.project_id == "project-test-own"
    assert run_lifespan(app) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        issuer.get_client("x")


def test_a_given_issuer_stays_open_after_shutdown(issuer: LocalIssuer) -> None:
    """The caller owns an issuer it passes in."""
    run_lifespan(create_app(issuer=issuer))
    assert issuer.search_clients().total == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"db_path": "other.db"},
        {"project_id": "project-test-x"},
        {"scrypt": FAST},
        {"jwks_max_age": -1},
        {"max_body_bytes": 0},
    ],
)
def test_contradictory_app_settings_are_refused(
    issuer: LocalIssuer, kwargs: dict[str, object]
) -> None:
    """An issuer plus storage settings, or negative limits, fail at creation."""
    with pytest.raises(IssuerConfigError):
        create_app(issuer=issuer, **kwargs)  # type: ignore[arg-type]


def test_a_client_that_disconnects_mid_body_gets_no_500(issuer: LocalIssuer) -> None:
    """A disconnect while reading the body ends the request quietly."""
    app = create_app(issuer=issuer)
    sent: list[dict[str, Any]] = []
    pid = issuer.project_id

    async def main() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": f"/v1/public/{pid}/oauth2/token",
            "raw_path": f"/v1/public/{pid}/oauth2/token".encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"application/json")],
            "client": ("127.0.0.1", 1234),
            "server": ("127.0.0.1", 80),
        }
        await app(scope, receive, send)

    anyio.run(main)
    assert sent[0]["status"] == 400
