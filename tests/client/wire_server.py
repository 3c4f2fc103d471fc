"""A token endpoint and an API on 127.0.0.1, in one ``ThreadingHTTPServer``."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

CLIENT_ID = "m2m-client-test-wire"
CLIENT_SECRET = "wire-secret-123"
PROJECT_ID = "project-test-wire"


class LocalIssuer(ThreadingHTTPServer):
    """Issues tokens for one client and serves an API that checks them."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.issued: list[str] = []
        self.token_requests = 0
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: LocalIssuer

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def _answer(self, status: int, body: dict[str, object]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["content-length"]))
        if self.headers["content-type"] == "application/json":
            params = json.loads(raw)
        else:
            params = dict(parse_qsl(raw.decode()))
        basic = self.headers.get("authorization", "").removeprefix("Basic ")
        if basic:
            params["client_id"], _, params["client_secret"] = (
                base64.b64decode(basic).decode().partition(":")
            )
        if self.path not in ("/token", f"/v1/public/{PROJECT_ID}/oauth2/token"):
            self._answer(404, {"error": "not_found"})
        elif (params.get("client_id"), params.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            self._answer(401, {"error": "invalid_client", "error_description": "bad credentials"})
        else:
            with self.server.lock:
                self.server.token_requests += 1
                token = f"wire-token-{self.server.token_requests}"
                self.server.issued.append(token)
            self._answer(
                200,
                {
                    "access_token": token,
                    "token_type": "bearer",
                    "expires_in": 3600,
                    "scope": params.get("scope", ""),
                },
            )

    def do_GET(self) -> None:
        token = self.headers.get("authorization", "").removeprefix("Bearer ")
        if token in self.server.issued:
            self._answer(200, {"hello": "machine"})
        else:
            self._answer(401, {"error": "invalid_token"})


@contextmanager
def serving() -> Iterator[LocalIssuer]:
    """A local token endpoint and API on an ephemeral loopback port."""
    server = LocalIssuer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
