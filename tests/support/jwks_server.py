"""A real JWKS endpoint on 127.0.0.1 whose behaviour tests can switch."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JWKSServer:
    """Serves ``document`` at ``/jwks``; ``mode`` selects a failure to inject.

    Modes: ``ok``, ``status`` (answer ``status_code``), ``garbage`` (not JSON),
    ``not-object`` (a JSON list), ``huge`` (a body over any sane cap),
    ``redirect`` (302 to ``redirect_to``), ``slow`` (hold the response until
    ``release`` is set or ``slow_for`` seconds pass), ``reset`` (close the
    connection without answering).
    """

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.mode = "ok"
        self.status_code = 500
        self.cache_control: str | None = "max-age=300"
        self.redirect_to = ""
        self.slow_for = 5.0
        self.release = threading.Event()
        self.requests: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.extra: dict[str, bytes] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append({k.lower(): v for k, v in self.headers.items()})
                    server.paths.append(self.path)
                server.handle(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base_url}/jwks"
        # A short poll interval: stop() waits for the serving loop to notice.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def fetches(self) -> int:
        """How many requests reached ``/jwks``."""
        with self._lock:
            return sum(1 for p in self.paths if p == "/jwks")

    def body(self) -> bytes:
        return json.dumps(self.document).encode()

    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body()).hexdigest()[:16] + '"'

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        if h.path in self.extra:
            return self._send(h, 200, self.extra[h.path], {"content-type": "application/json"})
        if h.path != "/jwks":
            return self._send(h, 404, b"{}", {})
        mode = self.mode
        if mode == "slow":
            self.release.wait(self.slow_for)
            mode = "ok"
        if mode == "reset":
            h.close_connection = True
            h.connection.close()
            return None
        if mode == "status":
            return self._send(h, self.status_code, b'{"error":"x"}', {})
        if mode == "redirect":
            return self._send(h, 302, b"", {"location": self.redirect_to})
        if mode == "garbage":
            return self._send(h, 200, b"<html>not json", {})
        if mode == "not-object":
            return self._send(h, 200, b'[{"keys": []}]', {})
        if mode == "huge":
            pad = b" " * (2 * 1024 * 1024)
            return self._send(h, 200, pad + self.body(), {})
        headers = {"content-type": "application/json", "etag": self.etag()}
        if self.cache_control is not None:
            headers["cache-control"] = self.cache_control
        if h.headers.get("if-none-match") == self.etag():
            return self._send(h, 304, b"", headers)
        return self._send(h, 200, self.body(), headers)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        h.send_response(status)
        for name, value in headers.items():
            h.send_header(name, value)
        h.send_header("content-length", str(len(body)))
        h.end_headers()
        if body:
            h.wfile.write(body)

    def start(self) -> JWKSServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@contextmanager
def running_jwks_server() -> Iterator[JWKSServer]:
    server = JWKSServer().start()
    try:
        yield server
    finally:
        server.stop()
