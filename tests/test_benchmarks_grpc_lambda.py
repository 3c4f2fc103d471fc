"""The gRPC and Lambda figures' script runs end to end (targets belong to the script)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks._output import _kept_sections
from benchmarks.grpc_lambda import BEGIN, END, EdgeFigures, run, section, write_section


@pytest.mark.slow
def test_a_tiny_run_reports_every_figure_with_positive_numbers() -> None:
    figures = run(repeats=2, batch_ms=2, cold_runs=1)
    for value in vars(figures).values():
        assert value > 0
    assert figures.cold_total_ms > figures.cold_import_ms  # the first answer costs something


def test_the_section_replaces_itself_and_survives_the_main_suites_rewrite(
    tmp_path: Path,
) -> None:
    figures = EdgeFigures(100.0, 110.0, 5.0, 150.0, 250.0)
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\nmain suite\n", encoding="utf-8")
    write_section(path, section(figures))
    write_section(path, section(EdgeFigures(100.0, 120.0, 5.0, 150.0, 250.0)))
    text = path.read_text(encoding="utf-8")
    assert text.count(BEGIN) == text.count(END) == 1
    assert "1.200x" in text
    assert "**missed**" in text  # 1.2x is over the 1.15x target
    assert "main suite" in text
    assert _kept_sections(path) == ["", text[text.index(BEGIN) : text.index(END) + len(END)]]
    assert "**met** (1.100x)" in section(figures)
    assert _kept_sections(tmp_path / "absent.md") == []
