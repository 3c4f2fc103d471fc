"""Token requests for tasks: an async client and an anyio lock per event loop.

anyio locks and async clients belong to one event loop, and one auth may
serve several (test suites, ``anyio.run`` in threads), so each loop gets its
own (``PerLoop``). Tasks of one loop queue on their loop's lock; the one at
the front then takes the lock every thread and loop shares, polling so the
loop never blocks, and runs ``TokenState.fetch`` with ``run_async``. The
exchange is bounded as a whole by cancelling it (``anyio.fail_after``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from m2m_guard._http import HTTP_ERRORS, httpx, package_of
from m2m_guard._loops import PerLoop
from m2m_guard._sansio.flow import run_async

from ._state import Reply, TokenRequest, Unreachable
from ._sync import Shared, timed_out

if TYPE_CHECKING:
    from m2m_guard._http import AsyncClient

__all__ = ["AsyncSender", "async_token"]

#: how often a task waiting for another thread's or loop's fetch looks again
_POLL_FIRST, _POLL_MAX = 0.001, 0.02


@dataclass
class _LoopState:
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    client: httpx.AsyncClient | None = None  # the one the sender created in this loop


class AsyncSender:
    """Sends token requests with the given ``AsyncClient``, or with one per event loop."""

    def __init__(self, client: AsyncClient | None, deadline: float) -> None:
        self._given = client
        self._package = (
            httpx
            if client is None
            else package_of(client, asynchronous=True, what="async_http_client")
        )
        self._deadline = deadline
        self._per_loop = PerLoop(_LoopState)

    def loop_state(self) -> _LoopState:
        """This event loop's lock and client."""
        return self._per_loop.get()

    def client(self) -> AsyncClient:
        """The client token requests go through in this event loop."""
        if self._given is not None:
            return self._given
        state = self.loop_state()
        if state.client is None:
            state.client = httpx.AsyncClient(follow_redirects=False)
        return state.client

    async def send(self, request: TokenRequest) -> Reply | Unreachable:
        """Send ``request`` and read the answer, all within the deadline."""
        built = self._package.Request(
            "POST",
            request.url,
            headers=dict(request.headers),
            content=request.content,
            extensions={"timeout": dict(request.timeouts)},
        )
        try:
            with anyio.fail_after(self._deadline):
                response = await self.client().send(built, auth=None, follow_redirects=False)
        except TimeoutError:
            return timed_out(self._package, built)
        except HTTP_ERRORS as exc:
            return Unreachable(exc)
        return Reply(response.status_code, response.content, dict(response.headers.items()))

    async def aclose(self) -> None:
        """Close the client the sender created in this event loop, if any."""
        state = self.loop_state()
        if state.client is not None:
            await state.client.aclose()
            state.client = None


async def async_token(shared: Shared, sender: AsyncSender, refused: str | None) -> str:
    """A token for this task: the cached one, one another caller fetched, or a new one."""
    state = shared.state
    token = state.fresh(refused)
    if token is not None:
        return token
    generation = state.generation
    lock = sender.loop_state().lock
    try:
        lock.acquire_nowait()
    except anyio.WouldBlock:
        token = state.usable(refused)
        if token is not None:
            return token  # another task is refreshing ahead of expiry
        await lock.acquire()
    try:
        await _hold_shared_lock(shared)
    except BaseException:
        lock.release()
        raise
    try:
        fetched = await run_async(state.fetch(refused, generation), sender.send)
        return fetched.value
    finally:
        shared.lock.release()
        lock.release()


async def _hold_shared_lock(shared: Shared) -> None:
    """Take the lock every thread and event loop fetches under, without blocking the loop.

    One task per loop gets here (the loop's own lock queues the rest); it
    polls, so a fetch running in another thread or loop is shared instead of
    repeated, and gives up after the holder's deadline.
    """
    delay, waited = _POLL_FIRST, 0.0
    while not shared.lock.acquire(blocking=False):
        if waited > shared.wait_limit:
            raise shared.busy()
        await anyio.sleep(delay)
        waited += delay
        delay = min(delay * 2, _POLL_MAX)
