"""Harnesses for the Litestar integration (see _harness.py), called in process
through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Litestar, Request, get

from m2m_guard import Verifier
from m2m_guard.litestar import M2MGuardPlugin, require_scopes
from tests.integrations._harness import Reply
from tests.integrations._harness_asgi import identity, reply, request


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


class LitestarPluginHarness:
    """``M2MGuardPlugin`` (``/health`` excluded, scopes, ``optional``), a plain handler."""

    name = "litestar-plugin"

    def build(
        self, verifier: Verifier, *, required_scopes: Sequence[str] = (), optional: bool = False
    ) -> None:
        @get("/whoami")
        async def whoami(request: Request[Any, Any, Any]) -> dict[str, Any]:
            return identity(request.auth)

        plugin = M2MGuardPlugin(
            verifier, exclude_paths=["/health"], required_scopes=required_scopes, optional=optional
        )
        self.app = Litestar([health, whoami], plugins=[plugin], openapi_config=None)

    def request(self, path: str, headers: Sequence[tuple[str, str]] = ()) -> Reply:
        return reply(request(self.app, path, headers))


class LitestarGuardHarness(LitestarPluginHarness):
    """The plugin lets anonymous requests in (``optional``); ``guards=[require_scopes]``
    decides, reusing the middleware's claims."""

    name = "litestar-guard"

    def build(
        self, verifier: Verifier, *, required_scopes: Sequence[str] = (), optional: bool = False
    ) -> None:
        @get("/whoami", guards=[require_scopes(*required_scopes, optional=optional)])
        async def whoami(request: Request[Any, Any, Any]) -> dict[str, Any]:
            return identity(request.auth)

        plugin = M2MGuardPlugin(verifier, exclude_paths=["/health"], optional=True)
        self.app = Litestar([health, whoami], plugins=[plugin], openapi_config=None)
