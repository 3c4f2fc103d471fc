"""Start callers together in threads: what single-flight tests need."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from tests.core._helpers import PATIENCE

T = TypeVar("T")


def outcome_of(call: Callable[[], T]) -> T | BaseException:
    """What ``call`` returned, or whatever it raised."""
    try:
        return call()
    except BaseException as exc:  # a thread's failure must reach the assertion
        return exc


def all_at_once(calls: list[Callable[[], T]]) -> list[T | BaseException]:
    """Run every call in its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    results: list[T | BaseException | None] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait(PATIENCE)
        results[index] = outcome_of(calls[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
    assert all(result is not None for result in results), "a caller did not finish"
    return [result for result in results if result is not None]
