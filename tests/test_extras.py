"""Importing an integration without its extra names the extra to install."""

from __future__ import annotations

import importlib
import sys

import pytest

from m2m_guard._extras import missing_extra

#: module -> (a dependency it cannot work without, the extra that brings it)
INTEGRATIONS = {
    "m2m_guard.issuer": ("starlette", "issuer"),
    "m2m_guard.flask": ("flask", "flask"),
    "m2m_guard.fastapi": ("fastapi", "fastapi"),
    "m2m_guard.starlette": ("starlette", "starlette"),
    "m2m_guard.django": ("django", "django"),
    "m2m_guard.drf": ("rest_framework", "drf"),
    "m2m_guard.aiohttp": ("aiohttp", "aiohttp"),
    "m2m_guard.litestar": ("litestar", "litestar"),
    "m2m_guard.grpc": ("grpc", "grpc"),
}


def import_without(module: str, dependency: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == module or name.startswith(module + "."):
            monkeypatch.delitem(sys.modules, name)
        if name == dependency or name.startswith(dependency + "."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, dependency, None)  # import now fails as if absent
    importlib.import_module(module)


@pytest.mark.parametrize("module", sorted(INTEGRATIONS))
def test_a_missing_extra_is_named(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    dependency, extra = INTEGRATIONS[module]
    with pytest.raises(ImportError) as caught:
        import_without(module, dependency, monkeypatch)
    assert str(caught.value) == f'{module} needs {dependency}: pip install "m2m-guard[{extra}]"'
    assert caught.value.name == dependency


def test_a_missing_submodule_is_named_with_its_package() -> None:
    error = ModuleNotFoundError("No module named 'starlette.authentication'")
    error.name = "starlette.authentication"
    message = str(missing_extra("m2m_guard.starlette", "starlette", error))
    assert message == (
        "m2m_guard.starlette needs starlette (starlette.authentication is missing): "
        'pip install "m2m-guard[starlette]"'
    )


def test_other_import_failures_are_left_alone() -> None:
    """A broken installation (a name missing from a present module) is not a missing extra."""
    error = ImportError("cannot import name 'Thing' from 'starlette.requests'", name="starlette")
    assert missing_extra("m2m_guard.starlette", "starlette", error) is error


def test_the_asgi_middleware_works_without_starlette(monkeypatch: pytest.MonkeyPatch) -> None:
    """m2m_guard.asgi needs no extra: without Starlette its optional part (``request.user``)
    is named as missing and left out; the claims are still stored in the scope."""
    from m2m_guard._asgi_state import attach_state

    with pytest.raises(ImportError, match=r"m2m-guard\[starlette\]"):
        import_without("m2m_guard._starlette_auth", "starlette", monkeypatch)
    monkeypatch.delitem(sys.modules, "m2m_guard.asgi", raising=False)
    asgi = importlib.import_module("m2m_guard.asgi")
    assert asgi._claims_attacher() is attach_state
