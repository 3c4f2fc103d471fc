"""examples/starlette_app.py and examples/fastapi_app.py, run as real uvicorn servers."""

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


@pytest.fixture(params=["starlette_app", "fastapi_app"])
def example(request: pytest.FixtureRequest) -> str:
    """The example's module name."""
    name: str = request.param
    return name


@pytest.fixture
def base_url(example: str, jwks_server: JWKSServer, tmp_path: Path) -> Iterator[str]:
    """The example, started with M2M_GUARD_* pointing at the real JWKS server."""
    settings = {
        "M2M_GUARD_ISSUER": ISSUER,
        "M2M_GUARD_AUDIENCE": PROJECT_ID,
        "M2M_GUARD_JWKS_URL": jwks_server.url,
    }
    log = tmp_path / "server.log"
    with running_example(example, settings, log) as url:
        yield url
    assert "Application shutdown complete" in log.read_text()


def bearer(key: SigningKey, scope: str) -> dict[str, str]:
    # The server checks tokens against the real clock.
    return {"Authorization": f"Bearer {key.sign(stytch_claims(time.time(), scope=scope))}"}


def test_example_serves_its_four_routes(
    base_url: str, rsa_key: SigningKey, jwks_server: JWKSServer
) -> None:
    """Public /health, any-token /whoami, scoped GET and POST /settings over real HTTP."""
    assert jwks_server.fetches == 1  # warmed up by the lifespan before serving
    reader = bearer(rsa_key, "read:settings")
    writer = bearer(rsa_key, "write:settings")
    with httpx.Client(base_url=base_url, timeout=10) as http:
        assert http.get("/health").json() == {"status": "ok"}
        whoami = http.get("/whoami", headers=reader)
        read = http.get("/settings", headers=reader)
        written = http.post("/settings", headers=writer)

    assert (whoami.status_code, read.status_code, written.status_code) == (200, 200, 200)
    assert whoami.json() == {
        "client_id": CLIENT_ID,
        "scopes": ["read:settings"],
        "custom_claims": {"tenant": "acme"},
    }
    assert read.json() == whoami.json()
    assert written.json()["scopes"] == ["write:settings"]
    assert jwks_server.fetches == 1  # every token was checked against the cached keys


def test_example_refuses_missing_tokens_and_scopes_per_rfc6750(
    base_url: str, rsa_key: SigningKey
) -> None:
    """No token is a 401 with a bare challenge; a missing scope is a 403 naming it."""
    reader = bearer(rsa_key, "read:settings")
    with httpx.Client(base_url=base_url, timeout=10) as http:
        anonymous = http.get("/whoami")
        anonymous_settings = http.get("/settings")
        denied = http.post("/settings", headers=reader)

    assert anonymous.status_code == anonymous_settings.status_code == 401
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
    assert denied.json() == {
        "error": "insufficient_scope",
        "error_description": "The token lacks the scopes: write:settings.",
    }


def test_example_refuses_a_forged_token(base_url: str, other_rsa_key: SigningKey) -> None:
    """A token signed by a key the issuer never published is a 401 invalid_token."""
    forged = SigningKey("RS256", kid="jwk-test-primary", private=other_rsa_key.private)
    with httpx.Client(base_url=base_url, timeout=10) as http:
        response = http.get("/whoami", headers=bearer(forged, "read:settings"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
