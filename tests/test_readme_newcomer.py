"""The README's snippets for the Flask factory, protect_all, the error
renderer and the events' path run as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from m2m_guard import set_error_renderer
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def snippet(name: str) -> str:
    (block,) = re.findall(rf"```python\n# readme: {name}\n(.*?)```", README, flags=re.DOTALL)
    return str(block)


@pytest.fixture(autouse=True)
def configured(monkeypatch: pytest.MonkeyPatch, rsa_key: SigningKey) -> None:
    monkeypatch.setenv("M2M_GUARD_ISSUER", ISSUER)
    monkeypatch.setenv("M2M_GUARD_AUDIENCE", PROJECT_ID)
    monkeypatch.setenv("M2M_GUARD_JWKS", json.dumps(jwks_of(rsa_key)))


@pytest.mark.parametrize("name", ["flask factory", "flask protect_all", "events path"])
def test_the_snippet_runs(name: str) -> None:
    exec(compile(snippet(name), f"README:{name}", "exec"), {"__name__": "readme"})  # noqa: S102 - the README's own code


def test_the_error_renderer_snippet_runs() -> None:
    previous = set_error_renderer(None)
    try:
        exec(compile(snippet("error renderer"), "README", "exec"), {"__name__": "readme"})  # noqa: S102 - the README's own code
    finally:
        set_error_renderer(previous)
