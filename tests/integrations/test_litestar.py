"""The Litestar integration: OpenAPI, guards with their own verifier, users, options."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, Request, Router, get
from litestar.openapi import OpenAPIConfig

from m2m_guard import ConfigurationError, Verifier
from m2m_guard.litestar import M2MGuardPlugin, M2MUser, require_scopes
from tests.integrations._harness_asgi import bearer, request
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims


@pytest.fixture
def sign(rsa_key: SigningKey, clock: FakeClock) -> Any:
    def sign(scope: str) -> list[tuple[str, str]]:
        return bearer(rsa_key.sign(stytch_claims(clock(), scope=scope)))

    return sign


@get("/orders", guards=[require_scopes("read:orders")])
async def orders(request: Request[Any, Any, Any]) -> dict[str, Any]:
    user = request.user
    assert isinstance(user, M2MUser)
    return {"client_id": user.client_id, "scopes": list(request.auth.scopes)}


@get("/admin", guards=[require_scopes("admin:orders", "admin:*", any_of=True)])
async def admin() -> None:
    return None


def openapi(verifier: Verifier) -> dict[str, Any]:
    app = Litestar(
        [orders, Router("/v1", route_handlers=[admin])],
        plugins=[M2MGuardPlugin(verifier, scopes={"read:orders": "Read orders"})],
        openapi_config=OpenAPIConfig(title="orders", version="1"),
    )
    document: dict[str, Any] = app.openapi_schema.to_schema()
    assert request(app, "/schema/openapi.json").status_code == 200  # excluded by default
    return document


def test_the_openapi_document_has_client_credentials_and_each_routes_scopes(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """With a token URL: an OAuth2 clientCredentials scheme listing every guard's
    scopes; each guarded operation (also in a router) requires its own."""
    verifier = Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks=jwks_of(rsa_key),
        clock=clock,
        token_url="https://issuer.example/oauth2/token",
    )
    document = openapi(verifier)
    flow = document["components"]["securitySchemes"]["m2m"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "https://issuer.example/oauth2/token"
    assert flow["scopes"] == {
        "read:orders": "Read orders",
        "admin:orders": "admin:orders",
        "admin:*": "admin:*",
    }
    assert document["paths"]["/orders"]["get"]["security"] == [{"m2m": ["read:orders"]}]
    admin_security = document["paths"]["/v1/admin"]["get"]["security"]
    assert admin_security == [{"m2m": ["admin:orders", "admin:*"]}]


def test_without_a_token_url_the_scheme_is_a_bearer_jwt(verifier: Verifier) -> None:
    scheme = openapi(verifier)["components"]["securitySchemes"]["m2m"]
    assert scheme == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def test_request_user_and_auth_of_a_verified_request(verifier: Verifier, sign: Any) -> None:
    app = Litestar([orders], plugins=[M2MGuardPlugin(verifier)], openapi_config=None)
    reply = request(app, "/orders", sign("read:orders"))
    assert reply.json() == {"client_id": CLIENT_ID, "scopes": ["read:orders"]}
    refused = request(app, "/orders", sign("write:orders"))
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    assert refused.headers["www-authenticate"].endswith('scope="read:orders"')


def test_a_guard_with_its_own_verifier_verifies_again(
    verifier: Verifier, rsa_key: SigningKey, clock: FakeClock, sign: Any
) -> None:
    """require_scopes(verifier=other) does not trust the middleware's claims."""
    other = Verifier(issuer=ISSUER, audience="another-api", jwks=jwks_of(rsa_key), clock=clock)

    @get("/strict", guards=[require_scopes(verifier=other)])
    async def strict() -> None:
        return None

    app = Litestar([strict], plugins=[M2MGuardPlugin(verifier)], openapi_config=None)
    reply = request(app, "/strict", sign("read:orders"))
    assert reply.status_code == 401
    assert reply.json()["error"] == "invalid_token"


def test_a_guard_without_any_verifier_is_a_server_error(sign: Any) -> None:
    """No verifier= and no plugin: refused (500), never let through."""
    app = Litestar([orders], openapi_config=None)
    assert request(app, "/orders", sign("read:orders")).status_code == 500


def test_bad_plugin_options_fail_when_it_is_made(verifier: Verifier) -> None:
    with pytest.raises(ConfigurationError, match="trailing"):
        M2MGuardPlugin(verifier, exclude_paths=["/docs*"])


def test_the_user_repr_names_the_client_never_the_token(verifier: Verifier, sign: Any) -> None:
    token = sign("read:orders")[0][1].removeprefix("Bearer ")
    user = M2MUser(verifier.verify(token))
    assert repr(user) == f"M2MUser(client_id={CLIENT_ID!r}, scopes=('read:orders',))"
    assert token not in repr(user)
