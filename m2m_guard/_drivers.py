"""The only I/O of verification: fetching key sets, for threads and for tasks.

Both drivers answer the ``Refresh`` requests a verification yields and run
``JWKSCache.refresh_flow``; they differ only in how they wait. Guarantees:

* Single flight: one cache makes one fetch at a time, whatever mix of
  threads (``SyncDriver``) and event loops (``AsyncDriver``, any number of
  loops) asks. A refresh runs only after claiming the cache's ``RefreshGate``;
  threads wait for a running one by blocking, tasks by polling without
  blocking their loop, both no longer than its deadline, and then skip
  their own fetch when it already happened.
* Redirects are never followed (a JWKS URL that redirects is misconfigured
  or hijacked), bodies are read under a size cap, and compressed bodies are
  refused (no decompression bombs).
* Each request is bounded as a whole by the policy's timeout, whatever the
  client, including a user's own with keep-alive: a server trickling bytes
  cannot hold a fetch past it. The async driver cancels the request
  (``anyio.fail_after``); the sync one shuts the connection's socket down
  from a timer thread, wherever the connection came from (see ``Watchdog``).
"""

from __future__ import annotations

import contextlib
import functools
import socket
import ssl
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from types import FrameType
from typing import TYPE_CHECKING, Any

import anyio

from ._gate import RefreshGate, gate_of
from ._http import CORE_PACKAGES, HTTP_ERRORS, httpx
from ._loops import PerLoop
from ._sansio.fetch import FetchResponse, HttpGet, ResponseReader
from ._sansio.flow import run_async, run_sync
from ._sansio.jwks import JWKSCache, Refresh

if TYPE_CHECKING:
    from ._http import AsyncClient, Response, SyncClient

__all__ = ["AsyncDriver", "SyncDriver", "Watchdog", "failure_reason"]

_IDENTITY = {"accept-encoding": "identity"}


_TIMED_OUT = FetchResponse(None, {}, reason="timed out")
# InvalidURL is not an HTTPError; a bad (e.g. discovered) URL must still be a
# failed fetch that starts the cooldown, not an exception out of verify().
# Both of every installed HTTP package: a user's client may be of either.
_FETCH_ERRORS = HTTP_ERRORS


def _options(get: HttpGet, timeout: float) -> dict[str, Any]:
    """Request options shared by both drivers: identity encoding, no redirects."""
    return {
        "headers": {**get.headers, **_IDENTITY},
        "timeout": timeout,
        "follow_redirects": False,
    }


