"""require_scopes: endpoints, HTTPEndpoint methods, websockets, middleware reuse."""

from __future__ import annotations

import json
import threading
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from m2m_guard import ConfigurationError, Verifier
from m2m_guard.asgi import M2MGuardMiddleware, get_claims
from m2m_guard.starlette import M2MUser, require_scopes
from tests.integrations._harness_asgi import bearer, http_scope, request, websocket
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, ISSUER, SigningKey, jwks_of, stytch_claims


@pytest.fixture
def sign(rsa_key: SigningKey, clock: FakeClock) -> Any:
    """Sign a valid token granting the given scopes."""
    return lambda scope: rsa_key.sign(stytch_claims(clock(), scope=scope))


@pytest.fixture
def stranger(rsa_key: SigningKey, clock: FakeClock) -> Verifier:
    """A verifier that rejects every token ``sign`` makes (another audience)."""
    return Verifier(issuer=ISSUER, audience="another-project", jwks=jwks_of(rsa_key), clock=clock)


def caller(request: Request) -> JSONResponse:
    claims = get_claims(request)
    return JSONResponse({"client_id": claims.client_id if claims else None})


def app_with(*routes: Any, state_verifier: Verifier | None = None, **middleware: Any) -> Starlette:
    """A Starlette app; with ``middleware`` options, behind M2MGuardMiddleware."""
    stack = [Middleware(M2MGuardMiddleware, **middleware)] if middleware else []
    app = Starlette(routes=list(routes), middleware=stack)
    if state_verifier is not None:
        app.state.m2m_verifier = state_verifier
    return app


def test_decorator_protects_an_async_endpoint(verifier: Verifier, sign: Any) -> None:
    """An async endpoint answers 401 without a token and 200 with a good one."""

    @require_scopes("read:settings", verifier=verifier)
    async def endpoint(request: Request) -> JSONResponse:
        return caller(request)

    app = app_with(Route("/", endpoint))
    assert request(app, "/").status_code == 401
    assert request(app, "/", bearer(sign("read:settings"))).json() == {"client_id": CLIENT_ID}


def test_decorator_protects_a_sync_endpoint_in_its_thread(verifier: Verifier, sign: Any) -> None:
    """A sync endpoint stays sync (run off the event loop) and is guarded the same way."""
    threads: list[str] = []

    @require_scopes("write:settings", verifier=verifier)
    def endpoint(request: Request) -> JSONResponse:
        threads.append(threading.current_thread().name)
        return caller(request)

    app = app_with(Route("/", endpoint))
    refused = request(app, "/", bearer(sign("read:settings")))
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"].endswith('scope="write:settings"')
    assert threads == []
    assert request(app, "/", bearer(sign("write:settings"))).status_code == 200
    assert threads != [threading.current_thread().name]


def test_decorator_protects_http_endpoint_methods(verifier: Verifier, sign: Any) -> None:
    """On an HTTPEndpoint, only the decorated method requires its scope."""

    class Settings(HTTPEndpoint):
        @require_scopes("read:settings")
        async def get(self, request: Request) -> JSONResponse:
            return caller(request)

        @require_scopes("write:settings")
        def put(self, request: Request) -> PlainTextResponse:
            return PlainTextResponse("written")

        async def post(self, request: Request) -> PlainTextResponse:
            return PlainTextResponse("open")

    app = app_with(Route("/", Settings), state_verifier=verifier)
    token = bearer(sign("read:settings"))
    assert request(app, "/").status_code == 401
    assert request(app, "/", token).json() == {"client_id": CLIENT_ID}
    assert request(app, "/", token, method="PUT").status_code == 403
    assert request(app, "/", method="POST").text == "open"


def test_decorated_websocket_is_accepted_only_with_the_required_scope(
    verifier: Verifier, sign: Any
) -> None:
    """A decorated websocket is refused (403) without its scope and accepted with it."""

    @require_scopes("read:settings", verifier=verifier)
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(get_claims(websocket).client_id)  # type: ignore[union-attr]
        await websocket.close()

    messages = websocket(app_with(WebSocketRoute("/ws", endpoint)), "/ws", bearer(sign("read:x")))
    assert messages[0]["type"] == "websocket.http.response.start"
    assert messages[0]["status"] == 403
    messages = websocket(
        app_with(WebSocketRoute("/ws", endpoint)), "/ws", bearer(sign("read:settings"))
    )
    assert messages[0] == {"type": "websocket.accept", "subprotocol": None, "headers": []}
    assert messages[1]["text"] == CLIENT_ID


def test_decorator_refuses_a_websocket_before_accepting_it(verifier: Verifier) -> None:
    """Without a token the websocket gets a 401 denial, or a 1008 close, never an accept."""
    accepted: list[bool] = []

    @require_scopes(verifier=verifier)
    async def endpoint(websocket: WebSocket) -> None:
        accepted.append(True)
        await websocket.accept()

    app = app_with(WebSocketRoute("/ws", endpoint))
    denial = websocket(app, "/ws")
    assert denial[0]["status"] == 401
    assert json.loads(denial[1]["body"])["error"] == "unauthorized"
    closed = websocket(app, "/ws", denial_extension=False)
    assert closed == [{"type": "websocket.close", "code": 1008, "reason": ""}]
    assert accepted == []


