"""A local issuer endpoint on 127.0.0.1: JWKS and metadata documents at any path."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

import anyio
import pytest

from m2m_guard import TokenVerifier
from tests.integrations._harness import Reply
from tests.integrations._harness_asgi import ASGIMiddlewareHarness, call, reply
from tests.integrations._harness_wsgi import WSGIMiddlewareHarness
from tests.support.jwks_server import JWKSServer
from tests.support.keys import SigningKey, jwks_of

OIDC_PATH = "/.well-known/openid-configuration"
RFC8414_PATH = "/.well-known/oauth-authorization-server"


class IssuerServer(JWKSServer):
    """A ``JWKSServer`` whose ``extra`` documents can also carry headers or fail.

    ``headers_for[path]`` adds response headers (``Cache-Control`` …) to the
    document at ``path``; ``failing[path]`` answers that path with the status
    instead. ``paths`` (inherited) records every request, in order.
    """

    def __init__(self) -> None:
        super().__init__()
        self.headers_for: dict[str, dict[str, str]] = {}
        self.failing: dict[str, int] = {}

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        if h.path in self.failing:
            return self._send(h, self.failing[h.path], b'{"error":"x"}', {})
        if h.path in self.extra:
            headers = {"content-type": "application/json", **self.headers_for.get(h.path, {})}
            return self._send(h, 200, self.extra[h.path], headers)
        return super().handle(h)

    def serve(self, path: str, document: Any, headers: dict[str, str] | None = None) -> None:
        """Publish ``document`` as JSON at ``path``; ``headers`` replace its extra headers."""
        self.extra[path] = json.dumps(document).encode()
        if headers is not None:
            self.headers_for[path] = headers

    def serve_keys(self, path: str, *keys: SigningKey) -> None:
        """Publish a JWKS of ``keys`` at ``path``."""
        self.serve(path, jwks_of(*keys))

    def publish_metadata(
        self, path: str = OIDC_PATH, *, issuer: str | None = None, jwks_uri: str | None = None
    ) -> None:
        """Publish discovery metadata; by default this server is the issuer and its /jwks."""
        self.serve(path, {"issuer": issuer or self.base_url, "jwks_uri": jwks_uri or self.url})

    def hits(self, path: str) -> int:
        """How many requests reached ``path``."""
        with self._lock:
            return self.paths.count(path)


@contextmanager
def running_issuer_server() -> Iterator[IssuerServer]:
    server = IssuerServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class ClosingASGIMiddlewareHarness(ASGIMiddlewareHarness):
    """The ASGI middleware harness, closing the verifier's async client in each
    request's event loop (the harness runs every request in a loop of its own)."""

    verifier: TokenVerifier

    def build(self, verifier: Any, **options: Any) -> None:
        self.verifier = verifier
        super().build(verifier, **options)

    def request(self, path: str, headers: Sequence[tuple[str, str]] = ()) -> Reply:
        async def one() -> Reply:
            try:
                return reply(await call(self.app, "GET", path, headers))
            finally:
                await self.verifier.aclose()

        return anyio.run(one)


#: one middleware of each kind, as the issue asks (ASGI and WSGI)
MIDDLEWARES = [
    pytest.param(ClosingASGIMiddlewareHarness, id="asgi"),
    pytest.param(WSGIMiddlewareHarness, id="wsgi"),
]
