"""Where a cold m2m_guard verification spends its time (``--profile``).

cProfile inflates Python-level costs relative to C calls (the RSA check
itself), so read the shares, not the absolute numbers.
"""

from __future__ import annotations

import cProfile
import pstats
from typing import Any

from benchmarks._world import World

__all__ = ["profile_cold_verify"]


def _where(function: tuple[str, int, str]) -> str:
    filename, line, name = function
    if filename == "~":
        return name
    short = filename.split("site-packages/")[-1].split("/m2m_guard/")[-1]
    return f"{short}:{line}({name})"


def profile_cold_verify(world: World, *, top: int = 20) -> str:
    """cProfile a fresh verifier over the whole token pool; top entries by tottime."""
    verifier = world.verifier()
    verify = verifier.verify
    tokens = world.tokens
    profiler = cProfile.Profile()
    profiler.enable()
    for token in tokens:
        verify(token)
    profiler.disable()
    entries: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    count = len(tokens)
    total = sum(tt for _, _, tt, _, _ in entries.values())
    lines = [
        f"cProfile of {count} cold verifications: {total / count * 1e6:.1f} µs each under "
        "the profiler; top entries by tottime",
        f"{'tottime µs':>10}  {'share':>6}  {'cumtime µs':>10}  {'calls':>5}  function",
    ]
    ranked = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:top]
    for function, (_, calls, tottime, cumtime, _) in ranked:
        lines.append(
            f"{tottime / count * 1e6:10.2f}  {tottime / total:6.1%}  "
            f"{cumtime / count * 1e6:10.2f}  {calls / count:5.1f}  {_where(function)}"
        )
    return "\n".join(lines)
