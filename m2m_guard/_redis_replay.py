"""``RedisReplayStore``: a DPoP proof is accepted once across the whole fleet.

The ``ReplayStore`` protocol (``m2m_guard._sansio.replay``) on Redis: each
``claim`` is one ``SET key 1 NX PXAT <expires_at in ms>``, atomic on the
server, so of two replicas that receive the same proof at the same moment
exactly one wins. Keys are ``m2m_guard:replay:{namespace}:{key}`` (the
namespace separates verifiers or audiences sharing one Redis) and expire by
themselves when the proof's window ends.

This is on the request path of every DPoP request (one round trip,
BENCHMARKS.md). When Redis cannot answer within ``timeout``, the request is
answered 503 with ``Retry-After`` (``ReplayStoreUnavailableError``): a proof
is never accepted without its use being recorded, and never refused as
invalid because the store is down.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import anyio

from ._loops import PerLoop
from ._redis_connect import REDIS_ERRORS, async_client_of, check_timeout, sync_client_of
from ._sansio.errors import KeysUnavailableError
from ._sansio.revocation import redis_keys

__all__ = ["REPLAY_PREFIX", "RedisReplayStore", "ReplayStoreUnavailableError"]

logger = logging.getLogger("m2m_guard.redis")

REPLAY_PREFIX = "m2m_guard:replay"

#: What a claim on the async path may raise when Redis does not answer.
_ASYNC_ERRORS: tuple[type[BaseException], ...] = (*REDIS_ERRORS, TimeoutError)

#: Keys longer than this are stored by their SHA-256 (Redis keys stay small).
_MAX_KEY = 200


class ReplayStoreUnavailableError(KeysUnavailableError):
    """The shared replay store cannot be reached: 503 with ``Retry-After``."""

    default_description = "The DPoP proof cannot be checked right now; try again later."


class RedisReplayStore:
    """Remembers DPoP proof keys in Redis, for every replica at once.

    Args:
        url: ``redis://host:port/db`` (or ``rediss://``, ``unix://``).
        client: a ``redis.Redis`` of yours instead (it must have a
            ``socket_timeout``; the async path then runs it in a worker thread).
        namespace: one per verifier or audience sharing this Redis.
        timeout: the deadline of every Redis call (socket and connect).
        clock: seconds since the epoch (the verifier's clock).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        namespace: str = "default",
        timeout: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._timeout = check_timeout(timeout)
        self._client, self._owned = sync_client_of(url, client, self._timeout)
        self._url = url
        redis_keys(namespace)  # the same rules for a namespace
        self.namespace = namespace
        self._prefix = f"{REPLAY_PREFIX}:{namespace}:"
        self._clock = clock
        self._async: PerLoop[Any] | None = (
            None if url is None else PerLoop(lambda: async_client_of(url, self._timeout))
        )

    def _key(self, key: str) -> str:
        if len(key) > _MAX_KEY or not key.isprintable():
            key = "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return self._prefix + key

    def _expiry_ms(self, expires_at: float) -> int:
        # At least a second from now: a key set already expired would be
        # gone at once, and the same proof could be claimed again.
        now = self._clock()
        if not math.isfinite(expires_at):
            expires_at = now + 3600
        return math.ceil(max(expires_at, now + 1.0) * 1000)

    def claim(self, key: str, expires_at: float) -> bool:
        """Record ``key`` until ``expires_at``; ``True`` on its first use.

        Raises:
            ReplayStoreUnavailableError: Redis did not answer in time.
        """
        try:
            stored = self._client.set(
                self._key(key), b"1", nx=True, pxat=self._expiry_ms(expires_at)
            )
        except REDIS_ERRORS as exc:
            raise self._unavailable(exc) from exc
        return bool(stored)

    async def claim_async(self, key: str, expires_at: float) -> bool:
        """Like ``claim``, without blocking the loop."""
        if self._async is None:
            return await anyio.to_thread.run_sync(self.claim, key, expires_at)
        client = self._async.get()
        try:
            with anyio.fail_after(self._timeout * 2):
                stored = await client.set(
                    self._key(key), b"1", nx=True, pxat=self._expiry_ms(expires_at)
                )
        except _ASYNC_ERRORS as exc:
            raise self._unavailable(exc) from exc
        return bool(stored)

    def _unavailable(self, exc: BaseException) -> ReplayStoreUnavailableError:
        logger.warning(
            "DPoP replay store: Redis unreachable (%s); answering 503", type(exc).__name__
        )
        return ReplayStoreUnavailableError(retry_after=2)

    def close(self) -> None:
        """Close the sync client if it is ours."""
        if self._owned:
            self._client.close()

    async def aclose(self) -> None:
        """Close this loop's async client (and the sync one if it is ours)."""
        if self._async is not None:
            await self._async.get().aclose()
        self.close()

    def __repr__(self) -> str:
        return f"<RedisReplayStore namespace={self.namespace!r}>"
