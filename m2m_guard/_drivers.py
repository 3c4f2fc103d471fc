"""The only I/O of verification: fetching key sets, for threads and for tasks.

Both drivers answer the ``Refresh`` requests a verification yields and run
``JWKSCache.refresh_flow`` under a lock; they differ only in how they wait.
Redirects are never followed (a JWKS URL that redirects is misconfigured or
hijacked), bodies are read under a size cap, compressed bodies are refused
(no decompression bombs), and the whole fetch is bounded by the policy's
timeout.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import httpx
from anyio.lowlevel import RunVar

from ._jwks import FetchResponse, HttpGet, JWKSCache, Refresh, ResponseReader

__all__ = ["AsyncDriver", "SyncDriver"]

_IDENTITY = {"accept-encoding": "identity"}


_TIMED_OUT = FetchResponse(None, {}, reason="timed out")
# InvalidURL is not an HTTPError; a bad (e.g. discovered) URL must still be a
# failed fetch that starts the cooldown, not an exception out of verify().
_FETCH_ERRORS = (httpx.HTTPError, httpx.InvalidURL)


def _options(get: HttpGet, timeout: float) -> dict[str, Any]:
    """Request options shared by both drivers: identity encoding, no redirects."""
    return {
        "headers": {**get.headers, **_IDENTITY},
        "timeout": timeout,
        "follow_redirects": False,
    }


def _failure(exc: Exception) -> FetchResponse:
    # The class name is enough for logs; messages may embed URLs with secrets.
    return FetchResponse(None, {}, reason=type(exc).__name__)


class SyncDriver:
    """Fetches with an ``httpx.Client``; concurrent threads share one fetch."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self._client = client
        self._owns_client = client is None

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(follow_redirects=False)
        return self._client

    def refresh(self, request: Refresh) -> None:
        """Run one refresh unless another thread just did (or is doing) it."""
        cache = request.cache
        if not cache.thread_lock.acquire(blocking=request.wait):
            return  # stale keys are still usable; someone else is refreshing
        try:
            if cache.should_fetch(request.generation):
                _drive(cache, self._get)
        finally:
            cache.thread_lock.release()

    def _get(self, cache: JWKSCache, get: HttpGet) -> FetchResponse:
        start = time.monotonic()
        return replace(self._fetch(cache, get), duration=time.monotonic() - start)

    def _fetch(self, cache: JWKSCache, get: HttpGet) -> FetchResponse:
        policy = cache.policy
        deadline = time.monotonic() + policy.timeout
        reader = ResponseReader(policy.max_bytes)
        try:
            with self._http().stream("GET", get.url, **_options(get, policy.timeout)) as response:
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
            return _failure(exc)

    def close(self) -> None:
        """Close the HTTP client if the driver created it."""
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None


def _drive(cache: JWKSCache, get: Callable[[JWKSCache, HttpGet], FetchResponse]) -> None:
    flow = cache.refresh_flow()
    try:
        request = next(flow)
        while True:
            request = flow.send(get(cache, request))
    except StopIteration:
        pass


@dataclass
class _LoopState:
    locks: weakref.WeakKeyDictionary[JWKSCache, anyio.Lock] = field(
        default_factory=weakref.WeakKeyDictionary
    )
    client: httpx.AsyncClient | None = None


class AsyncDriver:
    """Fetches with an ``httpx.AsyncClient``; concurrent tasks share one fetch.

    Locks (and the client the driver creates for itself) belong to one event
    loop, so they are kept per loop: a verifier can serve several loops, as
    test suites and ``anyio.run`` in threads do.
    """

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client
        self._per_loop: RunVar[_LoopState] = RunVar(f"m2m_guard_driver_{id(self)}")

    def _loop_state(self) -> _LoopState:
        try:
            return self._per_loop.get()
        except LookupError:
            state = _LoopState()
            self._per_loop.set(state)
            return state

    async def refresh(self, request: Refresh) -> None:
        """Run one refresh unless another task just did (or is doing) it."""
        cache = request.cache
        state = self._loop_state()
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
            if cache.should_fetch(request.generation):
                flow = cache.refresh_flow()
                try:
                    get = next(flow)
                    while True:
                        get = flow.send(await self._get(cache, get))
                except StopIteration:
                    pass
        finally:
            lock.release()

    def _http(self) -> httpx.AsyncClient:
        if self._client is not None:
            return self._client
        state = self._loop_state()
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
            state = self._loop_state()
            if state.client is not None:
                await state.client.aclose()
                state.client = None