def test_decorator_reuses_the_middleware_result_and_checks_only_scopes(
    verifier: Verifier, sign: Any
) -> None:
    """Behind a middleware with the same verifier the decorator checks only its scopes.

    (A decorator with another verifier verifies again: test_route_verifier.py.)
    """

    @require_scopes("read:settings", verifier=verifier)
    async def endpoint(request: Request) -> JSONResponse:
        return caller(request)

    @require_scopes("read:settings", verifier=verifier)
    def sync_endpoint(request: Request) -> JSONResponse:
        return caller(request)

    app = app_with(Route("/", endpoint), Route("/sync", sync_endpoint), verifier=verifier)
    for path in ("/", "/sync"):
        assert request(app, path, bearer(sign("read:settings"))).status_code == 200
        refused = request(app, path, bearer(sign("read:users")))
        assert refused.status_code == 403
        assert refused.json()["error"] == "insufficient_scope"


def test_decorator_on_an_excluded_path_verifies_with_the_middleware_verifier(
    verifier: Verifier, sign: Any
) -> None:
    """A decorated route the middleware excludes is still guarded, by the decorator."""

    @require_scopes()
    async def endpoint(request: Request) -> JSONResponse:
        return caller(request)

    app = app_with(Route("/public/x", endpoint), verifier=verifier, exclude_paths=["/public/*"])
    assert request(app, "/public/x").status_code == 401
    assert request(app, "/public/x", bearer(sign("read:users"))).status_code == 200


def test_decorator_prefers_its_own_verifier_to_app_state(
    verifier: Verifier, stranger: Verifier, sign: Any
) -> None:
    """verifier= wins over app.state.m2m_verifier."""

    @require_scopes(verifier=verifier)
    async def endpoint(request: Request) -> JSONResponse:
        return caller(request)

    app = app_with(Route("/", endpoint), state_verifier=stranger)
    assert request(app, "/", bearer(sign("read:users"))).status_code == 200


def test_decorator_without_any_verifier_fails_loudly(sign: Any) -> None:
    """With no verifier anywhere, the request fails as a server bug, not as a 401."""

    @require_scopes()
    async def endpoint(request: Request) -> JSONResponse:
        return caller(request)

    @require_scopes()
    def sync_endpoint(request: Request) -> JSONResponse:
        return caller(request)

    app = app_with(Route("/", endpoint), Route("/sync", sync_endpoint))
    for path in ("/", "/sync"):
        with pytest.raises(ConfigurationError, match="found no verifier"):
            request(app, path, bearer(sign("read:users")))


def test_decorator_any_of_needs_one_scope(verifier: Verifier, sign: Any) -> None:
    """any_of=True is satisfied by one scope; refused, it names all of them."""

    @require_scopes("admin", "read:settings", any_of=True, verifier=verifier)
    async def endpoint(request: Request) -> JSONResponse:
        return caller(request)

    app = app_with(Route("/", endpoint))
    assert request(app, "/", bearer(sign("read:settings"))).status_code == 200
    refused = request(app, "/", bearer(sign("write:settings")))
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"].endswith('scope="admin read:settings"')


def test_decorator_follows_the_wildcard_scope_rule(verifier: Verifier, sign: Any) -> None:
    """A granted read:* satisfies require_scopes("read:settings")."""

    @require_scopes("read:settings", verifier=verifier)
    async def endpoint(request: Request) -> JSONResponse:
        return caller(request)

    assert request(app_with(Route("/", endpoint)), "/", bearer(sign("read:*"))).status_code == 200


def test_decorator_attaches_user_auth_and_state(verifier: Verifier, sign: Any) -> None:
    """Without middleware, the decorated endpoint still gets request.user/auth/state."""

    @require_scopes(verifier=verifier)
    async def endpoint(request: Request) -> JSONResponse:
        user = request.user
        assert isinstance(user, M2MUser)
        return JSONResponse(
            {
                "state": request.state.m2m.client_id,
                "auth": list(request.auth.scopes),
                "user": [user.display_name, user.identity, user.client_id],
            }
        )

    response = request(app_with(Route("/", endpoint)), "/", bearer(sign("read:users")))
    assert response.json() == {
        "state": CLIENT_ID,
        "auth": ["read:users"],
        "user": [CLIENT_ID, CLIENT_ID, CLIENT_ID],
    }


def test_decorator_finds_a_connection_passed_by_keyword(verifier: Verifier) -> None:
    """The request may be passed by keyword; it is found and checked."""

    @require_scopes(verifier=verifier)
    async def endpoint(request: Request) -> JSONResponse:
        raise AssertionError("not reached")  # pragma: no cover

    response = anyio.run(lambda: endpoint(request=Request(http_scope("/"))))
    assert response.status_code == 401


def test_decorator_rejects_an_endpoint_without_a_connection(verifier: Verifier) -> None:
    """Calling a decorated function without a Request is a TypeError, not a pass."""

    @require_scopes(verifier=verifier)
    def endpoint(value: int) -> int:
        raise AssertionError("not reached")  # pragma: no cover

    with pytest.raises(TypeError, match="no Request or WebSocket"):
        endpoint(1)
