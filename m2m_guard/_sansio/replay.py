"""The replay-store protocol: how a DPoP proof's ``jti`` is used only once.

RFC 9449 §11.1: a resource server remembers the ``jti`` of every proof it
accepted for as long as that proof could be accepted (its ``iat`` window),
and refuses a second use. Where that memory lives is pluggable: one
process (``m2m_guard._replay.MemoryReplayStore``, the default) or a whole
fleet (a shared store such as Redis). This module only says what a store
must do; it holds no state and does no I/O.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["ReplayStore"]


@runtime_checkable
class ReplayStore(Protocol):
    """Remembers one-time keys until they expire.

    ``claim`` and ``claim_async`` answer ``True`` for the first use of
    ``key`` and ``False`` for any later use before ``expires_at`` (seconds
    since the epoch); after ``expires_at`` the key may be forgotten. A store
    that cannot answer (full, unreachable) answers ``False`` or raises an
    ``M2MGuardError``: a proof is never accepted twice because the store
    forgot it early.
    """

    def claim(self, key: str, expires_at: float) -> bool:
        """Record ``key``; ``True`` when it was not recorded before."""
        ...

    async def claim_async(self, key: str, expires_at: float) -> bool:
        """Like ``claim``, for async code (a network store does not block the loop)."""
        ...
