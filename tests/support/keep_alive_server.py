"""An HTTP/1.1 server on 127.0.0.1 that keeps connections open and can trickle.

For deadline tests: a server that sends a byte every ``BYTE_DELAY`` seconds
satisfies every per-read timeout httpx has; only a deadline on the whole
exchange stops it.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from contextlib import suppress
from typing import Any

from tests.core._helpers import PATIENCE

TIMEOUT = 1.0
BYTE_DELAY = 0.2
#: a trickled answer takes this long in all: 20 timeouts
TRICKLE_SECONDS = 20 * TIMEOUT


class KeepAliveServer:
    """An HTTP/1.1 JWKS endpoint on 127.0.0.1 that keeps connections open.

    Request number ``trickled`` (counted over all connections, from 1) gets
    its answer one byte every ``BYTE_DELAY`` seconds: the status line and
    headers (``part="headers"``) or the body (``part="body"``); every other
    request is answered at once. The answer is a valid JWKS either way, so
    only a deadline turns the trickled fetch into a failure. With ``tls``
    (a server-side context) it speaks https.
    """

    def __init__(
        self,
        document: dict[str, Any],
        part: str,
        trickled: int = 2,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.body = json.dumps(document).encode()
        self.part = part
        self.trickled = trickled
        self._tls = tls
        self.requests = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._open: list[socket.socket] = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self._listener.getsockname()[1]}/jwks"
        self._threads = [threading.Thread(target=self._accept, daemon=True)]

    def _accept(self) -> None:
        while not self._done.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.append(connection)
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        connection.settimeout(PATIENCE)
        if self._tls is not None:
            try:
                connection = self._tls.wrap_socket(connection, server_side=True)
            except OSError:
                return
            with self._lock:
                self._open.append(connection)
        with connection:
            buffered = b""
            while not self._done.is_set():
                try:
                    data = connection.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buffered += data
                while b"\r\n\r\n" in buffered:
                    _, buffered = buffered.split(b"\r\n\r\n", 1)
                    with self._lock:
                        self.requests += 1
                        number = self.requests
                    if not self._answer(connection, trickle=number == self.trickled):
                        return

    def _answer(self, connection: socket.socket, *, trickle: bool) -> bool:
        steps = int(TRICKLE_SECONDS / BYTE_DELAY)  # bytes sent one at a time
        pad = b"x-pad: %s\r\n" % (b"y" * steps) if trickle and self.part == "headers" else b""
        head = (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"cache-control: max-age=300\r\ncontent-length: %d\r\n%s\r\n" % (len(self.body), pad)
        )
        message = head + self.body
        slow = range(0)
        if trickle:
            start = 0 if self.part == "headers" else len(head)
            slow = range(start, start + steps)
        try:
            connection.sendall(message[: slow.start])
            for index in slow:
                if self._done.wait(BYTE_DELAY):
                    return False
                connection.sendall(message[index : index + 1])
            connection.sendall(message[slow.stop :])
        except OSError:
            return False
        return True

    def __enter__(self) -> KeepAliveServer:
        self._threads[0].start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        with self._lock:  # shutdown, unlike close, wakes a thread blocked on the socket
            for sock in [self._listener, *self._open]:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for thread in self._threads:
            thread.join(PATIENCE)
