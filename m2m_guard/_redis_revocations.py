"""``RedisRevocations``: one revocation truth for every replica, read locally.

How a replica keeps its copy (README, "Running on many replicas"):

- One daemon thread per ``RedisRevocations`` (sync and async applications
  alike: the verifier only ever reads the local copy, so there is nothing
  for the event loop to await) subscribes to the namespace's events
  channel, then reads the three hashes (a full resync): subscribing first
  means no revocation published meanwhile is missed.
- Each event is applied as it arrives: a revocation reaches every connected
  replica within the pub/sub delivery time (milliseconds on loopback; the
  fleet tests hold it to one second).
- A ``PING`` every ``heartbeat`` seconds proves the connection alive; each
  answer, event or resync pushes ``fresh_until`` to ``now + max_stale``. A
  full resync every ``resync_interval`` seconds repairs anything missed.
- When Redis is unreachable the thread reconnects by itself (backing off
  up to one second); the last known state is served until ``fresh_until``,
  then every token is a 503 with ``Retry-After`` (fail closed), or, with
  ``fail_open=True``, the last known state is served on, with a warning.
- Every Redis call has a deadline (``timeout``: socket and connect timeouts).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import anyio

from ._redis_connect import REDIS_ERRORS, async_client_of, check_timeout, sync_client_of
from ._sansio.errors import ConfigurationError
from ._sansio.revocation import (
    RevocationEvent,
    RevocationState,
    RevocationsUnavailableError,
    decode_event,
    parse_hash,
    redis_keys,
    revocation_commands,
)
from .revocations import Revocations

__all__ = ["RedisRevocations"]

logger = logging.getLogger("m2m_guard.redis")

#: The longest wait between two reconnection attempts.
MAX_BACKOFF = 1.0


def _positive(name: str, value: object, upper: float = 86400.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= upper:
        raise ConfigurationError.of(name, f"must be a number of seconds in (0, {upper:g}]")
    return float(value)


class RedisRevocations(Revocations):
    """Revocations shared through Redis, mirrored in this process.

    Args:
        url: ``redis://host:port/db`` (or ``rediss://``, ``unix://``).
        client: a ``redis.Redis`` of yours instead (it must have a
            ``socket_timeout``; you close it).
        namespace: separates the revocations of unrelated services sharing
            one Redis (keys ``m2m_guard:revocations:{namespace}:…``).
        max_stale: how long the last known state is served while Redis
            cannot be reached (then 503, unless ``fail_open``).
        fail_open: keep serving the last known state however old (logged).
        resync_interval: seconds between two full resyncs.
        heartbeat: seconds between two ``PING`` on the subscription.
        timeout: the deadline of every Redis call (socket and connect).
        clock: seconds since the epoch; the verifier's clock.
        start: start the background thread now (else call ``start()``).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        namespace: str = "default",
        max_stale: float = 60.0,
        fail_open: bool = False,
        resync_interval: float = 30.0,
        heartbeat: float = 0.5,
        timeout: float = 2.0,
        clock: Callable[[], float] = time.time,
        start: bool = True,
    ) -> None:
        self._timeout = check_timeout(timeout)
        self._client, self._owned = sync_client_of(url, client, self._timeout)
        self._url = url
        self.namespace = namespace
        self._keys = redis_keys(namespace)
        self.max_stale = _positive("max_stale", max_stale)
        self.heartbeat = _positive("heartbeat", heartbeat, 60.0)
        if self.max_stale < 2 * self.heartbeat:
            raise ConfigurationError.of("max_stale", "must be at least twice the heartbeat")
        self.resync_interval = _positive("resync_interval", resync_interval)
        self.fail_open = bool(fail_open)
        self._clock = clock
        self.state = RevocationState()
        # Nothing known yet: fail closed until the first resync (fail open: serve).
        self.state.fresh_until = math.inf if self.fail_open else -math.inf
        self.state.retry_after = 2 * MAX_BACKOFF + self._timeout
        self._lock = threading.Lock()
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._down_since: float | None = None
        if start:
            self.start()
        _after_fork.add(self)

    # -- the background thread ----------------------------------------------

    def start(self) -> None:
        """Start the background thread (once; ``start=True`` did already)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"m2m_guard-revocations-{self.namespace}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            pubsub = self._client.pubsub()  # no I/O yet: subscribe connects
            try:
                pubsub.subscribe(self._keys.events)
                self.resync()
                backoff = 0.05
                self._listen(pubsub)
            except REDIS_ERRORS as exc:
                self._lost(exc)
            finally:
                with contextlib.suppress(*REDIS_ERRORS):
                    pubsub.close()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _listen(self, pubsub: Any) -> None:
        now = time.monotonic()
        next_ping = now + self.heartbeat
        next_resync = now + self.resync_interval
        answered = now
        while not self._stop.is_set():
            message = pubsub.get_message(timeout=min(self.heartbeat, 0.25))
            now = time.monotonic()
            if message is not None:
                answered = now
                self._on_message(message)
            if now >= next_resync:
                self.resync()
                next_resync = now + self.resync_interval
            if now >= next_ping:
                pubsub.ping()
                next_ping = now + self.heartbeat
            if now - answered > 2 * self.heartbeat + self._timeout:
                raise ConnectionError("Redis did not answer PING in time")

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "message":
            try:
                event = decode_event(message["data"])
            except ValueError as exc:
                logger.warning("revocations: ignored a malformed event (%s)", exc)
            else:
                self._apply(event)
        self._alive()

    def resync(self) -> None:
        """Read the whole state from Redis now (the thread does it by itself).

        Raises:
            redis.RedisError, OSError: Redis could not be read.
        """
        keys = self._keys
        pipe = self._client.pipeline(transaction=False)
        pipe.hgetall(keys.jti)
        pipe.hgetall(keys.clients)
        pipe.hgetall(keys.issuers)
        jtis, clients, issuers = (parse_hash(raw) for raw in pipe.execute())
        now = self._clock()
        expired = [jti for jti, until in jtis.items() if until < now]
        for jti in expired:
            del jtis[jti]
        with self._lock:
            self.state.prune(now)
            missing = self.state.merge(jtis, clients, issuers)
        if expired:  # housekeeping: Redis hash fields do not expire by themselves
            self._client.hdel(keys.jti, *expired)
        if missing:  # Redis lost them (restarted without persistence): write them back
            logger.warning("revocations: %d missing from Redis, written back", len(missing))
            pipe = self._client.pipeline(transaction=False)
            for event in missing:
                pipe.hset(keys.hash_of(event.kind), event.value, repr(event.at))
            pipe.execute()
        self._alive()
        self._synced.set()

    def _alive(self) -> None:
        if self._down_since is not None:
            logger.warning(
                "revocations: Redis reachable again after %.1fs",
                time.monotonic() - self._down_since,
            )
            self._down_since = None
        if not self.fail_open:
            self.state.fresh_until = self._clock() + self.max_stale

    def _lost(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            then = "serving the last known state" + (
                " (fail_open)" if self.fail_open else f" for up to {self.max_stale:g}s, then 503"
            )
            logger.warning("revocations: Redis unreachable (%s); %s", type(exc).__name__, then)

    # -- the Revocations interface ------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the background thread is in touch with Redis."""
        return self._synced.is_set() and self._down_since is None

    def warm_up(self, timeout: float = 5.0) -> bool:
        """Wait up to ``timeout`` seconds for the first full resync."""
        self._synced.wait(timeout)
        return self.ready

    async def warm_up_async(self, timeout: float = 5.0) -> bool:
        """Like ``warm_up``, polling without blocking the loop."""
        with anyio.move_on_after(timeout):
            while not self._synced.is_set():
                await anyio.sleep(0.01)
        return self.ready

    def _record(self, event: RevocationEvent) -> None:
        try:
            pipe = self._client.pipeline(transaction=True)
            for command in revocation_commands(self._keys, event):
                pipe.execute_command(*command)
            pipe.execute()
        except REDIS_ERRORS as exc:
            raise RevocationsUnavailableError("The revocation could not be stored.") from exc
        self._apply(event)  # now, here; the other replicas by the event
        logger.info("revoked %s %r (at %s) in Redis", event.kind, event.value, event.at)

    async def _record_async(self, event: RevocationEvent) -> None:
        if self._url is None:  # a client of yours: its sync calls, in a worker thread
            await anyio.to_thread.run_sync(self._record, event)
            return
        client = async_client_of(self._url, self._timeout)
        try:
            async with client.pipeline(transaction=True) as pipe:
                for command in revocation_commands(self._keys, event):
                    pipe.execute_command(*command)
                await pipe.execute()
        except REDIS_ERRORS as exc:
            raise RevocationsUnavailableError("The revocation could not be stored.") from exc
        finally:
            await client.aclose()
        self._apply(event)
        logger.info("revoked %s %r (at %s) in Redis", event.kind, event.value, event.at)

    def close(self) -> None:
        """Stop the background thread; close the client if it is ours."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self._timeout + self.heartbeat + MAX_BACKOFF)
        if self._owned:
            self._client.close()

    async def aclose(self) -> None:
        """Like ``close``, waiting for the thread without blocking the loop."""
        await anyio.to_thread.run_sync(self.close)

    def _after_fork(self) -> None:
        # A forked child (gunicorn --preload …) has no thread: start its own.
        self._lock = threading.Lock()
        was_running = self._thread is not None and not self._stop.is_set()
        self._thread = None
        if was_running:
            self.start()

    def __repr__(self) -> str:
        return (
            f"<RedisRevocations namespace={self.namespace!r} connected={self.connected} "
            f"jtis={len(self.state.jtis)} clients={len(self.state.clients)}>"
        )


class _ForkRegistry:
    """Every live ``RedisRevocations``, restarted in a forked child."""

    def __init__(self) -> None:
        self._live: weakref.WeakSet[RedisRevocations] = weakref.WeakSet()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._restart)

    def add(self, revocations: RedisRevocations) -> None:
        self._live.add(revocations)

    def _restart(self) -> None:  # pragma: no cover - runs in a forked child
        for revocations in list(self._live):
            revocations._after_fork()


_after_fork = _ForkRegistry()
