"""Run an ASGI app under real uvicorn in a background thread.

For tests, demos and the CLI: the server listens on loopback, on a free port
by default, and :class:`ServerThread` reports the URL it actually got::

    with ServerThread(app) as server:
        httpx.get(server.base_url + "/health")

``start()`` returns once uvicorn accepts connections (or raises after
``startup_timeout``); ``stop()`` shuts it down gracefully and joins the
thread, so no thread or socket outlives the ``with`` block. Needs uvicorn
(the ``issuer`` extra).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from time import monotonic
from typing import Any

import uvicorn

__all__ = ["ASGIApp", "ServerThread", "http_url"]

_Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[_Message]],
        Callable[[_Message], Awaitable[None]],
    ],
    Awaitable[None],
]


def http_url(host: str, port: int) -> str:
    """``http://host:port``, bracketing IPv6 literals (RFC 3986 §3.2.2)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class ServerThread:
    """A uvicorn server in a thread.

    Args:
        app: any ASGI 3 application; may be set after :meth:`bind`, before
            :meth:`start`.
        host: the interface to bind; loopback by default.
        port: 0 (the default) picks a free port; see :attr:`port`.
        startup_timeout / shutdown_timeout: seconds to wait for uvicorn.
        log_level: uvicorn's log level; uvicorn's logging config is left
            alone (``log_config=None``), so the host's logging setup rules.
        thread_name: the server thread's name (tests look for leftovers by it).
    """

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
        shutdown_timeout: float = 10.0,
        log_level: str = "warning",
        thread_name: str = "m2m-guard-uvicorn",
    ) -> None:
        self.app = app
        self.host = host
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self._requested_port = port
        self._log_level = log_level
        self._thread_name = thread_name
        self._port: int | None = None
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        """The port the server listens on (known once started)."""
        if self._port is None:
            raise RuntimeError("the server is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port``, without a trailing slash."""
        return http_url(self.host, self.port)

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def bind(self) -> str:
        """Bind the listening socket now and return :attr:`base_url`.

        For apps that must know their own URL before they serve (an issuer
        minting ``iss`` = its URL on a port picked by the OS): bind, build
        or configure the app, then :meth:`start`.
        """
        if self._socket is None:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            self._socket = socket.create_server((self.host, self._requested_port), family=family)
            # Accepted sockets inherit it. asyncio sets TCP_NODELAY itself only on
            # sockets whose proto says TCP, which create_server's (proto 0) do not:
            # without it each response's body waits ~40 ms for a delayed ACK.
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._port = self._socket.getsockname()[1]
        return self.base_url

    def start(self) -> ServerThread:
        """Bind (unless :meth:`bind` did), serve, and wait until uvicorn accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the server is already started")
        if self.app is None:
            raise RuntimeError("the server has no app to serve")
        config = uvicorn.Config(
            self.app,
            log_level=self._log_level,
            log_config=None,
            loop="asyncio",
            ws="none",
            lifespan="auto",
            # X-Forwarded-* would let any local client choose the scheme and
            # client address the app sees; behind a proxy, configure URLs.
            proxy_headers=False,
        )
        server = uvicorn.Server(config)
        self.bind()
        sock = self._socket
        assert sock is not None
        thread = threading.Thread(
            target=self._run, args=(server, sock), name=self._thread_name, daemon=True
        )
        self._server, self._thread = server, thread
        self._error = None
        thread.start()
        self._wait_started(server, thread)
        return self

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # uvicorn calls sys.exit() when startup fails
            self._error = exc

    def _wait_started(self, server: uvicorn.Server, thread: threading.Thread) -> None:
        deadline = monotonic() + self.startup_timeout
        while not server.started:
            if not thread.is_alive():
                error = self._error
                self.stop()
                raise RuntimeError(f"the server failed to start: {error!r}") from error
            if monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the server did not start within {self.startup_timeout} s")
            thread.join(0.01)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops (or ``timeout``); True if it stopped."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def stop(self) -> None:
        """Shut down gracefully (forcefully after ``shutdown_timeout``) and join."""
        thread, server, sock = self._thread, self._server, self._socket
        self._thread = self._server = self._socket = None
        self._port = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(self.shutdown_timeout)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(self.shutdown_timeout)
        if sock is not None:
            sock.close()
        if thread is not None and thread.is_alive():
            raise RuntimeError("the server thread did not stop")

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
