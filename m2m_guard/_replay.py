"""The default DPoP replay store: bounded, expiring, thread-safe, one process.

``MemoryReplayStore`` implements the ``ReplayStore`` protocol
(``m2m_guard._sansio.replay``) for one process. Replicas behind a load
balancer each keep their own memory, so a proof replayed to another replica
is not seen here: share a store across the fleet for that (SECURITY.md).
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable

from ._sansio.errors import ConfigurationError
from ._sansio.replay import ReplayStore

__all__ = ["MemoryReplayStore", "ReplayStore"]

logger = logging.getLogger("m2m_guard.dpop")


class MemoryReplayStore:
    """Remembers one-time keys in this process until they expire.

    Args:
        max_entries: how many live keys it holds at most. When it is full of
            keys that have not expired, ``claim`` answers ``False`` (the proof
            is refused): forgetting a key early would let a proof be replayed.
        clock: seconds since the epoch; injectable for tests.
    """

    __slots__ = ("_clock", "_expiries", "_keys", "_lock", "max_entries")

    def __init__(
        self, max_entries: int = 200_000, *, clock: Callable[[], float] = time.time
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ConfigurationError.of("max_entries", "must be a positive integer")
        self.max_entries = max_entries
        self._clock = clock
        self._keys: dict[str, float] = {}
        self._expiries: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._keys)

    def claim(self, key: str, expires_at: float) -> bool:
        """Record ``key`` until ``expires_at``; ``True`` on its first use."""
        now = self._clock()
        with self._lock:
            self._purge(now)
            known = self._keys.get(key)
            if known is not None and known > now:
                return False
            if len(self._keys) >= self.max_entries:
                logger.warning(
                    "the DPoP replay store is full; proofs are refused until keys expire"
                )
                return False
            self._keys[key] = expires_at
            heapq.heappush(self._expiries, (expires_at, key))
            return True

    async def claim_async(self, key: str, expires_at: float) -> bool:
        """Like ``claim`` (memory only: nothing to wait for)."""
        return self.claim(key, expires_at)

    def _purge(self, now: float) -> None:
        expiries, keys = self._expiries, self._keys
        while expiries and expiries[0][0] <= now:
            expires_at, key = heapq.heappop(expiries)
            if keys.get(key) == expires_at:
                del keys[key]
