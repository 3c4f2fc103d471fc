"""Hello-world apps, bare and protected, and in-process request cases.

The in-process cases call the application object directly with a minimal
hand-built ASGI scope (or WSGI environ): no test client, no HTTP parsing, no
sockets, whose cost would swamp the difference being measured. Bare and
protected apps get the very same request, ``Authorization`` header included,
so the difference is the middleware's work on a warm token.

Route guards are measured against a twin app with one route each:
Starlette's ``require_scopes`` route against a plain route behind the same
middleware, and FastAPI's ``Security(M2MBearer(v), scopes=[...])`` against a
``Security`` dependency of the same signature that only reads the header.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Security
from fastapi.security import SecurityScopes
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from benchmarks._timing import Case
from benchmarks._world import SCOPES
from m2m_guard import Verifier
from m2m_guard.asgi import M2MGuardMiddleware as ASGIGuard
from m2m_guard.fastapi import M2MBearer, install
from m2m_guard.flask import M2MGuard
from m2m_guard.starlette import require_scopes
from m2m_guard.wsgi import M2MGuardMiddleware as WSGIGuard

__all__ = [
    "PROTECTED_VARIABLE",
    "fastapi_app",
    "in_process_cases",
    "load_app",
    "routes_app",
    "starlette_app",
]

HELLO = b"Hello, world!"
#: Set to "1" in a load-run server's environment to serve the protected app.
PROTECTED_VARIABLE = "M2M_BENCH_PROTECTED"
ASGIApp = Callable[..., Any]


async def _hello(request: Request) -> Response:
    return PlainTextResponse(HELLO)


def starlette_app(verifier: Verifier | None = None) -> Starlette:
    """Starlette hello world at ``/``; behind the ASGI middleware given a verifier."""
    middleware = [Middleware(ASGIGuard, verifier=verifier)] if verifier else []
    return Starlette(routes=[Route("/", _hello)], middleware=middleware)


def routes_app(verifier: Verifier, *, scoped: bool) -> Starlette:
    """Behind the ASGI middleware, ``/``: plain, or with ``require_scopes``.

    One route per app, so both cases pay the same routing.
    """

    @require_scopes(SCOPES[0])
    async def with_scope(request: Request) -> Response:
        return PlainTextResponse(HELLO)

    route = Route("/", with_scope if scoped else _hello)
    return Starlette(routes=[route], middleware=[Middleware(ASGIGuard, verifier=verifier)])


async def _header_only(security_scopes: SecurityScopes, connection: HTTPConnection) -> str | None:
    # The baseline dependency: M2MBearer's signature, and it only reads the header.
    return connection.headers.get("authorization")


def fastapi_app(verifier: Verifier, *, m2m: bool) -> FastAPI:
    """``/`` with ``Security(M2MBearer(verifier), scopes=[...])``, or with a
    ``Security`` dependency of the same signature that only reads the header;
    no middleware. One route per app, so both cases pay the same routing."""
    app = install(FastAPI(openapi_url=None, docs_url=None, redoc_url=None))
    dependency: Any = M2MBearer(verifier) if m2m else _header_only

    @app.get("/")
    async def hello(
        value: Any = Security(dependency, scopes=[SCOPES[0]]),  # noqa: B008 - FastAPI's idiom
    ) -> Response:
        return PlainTextResponse(HELLO)

    return app


def load_app() -> Starlette:
    """The load-run server's app (a uvicorn ``--factory``), configured by environment."""
    protected = os.environ.get(PROTECTED_VARIABLE) == "1"
    return starlette_app(Verifier.from_env() if protected else None)


def flask_app(verifier: Verifier | None = None, *, mode: str = "bare") -> Any:
    """Flask hello world; ``mode`` is ``bare``, ``wsgi`` (middleware) or ``extension``."""
    app = Flask(f"hello_{mode}")

    def hello() -> bytes:
        return HELLO

    if mode == "extension":
        hello = M2MGuard(app, verifier=verifier).require_scopes(SCOPES[0])(hello)
    app.get("/")(hello)
    if mode == "wsgi":
        assert verifier is not None
        return WSGIGuard(app, verifier=verifier)
    return app


