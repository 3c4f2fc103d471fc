"""examples/flask_app.py, run as a real server process against a real JWKS endpoint."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.examples._launcher import running_example
from tests.support.jwks_server import JWKSServer
from tests.support.keys import CLIENT_ID, ISSUER, PROJECT_ID, SigningKey, stytch_claims

pytestmark = pytest.mark.slow


@pytest.fixture
def base_url(jwks_server: JWKSServer, tmp_path: Path) -> Iterator[str]:
    """The example app, started with M2M_GUARD_* pointing at the JWKS server."""
    settings = {
        "M2M_GUARD_ISSUER": ISSUER,
        "M2M_GUARD_AUDIENCE": PROJECT_ID,
        "M2M_GUARD_JWKS_URL": jwks_server.url,
    }
    with running_example("flask_app", settings, tmp_path / "server.log") as url:
        yield url


def token(key: SigningKey, scope: str) -> str:
    # The server checks tokens against the real clock.
    return key.sign(stytch_claims(time.time(), scope=scope))


def test_example_serves_its_four_routes_with_the_right_answers(
    base_url: str, rsa_key: SigningKey, jwks_server: JWKSServer
) -> None:
    """Public /health, any-token /whoami, scoped GET and POST /settings over real HTTP."""
    reader = {"Authorization": f"Bearer {token(rsa_key, 'read:settings')}"}
    writer = {"Authorization": f"Bearer {token(rsa_key, 'read:settings write:settings')}"}
    expected = {
        "client_id": CLIENT_ID,
        "scopes": ["read:settings"],
        "custom_claims": {"tenant": "acme"},
    }
    with httpx.Client(base_url=base_url, timeout=10) as http:
        assert http.get("/health").json() == {"status": "ok"}
        whoami = http.get("/whoami", headers=reader)
        assert whoami.status_code == 200
        assert whoami.json() == expected
        assert http.get("/settings", headers=reader).json()["settings"] == {"theme": "dark"}

        written = http.post("/settings", headers=writer, json={"theme": "light"})
        assert written.status_code == 200
        assert written.json()["scopes"] == ["read:settings", "write:settings"]
        assert http.get("/settings", headers=reader).json()["settings"] == {"theme": "light"}

    assert jwks_server.fetches == 1  # warmed up at start, then served from the cache


def test_example_rejects_missing_tokens_and_scopes_per_rfc6750(
    base_url: str, rsa_key: SigningKey
) -> None:
    """No token is 401 with a bare challenge; a missing scope is 403 insufficient_scope."""
    reader = {"Authorization": f"Bearer {token(rsa_key, 'read:settings')}"}
    with httpx.Client(base_url=base_url, timeout=10) as http:
        anonymous = http.get("/whoami")
        denied = http.post("/settings", headers=reader, json={"theme": "light"})

    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="api"'
    assert anonymous.json() == {
        "error": "unauthorized",
        "error_description": "A bearer token is required.",
    }
    assert denied.status_code == 403
    assert denied.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="The token lacks the scopes: write:settings.", scope="write:settings"'
    )
    assert denied.json()["error"] == "insufficient_scope"


def test_example_answers_two_authorization_headers_with_invalid_request(
    base_url: str, rsa_key: SigningKey
) -> None:
    """The real server joins repeated Authorization headers; the answer is 400 invalid_request."""
    value = f"Bearer {token(rsa_key, 'read:settings')}"
    headers = [("Authorization", value), ("Authorization", value)]
    with httpx.Client(base_url=base_url, timeout=10) as http:
        response = http.get("/whoami", headers=headers)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
