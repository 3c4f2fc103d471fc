"""The package surface: names, version, and what importing it pulls in."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import m2m_guard


def test_all_is_sorted_and_complete() -> None:
    """__all__ is kept sorted and every name in it exists."""
    assert m2m_guard.__all__ == sorted(m2m_guard.__all__)
    for name in m2m_guard.__all__:
        assert hasattr(m2m_guard, name), name


def test_version_matches_the_distribution() -> None:
    """__version__ agrees with the installed package metadata."""
    assert m2m_guard.__version__ == version("m2m-guard")


def test_importing_the_core_pulls_in_no_web_framework() -> None:
    """import m2m_guard works without flask, fastapi, starlette or werkzeug."""
    code = (
        "import sys, m2m_guard; "
        "loaded = sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('flask', 'fastapi', 'starlette', 'werkzeug', 'uvicorn')); "
        "print(loaded)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_package_is_typed() -> None:
    """The py.typed marker ships with the package."""
    from importlib.resources import files

    assert files("m2m_guard").joinpath("py.typed").is_file()
