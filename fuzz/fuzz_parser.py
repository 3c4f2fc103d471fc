"""Fuzz the token parser and the full verification for a given time.

    python fuzz/fuzz_parser.py --seconds 60                 # hypothesis (works everywhere)
    python fuzz/fuzz_parser.py --seconds 600 --engine atheris   # coverage-guided, if installed

Inputs: arbitrary ``Authorization`` values, token-shaped strings, tokens of
random JSON objects (signed by the trusted key or not) and mutations of a
valid token — the strategies of tests/properties/strategies.py. Each input
goes through ``m2m_guard._sansio.jws.parse_token`` and ``Verifier.verify`` /
``verify_header``. A finding is any exception other than an
``M2MGuardError`` of a documented status (400, 401, 403, 503), an unsafe
error rendering, or a forged or mutated token being accepted. Hypothesis
shrinks a finding to a minimal input before it is printed.

Exit status: 0 when nothing new was found, 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.properties.strategies import (
    Target,
    any_text,
    authorization,
    json_tokens,
    mutants,
    outcome,
    parse_outcome,
    token_shaped,
)


class Fuzzer:
    """Runs inputs through the parser and the verifier and tallies the outcomes."""

    def __init__(self) -> None:
        self.target = Target.create()
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.inputs = 0

    def _tally(self, kind: str, result: Any) -> None:
        self.inputs += 1
        label = type(result).__name__ if kind != "accepted" else "accepted"
        self.outcomes[label] += 1

    def token(self, token: str, *, genuine: bool = False) -> None:
        """Parse and verify one token; only a genuine one may be accepted."""
        self.outcomes["parser:" + parse_outcome(token)] += 1
        kind, result = outcome(lambda: self.target.verifier.verify(token))
        self._tally(kind, result)
        assert kind != "accepted" or genuine, f"accepted a token it should not: {token!r}"

    def header(self, value: Any) -> None:
        """Verify one Authorization value (or list of values); never acceptable here."""
        kind, result = outcome(lambda: self.target.verifier.verify_header(value))
        self._tally(kind, result)
        assert kind != "accepted", f"accepted a random header: {value!r}"

    def one(self, data: st.DataObject) -> None:
        """One input of a randomly chosen kind."""
        kind = data.draw(st.sampled_from(["header", "shaped", "text", "json", "mutant"]))
        if kind == "header":
            self.header(data.draw(authorization))
        elif kind == "shaped":
            self.token(data.draw(token_shaped))
        elif kind == "text":
            self.token(data.draw(any_text))
        elif kind == "json":
            token, genuine = data.draw(json_tokens(self.target))
            self.token(token, genuine=genuine)
        else:
            self.token(data.draw(mutants(self.target)))

    def bytes_input(self, data: bytes) -> None:
        """One raw input (atheris): as a header value, and as a token."""
        text = data.decode("latin-1")
        self.header(text)
        self.token(text)
        # Spliced into a valid token, the bytes get past the shape checks.
        valid = self.target.token
        cut = len(data) % len(valid)
        self.token(valid[:cut] + text + valid[cut + len(text) :])

    def report(self, seconds: float, failure: BaseException | None) -> int:
        print(f"fuzzed {self.inputs} inputs in {seconds:.1f} s")
        for label, count in sorted(self.outcomes.items()):
            print(f"  {label:40} {count}")
        if failure is None:
            print("findings: 0")
            return 0
        print(f"findings: 1\n  {type(failure).__name__}: {failure}")
        return 1


def run_hypothesis(fuzzer: Fuzzer, seconds: float) -> BaseException | None:
    """Run batches of random inputs until the time is up; stop at the first finding.

    Each batch is sized from the rate so far to end near the deadline: a
    batch always runs whole, so that hypothesis can replay and shrink a finding.
    """
    deadline = time.monotonic() + seconds
    size = 20
    while (remaining := deadline - time.monotonic()) > 0:
        started, before = time.monotonic(), fuzzer.inputs
        try:
            fuzz_batch(fuzzer, size)
        except Exception as exc:  # hypothesis has printed the shrunk example
            return exc
        per_input = (time.monotonic() - started) / max(1, fuzzer.inputs - before)
        size = max(10, min(5000, int((remaining - (time.monotonic() - started)) / per_input)))
    return None


def fuzz_batch(fuzzer: Fuzzer, size: int) -> None:
    """``size`` random inputs through ``fuzzer``."""

    @settings(
        max_examples=size,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        fuzzer.one(data)

    fuzz()


def run_atheris(fuzzer: Fuzzer, seconds: float) -> None:  # pragma: no cover - optional
    """Coverage-guided fuzzing with atheris (exits the process when done)."""
    import atheris

    atheris.instrument_all()
    atheris.Setup([sys.argv[0], f"-max_total_time={max(1, int(seconds))}"], fuzzer.bytes_input)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz")
    parser.add_argument(
        "--engine",
        choices=["auto", "hypothesis", "atheris"],
        default="auto",
        help="atheris if installed (auto), else hypothesis",
    )
    args = parser.parse_args(argv)

    fuzzer = Fuzzer()
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
        except ImportError:
            engine = "hypothesis"
        else:  # pragma: no cover - optional
            engine = "atheris"
    print(f"engine: {engine}, {args.seconds:g} s")
    started = time.monotonic()
    if engine == "atheris":  # pragma: no cover - optional
        run_atheris(fuzzer, args.seconds)
    failure = run_hypothesis(fuzzer, args.seconds)
    return fuzzer.report(time.monotonic() - started, failure)


if __name__ == "__main__":
    sys.exit(main())
