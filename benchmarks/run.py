"""Run m2m_guard's benchmarks and print µs per operation, ratios and targets.

    python benchmarks/run.py                  # about a minute
    python benchmarks/run.py --quick          # a few seconds
    python benchmarks/run.py --chart --markdown BENCHMARKS.md --json results.json

Measured in one process run, so ratios are meaningful: raw ``cryptography``
verification (RS256, ES256, EdDSA: the floor), PyJWT ``jwt.decode`` and
``PyJWKClient`` + decode, the Stytch SDK's ``m2m.authenticate_token`` (when
installed), m2m_guard cold and warm, bare vs protected Starlette and Flask
hello-world apps called in process, DPoP (a fresh proof per request, next to
bearer and to one raw ES256 verify), memory per cached token, and a short
load run over 127.0.0.1. ``run()`` is the importable entry point.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._aiohttp import aiohttp_cases
from benchmarks._apps import in_process_cases
from benchmarks._caller import caller_cases
from benchmarks._django import django_cases
from benchmarks._dpop import dpop_cases
from benchmarks._litestar import litestar_cases
from benchmarks._load import LoadSettings, load_run
from benchmarks._memory import has_token_cache, memory_per_token
from benchmarks._output import machine_info, write_chart, write_markdown
from benchmarks._policy import policy_cases
from benchmarks._profile import profile_cold_verify
from benchmarks._report import Report, format_text
from benchmarks._rules import rule_cases
from benchmarks._timing import CLOCKS, measure
from benchmarks._verify import floor_cases, verify_cases
from benchmarks._world import open_world

__all__ = ["DEFAULT", "QUICK", "Settings", "main", "run"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHART = ROOT / "benchmarks" / "chart.png"


@dataclass(frozen=True)
class Settings:
    """How much work a run does.

    Attributes:
        repeats: timed batches per item (the median is reported).
        batch_ms: how long one batch should last (sets the operations per batch).
        iterations: a fixed number of operations per batch instead.
        pool_size: distinct tokens minted for the cold path (caps its batches).
        memory_tokens: distinct tokens cached to measure memory per token.
        load: the load run's settings, or None to skip it.
        stytch: include the Stytch SDK when it is installed.
        clock: ``"cpu"`` (the thread's CPU time) or ``"wall"`` (see ``_timing``).
    """

    repeats: int
    batch_ms: float
    pool_size: int
    memory_tokens: int
    load: LoadSettings | None
    iterations: int | None = None
    stytch: bool = True
    clock: str = "cpu"


QUICK = Settings(
    repeats=5, batch_ms=3, pool_size=200, memory_tokens=1000,
    load=LoadSettings(seconds=1.0, requests=20_000, rounds=1),
)  # fmt: skip
DEFAULT = Settings(
    repeats=21, batch_ms=25, pool_size=2000, memory_tokens=10_000,
    load=LoadSettings(seconds=2.5, requests=200_000, rounds=4),
)  # fmt: skip


def run(
    quick: bool = False,
    *,
    iterations: int | None = None,
    command: str = "python benchmarks/run.py",
    progress: Callable[[str], None] | None = None,
    **overrides: Any,
) -> Report:
    """Run every benchmark once and return the report.

    Args:
        quick: the short profile (a few seconds) instead of the default one.
        iterations: operations per batch, instead of calibrating.
        command: the command line to record in the report.
        progress: called with short progress messages.
        **overrides: any ``Settings`` field (``repeats=3``, ``load=None`` …).
    """
    settings = replace(QUICK if quick else DEFAULT, iterations=iterations, **overrides)
    say = progress or (lambda message: None)
    say("minting tokens and starting the local issuer")
    with open_world(settings.pool_size) as world:
        token = world.tokens[0]
        verifier = world.verifier()
        verifier.verify(token)  # the in-process apps see a warm token
        cases = floor_cases(world)
        with (
            verify_cases(world, stytch=settings.stytch) as (verification, notes),
            in_process_cases(verifier, token) as requests,
            policy_cases(world) as policy,
            django_cases(verifier, token) as django_requests,
        ):
            loop = asyncio.new_event_loop()
            frameworks = [
                *django_requests,
                *aiohttp_cases(verifier, token, loop),
                *litestar_cases(verifier, token, loop),
            ]
            measurements = measure(
                [
                    *cases,
                    *verification,
                    *requests,
                    *policy,
                    *frameworks,
                    *rule_cases(world),
                    *dpop_cases(),
                    *caller_cases(),
                ],
                repeats=settings.repeats,
                target_ns=int(settings.batch_ms * 1e6),
                iterations=settings.iterations,
                progress=say,
                clock=CLOCKS[settings.clock],
            )
            loop.close()
        memory_tokens = world.tokens[: settings.memory_tokens]
        if has_token_cache():
            say(f"measuring memory over {settings.memory_tokens} tokens")
            memory_tokens += world.mint(settings.memory_tokens - len(memory_tokens))
        memory = memory_per_token(world, memory_tokens)
        load = []
        if settings.load is not None:
            say("load run over 127.0.0.1")
            load = load_run(world, token, settings.load)
    return Report(
        command=command,
        settings={k: v for k, v in asdict(settings).items() if v is not None},
        machine=machine_info(),
        measurements=measurements,
        load=load,
        memory=memory,
        notes=notes,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (a few seconds)")
    parser.add_argument("--repeats", type=int, help="timed batches per item")
    parser.add_argument("--iterations", type=int, help="operations per batch (no calibration)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="dump raw results as JSON")
    parser.add_argument(
        "--chart", type=Path, nargs="?", const=DEFAULT_CHART, metavar="PNG",
        help="draw the main comparison (default benchmarks/chart.png)",
    )  # fmt: skip
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="write BENCHMARKS.md")
    parser.add_argument("--no-load", action="store_true", help="skip the load run")
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="cpu",
        help="time batches by the thread's CPU time (default) or by wall time",
    )  # fmt: skip
    parser.add_argument("--load-tool", choices=["auto", "wrk", "asyncio"], default="auto")
    parser.add_argument("--profile", action="store_true", help="cProfile cold verifies too")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target fails")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: run, print, and write what was asked for."""
    args = _parser().parse_args(argv)
    argv = sys.argv[1:] if argv is None else list(argv)
    base = QUICK if args.quick else DEFAULT
    overrides: dict[str, Any] = {}
    if args.repeats:
        overrides["repeats"] = args.repeats
    overrides["clock"] = args.clock
    if args.no_load:
        overrides["load"] = None
    elif base.load is not None:
        overrides["load"] = replace(base.load, tool=args.load_tool)
    report = run(
        args.quick,
        iterations=args.iterations,
        command=" ".join(["python benchmarks/run.py", *argv]),
        progress=lambda message: print(f"... {message}", file=sys.stderr, flush=True),
        **overrides,
    )
    print(format_text(report))
    if args.profile:
        with open_world(base.pool_size) as world:
            print("\n" + profile_cold_verify(world))
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    chart = None
    if args.chart:
        problem = write_chart(report, args.chart)
        chart = None if problem else args.chart
        print(problem or f"chart written to {args.chart}")
    if args.markdown:
        write_markdown(report, args.markdown, chart)
        print(f"markdown written to {args.markdown}")
    return 1 if args.check and any(t.passed is False for t in report.targets()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
