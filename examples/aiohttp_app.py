"""An aiohttp service whose routes are called by other machines with M2M tokens.

Routes:
    GET  /health     public
    GET  /whoami     any valid access token
    GET  /settings   requires the scope read:settings
    POST /settings   requires the scope write:settings

The verifier is configured by ``M2M_GUARD_*`` environment variables
(``Verifier.from_env``). Against a Stytch project::

    M2M_GUARD_STYTCH_PROJECT_ID=project-test-... python examples/aiohttp_app.py

It listens on ``$HOST:$PORT`` (default 127.0.0.1:8000); then::

    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/whoami
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from m2m_guard import Verifier
from m2m_guard.aiohttp import M2M, m2m_middleware, require_scopes

STORED: dict[str, Any] = {"theme": "dark"}


def client_info(request: web.Request) -> dict[str, Any]:
    """What the API tells a caller about itself."""
    claims = request[M2M]
    return {
        "client_id": claims.client_id,
        "scopes": list(claims.scopes),
        "custom_claims": dict(claims.custom_claims),
    }


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def whoami(request: web.Request) -> web.Response:
    return web.json_response(client_info(request))


@require_scopes("read:settings")
async def read_settings(request: web.Request) -> web.Response:
    return web.json_response({**client_info(request), "settings": STORED})


@require_scopes("write:settings")
async def write_settings(request: web.Request) -> web.Response:
    if request.can_read_body and request.content_type == "application/json":
        changes = await request.json()
        if isinstance(changes, dict):
            STORED.update(changes)
    return web.json_response({**client_info(request), "settings": STORED})


def create_app(verifier: Verifier | None = None) -> web.Application:
    """The application; without a verifier, one is built from the environment."""
    verifier = verifier or Verifier.from_env()
    app = web.Application(middlewares=[m2m_middleware(verifier, exclude_paths=["/health"])])

    async def keys(app: web.Application) -> AsyncIterator[None]:
        await verifier.warm_up_async()  # a failure is logged, never fatal
        yield
        await verifier.aclose()

    app.cleanup_ctx.append(keys)
    app.router.add_get("/health", health)
    app.router.add_get("/whoami", whoami)
    app.router.add_get("/settings", read_settings)
    app.router.add_post("/settings", write_settings)
    return app


if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    web.run_app(create_app(), host=host, port=int(os.environ.get("PORT", "8000")))
