"""Memory retained per cached token, measured with ``tracemalloc``.

A fresh verifier checks ``count`` distinct tokens; what is still allocated
afterwards (garbage collected, our own references dropped) is what the
verifier's token cache keeps, divided by ``count``. Each token string is
created while tracing and only handed to the verifier, so it is counted if
and only if the cache keeps it.
"""

from __future__ import annotations

import gc
import inspect
import tracemalloc
from dataclasses import dataclass

from benchmarks._world import World
from m2m_guard import Verifier

__all__ = ["CACHE_ARGUMENT", "MemoryResult", "has_token_cache", "memory_per_token"]

#: The ``Verifier`` argument that sizes the verified-token cache (0 disables it).
CACHE_ARGUMENT = "token_cache_size"
#: Less than this retained per token means nothing was cached.
_NOTHING_RETAINED = 16.0


@dataclass(frozen=True)
class MemoryResult:
    """Bytes per cached token, or ``None`` with a note when there is no cache."""

    tokens: int
    bytes_per_token: float | None
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {"tokens": self.tokens, "bytes_per_token": self.bytes_per_token, "note": self.note}


def has_token_cache() -> bool:
    """Whether this ``Verifier`` takes a token-cache size."""
    return CACHE_ARGUMENT in inspect.signature(Verifier).parameters


def memory_per_token(world: World, tokens: list[str]) -> MemoryResult:
    """Verify every token with a fresh verifier; measure what it retains."""
    if not has_token_cache():
        return MemoryResult(len(tokens), None, "n/a (no token cache)")
    count = len(tokens)
    verifier = world.verifier(**{CACHE_ARGUMENT: count + 1})
    verifier.verify(tokens[0])  # create whatever is created once, before measuring
    raw = [token.encode("ascii") for token in tokens[1:]]
    gc.collect()
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for data in raw:
            verifier.verify(data.decode("ascii"))  # a fresh string, traced
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        if not tracing:
            tracemalloc.stop()
    per_token = retained / len(raw)
    if per_token < _NOTHING_RETAINED:
        return MemoryResult(count, None, "n/a (the verifier retained nothing)")
    return MemoryResult(count, per_token)
