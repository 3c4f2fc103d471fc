"""``MemoryReplayStore``: first use only, expiring, bounded, safe across threads."""

from __future__ import annotations

import threading

import anyio
import pytest

from m2m_guard import ConfigurationError, MemoryReplayStore, ReplayStore
from tests.support.clock import FakeClock


def test_a_key_is_claimed_once_until_it_expires() -> None:
    """The first claim wins, later ones lose until ``expires_at``; then it is new again."""
    clock = FakeClock()
    store = MemoryReplayStore(clock=clock)
    assert isinstance(store, ReplayStore)
    assert store.claim("a", clock() + 10)
    assert not store.claim("a", clock() + 10)
    assert store.claim("b", clock() + 10)
    clock.advance(10)
    assert len(store) == 2  # purged lazily, on the next claim
    assert store.claim("a", clock() + 10)
    assert len(store) == 1


def test_a_full_store_refuses_rather_than_forgets() -> None:
    """When every slot holds a live key, a new key is refused (a replay is never let through)."""
    clock = FakeClock()
    store = MemoryReplayStore(2, clock=clock)
    assert store.claim("a", clock() + 10)
    assert store.claim("b", clock() + 20)
    assert not store.claim("c", clock() + 10)
    clock.advance(10)  # "a" expired: room again
    assert store.claim("c", clock() + 10)
    assert not store.claim("b", clock() + 10)


def test_claims_race_and_exactly_one_thread_wins() -> None:
    """Threads claiming one key at once: one ``True``, the rest ``False``."""
    store = MemoryReplayStore()
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        results.append(store.claim("shared", 4e9))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_claim_async_is_the_same_store() -> None:
    """``claim_async`` shares the memory of ``claim``."""
    store = MemoryReplayStore()

    async def main() -> tuple[bool, bool]:
        return await store.claim_async("k", 4e9), await store.claim_async("k", 4e9)

    assert anyio.run(main) == (True, False)
    assert not store.claim("k", 4e9)


@pytest.mark.parametrize("size", [0, -1, True, 1.5])
def test_size_must_be_a_positive_int(size: object) -> None:
    """A store that could hold nothing is a configuration error."""
    with pytest.raises(ConfigurationError, match="max_entries"):
        MemoryReplayStore(size)  # type: ignore[arg-type]
