"""M2MGuardMiddleware: scope types, websockets, exclusions, what it attaches."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.authentication import BaseUser, requires
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from m2m_guard import M2MClaims, Verifier
from m2m_guard.asgi import M2MGuardMiddleware, get_claims
from tests.integrations._harness_asgi import (
    bearer,
    http_scope,
    request,
    run_raw,
    websocket,
)
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, ISSUER, PROJECT_ID, SigningKey, stytch_claims


@pytest.fixture
def token(rsa_key: SigningKey, clock: FakeClock) -> str:
    """A valid token granting read:settings."""
    return rsa_key.sign(stytch_claims(clock(), scope="read:settings"))


async def whoami(request: Request) -> JSONResponse:
    user = request.user
    return JSONResponse(
        {
            "client_id": request.state.m2m.client_id if request.state.m2m else None,
            "auth_scopes": list(request.auth.scopes),
            "authenticated": user.is_authenticated,
            "display_name": user.display_name,
            "is_base_user": isinstance(user, BaseUser),
            "same_claims": getattr(user, "claims", None) is get_claims(request),
        }
    )


@requires("read:settings")
async def settings(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def echo_scope(request: Request) -> JSONResponse:
    return JSONResponse(
        {"has_auth": "auth" in request.scope, "state": list(request.scope.get("state", {}))}
    )


async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    claims = get_claims(websocket)
    await websocket.send_json({"client_id": claims.client_id if claims else None})
    await websocket.close()


def guarded(verifier: Verifier, **options: Any) -> M2MGuardMiddleware:
    routes = [
        Route("/whoami", whoami),
        Route("/settings", settings),
        Route("/health", echo_scope),
        Route("/health/deep", echo_scope),
        Route("/healthz", echo_scope),
        Route("/public/{rest:path}", echo_scope),
        WebSocketRoute("/ws", socket),
    ]
    return M2MGuardMiddleware(Starlette(routes=routes), verifier=verifier, **options)


class Recorder:
    """An inner ASGI app that records what reached it."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls.append(scope)
        if scope["type"] == "lifespan":
            message = await receive()
            await send({"type": f"{message['type']}.complete"})
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})


# -- scope types ---------------------------------------------------------------


def test_lifespan_passes_straight_through(verifier: Verifier) -> None:
    """Lifespan events reach the app untouched, with no token involved."""
    inner = Recorder()
    middleware = M2MGuardMiddleware(inner, verifier=verifier)
    scope: dict[str, Any] = {"type": "lifespan", "asgi": {"version": "3.0"}}
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "lifespan.startup"}

    async def send(message: Any) -> None:
        sent.append(message)

    anyio.run(middleware, scope, receive, send)
    assert inner.calls == [{"type": "lifespan", "asgi": {"version": "3.0"}}]
    assert sent == [{"type": "lifespan.startup.complete"}]


def test_other_scope_types_are_passed_on_unmodified(verifier: Verifier) -> None:
    """A scope type the middleware does not know is neither checked nor altered."""
    inner = Recorder()
    scope = {"type": "webtransport", "path": "/whoami", "headers": []}
    run_raw(M2MGuardMiddleware(inner, verifier=verifier), scope)
    assert inner.calls == [{"type": "webtransport", "path": "/whoami", "headers": []}]


# -- what a verified request carries ----------------------------------------------


def test_request_auth_user_and_state_carry_the_claims(verifier: Verifier, token: str) -> None:
    """request.auth.scopes, request.user and request.state.m2m describe the caller."""
    response = request(guarded(verifier), "/whoami", bearer(token))
    assert response.status_code == 200
    assert response.json() == {
        "client_id": CLIENT_ID,
        "auth_scopes": ["read:settings"],
        "authenticated": True,
        "display_name": CLIENT_ID,
        "is_base_user": True,
        "same_claims": True,
    }


