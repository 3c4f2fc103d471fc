"""pyproject.toml holds lower bounds only; .ci/lower_bounds.py makes constraints of them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def lower_bounds() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lower_bounds", ROOT / ".ci" / "lower_bounds.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def project(lower_bounds: ModuleType) -> dict[str, object]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    parsed: dict[str, object] = lower_bounds.tomllib.loads(text)["project"]
    return parsed


def test_every_requirement_is_a_plain_lower_bound(
    lower_bounds: ModuleType, project: dict[str, object]
) -> None:
    """No pins, no upper bounds: ``name>=version`` (or one of our own extras)."""
    optional = project["optional-dependencies"]
    assert isinstance(optional, dict)
    requirements = list(project["dependencies"])  # type: ignore[call-overload]
    requirements += [r for extra in optional.values() for r in extra]
    for requirement in requirements:
        assert lower_bounds.REQUIREMENT.fullmatch(requirement) or lower_bounds.SELF.fullmatch(
            requirement
        ), requirement


def test_httpx_is_the_core_dependency_and_httpx2_an_extra(project: dict[str, object]) -> None:
    """httpx stays the declared dependency; httpx2 is opt-in, not pulled in by 'all' or 'test'."""
    assert any(r.startswith("httpx>=") for r in project["dependencies"])  # type: ignore[attr-defined]
    optional = project["optional-dependencies"]
    assert isinstance(optional, dict)
    assert optional["httpx2"][0] == "httpx2>=2.16"
    for extra in ("all", "test", "dev"):
        assert not any("httpx2" in r for r in optional[extra]), extra


def test_constraints_pin_each_dependency_to_its_lower_bound(lower_bounds: ModuleType) -> None:
    """Self-references expand; a package named in several extras gets one line."""
    lines = lower_bounds.constraints(["test", "httpx2"]).splitlines()
    names = [line.split("==")[0] for line in lines]
    assert names == sorted(set(names))
    for expected in ("pyjwt==", "cryptography==", "httpx==", "httpx2==", "anyio==", "starlette=="):
        assert any(line.startswith(expected) for line in lines), expected
    for expected in ("fastapi==", "flask==", "werkzeug==", "uvicorn==", "pytest==", "stytch=="):
        assert any(line.startswith(expected) for line in lines), expected


def test_the_script_writes_a_file_and_refuses_unknown_extras(
    lower_bounds: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "oldest.txt"
    lower_bounds.main(["test", "--output", str(target)])
    assert target.read_text(encoding="utf-8") == lower_bounds.constraints(["test"])
    lower_bounds.main([])
    assert capsys.readouterr().out == lower_bounds.constraints([])
    with pytest.raises(SystemExit, match="no extra 'nope'"):
        lower_bounds.main(["nope"])


def test_a_requirement_that_is_not_a_lower_bound_is_refused(lower_bounds: ModuleType) -> None:
    for requirement in ("httpx==0.27", "httpx<1", "httpx", "httpx>=0.27,<1"):
        with pytest.raises(SystemExit, match="not a plain lower bound"):
            lower_bounds.lower_bounds([requirement])
    assert lower_bounds.lower_bounds(["a>=1.2", "A>=1.10", "b_c[x]>=2"]) == {
        "a": "1.10",
        "b-c": "2",
    }
