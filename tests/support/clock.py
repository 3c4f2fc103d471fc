"""A clock that only moves when told to."""

from __future__ import annotations


class FakeClock:
    """Seconds since the epoch, advanced by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    @staticmethod
    def real_now() -> float:
        """The wall clock, for tokens checked by code that reads the real time."""
        import time

        return time.time()
