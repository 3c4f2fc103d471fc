"""M2MBearer: Security scopes, OpenAPI, RFC 6750 errors, optional, websockets."""

# No "from __future__ import annotations": FastAPI reads the route annotations
# below at runtime, and they name local variables.
import json
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Request, Security, WebSocket

from m2m_guard import ConfigurationError, M2MClaims, Verifier
from m2m_guard.asgi import M2MGuardMiddleware
from m2m_guard.fastapi import M2MBearer, install
from tests.integrations._harness_asgi import bearer, request, websocket
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, SigningKey, stytch_claims


@pytest.fixture
def sign(rsa_key: SigningKey, clock: FakeClock) -> Any:
    """Sign a valid token granting the given scopes."""
    return lambda scope: rsa_key.sign(stytch_claims(clock(), scope=scope))


def settings_app(guard: M2MBearer, *, installed: bool = True) -> FastAPI:
    """/health public, /settings GET read:settings, PUT write:settings."""
    app = install(FastAPI()) if installed else FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/settings")
    async def read(claims: Annotated[M2MClaims, Security(guard, scopes=["read:settings"])]) -> Any:
        return {"client_id": claims.client_id}

    @app.put("/settings")
    async def write(
        claims: Annotated[M2MClaims, Security(guard, scopes=["write:settings"])],
    ) -> Any:
        return {"client_id": claims.client_id}

    return app


def test_openapi_shows_the_bearer_scheme_and_each_route_scopes(verifier: Verifier) -> None:
    """The OpenAPI document declares an HTTP bearer JWT scheme and per-route scopes."""
    document = settings_app(M2MBearer(verifier, description="M2M access token")).openapi()
    assert document["components"]["securitySchemes"] == {
        "M2MBearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "M2M access token",
        }
    }
    paths = document["paths"]
    assert paths["/settings"]["get"]["security"] == [{"M2MBearer": ["read:settings"]}]
    assert paths["/settings"]["put"]["security"] == [{"M2MBearer": ["write:settings"]}]
    assert "security" not in paths["/health"]["get"]


def test_scheme_name_can_be_chosen(verifier: Verifier) -> None:
    """scheme_name names the security scheme in the OpenAPI document."""
    document = settings_app(M2MBearer(verifier, scheme_name="machines")).openapi()
    assert list(document["components"]["securitySchemes"]) == ["machines"]


def test_route_scopes_are_required(verifier: Verifier, sign: Any) -> None:
    """The Security scopes are enforced: 200 with them, 403 without."""
    app = settings_app(M2MBearer(verifier))
    token = bearer(sign("read:settings"))
    assert request(app, "/settings", token).json() == {"client_id": CLIENT_ID}
    refused = request(app, "/settings", token, method="PUT")
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="The token lacks the scopes: write:settings.", '
        'scope="write:settings"'
    )


def test_error_bodies_are_rfc6750_not_fastapi_detail(verifier: Verifier, sign: Any) -> None:
    """Refusals carry {"error", "error_description"} and the challenge, never {"detail"}."""
    app = settings_app(M2MBearer(verifier, realm="settings"))
    missing = request(app, "/settings")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="settings"'
    assert missing.headers["cache-control"] == "no-store"
    assert missing.json() == {
        "error": "unauthorized",
        "error_description": "A bearer token is required.",
    }
    bad = request(app, "/settings", bearer("not-a-jwt"))
    assert bad.status_code == 401
    assert set(bad.json()) == {"error", "error_description"}
    assert bad.json()["error"] == "invalid_token"
    twice = request(app, "/settings", [*bearer(sign("x")), *bearer(sign("x"))])
    assert (twice.status_code, twice.json()["error"]) == (400, "invalid_request")


def test_without_install_the_status_and_challenge_stay_right_and_a_warning_says_why(
    verifier: Verifier,
) -> None:
    """Forgetting install() never lets a request through; it warns and answers FastAPI-style."""
    app = settings_app(M2MBearer(verifier), installed=False)
    with pytest.warns(RuntimeWarning, match=r"install\(app\)"):
        response = request(app, "/settings")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"detail": "A bearer token is required."}


