"""A token endpoint on 127.0.0.1 that answers every POST the same way, and counts."""

from __future__ import annotations

import http.server
import threading
import time
from typing import Any

from tests.core._helpers import PATIENCE


class TokenEndpointServer:
    """Answers each POST with ``status`` and the JSON ``body`` after ``delay`` seconds.

    ``requests`` counts the POSTs that arrived; ``url`` is the endpoint.
    """

    def __init__(self, status: int, body: bytes, *, delay: float = 0.0) -> None:
        self.requests = 0
        lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                with lock:
                    outer.requests += 1
                time.sleep(delay)  # the server's pace, not the test's clock
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> TokenEndpointServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(PATIENCE)
