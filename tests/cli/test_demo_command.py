"""``m2m-guard demo``: the whole M2M flow, locally, leaving nothing behind."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from m2m_guard._tools import demo as _demo
from m2m_guard.cli import main


@pytest.mark.slow
def test_demo_walks_the_guide_and_leaves_no_thread(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo exits 0 after every step of Stytch's guide, and stops its servers."""
    before = set(threading.enumerate())
    status = main(["demo"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "UNEXPECTED" not in out
    assert "All 10 steps behaved as Stytch's guide describes." in out
    assert "token_type=DPoP" in out
    assert out.count('error="invalid_dpop_proof"') == 2  # replayed, stolen
    assert "-> 401 invalid_token: The token is DPoP-bound" in out  # sent as Bearer
    assert "-> 403 insufficient_scope" in out
    assert 'scope="write:settings"' in out
    assert "-> 401 invalid_client: The client is inactive." in out
    assert "-> 404 m2m_client_not_found" in out
    # anyio's idle worker threads end once their server's loop has closed: give them a moment.
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=5)
    assert set(threading.enumerate()) <= before


@pytest.mark.slow
def test_demo_reports_a_step_that_misbehaves(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the API answered otherwise than the guide says, the demo fails loudly."""
    original = _demo._Walk.api

    def wrong_expectation(
        self: _demo._Walk, method: str, path: str, token: str | None, expect: int
    ) -> object:
        return original(self, method, path, token, 418 if path == "/whoami" and token else expect)

    monkeypatch.setattr(_demo._Walk, "api", wrong_expectation)
    status = main(["demo"])
    out = capsys.readouterr().out
    assert status == 1
    assert "[UNEXPECTED]" in out
    assert "FAILED: GET {api}/whoami answered 200, expected 418" in out


def test_python_dash_m_runs_the_cli() -> None:
    """python -m m2m_guard is the m2m-guard command."""
    result = subprocess.run(
        [sys.executable, "-m", "m2m_guard", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("m2m-guard ")
