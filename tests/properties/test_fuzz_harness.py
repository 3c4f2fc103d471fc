"""The on-demand fuzz harness (fuzz/fuzz_parser.py) keeps working."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[2] / "fuzz" / "fuzz_parser.py"


@pytest.mark.slow
def test_the_fuzz_harness_runs_for_a_second_and_finds_nothing_new(tmp_path: Path) -> None:
    """`python fuzz/fuzz_parser.py --seconds 1` fuzzes, reports its tally and exits 0."""
    result = subprocess.run(
        [sys.executable, str(HARNESS), "--seconds", "1", "--engine", "hypothesis"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # it must not depend on the working directory
        # Hypothesis keeps its Unicode tables there: share this run's, not rebuild them.
        env={**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": str(Path.cwd() / ".hypothesis")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "engine: hypothesis" in result.stdout
    assert "findings: 0" in result.stdout
    inputs = int(result.stdout.split("fuzzed ", 1)[1].split()[0])
    assert inputs >= 20  # at least one whole batch, however slow the machine
    assert "parser:" in result.stdout
