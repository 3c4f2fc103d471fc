"""The token endpoint: client credentials in every accepted shape, OAuth2 errors."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from m2m_guard.issuer import CreatedClient, LocalIssuer
from tests.issuer._helpers import body_for, decode

Auth = tuple[str, str]
STYTCH_ERROR = {"status_code", "request_id", "error_type", "error_message", "error_url"}


@pytest.fixture
def client(issuer: LocalIssuer) -> CreatedClient:
    """An active client with two scopes."""
    return issuer.create_client(scopes=["read:users", "write:users"])


@pytest.fixture
def token_url(issuer: LocalIssuer) -> str:
    """The project's token endpoint path."""
    return f"/v1/public/{issuer.project_id}/oauth2/token"


def assert_token(response: httpx.Response, issuer: LocalIssuer) -> dict[str, Any]:
    """A Stytch token response; returns the verified claims."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"status_code", "request_id", "access_token", "token_type", "expires_in"}
    assert (body["status_code"], body["token_type"], body["expires_in"]) == (200, "bearer", 3600)
    assert response.headers["cache-control"] == "no-store"
    return decode(body["access_token"], issuer)


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    """An RFC 6749 §5.2 error carrying Stytch's fields too."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == STYTCH_ERROR | {"error", "error_description", "error_uri"}
    assert (body["error"], body["status_code"]) == (error, status)
    assert body["error_description"] == body["error_message"]
    # Node's and Go's OAuth2Error read error_uri: a link to the error's docs.
    assert body["error_uri"] == body["error_url"]
    assert body["error_uri"].startswith(f"https://stytch.com/docs/api/errors/{status}#")
    assert response.headers["cache-control"] == "no-store"


def test_a_json_body_gets_a_token(
    http: httpx.Client, issuer: LocalIssuer, client: CreatedClient, token_url: str
) -> None:
    """JSON with body credentials: all the client's scopes when scope is omitted."""
    claims = assert_token(http.post(token_url, json=body_for(client)), issuer)
    assert claims["sub"] == client.client.client_id
    assert claims["scope"] == "read:users write:users"


def test_a_form_body_gets_a_token(
    http: httpx.Client, issuer: LocalIssuer, client: CreatedClient, token_url: str
) -> None:
    """application/x-www-form-urlencoded is the standard OAuth2 encoding."""
    claims = assert_token(http.post(token_url, data=body_for(client, scope="read:users")), issuer)
    assert claims["scope"] == "read:users"


def test_http_basic_client_authentication_works(
    http: httpx.Client, issuer: LocalIssuer, token_url: str
) -> None:
    """client_secret_basic, with RFC 6749 §2.3.1 form-encoding undone."""
    created = issuer.create_client(scopes=["a"], client_id="svc", client_secret="p@ss+word%")
    auth = (quote(created.client.client_id), quote(created.client_secret, safe=""))
    claims = assert_token(
        http.post(token_url, data={"grant_type": "client_credentials"}, auth=auth), issuer
    )
    assert claims["sub"] == "svc"


def test_basic_auth_may_repeat_the_client_id_in_the_body(
    http: httpx.Client, issuer: LocalIssuer, client: CreatedClient, token_url: str
) -> None:
    """A body client_id equal to the Basic user is fine."""
    data = {"grant_type": "client_credentials", "client_id": client.client.client_id}
    auth = (client.client.client_id, client.client_secret)
    assert_token(http.post(token_url, data=data, auth=auth), issuer)


def test_the_python_sdks_project_basic_header_is_tolerated(
    http: httpx.Client, issuer: LocalIssuer, client: CreatedClient, token_url: str, auth: Auth
) -> None:
    """Stytch's SDK sends project credentials as Basic and client ones in the body."""
    assert_token(http.post(token_url, json=body_for(client), auth=auth), issuer)


def test_credentials_in_both_basic_and_body_are_refused(
    http: httpx.Client, client: CreatedClient, token_url: str
) -> None:
    """RFC 6749 §2.3: one authentication method per request."""
    auth = (client.client.client_id, client.client_secret)
    assert_oauth_error(
        http.post(token_url, json=body_for(client), auth=auth), 400, "invalid_request"
    )


def test_a_body_client_id_contradicting_basic_is_refused(
    http: httpx.Client, client: CreatedClient, token_url: str
) -> None:
    """The body client_id must match the Basic user."""
    data = {"grant_type": "client_credentials", "client_id": "someone-else"}
    auth = (client.client.client_id, client.client_secret)
    assert_oauth_error(http.post(token_url, data=data, auth=auth), 400, "invalid_request")


def test_a_malformed_basic_header_is_invalid_client(
    http: httpx.Client, client: CreatedClient, token_url: str
) -> None:
    """Undecodable Basic credentials fail client authentication."""
    response = http.post(
        token_url,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic %%%"},
    )
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    "missing", [("client_id",), ("client_secret",), ("client_id", "client_secret")]
)
def test_missing_client_credentials_are_invalid_client(
    http: httpx.Client, client: CreatedClient, token_url: str, missing: tuple[str, ...]
) -> None:
    """No (complete) credentials: 401 invalid_client."""
    data = {k: v for k, v in body_for(client).items() if k not in missing}
    assert_oauth_error(http.post(token_url, json=data), 401, "invalid_client")


def test_a_wrong_secret_is_invalid_client(
    http: httpx.Client, client: CreatedClient, token_url: str
) -> None:
    """A bad secret is 401 invalid_client."""
    data = body_for(client, client_secret="wrong-secret")
    assert_oauth_error(http.post(token_url, json=data), 401, "invalid_client")


