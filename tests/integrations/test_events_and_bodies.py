"""Every integration reports the request path in its events, and renders
refusals with the process-wide error renderer (RFC 9457 here), keeping the
status and the challenge headers exactly."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI, Security
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from werkzeug.test import Client

from m2m_guard import M2MGuardError, Verifier
from m2m_guard._guard import error_response, set_error_renderer
from m2m_guard.asgi import M2MGuardMiddleware as ASGIMiddleware
from m2m_guard.events import Event, TokenVerified, VerificationFailed
from m2m_guard.fastapi import M2MBearer, install
from m2m_guard.flask import M2MGuard
from m2m_guard.starlette import require_scopes
from m2m_guard.wsgi import M2MGuardMiddleware as WSGIMiddleware
from tests.support.clock import FakeClock
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims

Get = Callable[[str, dict[str, str]], tuple[int, dict[str, str], bytes]]


def problem_json(exc: M2MGuardError) -> tuple[str, bytes]:
    """RFC 9457 problem details."""
    status = exc.status_code
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": exc.description,
    }
    return "application/problem+json", json.dumps(body).encode()


@pytest.fixture
def events(rsa_key: SigningKey, clock: FakeClock) -> list[Event]:
    return []


@pytest.fixture
def hooked(rsa_key: SigningKey, clock: FakeClock, events: list[Event]) -> Verifier:
    return Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks=jwks_of(rsa_key),
        clock=clock,
        on_event=events.append,
    )


def _asgi(verifier: Verifier) -> Get:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await JSONResponse({"ok": True})(scope, receive, send)

    return _asgi_get(ASGIMiddleware(app, verifier=verifier))


def _starlette(verifier: Verifier) -> Get:
    @require_scopes(verifier=verifier)
    async def read(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return _asgi_get(Starlette(routes=[Route("/api/thing", read)]))


def _fastapi(verifier: Verifier) -> Get:
    app = install(FastAPI())
    guard = M2MBearer(verifier)

    @app.get("/api/thing", dependencies=[Security(guard)])
    async def read() -> Any:
        return {"ok": True}

    return _asgi_get(app)


def _asgi_get(app: Any) -> Get:
    """Requests to an ASGI app in process, through httpx's ASGI transport
    (Starlette's TestClient warns without httpx2, and warnings are errors)."""

    def get(path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        async def call() -> tuple[int, dict[str, str], bytes]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                response = await c.get(path, headers=headers)
            return response.status_code, dict(response.headers), response.content

        return anyio.run(call)

    return get


def _wsgi(verifier: Verifier) -> Get:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("content-type", "application/json")])
        return [b'{"ok":true}']

    return _werkzeug_get(Client(WSGIMiddleware(app, verifier=verifier)))


def _flask(verifier: Verifier) -> Get:
    app = Flask(__name__)
    guard = M2MGuard(app, verifier=verifier)

    @app.get("/api/thing")
    @guard.require_scopes()
    def read() -> dict[str, bool]:
        return {"ok": True}

    return _werkzeug_get(app.test_client())


def _werkzeug_get(client: Client) -> Get:
    def get(path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        response = client.get(path, headers=headers)
        return response.status_code, {k.lower(): v for k, v in response.headers}, response.data

    return get


INTEGRATIONS = {
    "asgi": _asgi,
    "starlette": _starlette,
    "fastapi": _fastapi,
    "wsgi": _wsgi,
    "flask": _flask,
}


@pytest.fixture
def renderer() -> Iterator[None]:
    previous = set_error_renderer(problem_json)
    try:
        yield
    finally:
        set_error_renderer(previous)


@pytest.mark.parametrize("name", sorted(INTEGRATIONS))
def test_every_event_carries_the_request_path(
    name: str, hooked: Verifier, events: list[Event], rsa_key: SigningKey, clock: FakeClock
) -> None:
    """A missing header, a malformed one, a bad token, a fresh and a cached
    acceptance: each reported once, with the path."""
    get = INTEGRATIONS[name](hooked)
    token = rsa_key.sign(stytch_claims(clock()))
    assert get("/api/thing", {})[0] == 401
    assert get("/api/thing", {"Authorization": "Bearer a b"})[0] == 400
    assert get("/api/thing", {"Authorization": "Bearer x.y.z"})[0] == 401
    assert get("/api/thing", {"Authorization": f"Bearer {token}"})[0] == 200
    assert get("/api/thing", {"Authorization": f"Bearer {token}"})[0] == 200

    assert [type(e) for e in events] == [
        VerificationFailed,
        VerificationFailed,
        VerificationFailed,
        TokenVerified,
        TokenVerified,
    ]
    assert {e.path for e in events} == {"/api/thing"}  # type: ignore[union-attr]
    first = events[0]
    assert isinstance(first, VerificationFailed)
    assert first.reason == "MissingTokenError"
    assert [e.cached for e in events if isinstance(e, TokenVerified)] == [False, True]


def test_events_without_an_integration_have_no_path(
    hooked: Verifier, events: list[Event], rsa_key: SigningKey, clock: FakeClock
) -> None:
    hooked.verify(rsa_key.sign(stytch_claims(clock())))
    with pytest.raises(M2MGuardError):
        hooked.verify_header(None)
    assert [getattr(e, "path", "?") for e in events] == [None, None]


@pytest.mark.parametrize("name", sorted(INTEGRATIONS))
def test_the_error_renderer_applies_in_every_integration(
    name: str, verifier: Verifier, renderer: None
) -> None:
    """Body and content-type are the renderer's; status and challenge are unchanged."""
    get = INTEGRATIONS[name](verifier)
    status, headers, body = get("/api/thing", {"Authorization": "Bearer x.y.z"})
    assert status == 401
    assert headers["content-type"] == "application/problem+json"
    assert headers["content-length"] == str(len(body))
    assert json.loads(body)["status"] == 401
    assert headers["www-authenticate"].startswith('Bearer realm="api", error="invalid_token"')


def test_the_renderer_changes_only_the_body() -> None:
    """Same status and headers (WWW-Authenticate, Retry-After) with and without it."""
    from m2m_guard import KeysUnavailableError

    exc = KeysUnavailableError("down", retry_after=12)
    plain = error_response(exc)
    previous = set_error_renderer(problem_json)
    try:
        rendered = error_response(exc)
    finally:
        set_error_renderer(previous)
    assert rendered.status == plain.status == 503
    assert rendered.headers[2:] == plain.headers[2:]
    assert ("retry-after", "12") in rendered.headers
    assert rendered.headers[0] == ("content-type", "application/problem+json")


@pytest.mark.parametrize(
    "broken",
    [
        lambda exc: 1 / 0,
        lambda exc: ("text/plain", "not bytes"),
        lambda exc: ("text/plain\r\nx-evil: 1", b"x"),
        lambda exc: None,
    ],
    ids=["raises", "text-body", "header-injection", "none"],
)
def test_a_broken_renderer_falls_back_to_the_default_body(
    broken: Callable[[M2MGuardError], Any], caplog: pytest.LogCaptureFixture
) -> None:
    from m2m_guard import InvalidTokenError

    exc = InvalidTokenError("bad")
    plain = error_response(exc)
    previous = set_error_renderer(broken)
    try:
        assert error_response(exc) == plain
    finally:
        set_error_renderer(previous)


def test_a_renderer_must_be_callable() -> None:
    from m2m_guard import ConfigurationError

    with pytest.raises(ConfigurationError):
        set_error_renderer("json")  # type: ignore[arg-type]
