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

from ._sansio.events import (
    Event,
    EventHook,
    JWKSFetched,
    StaleKeysServed,
    TokenVerified,
    VerificationFailed,
    emit,
)

__all__ = [
    "Event",
    "EventHook",
    "JWKSFetched",
    "StaleKeysServed",
    "TokenVerified",
    "VerificationFailed",
    "emit",
]
