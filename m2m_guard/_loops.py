"""State kept per event loop: anyio locks and async clients belong to one loop.

A verifier or a client auth may serve several loops (test suites, ``anyio.run``
in threads); ``PerLoop`` gives each running loop its own instance of some
state, created on first use in that loop.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Generic, TypeVar

from anyio.lowlevel import RunVar

__all__ = ["PerLoop"]

T = TypeVar("T")
_names = itertools.count()


class PerLoop(Generic[T]):
    """One ``factory()`` result per running event loop."""

    __slots__ = ("_factory", "_var")

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._var: RunVar[T] = RunVar(f"m2m_guard_per_loop_{next(_names)}")

    def get(self) -> T:
        """This loop's state (call it from inside a running loop)."""
        try:
            return self._var.get()
        except LookupError:
            state = self._factory()
            self._var.set(state)
            return state
