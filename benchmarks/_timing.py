"""The timing machinery: calibrated batches, measured round-robin across cases.

A ``Case`` is one thing to time. Before every repeat its ``prepare`` runs
untimed and returns a *batch*: a function that performs ``n`` operations.
Only the batch is timed (garbage collector off, as ``timeit`` does), and the
result is nanoseconds per operation. The clock is the thread's CPU time by
default (``CLOCKS["cpu"]``): every case is CPU-bound in this one thread, and
on a shared machine wall time also counts the time other processes held
the core; ``"wall"`` (``time.perf_counter_ns``) is there to compare.

On a noisy machine the order matters as much as the count, so ``measure``
runs one repeat of every case per round (rotating which case goes first) and
reports the median over rounds: a burst of noise then hits every case alike,
and ratios computed from one run stay meaningful.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["CLOCKS", "Batch", "Case", "Measurement", "measure"]

#: Performs ``n`` operations.
Batch = Callable[[int], None]
#: Nanoseconds, read before and after a batch.
Clock = Callable[[], int]
#: The clocks a run may use, by name.
CLOCKS: dict[str, Clock] = {"cpu": time.thread_time_ns, "wall": time.perf_counter_ns}


@dataclass(frozen=True)
class Case:
    """One benchmarked operation.

    Attributes:
        key: a stable identifier (used in JSON output and targets).
        label: what the table shows.
        prepare: untimed set-up before each repeat; returns the batch.
        max_number: the most operations one batch can do (e.g. the size of
            a pool of never-seen tokens); unbounded by default.
    """

    key: str
    label: str
    prepare: Callable[[], Batch]
    max_number: int | None = None


@dataclass
class Measurement:
    """What ``measure`` found for one case: nanoseconds per operation."""

    key: str
    label: str
    number: int
    samples_ns: list[float] = field(default_factory=list)

    @property
    def median_ns(self) -> float:
        """The median over repeats of the mean time per operation."""
        return statistics.median(self.samples_ns)

    @property
    def min_ns(self) -> float:
        """The fastest repeat's mean time per operation."""
        return min(self.samples_ns)

    @property
    def median_us(self) -> float:
        """``median_ns`` in microseconds."""
        return self.median_ns / 1000

    @property
    def min_us(self) -> float:
        """``min_ns`` in microseconds."""
        return self.min_ns / 1000

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary with the raw samples."""
        return {
            "key": self.key,
            "label": self.label,
            "number": self.number,
            "median_us": self.median_ns / 1000,
            "min_us": self.min_ns / 1000,
            "samples_us": [s / 1000 for s in self.samples_ns],
        }


def time_batch(case: Case, n: int, clock: Clock = CLOCKS["cpu"]) -> int:
    """Prepare ``case`` and time one batch of ``n`` operations, in nanoseconds."""
    batch = case.prepare()
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = clock()
        batch(n)
        return clock() - start
    finally:
        if enabled:
            gc.enable()


def calibrate(case: Case, target_ns: int, clock: Clock = CLOCKS["cpu"]) -> int:
    """How many operations make one batch last about ``target_ns``.

    Doubles as the warm-up: the case runs several times before measuring.
    """
    cap = case.max_number or 1 << 30
    n = 1
    while True:
        elapsed = max(time_batch(case, n, clock), 1)
        if elapsed >= target_ns // 4 or n >= cap:
            break
        n = min(n * 4, cap)
    time_batch(case, n, clock)  # one more warm-up batch at full size
    return max(1, min(cap, round(n * target_ns / elapsed)))


def measure(
    cases: Sequence[Case],
    *,
    repeats: int,
    target_ns: int,
    iterations: int | None = None,
    progress: Callable[[str], None] | None = None,
    clock: Clock = CLOCKS["cpu"],
) -> list[Measurement]:
    """Time every case ``repeats`` times, interleaved round-robin.

    Args:
        cases: what to time.
        repeats: batches per case; the median of them is reported.
        target_ns: how long one batch should take (sets each case's number).
        iterations: a fixed number of operations per batch instead of
            calibrating (capped by each case's ``max_number``).
        progress: called with a short message as the work advances.
        clock: what is read before and after each batch (see ``CLOCKS``).
    """
    results: list[Measurement] = []
    for case in cases:
        if iterations is None:
            number = calibrate(case, target_ns, clock)
        else:
            number = min(iterations, case.max_number or iterations)
            time_batch(case, number, clock)  # warm-up
        results.append(Measurement(case.key, case.label, number))
        if progress:
            progress(f"calibrated {case.label}: {number} ops per batch")
    for round_ in range(repeats):
        start = round_ % len(cases)
        for index in [*range(start, len(cases)), *range(start)]:
            case, result = cases[index], results[index]
            result.samples_ns.append(time_batch(case, result.number, clock) / result.number)
        if progress:
            progress(f"round {round_ + 1}/{repeats} done")
    return results
