"""The verified-token cache: the warm path is one dictionary lookup.

M2M callers reuse one token for its whole lifetime (an hour), so most
requests carry a token the process has already verified (DESIGN.md,
"Performance model"). An entry remembers the claims and the key that
verified them, keyed by the exact token string. A hit is honoured only
while the token's time window holds and its key is still in the current,
fresh key set; anything else falls through to a full verification, which
raises the right error or refreshes the keys. Only successes are stored.

Reads take no lock (a dict lookup is atomic under the GIL); inserts and
removals share one small lock. Eviction is first-in first-out, which for
tokens that all live about an hour is close to least-recently-used.
"""

from __future__ import annotations

import threading

from ._claims import M2MClaims
from ._keys import VerificationKey

__all__ = ["Entry", "TokenCache"]


class Entry:
    """One verified token: its claims, its key, and when it starts to be valid.

    (Its end is ``claims.expires_at``; kept lean, since there may be many.)
    """

    __slots__ = ("claims", "key", "not_before")

    def __init__(self, claims: M2MClaims, key: VerificationKey, not_before: float) -> None:
        self.claims = claims
        self.key = key
        self.not_before = not_before


class TokenCache:
    """A bounded map from token string to ``Entry``."""

    __slots__ = ("_entries", "_lock", "maxsize")

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> Entry | None:
        """The entry for ``token``, if any (no lock)."""
        return self._entries.get(token)

    def put(self, token: str, entry: Entry) -> None:
        """Remember a verified token, evicting the oldest entry when full."""
        with self._lock:
            entries = self._entries
            while len(entries) >= self.maxsize and token not in entries:
                del entries[next(iter(entries))]
            entries[token] = entry

    def discard(self, token: str) -> None:
        """Forget ``token`` (expired, or its key left the key set)."""
        with self._lock:
            self._entries.pop(token, None)

    def clear(self) -> None:
        """Forget every token."""
        with self._lock:
            self._entries.clear()
