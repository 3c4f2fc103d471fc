"""RedisReplayStore against a real redis-server: one use per proof across replicas."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

from m2m_guard._sansio.dpop import DPoPPolicy
from m2m_guard._sansio.replay import ReplayStore
from m2m_guard.redis import RedisReplayStore, ReplayStoreUnavailableError
from tests.support.redis_server import RedisServer, free_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def stores() -> Iterator[list[RedisReplayStore]]:
    made: list[RedisReplayStore] = []
    yield made
    for store in made:
        store.close()


def test_a_key_is_claimed_once_across_replicas(
    redis_server: RedisServer, stores: list[RedisReplayStore]
) -> None:
    """Replica A's claim makes replica B's fail; another namespace is separate."""
    a = RedisReplayStore(redis_server.url, namespace="orders")
    b = RedisReplayStore(redis_server.url, namespace="orders")
    other = RedisReplayStore(redis_server.url, namespace="billing")
    stores.extend([a, b, other])
    until = time.time() + 300
    assert isinstance(a, ReplayStore)
    assert DPoPPolicy(replay_store=a).replay_store is a
    assert a.claim("jkt:jti-1", until) is True
    assert b.claim("jkt:jti-1", until) is False
    assert a.claim("jkt:jti-1", until) is False
    assert other.claim("jkt:jti-1", until) is True
    assert b.claim("jkt:jti-2", until) is True
    assert "orders" in repr(a)


def test_keys_expire_with_the_proof_window(
    redis_server: RedisServer, stores: list[RedisReplayStore]
) -> None:
    """The Redis key lives until expires_at (at least a second), then frees itself."""
    store = RedisReplayStore(redis_server.url)
    stores.append(store)
    raw = redis.Redis.from_url(redis_server.url, socket_timeout=1)
    store.claim("k-long", time.time() + 120)
    assert 118_000 < raw.pttl("m2m_guard:replay:default:k-long") <= 120_000
    store.claim("k-past", time.time() - 50)  # already over: still kept a second
    assert 0 < raw.pttl("m2m_guard:replay:default:k-past") <= 1001
    store.claim("k-inf", float("inf"))
    assert raw.pttl("m2m_guard:replay:default:k-inf") > 3_000_000
    assert store.claim("k-past", time.time() + 10) is False
    time.sleep(1.1)  # the real Redis expiry is the thing tested
    assert store.claim("k-past", time.time() + 10) is True
    long_key = "x" * 500
    assert store.claim(long_key, time.time() + 60) is True
    assert store.claim(long_key, time.time() + 60) is False
    assert all(len(k) < 120 for k in raw.keys("m2m_guard:replay:*"))
    raw.close()


def test_concurrent_claims_have_exactly_one_winner(
    redis_server: RedisServer, stores: list[RedisReplayStore]
) -> None:
    """Twenty threads racing with one proof: one True, nineteen False."""
    store = RedisReplayStore(redis_server.url)
    stores.append(store)
    results: list[bool] = []
    barrier = threading.Barrier(20)

    def race() -> None:
        barrier.wait()
        results.append(store.claim("raced", time.time() + 60))

    threads = [threading.Thread(target=race) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == [False] * 19 + [True]


async def test_async_claims_by_url_and_by_client(
    redis_server: RedisServer, stores: list[RedisReplayStore]
) -> None:
    """claim_async: the per-loop asyncio client, or your sync client in a thread."""
    by_url = RedisReplayStore(redis_server.url)
    client = redis.Redis.from_url(redis_server.url, socket_timeout=1)
    by_client = RedisReplayStore(client=client)
    stores.append(by_url)
    assert await by_url.claim_async("a", time.time() + 60) is True
    assert await by_client.claim_async("a", time.time() + 60) is False
    assert by_client.claim("b", time.time() + 60) is True
    assert await by_url.claim_async("b", time.time() + 60) is False
    await by_url.aclose()
    await by_client.aclose()
    assert client.ping()  # yours stays open
    client.close()


async def test_an_unreachable_redis_is_a_503_quickly() -> None:
    """Redis down: ReplayStoreUnavailableError (503, Retry-After), sync and async, never a hang."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    store = RedisReplayStore(url, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(ReplayStoreUnavailableError) as caught:
        store.claim("k", time.time() + 60)
    assert caught.value.status_code == 503
    assert caught.value.response_headers()["retry-after"] == "2"
    with pytest.raises(ReplayStoreUnavailableError):
        await store.claim_async("k", time.time() + 60)
    assert time.monotonic() - started < 5
    await store.aclose()


async def test_a_redis_that_stops_answering_is_a_503_within_the_deadline(
    own_redis: RedisServer,
) -> None:
    """A hung server (SIGSTOP) costs at most the timeout, then 503."""
    import signal

    store = RedisReplayStore(own_redis.url, timeout=0.3)
    assert store.claim("warm", time.time() + 60)
    assert await store.claim_async("warm-async", time.time() + 60)
    assert own_redis.process is not None
    own_redis.process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(ReplayStoreUnavailableError):
            store.claim("k", time.time() + 60)
        with pytest.raises(ReplayStoreUnavailableError):
            await store.claim_async("k2", time.time() + 60)
        assert time.monotonic() - started < 3
    finally:
        own_redis.process.send_signal(signal.SIGCONT)
    await store.aclose()
