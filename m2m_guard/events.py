"""Events for metrics and tracing: pass ``on_event=`` to a ``Verifier``.

The hook is called synchronously with one of the frozen dataclasses below;
feed them to Prometheus, OpenTelemetry or your logs. A hook that raises is
logged and ignored: metrics never break authentication. Events carry no
token and no secret.

========================  ==================================================
``JWKSFetched``           every JWKS fetch attempt: URL, HTTP status (or
                          ``None``), duration, whether it gave usable keys
``StaleKeysServed``       keys past their max-age were used because a
                          refresh failed or is cooling down
``TokenVerified``         a token passed (``cached``: from the token cache)
``VerificationFailed``    a token was refused: ``reason`` is the exception
                          class (``ExpiredTokenError`` …), with its status
========================  ==================================================
"""

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


@dataclass(frozen=True, slots=True)
class VerificationFailed:
    """A token (or a request's credentials) was refused."""

    reason: str
    error: str | None
    status_code: int


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