def _asgi_scope(token: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench.local"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def _asgi_case(key: str, label: str, app: ASGIApp, token: str, loop: Any) -> Case:
    template = _asgi_scope(token)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def discard(message: MutableMapping[str, Any]) -> None:
        return None

    async def many(n: int) -> None:
        for _ in range(n):
            await app({**template, "state": {}}, receive, discard)

    sent: list[MutableMapping[str, Any]] = []

    async def keep(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    loop.run_until_complete(app({**template, "state": {}}, receive, keep))
    if sent[0].get("status") != 200 or sent[-1].get("body") != HELLO:
        raise RuntimeError(f"{label}: the app did not answer 200 {HELLO!r}: {sent}")
    return Case(key, label, lambda: lambda n: loop.run_until_complete(many(n)))


def _wsgi_environ(token: str, path: str = "/") -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "bench.local",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "bench.local",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def _wsgi_call(app: Any, environ: dict[str, Any], statuses: list[str] | None = None) -> bytes:
    def start_response(status: str, headers: Any, exc_info: Any = None) -> Callable[..., Any]:
        if statuses is not None:
            statuses.append(status)
        return lambda data: None

    result: Iterable[bytes] = app(environ, start_response)
    try:
        return b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()


def _wsgi_case(key: str, label: str, app: Any, token: str, path: str = "/") -> Case:
    template = _wsgi_environ(token, path)
    statuses: list[str] = []
    body = _wsgi_call(app, dict(template), statuses)
    if not statuses[0].startswith("200") or body != HELLO:
        raise RuntimeError(f"{label}: the app did not answer 200 {HELLO!r}: {statuses} {body!r}")

    def batch(n: int) -> None:
        for _ in range(n):
            _wsgi_call(app, dict(template))

    return Case(key, label, lambda: batch)


@contextmanager
def in_process_cases(verifier: Verifier, token: str) -> Iterator[list[Case]]:
    """Bare vs protected Starlette and Flask, called in process with ``token``.

    ``verifier`` should already have verified ``token``, so that the
    protected apps see a warm token.
    """
    loop = asyncio.new_event_loop()
    try:
        yield [
            _asgi_case(
                "starlette_bare", "Starlette hello world, bare", starlette_app(), token, loop
            ),
            _asgi_case(
                "starlette_guarded",
                "Starlette + ASGI M2MGuardMiddleware",
                starlette_app(verifier),
                token,
                loop,
            ),
            _asgi_case(
                "starlette_route_bare",
                "Starlette + middleware, plain route",
                routes_app(verifier, scoped=False),
                token,
                loop,
            ),
            _asgi_case(
                "starlette_route_scoped",
                "Starlette + middleware, require_scopes route",
                routes_app(verifier, scoped=True),
                token,
                loop,
            ),
            _asgi_case(
                "fastapi_header",
                "FastAPI, Security(header-reading dependency)",
                fastapi_app(verifier, m2m=False),
                token,
                loop,
            ),
            _asgi_case(
                "fastapi_m2m",
                "FastAPI, Security(M2MBearer, scopes=[...])",
                fastapi_app(verifier, m2m=True),
                token,
                loop,
            ),
            _wsgi_case("flask_bare", "Flask hello world, bare", flask_app(), token),
            _wsgi_case(
                "flask_wsgi_guarded",
                "Flask + WSGI M2MGuardMiddleware",
                flask_app(verifier, mode="wsgi"),
                token,
            ),
            _wsgi_case(
                "flask_extension",
                "Flask + M2MGuard require_scopes(scope)",
                flask_app(verifier, mode="extension"),
                token,
            ),
        ]
    finally:
        loop.close()
