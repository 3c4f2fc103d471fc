"""A Starlette service whose routes are called by other machines with M2M tokens.

Routes:
    GET  /health     public (excluded from the middleware)
    GET  /whoami     any valid access token (the middleware)
    GET  /settings   requires the scope read:settings (``require_scopes``)
    POST /settings   requires the scope write:settings (``require_scopes``)

``M2MGuardMiddleware`` verifies every token once; ``require_scopes`` then
only checks each route's scopes. The verifier is configured by ``M2M_GUARD_*``
environment variables (``Verifier.from_env``). Against a Stytch project::

    M2M_GUARD_STYTCH_PROJECT_ID=project-test-... python examples/starlette_app.py

Against any other issuer::

    M2M_GUARD_ISSUER=https://issuer.example M2M_GUARD_AUDIENCE=my-api \\
    M2M_GUARD_JWKS_URL=https://issuer.example/.well-known/jwks.json \\
    python examples/starlette_app.py

It listens on ``$HOST:$PORT`` (default 127.0.0.1:8000) with uvicorn; then::

    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/settings
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from m2m_guard import Verifier
from m2m_guard.starlette import M2MGuardMiddleware, require_scopes

verifier = Verifier.from_env()


def client_info(request: Request) -> JSONResponse:
    """What the API tells a caller about itself (``request.user`` also works)."""
    claims = request.state.m2m
    return JSONResponse(
        {
            "client_id": claims.client_id,
            "scopes": list(claims.scopes),
            "custom_claims": dict(claims.custom_claims),
        }
    )


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def whoami(request: Request) -> JSONResponse:
    return client_info(request)


@require_scopes("read:settings")
async def read_settings(request: Request) -> JSONResponse:
    return client_info(request)


@require_scopes("write:settings")
async def write_settings(request: Request) -> JSONResponse:
    return client_info(request)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    await verifier.warm_up_async()  # fetch the keys now; a failure is logged, never fatal
    yield
    await verifier.aclose()


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/whoami", whoami),
        Route("/settings", read_settings, methods=["GET"]),
        Route("/settings", write_settings, methods=["POST"]),
    ],
    middleware=[Middleware(M2MGuardMiddleware, verifier=verifier, exclude_paths=["/health"])],
    lifespan=lifespan,
)

if __name__ == "__main__":
    uvicorn.run(
        app, host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "8000"))
    )
