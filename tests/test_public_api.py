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


def test_the_django_drf_aiohttp_and_litestar_modules_list_their_names() -> None:
    """Each of these integrations has a sorted, complete __all__, and importing the
    core loads none of their frameworks."""
    import importlib

    from tests.support.django_project import configure

    configure()  # as in a Django project, the settings exist before DRF is imported

    for name, public in {
        "m2m_guard.django": ["M2MGuardMiddleware", "M2MUser", "get_claims", "require_scopes"],
        "m2m_guard.drf": ["HasAnyScope", "HasScopes", "M2MAuthentication", "M2MRefusal"],
        "m2m_guard.aiohttp": ["M2M", "VERIFIER", "get_claims", "m2m_middleware", "require_scopes"],
        "m2m_guard.litestar": [
            "SCHEME",
            "M2MGuardPlugin",
            "M2MRefusal",
            "M2MUser",
            "require_scopes",
        ],
    }.items():
        module = importlib.import_module(name)
        assert module.__all__ == public, name
    code = (
        "import sys, m2m_guard; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('django', 'rest_framework', 'aiohttp', 'litestar')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