def test_starlette_requires_works_behind_the_middleware(
    verifier: Verifier, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Starlette's own @requires sees the token's scopes through request.auth."""
    app = guarded(verifier)
    writer = rsa_key.sign(stytch_claims(clock(), scope="write:settings"))
    reader = rsa_key.sign(stytch_claims(clock(), scope="read:settings"))
    assert request(app, "/settings", bearer(reader)).status_code == 200
    assert request(app, "/settings", bearer(writer)).status_code == 403


def test_optional_lets_anonymous_requests_through_as_unauthenticated(verifier: Verifier) -> None:
    """With optional, a request without a token gets no claims and an anonymous user."""
    response = request(guarded(verifier, optional=True), "/whoami")
    assert response.status_code == 200
    body = response.json()
    assert body["client_id"] is None
    assert body["authenticated"] is False
    assert body["auth_scopes"] == []


def test_get_claims_reads_a_raw_scope(verifier: Verifier, token: str) -> None:
    """get_claims works on the ASGI scope itself, for apps without Starlette."""
    inner = Recorder()
    scope = http_scope("/x", [(b"authorization", f"Bearer {token}".encode())])
    run_raw(M2MGuardMiddleware(inner, verifier=verifier), scope)
    claims = get_claims(inner.calls[0])
    assert isinstance(claims, M2MClaims)
    assert claims.client_id == CLIENT_ID
    assert get_claims({}) is None
    assert get_claims({"state": {"m2m": "forged"}}) is None


def test_authorization_header_name_is_matched_case_insensitively(
    verifier: Verifier, token: str
) -> None:
    """A server that does not lowercase header names still has its token read."""
    inner = Recorder()
    scope = http_scope("/x", [(b"Authorization", f"Bearer {token}".encode())])
    messages = run_raw(M2MGuardMiddleware(inner, verifier=verifier), scope)
    assert messages[0]["status"] == 204


def test_middleware_without_starlette_attaches_only_the_state(
    verifier: Verifier, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Starlette the claims go to scope["state"] and nothing else."""
    monkeypatch.setitem(sys.modules, "starlette.authentication", None)  # import now fails
    monkeypatch.delitem(sys.modules, "m2m_guard._starlette_auth", raising=False)
    inner = Recorder()
    scope = http_scope("/x", [(b"authorization", f"Bearer {token}".encode())])
    run_raw(M2MGuardMiddleware(inner, verifier=verifier), scope)
    seen = inner.calls[0]
    assert seen["state"]["m2m"].client_id == CLIENT_ID
    assert "auth" not in seen
    assert "user" not in seen


def test_importing_the_asgi_module_does_not_import_starlette() -> None:
    """m2m_guard.asgi stays usable by pure ASGI apps without Starlette installed."""
    code = "import m2m_guard.asgi, sys; print('starlette' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# -- errors ------------------------------------------------------------------------


def test_refusal_is_rendered_as_raw_rfc6750_messages(verifier: Verifier) -> None:
    """A refused request gets one start message with the challenge, then the JSON body."""
    inner = Recorder()
    messages = run_raw(M2MGuardMiddleware(inner, verifier=verifier, realm="svc"), http_scope("/x"))
    start, body = messages
    assert start["status"] == 401
    headers = dict(start["headers"])
    assert headers[b"www-authenticate"] == b'Bearer realm="svc"'
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"cache-control"] == b"no-store"
    assert json.loads(body["body"]) == {
        "error": "unauthorized",
        "error_description": "A bearer token is required.",
    }
    assert inner.calls == []


def test_any_scopes_need_one_of_them(verifier: Verifier, token: str) -> None:
    """any_scopes is satisfied by one granted scope and refused, naming them all, by none."""
    app = guarded(verifier, any_scopes=["admin", "read:settings"])
    assert request(app, "/whoami", bearer(token)).status_code == 200
    app = guarded(verifier, any_scopes=["admin", "write:settings"])
    response = request(app, "/whoami", bearer(token))
    assert response.status_code == 403
    assert response.headers["www-authenticate"].endswith('scope="admin write:settings"')


# -- exclude_paths ----------------------------------------------------------------


def test_exact_exclusion_matches_only_that_path(verifier: Verifier) -> None:
    """ "/health" is public; "/health/deep" and "/healthz" are not."""
    app = guarded(verifier, exclude_paths=["/health"])
    assert request(app, "/health").status_code == 200
    assert request(app, "/health/deep").status_code == 401
    assert request(app, "/healthz").status_code == 401


