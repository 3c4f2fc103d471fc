"""Redis clients with a deadline on every call, for the Redis backends.

The ``redis`` package is an extra (``pip install "m2m-guard[redis]"``); this
module is imported only by the Redis backends. Every client they use has
``socket_timeout`` and ``socket_connect_timeout`` set: built here from a URL,
or checked on a client passed in (one without would let a dead server hang a
request or the background thread).
"""

from __future__ import annotations

from typing import Any

from ._extras import missing_extra
from ._sansio.errors import ConfigurationError

try:
    import redis
    import redis.asyncio as redis_asyncio
except ImportError as exc:  # pragma: no cover - the extra is installed in the tests
    raise missing_extra("m2m_guard.redis", "redis", exc) from exc

__all__ = ["REDIS_ERRORS", "async_client_of", "check_timeout", "sync_client_of"]

#: What a Redis call raises when the server is unreachable, slow or refuses.
REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


def check_timeout(timeout: object) -> float:
    """``timeout`` as seconds (finite, positive, at most a minute).

    Raises:
        ConfigurationError: it is not.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 60:
        raise ConfigurationError.of("timeout", "must be a number of seconds in (0, 60]")
    return float(timeout)


def _deadlines(timeout: float) -> dict[str, Any]:
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry_on_timeout": False,
    }


def _has_deadline(client: Any) -> bool:
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None) or {}
    return kwargs.get("socket_timeout") is not None


def sync_client_of(url: str | None, client: Any, timeout: float) -> tuple[Any, bool]:
    """A ``redis.Redis`` and whether it is ours to close: built from ``url``
    with deadlines, or ``client`` (which must have a ``socket_timeout``).

    Raises:
        ConfigurationError: neither or both given, a bad URL, or a client
            without a ``socket_timeout``.
    """
    if (url is None) == (client is None):
        raise ConfigurationError.of("url", "or client= is required (exactly one of them)")
    if client is not None:
        if not isinstance(client, redis.Redis):
            raise ConfigurationError.of("client", "must be a redis.Redis (sync) client")
        if not _has_deadline(client):
            raise ConfigurationError.of(
                "client", "must have a socket_timeout (every Redis call needs a deadline)"
            )
        return client, False
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigurationError.of("url", "must be a redis://, rediss:// or unix:// URL")
    try:
        return redis.Redis.from_url(url, **_deadlines(timeout)), True
    except ValueError as exc:
        raise ConfigurationError.of("url", f"is not a valid Redis URL ({exc})") from exc


def async_client_of(url: str, timeout: float) -> Any:
    """A new ``redis.asyncio.Redis`` for ``url``, with deadlines (close it)."""
    return redis_asyncio.Redis.from_url(url, **_deadlines(timeout))