class Watchdog:
    """Shuts down the fetch's sockets if the fetch outlives its deadline.

    httpx bounds each read, not the whole exchange: a server trickling its
    headers or body a byte at a time would hold the fetching thread (and
    every thread waiting for keys) indefinitely. Shutting the socket down
    wakes the blocked read. The watchdog learns the socket of a new
    connection from httpcore's ``connect_tcp`` trace, of a pooled connection
    being reused (a user's keep-alive client) from the connection that
    traces ``send_request_headers``, and, once headers are in, from the
    response's network stream.

    ``cancel`` is final: once it has returned, no socket is touched, so a
    connection handed back to a user's pool afterwards is left alone.
    """

    def __init__(self, timeout: float) -> None:
        self.fired = False
        self._cancelled = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(timeout, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: note the socket of each connection used."""
        if event == "connection.connect_tcp.complete":
            self.watch(info["return_value"])
        elif event.endswith(".send_request_headers.started"):
            self.watch(_sending_stream())

    def watch(self, stream: object) -> None:
        """Cut ``stream``'s socket at the deadline (at once if it has passed)."""
        get_extra_info = getattr(stream, "get_extra_info", None)
        sock = get_extra_info("socket") if callable(get_extra_info) else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            if self._cancelled:
                return
            self._sockets.append(sock)
            if self.fired:
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            self.fired = True
            for sock in self._sockets:
                _shut(sock)

    def __enter__(self) -> Watchdog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()

    @contextlib.contextmanager
    def guarding(self, response: Response) -> Iterator[None]:
        """Watch ``response``'s connection while the block reads it.

        The watch ends when the block does: put it inside whatever closes the
        response, whose connection may then go back to a user's pool, where
        it is no longer ours to cut.
        """
        self.watch(response.extensions.get("network_stream"))
        try:
            yield
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Stop watching; after this returns no socket is shut down.

        The timer thread is joined (it wakes at once), so no thread of the
        watchdog outlives the request it watched.
        """
        with self._lock:
            self._cancelled = True
            self._timer.cancel()
        if self._timer is not threading.current_thread():
            self._timer.join()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _sending_stream() -> object:
    """The network stream of the httpcore connection that is sending a request.

    Called from a ``send_request_headers`` trace: httpcore (``httpcore2``
    under ``httpx2``) traces it from the connection's ``handle_request`` a
    few frames up, and announces no socket for a connection taken from its
    pool, so this is how the watchdog finds one. ``None`` when no such frame
    is found (another transport).
    """
    frame: FrameType | None = sys._getframe(1)
    for _ in range(8):
        if frame is None:
            break
        owner = frame.f_locals.get("self")
        if type(owner).__module__.split(".")[0] in CORE_PACKAGES:
            stream = getattr(owner, "_network_stream", None)
            if stream is not None:
                return stream
        frame = frame.f_back
    return None


def _failure(exc: Exception) -> FetchResponse:
    return FetchResponse(None, {}, reason=failure_reason(exc))


def failure_reason(exc: BaseException) -> str:
    """Why a request failed, in a few words: DNS, refused, TLS, or the class
    name. Never the exception's message, which may embed a URL with secrets."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed ({type(exc).__name__})"
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused ({type(exc).__name__})"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed ({type(exc).__name__})"
        cause = cause.__cause__ or cause.__context__
    return type(exc).__name__


class SyncDriver:
    """Fetches with an ``httpx.Client``; concurrent threads share one fetch."""

    def __init__(self, client: SyncClient | None = None) -> None:
        self._client = client
        self._owns_client = client is None

    def _http(self) -> SyncClient:
        if self._client is None:
            # No keep-alive: fetches are minutes apart, and an idle connection
            # held that long is more likely dead than useful.
            limits = httpx.Limits(max_keepalive_connections=0)
            self._client = httpx.Client(follow_redirects=False, limits=limits)
        return self._client

    def refresh(self, request: Refresh) -> None:
        """Run one refresh unless another thread or loop just did (or is doing) it."""
        cache = request.cache
        gate = gate_of(cache)
        if not gate.claim(request.wait, cache.refresh_budget()):
            return  # stale keys are still usable, or the wait ran out: 503
        try:
            if cache.should_fetch(request.generation):
                run_sync(cache.refresh_flow(), functools.partial(self._get, cache))
        finally:
            gate.release()

    def _get(self, cache: JWKSCache, get: HttpGet) -> FetchResponse:
        start = time.monotonic()
        return replace(self._fetch(cache, get), duration=time.monotonic() - start)

    def _fetch(self, cache: JWKSCache, get: HttpGet) -> FetchResponse:
        policy = cache.policy
        deadline = time.monotonic() + policy.timeout
        reader = ResponseReader(policy.max_bytes)
        # A watchdog shuts the socket down at the deadline (it wakes a read
        # blocked on a trickling server); between chunks the deadline is
        # also checked here.
        options = _options(get, policy.timeout)
        with Watchdog(policy.timeout) as watchdog:
            options["extensions"] = {"trace": watchdog.trace}
            try:
                with (
                    self._http().stream("GET", get.url, **options) as response,
                    watchdog.guarding(response),
                ):
                    done = reader.start(response.status_code, response.headers)
                    if done is None:
                        for chunk in response.iter_bytes():
                            done = reader.feed(chunk)
                            if done is None and time.monotonic() > deadline:
                                done = _TIMED_OUT
                            if done is not None:
                                break
                    return done or reader.finish()
            except _FETCH_ERRORS as exc:
                return _TIMED_OUT if watchdog.fired else _failure(exc)

    def close(self) -> None:
        """Close the HTTP client if the driver created it."""
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None


@dataclass
class _LoopState:
    locks: weakref.WeakKeyDictionary[JWKSCache, anyio.Lock] = field(
        default_factory=weakref.WeakKeyDictionary
    )
    client: AsyncClient | None = None


#: how often a task waiting for another thread's or loop's refresh looks again
_POLL_FIRST, _POLL_MAX = 0.001, 0.02


async def _claim(gate: RefreshGate, wait: bool, budget: float) -> bool:
    """``RefreshGate.claim`` for a task: waits without blocking the loop.

    Polling, rather than waiting in a worker thread, keeps cancellation exact
    (the lock is only ever taken between two awaits) and needs no thread.
    """
    if gate.claim(False, budget):
        return True
    if not wait:
        return False
    give_up = anyio.current_time() + gate.wait_left(budget)
    delay = _POLL_FIRST
    while anyio.current_time() < give_up:
        await anyio.sleep(delay)
        if gate.claim(False, budget):
            return True
        delay = min(delay * 2, _POLL_MAX)
    return False


class AsyncDriver:
    """Fetches with an ``httpx.AsyncClient``; concurrent tasks share one fetch.

    Tasks of one loop queue on an anyio lock of that loop, and the one at
    the front then claims the refresh from the cache, which other loops and
    threads share: one fetch at a time in all. anyio locks (and the client
    the driver creates for itself) belong to one event loop, so they are
    kept per loop: a verifier can serve several loops, as test suites and
    ``anyio.run`` in threads do.
    """

    def __init__(self, client: AsyncClient | None = None) -> None:
        self._client = client
        self._per_loop = PerLoop(_LoopState)

    async def refresh(self, request: Refresh) -> None:
        """Run one refresh unless another task, loop or thread just did (or is doing) it."""
        cache = request.cache
        state = self._per_loop.get()
        lock = state.locks.get(cache)
        if lock is None:
            lock = state.locks[cache] = anyio.Lock()
        if request.wait:
            await lock.acquire()
        else:
            try:
                lock.acquire_nowait()
            except anyio.WouldBlock:
                return
        try:
            gate = gate_of(cache)
            if cache.should_fetch(request.generation) and await _claim(
                gate, request.wait, cache.refresh_budget()
            ):
                try:
                    if cache.should_fetch(request.generation):
                        await run_async(cache.refresh_flow(), functools.partial(self._get, cache))
                finally:
                    gate.release()
        finally:
            lock.release()

    def _http(self) -> AsyncClient:
        if self._client is not None:
            return self._client
        state = self._per_loop.get()
        if state.client is None:
            state.client = httpx.AsyncClient(follow_redirects=False)
        return state.client

    async def _get(self, cache: JWKSCache, get: HttpGet) -> FetchResponse:
        start = time.monotonic()
        return replace(await self._fetch(cache, get), duration=time.monotonic() - start)

    async def _fetch(self, cache: JWKSCache, get: HttpGet) -> FetchResponse:
        policy = cache.policy
        reader = ResponseReader(policy.max_bytes)
        try:
            with anyio.fail_after(policy.timeout):
                async with self._http().stream(
                    "GET", get.url, **_options(get, policy.timeout)
                ) as response:
                    done = reader.start(response.status_code, response.headers)
                    if done is None:
                        async for chunk in response.aiter_bytes():
                            done = reader.feed(chunk)
                            if done is not None:
                                break
                    return done or reader.finish()
        except TimeoutError:
            return _TIMED_OUT
        except _FETCH_ERRORS as exc:
            return _failure(exc)

    async def aclose(self) -> None:
        """Close the HTTP client the driver created in this event loop."""
        if self._client is None:
            state = self._per_loop.get()
            if state.client is not None:
                await state.client.aclose()
                state.client = None
