"""Harnesses for the ASGI middleware, the Starlette decorator and the FastAPI dependency."""

# No "from __future__ import annotations": FastAPI must read the route
# annotations below at runtime, and they name local variables.
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import anyio
import httpx
from fastapi import FastAPI, Security
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from m2m_guard import M2MClaims, Verifier
from m2m_guard.asgi import M2MGuardMiddleware, get_claims
from m2m_guard.fastapi import M2MBearer, install
from m2m_guard.starlette import require_scopes
from tests.integrations._harness import Reply


def identity(claims: M2MClaims | None) -> dict[str, Any]:
    """The /whoami body of the harness contract."""
    if claims is None:
        return {"client_id": None}
    return {
        "client_id": claims.client_id,
        "scopes": list(claims.scopes),
        "custom_claims": dict(claims.custom_claims),
    }


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def call(
    app: Any, method: str, path: str, headers: Sequence[tuple[str, str]] = ()
) -> httpx.Response:
    """One HTTP request to ``app`` in process (httpx's ASGI transport)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        # Bytes as on the wire: header values are latin-1 (RFC 9110 §5.5 obs-text).
        wire = [(name, value.encode("latin-1")) for name, value in headers]
        return await client.request(method, path, headers=wire)


def request(
    app: Any, path: str, headers: Sequence[tuple[str, str]] = (), method: str = "GET"
) -> httpx.Response:
    """``call`` from synchronous code."""
    return anyio.run(call, app, method, path, headers)


def reply(response: httpx.Response) -> Reply:
    return Reply(response.status_code, dict(response.headers), response.json())


def websocket(
    app: Any,
    path: str,
    headers: Sequence[tuple[str, str]] = (),
    *,
    denial_extension: bool = True,
) -> list[dict[str, Any]]:
    """Open a websocket on ``app`` in process; return every message the app sent.

    The client sends ``websocket.connect`` and then disconnects when asked
    for more, so the list shows whether the app accepted before refusing.
    """
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")]
        + [(name.lower().encode(), value.encode("latin-1")) for name, value in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "subprotocols": [],
        "state": {},
        "extensions": {"websocket.http.response": {}} if denial_extension else {},
    }
    incoming: list[dict[str, Any]] = [{"type": "websocket.connect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(dict(message))

    anyio.run(app, scope, receive, send)
    return sent


class _InProcess:
    app: Any = None

    def request(self, path: str, headers: Sequence[tuple[str, str]] = ()) -> Reply:
        return reply(request(self.app, path, headers))


class ASGIMiddlewareHarness(_InProcess):
    """A Starlette app wrapped in ``M2MGuardMiddleware``; /health excluded."""

    name = "asgi-middleware"

    def build(
        self,
        verifier: Verifier,
        *,
        required_scopes: Sequence[str] = (),
        optional: bool = False,
        route: Mapping[str, Any] | None = None,
    ) -> None:
        async def whoami(request: Request) -> JSONResponse:
            return JSONResponse(identity(request.state.m2m))

        app = Starlette(routes=[Route("/health", health), Route("/whoami", whoami)])
        self.app = M2MGuardMiddleware(
            app,
            verifier=verifier,
            exclude_paths=["/health"],
            required_scopes=required_scopes,
            optional=optional,
            **(route or {}),
        )


class StarletteDecoratorHarness(_InProcess):
    """A Starlette app without middleware; /whoami uses ``require_scopes``.

    The verifier comes from ``app.state.m2m_verifier``, the decorator's
    fallback (tests/integrations/test_starlette.py covers ``verifier=``).
    """

    name = "starlette-decorator"

    def build(
        self,
        verifier: Verifier,
        *,
        required_scopes: Sequence[str] = (),
        optional: bool = False,
        route: Mapping[str, Any] | None = None,
    ) -> None:
        @require_scopes(*required_scopes, optional=optional, **(route or {}))
        async def whoami(request: Request) -> JSONResponse:
            return JSONResponse(identity(get_claims(request)))

        app = Starlette(routes=[Route("/health", health), Route("/whoami", whoami)])
        app.state.m2m_verifier = verifier
        self.app = app


class FastAPIDependencyHarness(_InProcess):
    """A FastAPI app; /whoami takes ``Security(M2MBearer(...), scopes=...)``."""

    name = "fastapi-dependency"

    def build(
        self,
        verifier: Verifier,
        *,
        required_scopes: Sequence[str] = (),
        optional: bool = False,
        route: Mapping[str, Any] | None = None,
    ) -> None:
        guard = M2MBearer(verifier, optional=optional, **(route or {}))
        app = install(FastAPI())

        @app.get("/health")
        async def fastapi_health() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/whoami")
        async def whoami(
            claims: Annotated[M2MClaims | None, Security(guard, scopes=list(required_scopes))],
        ) -> dict[str, Any]:
            return identity(claims)

        self.app = app


def bearer(token: str) -> list[tuple[str, str]]:
    """An ``Authorization: Bearer`` header."""
    return [("authorization", f"Bearer {token}")]


def http_scope(
    path: str, headers: Sequence[tuple[bytes, bytes]] = (), **extra: Any
) -> dict[str, Any]:
    """A raw ASGI ``http`` scope, for paths and headers httpx would normalize."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        **extra,
    }


def run_raw(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    """Call ``app`` with a raw scope and an empty body; return what it sent."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(dict(message))

    anyio.run(app, scope, receive, send)
    return sent
