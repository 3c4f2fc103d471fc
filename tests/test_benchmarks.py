"""The benchmark suite runs end to end (speed targets belong to the benchmark itself)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from benchmarks._load import LoadSettings
from benchmarks._memory import has_token_cache
from benchmarks._report import format_text
from benchmarks.run import run

ITEMS = {
    "raw_rs256",
    "raw_rs256_json",
    "raw_es256",
    "raw_eddsa",
    "pyjwt_decode",
    "pyjwt_jwks_client",
    "m2m_guard_cold",
    "m2m_guard_warm",
    "starlette_bare",
    "starlette_guarded",
    "starlette_route_bare",
    "starlette_route_scoped",
    "fastapi_header",
    "fastapi_m2m",
    "flask_bare",
    "flask_wsgi_guarded",
    "flask_extension",
    # typed principals and multi-tenant issuers (benchmarks/_policy.py)
    *(
        f"warm_{entry}_{kind}"
        for entry in ("verify", "header")
        for kind in ("plain", "principal", "tenants")
    ),
    "django_bare",
    "django_scoped",
    "drf_open",
    "drf_scoped",
    "aiohttp_bare",
    "aiohttp_guarded",
    "litestar_bare",
    "litestar_guarded",
    "guard_warm_plain",
    "guard_warm_rules",
    # DPoP (benchmarks/_dpop.py)
    "dpop_raw_es256",
    "dpop_proof_check",
    "guard_warm_bearer",
    "guard_warm_bearer_dpop_allowed",
    "guard_warm_dpop",
    # the caller side (benchmarks/_caller.py)
    "caller_bearer",
    "caller_dpop",
    "caller_dpop_proof",
}


@pytest.mark.slow
def test_a_tiny_benchmark_run_reports_every_item_with_positive_numbers() -> None:
    """Every item, both load servers, the memory figure and every target come back."""
    tiny_load = LoadSettings(seconds=0.5, requests=200, rounds=1, concurrency=4, tool="asyncio")
    report = run(quick=True, iterations=3, repeats=2, pool_size=8, memory_tokens=40, load=tiny_load)

    expected = ITEMS | ({"stytch_sdk"} if importlib.util.find_spec("stytch") else set())
    assert {m.key for m in report.measurements} == expected
    for measurement in report.measurements:
        assert measurement.number > 0
        assert len(measurement.samples_ns) == 2
        assert all(sample > 0 for sample in measurement.samples_ns)
    assert [r.key for r in report.load] == ["load_bare", "load_guarded"]
    assert all(r.rps > 0 and r.errors == 0 for r in report.load)
    assert report.memory is not None
    if has_token_cache():
        assert report.memory.bytes_per_token is not None
        assert report.memory.bytes_per_token > 0
    else:
        assert report.memory.bytes_per_token is None
    assert len(report.targets()) == 14
    assert all(target.passed is not None for target in report.targets())
    assert "Targets" in format_text(report)
    assert json.loads(json.dumps(report.to_dict()))["measurements"]


def test_the_markdown_explains_exactly_the_targets_a_run_misses(tmp_path: Path) -> None:
    """BENCHMARKS.md gets a paragraph per missed target, and none for a met one."""
    from benchmarks._output import _ANALYSIS, write_markdown
    from benchmarks._report import Report
    from benchmarks._timing import Measurement

    def measured(key: str, us: float) -> Measurement:
        return Measurement(key, key, 1, [us * 1000])

    report = Report(
        command="python benchmarks/run.py",
        settings={"repeats": 1},
        machine={"python": "x", "platform": "y", "cpu": "z", "cpu_count": 2, "openssl": "o",
                 "packages": {}},
        measurements=[
            measured("raw_rs256", 25.0), measured("pyjwt_decode", 120.0),
            measured("m2m_guard_cold", 75.0), measured("m2m_guard_warm", 1.0),
            measured("starlette_bare", 10.0), measured("starlette_guarded", 11.0),
        ],
    )  # fmt: skip
    path = tmp_path / "BENCHMARKS.md"
    write_markdown(report, path, None)
    text = path.read_text(encoding="utf-8")
    assert "## Where the targets are missed, and why" in text
    assert _ANALYSIS["cold"][0] in text  # 3.0x: missed
    assert _ANALYSIS["warm"][0] not in text  # 120x: met
    assert _ANALYSIS["starlette_guarded"][0] not in text  # 1.10x: met
    verdicts = {t.key: t.verdict for t in report.targets()}
    assert verdicts["cold"] == "FAIL"
    assert verdicts["warm"] == verdicts["starlette_guarded"] == "PASS"
    assert verdicts["fastapi_m2m"] == "n/a"
