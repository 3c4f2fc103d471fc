"""A Litestar service whose routes are called by other machines with M2M tokens.

Routes:
    GET  /health     public
    GET  /whoami     any valid access token
    GET  /settings   requires the scope read:settings
    POST /settings   requires the scope write:settings
    GET  /schema     the OpenAPI document (public), with the m2m security scheme

The verifier is configured by ``M2M_GUARD_*`` environment variables
(``Verifier.from_env``). Against a Stytch project::

    M2M_GUARD_STYTCH_PROJECT_ID=project-test-... python examples/litestar_app.py

It listens on ``$HOST:$PORT`` (default 127.0.0.1:8000) with uvicorn; then::

    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/whoami
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from litestar import Litestar, Request, get, post

from m2m_guard import Verifier
from m2m_guard.litestar import M2MGuardPlugin, require_scopes

STORED: dict[str, Any] = {"theme": "dark"}


def client_info(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What the API tells a caller about itself (``request.auth`` is the claims)."""
    return {
        "client_id": request.user.client_id,
        "scopes": list(request.auth.scopes),
        "custom_claims": dict(request.auth.custom_claims),
    }


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/whoami", sync_to_thread=False)
def whoami(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return client_info(request)


@get("/settings", guards=[require_scopes("read:settings")], sync_to_thread=False)
def read_settings(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return {**client_info(request), "settings": STORED}


@post("/settings", guards=[require_scopes("write:settings")], status_code=200)
async def write_settings(request: Request[Any, Any, Any]) -> dict[str, Any]:
    body = await request.body()
    changes = await request.json() if body else None
    if isinstance(changes, dict):
        STORED.update(changes)
    return {**client_info(request), "settings": STORED}


def create_app(verifier: Verifier | None = None) -> Litestar:
    """The application; without a verifier, one is built from the environment."""
    verifier = verifier or Verifier.from_env()

    @asynccontextmanager
    async def keys(app: Litestar) -> AsyncIterator[None]:
        await verifier.warm_up_async()  # a failure is logged, never fatal
        yield
        await verifier.aclose()

    plugin = M2MGuardPlugin(verifier, exclude_paths=["/health", "/schema/*"])
    return Litestar(
        [health, whoami, read_settings, write_settings], plugins=[plugin], lifespan=[keys]
    )


if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    uvicorn.run(create_app(), host=host, port=int(os.environ.get("PORT", "8000")))
