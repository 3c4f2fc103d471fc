"""The event types, and ``emit``, which never lets a hook break verification.

Public as ``m2m_guard.events``; defined here so the core can emit them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "Event",
    "EventHook",
    "JWKSFetched",
    "StaleKeysServed",
    "TokenVerified",
    "VerificationFailed",
    "emit",
]

logger = logging.getLogger("m2m_guard.events")


@dataclass(frozen=True, slots=True)
class JWKSFetched:
    """One JWKS fetch attempt ended."""

    url: str | None
    status: int | None
    duration: float
    ok: bool
    reason: str
    key_count: int


@dataclass(frozen=True, slots=True)
class StaleKeysServed:
    """A token was checked with keys past their freshness."""

    url: str | None
    stale_for: float


@dataclass(frozen=True, slots=True)
class TokenVerified:
    """A token was accepted."""

    client_id: str
    issuer: str
    cached: bool
    #: the request path, when an integration verified it (else ``None``)
    path: str | None = None


@dataclass(frozen=True, slots=True)
class VerificationFailed:
    """A token (or a request's credentials) was refused."""

    reason: str
    error: str | None
    status_code: int
    #: the request path, when an integration refused it (else ``None``)
    path: str | None = None


Event: TypeAlias = JWKSFetched | StaleKeysServed | TokenVerified | VerificationFailed
EventHook: TypeAlias = Callable[[Event], None]


def emit(hook: EventHook | None, event: Event) -> None:
    """Call ``hook`` with ``event``, never letting it raise."""
    if hook is None:
        return
    try:
        hook(event)
    except Exception:
        logger.exception("the on_event hook raised; event %s dropped", type(event).__name__)
