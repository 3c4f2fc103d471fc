"""The verified-token cache: the warm path is one dictionary lookup.

M2M callers reuse one token for its whole lifetime (an hour), so most
requests carry a token the process has already verified (README,
"Performance"). An entry remembers the claims and the key that
verified them, keyed by the exact token string. A hit is honoured only
while the token's time window holds and its key is still in the current,
fresh key set; anything else falls through to a full verification, which
raises the right error or refreshes the keys. Only successes are stored.

No lock anywhere (this module imports no threading): each step is one atomic
dictionary operation (``get``, ``pop(key, None)``, a store), safe under the
GIL and on free-threaded builds alike. Threads racing on one cache can only
lose an entry (a ``discard`` that drops a newer entry of the same tail) or
briefly keep one too many (an eviction that gave up because another thread
changed the dict while it looked for the oldest key: ``RuntimeError``).
Both are performance matters, never security ones: entries are stored only
after a full verification, and every hit compares the whole token and
re-checks its time window and its key (``Engine._hit``), so no state the
dictionary can be in lets a token through that a full verification would
refuse. Eviction is first-in first-out, which for tokens that all live
about an hour is close to least-recently-used.
"""

from __future__ import annotations

from .claims import M2MClaims
from .keys import VerificationKey

__all__ = ["Entry", "TokenCache"]


#: How many trailing characters of a token index its entry: part of the
#: signature, so effectively random. Hashing these instead of the whole token
#: (about a kilobyte) keeps a hit cheap; the full token is then compared.
TAIL = 16


class Entry:
    """One verified token: its ``Authorization`` value (``"Bearer <token>"``,
    what the integrations' fast lane compares with), its claims, its key, and
    when it starts to be valid (its end is ``claims.expires_at``). Kept lean:
    there may be many.
    """

    __slots__ = ("claims", "epoch", "header", "key", "not_before")

    def __init__(
        self,
        token: str,
        claims: M2MClaims,
        key: VerificationKey,
        not_before: float,
        epoch: int = -1,
    ) -> None:
        self.header = "Bearer " + token
        self.claims = claims
        self.key = key
        self.not_before = not_before
        #: the revocation state's epoch this token was last checked at
        self.epoch = epoch

    @property
    def token(self) -> str:
        """The compact token itself."""
        return self.header[7:]


class TokenCache:
    """A bounded map from token string to ``Entry``, indexed by the token's tail.

    Two tokens sharing a tail (about one chance in 2**96) only evict each
    other: a lookup always compares the whole token.
    """

    __slots__ = ("_entries", "maxsize")

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: dict[str, Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> Entry | None:
        """The entry for exactly ``token``, if any."""
        entry = self._entries.get(token[-TAIL:])
        return entry if entry is not None and entry.header[7:] == token else None

    def get_bearer(self, header: str) -> Entry | None:
        """The entry whose ``Authorization`` value is exactly ``header``
        (``"Bearer <token>"``: one comparison covers scheme and token)."""
        entry = self._entries.get(header[-TAIL:])
        return entry if entry is not None and entry.header == header else None

    def put(self, entry: Entry) -> None:
        """Remember a verified token, evicting the oldest entries when full.

        Threads inserting at the same moment may each find room and push the
        cache past ``maxsize`` for a while (one entry per racing thread at
        most); every insert trims it back afterwards.
        """
        key = entry.header[-TAIL:]
        entries = self._entries
        while len(entries) >= self.maxsize and key not in entries:
            if not self._evict_oldest():
                break
        entries[key] = entry
        while len(entries) > self.maxsize and self._evict_oldest():
            pass

    def _evict_oldest(self) -> bool:
        entries = self._entries
        try:
            oldest = next(iter(entries))
        except (RuntimeError, StopIteration):
            # Another thread changed the dict as we looked (or emptied it):
            # keep one too many for now (a later insert trims), never spin.
            return False
        entries.pop(oldest, None)
        return True

    def discard(self, entry: Entry) -> None:
        """Forget ``entry`` (expired, or its key left the key set).

        Between the check and the removal another thread may have stored a
        newer entry under the same tail; it is then dropped too, and its
        token simply verified again.
        """
        key = entry.header[-TAIL:]
        entries = self._entries
        if entries.get(key) is entry:
            entries.pop(key, None)
