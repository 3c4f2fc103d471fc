"""gRPC interceptor and Lambda authorizer figures, from one run.

    python benchmarks/grpc_lambda.py                        # about half a minute
    python benchmarks/grpc_lambda.py --quick
    python benchmarks/grpc_lambda.py --markdown BENCHMARKS.md

Prints the gRPC unary call with ``M2MServerInterceptor`` (warm token) vs a
bare server, in process (target: at most 1.15x); the Lambda authorizer's µs
per warm invocation; and its cold start in ms (a fresh interpreter: import
+ first verification, keys fetched from a local JWKS). ``--markdown``
replaces this section of BENCHMARKS.md (``benchmarks/run.py`` keeps it).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._edges import cold_start_ms, grpc_cases, lambda_case
from benchmarks._output import markers, write_section
from benchmarks._timing import CLOCKS, measure
from benchmarks._world import SCOPES, open_world

__all__ = ["EdgeFigures", "main", "run", "section"]

BEGIN, END = markers("grpc-lambda")
COMMAND = "python benchmarks/grpc_lambda.py --markdown BENCHMARKS.md"
GRPC_TARGET = 1.15


@dataclass(frozen=True)
class EdgeFigures:
    """One run's figures (µs per operation; the cold start in ms)."""

    grpc_bare_us: float
    grpc_guarded_us: float
    lambda_warm_us: float
    cold_import_ms: float
    cold_total_ms: float

    @property
    def grpc_ratio(self) -> float:
        """Intercepted over bare gRPC unary call."""
        return self.grpc_guarded_us / self.grpc_bare_us


def run(*, repeats: int = 15, batch_ms: float = 40, cold_runs: int = 5) -> EdgeFigures:
    """Measure everything in this process (the cold start in fresh ones)."""
    target_ns = int(batch_ms * 1e6)
    with open_world(pool_size=1) as world:
        token = world.tokens[0]
        verifier = world.verifier()
        verifier.verify(token)  # warm: the token-cache hit is what is timed
        with grpc_cases(verifier, token, SCOPES[0]) as cases:
            bare, guarded = measure(
                cases, repeats=repeats, target_ns=target_ns, clock=CLOCKS["wall"]
            )
        (warm,) = measure(
            [lambda_case(verifier, token, SCOPES[0])], repeats=repeats, target_ns=target_ns
        )
        cold = cold_start_ms(world.project_id, world.jwks_url, token, cold_runs)
    return EdgeFigures(
        grpc_bare_us=bare.median_us,
        grpc_guarded_us=guarded.median_us,
        lambda_warm_us=warm.median_us,
        cold_import_ms=cold["import_ms"],
        cold_total_ms=cold["total_ms"],
    )


def section(figures: EdgeFigures) -> str:
    """The BENCHMARKS.md section for ``figures``."""
    verdict = "met" if figures.grpc_ratio <= GRPC_TARGET else "missed"
    return "\n".join(
        [
            BEGIN,
            "## gRPC interceptor and Lambda authorizer",
            "",
            f"Regenerate with `{COMMAND}` (one run; gRPC by the wall clock, server and "
            "client in one process over 127.0.0.1; the Lambda handler called in process; "
            "the cold start in fresh interpreters, median of several).",
            "",
            "| item | figure | ratio |",
            "| --- | ---: | ---: |",
            f"| gRPC unary call, bare server | {figures.grpc_bare_us:.1f} µs | 1.00x |",
            f"| gRPC unary call, M2MServerInterceptor (warm token) | "
            f"{figures.grpc_guarded_us:.1f} µs | {figures.grpc_ratio:.3f}x |",
            f"| Lambda authorizer, warm invocation | {figures.lambda_warm_us:.2f} µs | - |",
            f"| Lambda cold start: import m2m_guard.aws_lambda | "
            f"{figures.cold_import_ms:.0f} ms | - |",
            f"| Lambda cold start: import + first verification (key fetch) | "
            f"{figures.cold_total_ms:.0f} ms | - |",
            "",
            f"Target: intercepted gRPC call at most {GRPC_TARGET:.2f}x the bare one: "
            f"**{verdict}** ({figures.grpc_ratio:.3f}x).",
            END,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run, print the figures, optionally write them into a Markdown file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    parser.add_argument("--markdown", type=Path, help="write the section into this file")
    args = parser.parse_args(argv)
    figures = run(repeats=5, batch_ms=10, cold_runs=2) if args.quick else run()
    text = section(figures)
    print(text)
    if args.markdown is not None:
        write_section(args.markdown, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
