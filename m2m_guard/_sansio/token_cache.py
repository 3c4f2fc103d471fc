"""The verified-token cache: the warm path is one dictionary lookup.

M2M callers reuse one token for its whole lifetime (an hour), so most
requests carry a token the process has already verified (README,
"Performance"). An entry remembers the claims and the key that
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

from .claims import M2MClaims
from .keys import VerificationKey

__all__ = ["Entry", "TokenCache"]


#: How many trailing characters of a token index its entry: part of the
#: signature, so effectively random. Hashing these instead of the whole token
#: (about a kilobyte) keeps a hit cheap; the full token is then compared.
TAIL = 16


class Entry:
    """One verified token: the token, its claims, its key, and when it starts
    to be valid (its end is ``claims.expires_at``). Kept lean: there may be many.
    """

    __slots__ = ("claims", "key", "not_before", "token")

    def __init__(
        self, token: str, claims: M2MClaims, key: VerificationKey, not_before: float
    ) -> None:
        self.token = token
        self.claims = claims
        self.key = key
        self.not_before = not_before


class TokenCache:
    """A bounded map from token string to ``Entry``, indexed by the token's tail.

    Two tokens sharing a tail (about one chance in 2**96) only evict each
    other: a lookup always compares the whole token.
    """

    __slots__ = ("_entries", "_lock", "maxsize")

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> Entry | None:
        """The entry for exactly ``token``, if any (no lock)."""
        entry = self._entries.get(token[-TAIL:])
        return entry if entry is not None and entry.token == token else None

    def get_bearer(self, header: str) -> Entry | None:
        """The entry for the token of a ``"Bearer <token>"`` header value.

        The caller checked the ``"Bearer "`` prefix; this compares the rest
        without copying the token out of the header.
        """
        entry = self._entries.get(header[-TAIL:])
        if entry is None:
            return None
        token = entry.token
        return entry if len(header) == len(token) + 7 and header.endswith(token) else None

    def put(self, entry: Entry) -> None:
        """Remember a verified token, evicting the oldest entry when full."""
        key = entry.token[-TAIL:]
        with self._lock:
            entries = self._entries
            while len(entries) >= self.maxsize and key not in entries:
                del entries[next(iter(entries))]
            entries[key] = entry

    def discard(self, entry: Entry) -> None:
        """Forget ``entry`` (expired, or its key left the key set)."""
        key = entry.token[-TAIL:]
        with self._lock:
            if self._entries.get(key) is entry:
                del self._entries[key]

    def clear(self) -> None:
        """Forget every token."""
        with self._lock:
            self._entries.clear()
