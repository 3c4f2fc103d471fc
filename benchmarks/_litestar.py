"""Litestar hello world, bare and protected, called in process with the same
hand-built ASGI request as the Starlette cases (see ``_apps``)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, get

from benchmarks._apps import HELLO, _asgi_case
from benchmarks._timing import Case
from benchmarks._world import SCOPES
from m2m_guard import Verifier
from m2m_guard.litestar import M2MGuardPlugin, require_scopes

__all__ = ["litestar_cases"]


def litestar_app(verifier: Verifier | None = None) -> Litestar:
    """``/``: bare, or with ``M2MGuardPlugin`` and ``guards=[require_scopes(scope)]``."""
    guards = [] if verifier is None else [require_scopes(SCOPES[0])]

    @get("/", guards=guards, sync_to_thread=False, media_type="text/plain")
    def hello() -> bytes:
        return HELLO

    plugins = [] if verifier is None else [M2MGuardPlugin(verifier)]
    return Litestar([hello], plugins=plugins, openapi_config=None, logging_config=None)


def litestar_cases(verifier: Verifier, token: str, loop: Any) -> list[Case]:
    """Bare vs protected Litestar; ``verifier`` should already know ``token``."""
    return [
        _asgi_case("litestar_bare", "Litestar hello world, bare", litestar_app(), token, loop),
        _asgi_case(
            "litestar_guarded",
            "Litestar + M2MGuardPlugin + require_scopes(scope)",
            litestar_app(verifier),
            token,
            loop,
        ),
    ]
