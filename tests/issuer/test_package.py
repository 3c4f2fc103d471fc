"""Packaging rules: the public names exist, heavy imports stay optional."""

from __future__ import annotations

import subprocess
import sys

import m2m_guard.issuer


def test_every_exported_name_exists() -> None:
    """m2m_guard.issuer.__all__ lists only real attributes, once each."""
    names = m2m_guard.issuer.__all__
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(m2m_guard.issuer, name), name


def test_the_cli_imports_no_framework_until_a_command_needs_it() -> None:
    """`m2m-guard token` must work without the issuer extra's imports."""
    code = (
        "import sys, m2m_guard, m2m_guard.cli; "
        "print(sorted(m for m in ('starlette', 'uvicorn', 'm2m_guard.issuer') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