def test_scopes_merge_along_the_dependency_chain(verifier: Verifier, sign: Any) -> None:
    """A dependency's Security scopes add to the route's: both are required."""
    guard = M2MBearer(verifier)
    app = install(FastAPI())

    async def reader(claims: Annotated[M2MClaims, Security(guard, scopes=["read:a"])]) -> Any:
        return claims

    @app.get("/")
    async def both(claims: Annotated[M2MClaims, Security(reader, scopes=["read:b"])]) -> Any:
        return {"client_id": claims.client_id}

    assert request(app, "/", bearer(sign("read:a read:b"))).status_code == 200
    refused = request(app, "/", bearer(sign("read:b")))
    assert refused.status_code == 403
    assert 'scope="read:b read:a"' in refused.headers["www-authenticate"]
    assert app.openapi()["paths"]["/"]["get"]["security"] == [{"M2MBearer": ["read:b", "read:a"]}]


def test_optional_dependency_answers_none_without_a_token(verifier: Verifier, sign: Any) -> None:
    """optional=True gives None for anonymous requests but still rejects bad tokens."""
    guard = M2MBearer(verifier, optional=True)
    app = install(FastAPI())

    @app.get("/")
    async def maybe(claims: Annotated[M2MClaims | None, Security(guard)]) -> Any:
        return {"client_id": claims.client_id if claims else None}

    assert request(app, "/").json() == {"client_id": None}
    assert request(app, "/", bearer(sign("x"))).json() == {"client_id": CLIENT_ID}
    assert request(app, "/", bearer("not-a-jwt")).status_code == 401


def test_dependency_reuses_the_middleware_result(verifier: Verifier, sign: Any) -> None:
    """Behind M2MGuardMiddleware with the same verifier the dependency checks scopes
    on the middleware's claims (another verifier verifies again: test_route_verifier.py)."""
    app = settings_app(M2MBearer(verifier))
    app.add_middleware(M2MGuardMiddleware, verifier=verifier, exclude_paths=["/health"])
    token = bearer(sign("read:settings"))
    assert request(app, "/settings", token).status_code == 200
    assert request(app, "/settings", token, method="PUT").status_code == 403


def test_dependency_attaches_the_claims_to_the_request(verifier: Verifier, sign: Any) -> None:
    """After the dependency ran, request.state.m2m and request.user describe the caller."""
    guard = M2MBearer(verifier)
    app = install(FastAPI())

    @app.get("/", dependencies=[Security(guard)])
    async def me(request: Request) -> Any:
        return [request.state.m2m.client_id, request.user.display_name]

    assert request(app, "/", bearer(sign("x"))).json() == [CLIENT_ID, CLIENT_ID]


def test_websocket_route_is_refused_before_accept(verifier: Verifier, sign: Any) -> None:
    """A websocket route with the dependency is refused (denial or 1008) before accept."""
    guard = M2MBearer(verifier)
    app = install(FastAPI())

    @app.websocket("/ws")
    async def socket(
        ws: WebSocket, claims: Annotated[M2MClaims, Security(guard, scopes=["read:ws"])]
    ) -> None:
        await ws.accept()
        await ws.send_text(claims.client_id)
        await ws.close()

    denial = websocket(app, "/ws", bearer(sign("read:other")))
    assert denial[0]["status"] == 403
    assert json.loads(denial[1]["body"])["error"] == "insufficient_scope"
    closed = websocket(app, "/ws", denial_extension=False)
    assert closed == [{"type": "websocket.close", "code": 1008, "reason": ""}]
    accepted = websocket(app, "/ws", bearer(sign("read:ws")))
    assert accepted[0]["type"] == "websocket.accept"
    assert accepted[1]["text"] == CLIENT_ID


def test_a_wrong_verifier_fails_at_startup() -> None:
    """M2MBearer refuses anything but a Verifier when it is built, not per request."""
    with pytest.raises(ConfigurationError):
        M2MBearer("https://issuer.example/jwks")  # type: ignore[arg-type]