def test_prefix_exclusion_matches_paths_below_it(verifier: Verifier) -> None:
    """ "/public/*" makes every path under /public/ public, and nothing else."""
    app = guarded(verifier, exclude_paths=["/public/*"])
    assert request(app, "/public/a/b").status_code == 200
    assert request(app, "/whoami").status_code == 401


def test_prefix_exclusion_cannot_be_escaped_with_dot_segments(verifier: Verifier) -> None:
    """A raw "/public/../whoami" is not public (httpx would normalize it away)."""
    inner = Recorder()
    middleware = M2MGuardMiddleware(inner, verifier=verifier, exclude_paths=["/public/*"])
    assert run_raw(middleware, http_scope("/public/../whoami"))[0]["status"] == 401
    assert run_raw(middleware, http_scope("/public/ok"))[0]["status"] == 204


def test_excluded_paths_are_matched_below_the_root_path(verifier: Verifier) -> None:
    """Behind a root_path, exclusions name the paths the router sees."""
    inner = Recorder()
    middleware = M2MGuardMiddleware(inner, verifier=verifier, exclude_paths=["/health"])
    scope = http_scope("/api/health", root_path="/api")
    assert run_raw(middleware, scope)[0]["status"] == 204
    assert run_raw(middleware, http_scope("/api/whoami", root_path="/api"))[0]["status"] == 401


def test_excluded_requests_get_no_identity(verifier: Verifier, token: str) -> None:
    """An excluded path is passed on untouched: no claims, no request.auth."""
    response = request(guarded(verifier, exclude_paths=["/health"]), "/health", bearer(token))
    assert response.json() == {"has_auth": False, "state": []}


# -- websockets --------------------------------------------------------------------


def test_websocket_with_a_valid_token_is_accepted(verifier: Verifier, token: str) -> None:
    """A websocket with a valid token is accepted and sees the claims."""
    messages = websocket(guarded(verifier), "/ws", bearer(token))
    assert messages[0]["type"] == "websocket.accept"
    assert json.loads(messages[1]["text"]) == {"client_id": CLIENT_ID}


def test_websocket_without_token_gets_a_denial_response_before_accept(
    verifier: Verifier,
) -> None:
    """Where the server supports denial responses, the refusal is the HTTP 401."""
    messages = websocket(guarded(verifier), "/ws")
    assert [m["type"] for m in messages] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert messages[0]["status"] == 401
    assert dict(messages[0]["headers"])[b"www-authenticate"] == b'Bearer realm="api"'
    assert json.loads(messages[1]["body"])["error"] == "unauthorized"


def test_websocket_with_insufficient_scope_is_refused_before_accept(
    verifier: Verifier, token: str
) -> None:
    """A websocket lacking a required scope gets a 403 and is never accepted."""
    messages = websocket(guarded(verifier, required_scopes=["admin"]), "/ws", bearer(token))
    assert messages[0]["type"] == "websocket.http.response.start"
    assert messages[0]["status"] == 403


def test_websocket_is_closed_with_1008_without_the_denial_extension(verifier: Verifier) -> None:
    """Without the denial extension a refused websocket is closed (1008) before accept."""
    messages = websocket(guarded(verifier), "/ws", bearer("not-a-jwt"), denial_extension=False)
    assert messages == [{"type": "websocket.close", "code": 1008, "reason": "invalid_token"}]


def test_websocket_is_closed_with_1013_when_keys_are_unavailable(
    rsa_key: SigningKey, clock: FakeClock, token: str
) -> None:
    """When the keys cannot be fetched, the close code says "try again later"."""
    # Port 9 (discard) on loopback refuses connections: the JWKS is unreachable.
    offline = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks_url="http://127.0.0.1:9/jwks", clock=clock
    )
    messages = websocket(guarded(offline), "/ws", bearer(token), denial_extension=False)
    assert messages == [
        {"type": "websocket.close", "code": 1013, "reason": "temporarily_unavailable"}
    ]
