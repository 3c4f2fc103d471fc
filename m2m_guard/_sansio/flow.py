"""The two pumps that drive every flow of the package, written once.

A flow is a generator in the manner of httpx's auth flows: it yields what it
needs done (a key refresh, an HTTP request), is sent the answer, and returns
its result. ``run_sync`` answers with a plain function, ``run_async`` with a
coroutine function; the flow itself never knows which.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import TypeVar

__all__ = ["Flow", "run_async", "run_sync"]

Ask = TypeVar("Ask")
Answer = TypeVar("Answer")
Result = TypeVar("Result")

Flow = Generator[Ask, Answer, Result]


def run_sync(flow: Generator[Ask, Answer, Result], answer: Callable[[Ask], Answer]) -> Result:
    """Drive ``flow`` to its end, sending it ``answer(request)`` for each request."""
    try:
        request = next(flow)
        while True:
            request = flow.send(answer(request))
    except StopIteration as done:
        result: Result = done.value
        return result


async def run_async(
    flow: Generator[Ask, Answer, Result], answer: Callable[[Ask], Awaitable[Answer]]
) -> Result:
    """Like ``run_sync``, awaiting ``answer(request)``."""
    try:
        request = next(flow)
        while True:
            request = flow.send(await answer(request))
    except StopIteration as done:
        result: Result = done.value
        return result
