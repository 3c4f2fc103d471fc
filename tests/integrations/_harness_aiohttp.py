"""Harnesses for the aiohttp integration (see _harness.py): each request goes to
a real aiohttp server on 127.0.0.1 (``aiohttp.test_utils.TestServer``), sent
by http.client, so headers reach the server as on the wire."""

from __future__ import annotations

import asyncio
import http.client
import json
from collections.abc import Callable, Sequence

from aiohttp import web
from aiohttp.test_utils import TestServer

from m2m_guard import Verifier
from m2m_guard.aiohttp import M2M, VERIFIER, get_claims, m2m_middleware, require_scopes
from tests.integrations._harness import Reply
from tests.integrations._harness_asgi import identity


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def http_get(port: int, path: str, headers: Sequence[tuple[str, str]], method: str) -> Reply:
    # http.client sends each header as given (repeated ones too, latin-1 bytes)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value.encode("latin-1"))
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        found = {name.lower(): value for name, value in response.getheaders()}
        is_json = found.get("content-type", "").startswith("application/json")
        return Reply(response.status, found, json.loads(body) if is_json else None)
    finally:
        connection.close()


async def serve_once(
    app: web.Application, path: str, headers: Sequence[tuple[str, str]] = (), method: str = "GET"
) -> Reply:
    """Start ``app`` on 127.0.0.1, send one request (from a thread), stop it."""
    # aiohttp's parser refuses header fields over 8190 bytes (a plain-text 400)
    # before any middleware runs; raised so that the guard's own size cap answers.
    limits = {"max_field_size": 2 * 1024 * 1024, "max_line_size": 2 * 1024 * 1024}
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(**limits)
    try:
        return await asyncio.to_thread(http_get, server.port, path, headers, method)
    finally:
        await server.close()


def request_app(
    make: Callable[[], web.Application],
    path: str,
    headers: Sequence[tuple[str, str]] = (),
    method: str = "GET",
) -> Reply:
    """A fresh application from ``make``, one request to it over 127.0.0.1."""
    return asyncio.run(serve_once(make(), path, headers, method))


#: What aiohttp's HTTP parser refuses in a header value (RFC 9110 §5.5: controls
#: other than HTAB), answering 400 itself before any middleware runs.
_NOT_A_FIELD_VALUE = frozenset(chr(c) for c in (*range(0x09), *range(0x0A, 0x20), 0x7F))


class AiohttpMiddlewareHarness:
    """``m2m_middleware`` (``/health`` excluded, scopes, ``optional``) and a plain handler."""

    name = "aiohttp-middleware"

    @staticmethod
    def wire_refuses(headers: Sequence[tuple[str, str]]) -> bool:
        """Whether the server itself refuses these headers (a 400 of its own)."""
        return any(_NOT_A_FIELD_VALUE.intersection(value) for _, value in headers)

    def build(
        self, verifier: Verifier, *, required_scopes: Sequence[str] = (), optional: bool = False
    ) -> None:
        async def whoami(request: web.Request) -> web.Response:
            return web.json_response(identity(get_claims(request)))

        def make() -> web.Application:
            guard = m2m_middleware(
                verifier,
                exclude_paths=["/health"],
                required_scopes=required_scopes,
                optional=optional,
            )
            app = web.Application(middlewares=[guard])
            app.router.add_get("/health", health)
            app.router.add_get("/whoami", whoami)
            return app

        self.make = make

    def request(self, path: str, headers: Sequence[tuple[str, str]] = ()) -> Reply:
        return request_app(self.make, path, headers)


class AiohttpDecoratorHarness(AiohttpMiddlewareHarness):
    """No middleware: ``require_scopes`` on the handler, the verifier in ``app[VERIFIER]``."""

    name = "aiohttp-decorator"

    def build(
        self, verifier: Verifier, *, required_scopes: Sequence[str] = (), optional: bool = False
    ) -> None:
        @require_scopes(*required_scopes, optional=optional)
        async def whoami(request: web.Request) -> web.Response:
            return web.json_response(identity(request[M2M]))

        def make() -> web.Application:
            app = web.Application()
            app[VERIFIER] = verifier
            app.router.add_get("/health", health)
            app.router.add_get("/whoami", whoami)
            return app

        self.make = make