def test_inactive_and_deleted_clients_get_no_token(
    http: httpx.Client, issuer: LocalIssuer, client: CreatedClient, token_url: str
) -> None:
    """Deactivated, then deleted: invalid_client both times."""
    cid = client.client.client_id
    issuer.update_client(cid, status="inactive")
    assert_oauth_error(http.post(token_url, json=body_for(client)), 401, "invalid_client")
    issuer.delete_client(cid)
    assert_oauth_error(http.post(token_url, json=body_for(client)), 401, "invalid_client")


def test_grant_type_is_required_and_must_be_client_credentials(
    http: httpx.Client, client: CreatedClient, token_url: str
) -> None:
    """Missing → invalid_request; any other grant → unsupported_grant_type."""
    data = body_for(client)
    del data["grant_type"]
    assert_oauth_error(http.post(token_url, json=data), 400, "invalid_request")
    data = body_for(client, grant_type="password")
    assert_oauth_error(http.post(token_url, json=data), 400, "unsupported_grant_type")


def test_a_scope_outside_the_clients_scopes_is_invalid_scope(
    http: httpx.Client, client: CreatedClient, token_url: str
) -> None:
    """scope must be a subset of the client's scopes."""
    data = body_for(client, scope="read:users admin")
    assert_oauth_error(http.post(token_url, json=data), 400, "invalid_scope")


def test_an_empty_scope_grants_nothing(
    http: httpx.Client, issuer: LocalIssuer, client: CreatedClient, token_url: str
) -> None:
    """scope="" (the SDK's scopes=[]) yields an empty scope claim."""
    claims = assert_token(http.post(token_url, json=body_for(client, scope="")), issuer)
    assert claims["scope"] == ""


@pytest.mark.parametrize("field", ["grant_type", "client_id", "client_secret", "scope"])
def test_non_string_oauth_parameters_are_invalid_request(
    http: httpx.Client, client: CreatedClient, token_url: str, field: str
) -> None:
    """OAuth parameters are strings; anything else is invalid_request."""
    data = body_for(client, **{field: ["x"]})
    assert_oauth_error(http.post(token_url, json=data), 400, "invalid_request")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (
            b"grant_type=client_credentials&grant_type=client_credentials",
            "application/x-www-form-urlencoded",
        ),
        (b"grant_type=%FF", "application/x-www-form-urlencoded"),
        (b"&".join(b"p%d=1" % i for i in range(200)), "application/x-www-form-urlencoded"),
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"grant_type=client_credentials", "text/plain"),
        (b"", ""),
    ],
)
def test_malformed_bodies_are_invalid_request(
    http: httpx.Client, token_url: str, content: bytes, content_type: str
) -> None:
    """Repeated or undecodable parameters, bad JSON, other media types: 400."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = http.post(token_url, content=content, headers=headers)
    assert_oauth_error(response, 400, "invalid_request")


def test_json_with_a_charset_parameter_is_accepted(
    http: httpx.Client, issuer: LocalIssuer, client: CreatedClient, token_url: str
) -> None:
    """Media type parameters are ignored."""
    import json

    response = http.post(
        token_url,
        content=json.dumps(body_for(client)).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert_token(response, issuer)


def test_an_oversized_token_request_is_413_in_oauth_shape(
    http: httpx.Client, client: CreatedClient, token_url: str
) -> None:
    """The body cap applies to the token endpoint, with OAuth2 error fields."""
    data = body_for(client, padding="x" * 70_000)
    assert_oauth_error(http.post(token_url, json=data), 413, "invalid_request")


def test_a_foreign_project_id_is_404(http: httpx.Client, client: CreatedClient) -> None:
    """The token endpoint only serves its own project."""
    response = http.post("/v1/public/project-test-other/oauth2/token", json=body_for(client))
    assert_oauth_error(response, 404, "invalid_request")
    assert response.json()["error_type"] == "project_not_found"


def test_both_secrets_work_during_a_rotation(
    http: httpx.Client, issuer: LocalIssuer, client: CreatedClient, token_url: str
) -> None:
    """Rotation start → both; complete → only the new one."""
    cid = client.client.client_id
    new = issuer.start_secret_rotation(cid).next_client_secret
    assert_token(http.post(token_url, json=body_for(client)), issuer)
    assert_token(http.post(token_url, json=body_for(client, client_secret=new)), issuer)
    issuer.complete_secret_rotation(cid)
    assert_oauth_error(http.post(token_url, json=body_for(client)), 401, "invalid_client")
    assert_token(http.post(token_url, json=body_for(client, client_secret=new)), issuer)


def test_basic_credentials_are_decoded_before_lookup(
    http: httpx.Client, issuer: LocalIssuer, client: CreatedClient, token_url: str
) -> None:
    """A raw Basic header built by hand works like httpx's."""
    raw = f"{client.client.client_id}:{client.client_secret}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    response = http.post(token_url, data={"grant_type": "client_credentials"}, headers=headers)
    assert_token(response, issuer)


def test_an_empty_parameter_name_is_never_minted(
    http: httpx.Client, issuer: LocalIssuer, client: CreatedClient, token_url: str
) -> None:
    """A form field without a name is an unknown parameter: ignored (RFC 6749 §3.2)."""
    issuer.set_m2m_template('{"note": "{{ request.note }}"}')
    content = (
        f"grant_type=client_credentials&client_id={client.client.client_id}"
        f"&client_secret={client.client_secret}&=orphan"
    ).encode()
    response = http.post(
        token_url, content=content, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    claims = assert_token(response, issuer)
    assert "" not in claims
    assert claims["note"] == ""


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_another_method_on_the_token_route_is_405_in_oauth_shape(
    http: httpx.Client, token_url: str, method: str
) -> None:
    """Even a routing error on the token endpoint carries error, error_description, error_uri."""
    response = http.request(method, token_url)
    assert_oauth_error(response, 405, "invalid_request")
    assert "POST" in response.headers["allow"]
