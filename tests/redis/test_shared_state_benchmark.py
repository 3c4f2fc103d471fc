"""The shared-state benchmark runs end to end (its targets belong to the benchmark itself)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import shared_state
from benchmarks._output import _kept_sections

pytestmark = pytest.mark.slow


def test_a_tiny_run_reports_every_case_ratio_and_the_propagation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every case has a positive time; the text names every ratio and the propagation."""
    results = shared_state.run(quick=True, repeats=2, iterations=5, propagations=3)
    assert set(results.measurements) == {
        f"{case}_{kind}"
        for case in ("warm_verify", "warm_header")
        for kind in ("none", "memory", "redis")
    } | {
        "cold_none",
        "cold_memory",
        "raw_es256",
        "claim_memory",
        "claim_redis",
        "claim_redis_async",
    }
    assert all(m.median_ns > 0 for m in results.measurements.values())
    assert len(results.propagation_ms) == 3
    assert all(0 < ms < 5000 for ms in results.propagation_ms)
    text = results.text()
    assert text.count("x") >= len(shared_state.RATIOS)
    assert "propagation of a revocation" in text
    assert isinstance(results.within_target, bool)
    assert shared_state.main(["--quick"]) in (0,)
    assert "warm verify(), revocations: redis" in capsys.readouterr().out


def test_its_markdown_section_replaces_itself_and_survives_a_regeneration(
    tmp_path: Path,
) -> None:
    """write_markdown keeps one section; benchmarks/run.py's writer carries it over."""
    results = shared_state.run(quick=True, repeats=1, iterations=2, propagations=2)
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\n## Results\n\nx\n\n## Targets\n\ny\n", encoding="utf-8")
    results.write_markdown(path)
    results.write_markdown(path)
    text = path.read_text(encoding="utf-8")
    assert text.count(shared_state.SECTION) == 1
    assert text.startswith("# Benchmarks\n\n## Results\n\nx\n\n## Targets\n\ny\n\n")
    assert "| warm verify(), revocations: redis |" in text
    kept = _kept_sections(path)
    assert kept[1].startswith(f"{shared_state.BEGIN}\n{shared_state.SECTION}\n")
    assert kept[1].endswith(shared_state.END)
    assert "propagation" in "\n".join(kept).lower()
    assert _kept_sections(tmp_path / "absent.md") == []
    fresh = tmp_path / "fresh.md"
    results.write_markdown(fresh)
    assert fresh.read_text(encoding="utf-8").startswith(
        f"# Benchmarks\n\n{shared_state.BEGIN}\n{shared_state.SECTION}"
    )
