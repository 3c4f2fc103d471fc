"""Token requests for threads: a blocking client, a thread lock, a watchdog.

``SyncSender`` sends a ``TokenRequest`` with the caller's ``Client`` (of
either HTTP package; the request is built with that client's own package) or
one of its own, and bounds the whole exchange: httpx bounds each read, not
the exchange, so a token endpoint trickling its answer would hold the
caller's request indefinitely; the JWKS fetch's ``Watchdog`` cuts the
connection's socket at the deadline (new, pooled or TLS connections alike).

``sync_token`` runs ``TokenState.fetch`` with ``run_sync`` under the lock
that every thread and event loop of one auth shares (``Shared``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from m2m_guard._drivers import Watchdog
from m2m_guard._http import HTTP_ERRORS, httpx, package_of
from m2m_guard._sansio.errors import TokenRequestError
from m2m_guard._sansio.flow import run_sync

from ._state import Reply, Token, TokenConfig, TokenRequest, TokenState, Unreachable

if TYPE_CHECKING:
    from m2m_guard._http import SyncClient

__all__ = ["Shared", "SyncSender", "request_token", "sync_token", "timed_out"]


@dataclass(frozen=True, slots=True)
class Shared:
    """What every thread and event loop using one auth shares."""

    state: TokenState
    lock: threading.Lock  # held while a fetch runs, whoever runs it
    wait_limit: float  # how long to wait for a fetch someone else runs

    def busy(self) -> TokenRequestError:
        return TokenRequestError(
            f"Another token request to {self.state.config.token_url} did not finish within "
            f"{self.wait_limit:.0f} s."
        )


def timed_out(package: ModuleType, request: object) -> Unreachable:
    """The failure of a request cut at its deadline."""
    return Unreachable(
        package.ReadTimeout("the token request exceeded its deadline", request=request)
    )


class SyncSender:
    """Sends token requests with the given ``Client``, or with one it creates (and closes)."""

    def __init__(self, client: SyncClient | None, deadline: float) -> None:
        self._given = client
        self._package = (
            httpx if client is None else package_of(client, asynchronous=False, what="http_client")
        )
        self._deadline = deadline
        self._own: httpx.Client | None = None

    def client(self) -> SyncClient:
        """The client token requests go through."""
        if self._given is not None:
            return self._given
        if self._own is None:  # only ever reached under the shared lock
            self._own = httpx.Client(follow_redirects=False)
        return self._own

    def send(self, request: TokenRequest) -> Reply | Unreachable:
        """Send ``request`` and read the answer, all within the deadline.

        Never with the client's auth (no recursion) nor its redirects.
        """
        with Watchdog(self._deadline) as watchdog:
            built = self._package.Request(
                "POST",
                request.url,
                headers=dict(request.headers),
                content=request.content,
                extensions={"timeout": dict(request.timeouts), "trace": watchdog.trace},
            )
            try:
                response = self.client().send(built, auth=None, follow_redirects=False, stream=True)
                with contextlib.closing(response), watchdog.guarding(response):
                    content = response.read()
            except HTTP_ERRORS as exc:
                return timed_out(self._package, built) if watchdog.fired else Unreachable(exc)
        return Reply(response.status_code, content, dict(response.headers.items()))

    def close(self) -> None:
        """Close the client the sender created, if any."""
        if self._own is not None:
            self._own.close()
            self._own = None


def sync_token(shared: Shared, sender: SyncSender, refused: str | None) -> str:
    """A token for this thread: the cached one, one another thread fetched, or a new one."""
    state = shared.state
    token = state.fresh(refused)
    if token is not None:
        return token
    generation = state.generation
    lock = shared.lock
    if not lock.acquire(blocking=False):
        token = state.usable(refused)
        if token is not None:
            return token  # another thread is refreshing ahead of expiry
        # Bounded: the holder's request ends within its deadline, and a
        # holder on this thread's own event loop could never finish.
        if not lock.acquire(timeout=shared.wait_limit):
            raise shared.busy()
    try:
        return run_sync(state.fetch(refused, generation), sender.send).value
    finally:
        lock.release()


def request_token(
    config: TokenConfig, client: SyncClient | None = None, *, sender: SyncSender | None = None
) -> Token:
    """One token request with ``config``, outside any cache (``m2m-guard token``).

    ``sender`` sends it instead of a plain one (a DPoP sender signs a proof).
    """
    sender = sender or SyncSender(client, config.deadline)
    try:
        state = TokenState(config, time.monotonic)
        return run_sync(state.fetch(None, state.generation), sender.send)
    finally:
        sender.close()
