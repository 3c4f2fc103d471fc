"""Warming key caches up: fetch now, never crash the application, say why if strict.

Shared by ``Verifier`` (its one cache) and ``MultiTenantVerifier`` (the
shared cache, or each listed tenant's).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from ._drivers import AsyncDriver, SyncDriver
from ._sansio.errors import KeysUnavailableError
from ._sansio.jwks import JWKSCache

__all__ = ["ready_or_raise", "warm_up", "warm_up_async"]

logger = logging.getLogger("m2m_guard")


def warm_up(driver: SyncDriver, caches: Iterable[JWKSCache]) -> None:
    """Fetch the keys of every cache that has none; errors are logged, not raised."""
    for cache in caches:
        request = cache.warm_up_request()
        if request is not None:
            try:
                driver.refresh(request)
            except Exception:  # warm-up must never take the application down
                logger.exception("JWKS warm-up failed")


async def warm_up_async(driver: AsyncDriver, caches: Iterable[JWKSCache]) -> None:
    """Like ``warm_up``, without blocking the event loop."""
    for cache in caches:
        request = cache.warm_up_request()
        if request is not None:
            try:
                await driver.refresh(request)
            except Exception:  # warm-up must never take the application down
                logger.exception("JWKS warm-up failed")


def ready_or_raise(caches: Sequence[JWKSCache], strict: bool) -> bool:
    """Whether every cache has usable keys; with ``strict``, the first one
    without is a ``KeysUnavailableError`` saying why."""
    for cache in caches:
        if not cache.has_usable_keys():
            if strict:
                raise KeysUnavailableError(cache.unavailable_reason())
            return False
    return True
