"""The project's own gates: ruff and mypy --strict, run with the test suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_tool(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, check=False
    )


@pytest.mark.slow
def test_ruff_finds_nothing() -> None:
    """ruff check and ruff format --check are clean over the whole repository."""
    pytest.importorskip("ruff", reason="ruff comes with the dev extra")
    lint = run_tool("ruff", "check", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = run_tool("ruff", "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


@pytest.mark.slow
def test_mypy_strict_is_clean() -> None:
    """The package type-checks under mypy --strict (configured in pyproject.toml)."""
    pytest.importorskip("mypy", reason="mypy comes with the dev extra")
    result = run_tool("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
