"""Revoking tokens before they expire: the backends a ``Verifier`` consults.

``Verifier(..., revocations=MemoryRevocations())`` (one process) or
``revocations=RedisRevocations(url)`` (``m2m_guard.redis``: every replica
shares one truth) refuses, on the cold path and on every token-cache hit:

- a revoked token (``revoke_token(jti, exp)``), until it expires;
- every token of a client issued before a cut-off
  (``revoke_client(client_id, issued_before=t)``, default now);
- every token of an issuer issued before a cut-off (``revoke_issuer``).

A refused token answers 401 ``invalid_token``, "The token has been revoked."
(``TokenRevokedError``). The check reads a local copy (``RevocationState``,
in the sans-I/O core): a few dictionary lookups, and none at all for a
cached token already checked against the current state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ._sansio.errors import ConfigurationError
from ._sansio.revocation import (
    RevocationEvent,
    RevocationState,
    RevocationsUnavailableError,
    TokenRevokedError,
)

__all__ = [
    "MemoryRevocations",
    "Revocations",
    "RevocationsUnavailableError",
    "TokenRevokedError",
    "revocations_ready",
    "revocations_state",
]

logger = logging.getLogger("m2m_guard.revocations")


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise ConfigurationError.of(name, "must be a non-empty string of at most 1024 characters")
    return value


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ConfigurationError.of(name, "must be a number of seconds since the epoch")
    if value in (float("inf"), float("-inf")):
        raise ConfigurationError.of(name, "must be finite")
    return float(value)


class Revocations:
    """What every revocation backend offers a verifier and an operator.

    Attributes:
        state: the local copy the verifier reads (never on the network).
    """

    state: RevocationState
    _clock: Callable[[], float]
    _lock: threading.Lock

    # -- what a backend provides -------------------------------------------

    def _record(self, event: RevocationEvent) -> None:
        """Make ``event`` the truth (and apply it locally)."""
        raise NotImplementedError

    async def _record_async(self, event: RevocationEvent) -> None:
        """Like ``_record``, without blocking the loop."""
        self._record(event)

    @property
    def ready(self) -> bool:
        """Whether the local copy may be trusted now."""
        return self._clock() < self.state.fresh_until

    def warm_up(self, timeout: float = 5.0) -> bool:
        """Wait (at most ``timeout`` seconds) until the local copy is trusted."""
        return self.ready

    async def warm_up_async(self, timeout: float = 5.0) -> bool:
        """Like ``warm_up``, for async code."""
        return self.ready

    def close(self) -> None:
        """Stop whatever the backend runs in the background."""

    async def aclose(self) -> None:
        """Like ``close``, for async code."""
        self.close()

    # -- the operator's API --------------------------------------------------

    def _event(self, kind: str, value: object, at: object, setting: str) -> RevocationEvent:
        name = "jti" if kind == "jti" else ("client_id" if kind == "client" else "iss")
        return RevocationEvent(kind, _text(name, value), _seconds(setting, at))  # type: ignore[arg-type]

    def _cut_off(self, issued_before: float | None) -> float:
        return self._clock() if issued_before is None else issued_before

    def revoke_token(self, jti: str, exp: float) -> None:
        """Refuse the token whose ``jti`` this is until its ``exp``.

        Raises:
            ConfigurationError: ``jti`` is not a string or ``exp`` not a number.
        """
        self._record(self._event("jti", jti, exp, "exp"))

    def revoke_client(self, client_id: str, *, issued_before: float | None = None) -> None:
        """Refuse every token of ``client_id`` issued before ``issued_before``
        (seconds since the epoch; default now). Cut-offs only move forward: a
        later ``issued_before`` replaces an earlier one, never the reverse."""
        at = self._cut_off(issued_before)
        self._record(self._event("client", client_id, at, "issued_before"))

    def revoke_issuer(self, iss: str, *, issued_before: float | None = None) -> None:
        """Refuse every token of issuer ``iss`` issued before ``issued_before``."""
        at = self._cut_off(issued_before)
        self._record(self._event("issuer", iss, at, "issued_before"))

    async def revoke_token_async(self, jti: str, exp: float) -> None:
        """Like ``revoke_token``, without blocking the loop."""
        await self._record_async(self._event("jti", jti, exp, "exp"))

    async def revoke_client_async(
        self, client_id: str, *, issued_before: float | None = None
    ) -> None:
        """Like ``revoke_client``, without blocking the loop."""
        at = self._cut_off(issued_before)
        await self._record_async(self._event("client", client_id, at, "issued_before"))

    async def revoke_issuer_async(self, iss: str, *, issued_before: float | None = None) -> None:
        """Like ``revoke_issuer``, without blocking the loop."""
        at = self._cut_off(issued_before)
        await self._record_async(self._event("issuer", iss, at, "issued_before"))

    def _apply(self, event: RevocationEvent) -> None:
        """Apply ``event`` to the local copy (serialised: one writer at a time)."""
        with self._lock:
            self.state.apply(event)
            self.state.prune(self._clock())


def revocations_state(revocations: object) -> RevocationState | None:
    """The state a verifier's engine reads, for ``revocations=``.

    Raises:
        ConfigurationError: ``revocations`` is not a revocation backend.
    """
    if revocations is None:
        return None
    if not isinstance(revocations, Revocations):
        raise ConfigurationError.of(
            "revocations", "must be a MemoryRevocations or a RedisRevocations"
        )
    return revocations.state


def revocations_ready(revocations: Revocations | None, strict: bool) -> bool:
    """Whether ``revocations`` (if any) may be trusted; with ``strict``, a
    ``RevocationsUnavailableError`` instead of ``False``."""
    if revocations is None or revocations.ready:
        return True
    if strict:
        raise RevocationsUnavailableError("the revocation state could not be loaded")
    return False


class MemoryRevocations(Revocations):
    """Revocations held by this process alone (one replica, tests).

    Args:
        clock: seconds since the epoch (the verifier's clock, for tests).
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.state = RevocationState()
        self._clock = clock
        self._lock = threading.Lock()

    def _record(self, event: RevocationEvent) -> None:
        self._apply(event)
        logger.info("revoked %s %r (at %s)", event.kind, event.value, event.at)

    def __repr__(self) -> str:
        state = self.state
        return (
            f"<MemoryRevocations jtis={len(state.jtis)} clients={len(state.clients)} "
            f"issuers={len(state.issuers)}>"
        )
