"""Single flight for key-set refreshes, across threads and event loops.

One ``RefreshGate`` per ``JWKSCache`` (``gate_of``): a refresh runs only
after ``claim``, which takes a ``threading.Lock`` held for the whole refresh
by whichever thread or event loop runs it. Whoever waited for it then
re-checks ``JWKSCache.should_fetch`` and skips its own fetch. Waiting is
bounded by the running refresh's deadline (``JWKSCache.refresh_budget``), so
a waiter never hangs, and a thread never waits for a refresh that its own
event loop is running (that would deadlock the loop). Threads wait by
blocking (``SyncDriver``); tasks poll with ``claim(wait=False)`` so that
their loop keeps running (``AsyncDriver``).

This is I/O-side state: the cache itself (``m2m_guard._sansio.jwks``) only
counts completed attempts (``generation``) and takes no lock.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass

from ._sansio.jwks import JWKSCache

__all__ = ["RefreshGate", "gate_of"]


@dataclass(frozen=True, slots=True)
class _Flight:
    """The refresh in flight: until when it may run, and the thread running it."""

    deadline: float  # time.monotonic()
    thread: int


class RefreshGate:
    """The right to refresh one cache: one holder at a time, waits bounded."""

    __slots__ = ("_flight", "lock")

    def __init__(self) -> None:
        #: held for the whole of a refresh
        self.lock = threading.Lock()
        self._flight: _Flight | None = None

    def claim(self, wait: bool, budget: float) -> bool:
        """Take the right to refresh, for this thread or this thread's event loop.

        ``False`` when another thread or loop is refreshing and ``wait`` is
        false; with ``wait``, block until that refresh is over, but no longer
        than its deadline, and not at all when it runs on this very thread
        (an event loop's task, which a blocked thread could never let finish).
        ``budget`` is the seconds a refresh may take (``JWKSCache.refresh_budget``).
        A ``True`` must be paired with ``release``.
        """
        if not wait:
            acquired = self.lock.acquire(False)
        else:
            flight = self._flight
            if flight is not None and flight.thread == threading.get_ident():
                return False
            acquired = self.lock.acquire(True, self.wait_left(budget))
        if acquired:
            deadline = time.monotonic() + budget
            self._flight = _Flight(deadline, threading.get_ident())
        return acquired

    def wait_left(self, budget: float) -> float:
        """Seconds a waiter may still wait for the refresh in flight to end
        (``budget`` when it is just over, or only just claimed)."""
        flight = self._flight
        if flight is None:
            return budget
        return max(0.0, flight.deadline - time.monotonic())

    def release(self) -> None:
        """End the refresh ``claim`` allowed."""
        self._flight = None
        self.lock.release()


_gates: weakref.WeakKeyDictionary[JWKSCache, RefreshGate] = weakref.WeakKeyDictionary()
_gates_lock = threading.Lock()


def gate_of(cache: JWKSCache) -> RefreshGate:
    """The one gate of ``cache``, shared by every driver that refreshes it."""
    gate = _gates.get(cache)
    if gate is None:
        with _gates_lock:
            gate = _gates.get(cache)
            if gate is None:
                gate = _gates[cache] = RefreshGate()
    return gate
