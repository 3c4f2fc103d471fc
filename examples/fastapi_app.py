"""A FastAPI service whose routes are called by other machines with M2M tokens.

Routes:
    GET  /health     public
    GET  /whoami     any valid access token
    GET  /settings   requires the scope read:settings
    POST /settings   requires the scope write:settings

Each protected route takes ``Security(guard, scopes=[...])``; the scopes
appear in the OpenAPI document (http://127.0.0.1:8000/docs). ``install(app)``
makes refusals RFC 6750 JSON. The verifier is configured by ``M2M_GUARD_*``
environment variables (``Verifier.from_env``). Against a Stytch project::

    M2M_GUARD_STYTCH_PROJECT_ID=project-test-... python examples/fastapi_app.py

Against any other issuer::

    M2M_GUARD_ISSUER=https://issuer.example M2M_GUARD_AUDIENCE=my-api \\
    M2M_GUARD_JWKS_URL=https://issuer.example/.well-known/jwks.json \\
    python examples/fastapi_app.py

It listens on ``$HOST:$PORT`` (default 127.0.0.1:8000) with uvicorn; then::

    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/settings
"""

# No "from __future__ import annotations": FastAPI reads the annotations at runtime.
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import uvicorn
from fastapi import FastAPI, Security

from m2m_guard import M2MClaims, Verifier
from m2m_guard.fastapi import M2MBearer, install

verifier = Verifier.from_env()
guard = M2MBearer(verifier, description="An M2M (client credentials) access token")


def client_info(claims: M2MClaims) -> dict[str, Any]:
    """What the API tells a caller about itself."""
    return {
        "client_id": claims.client_id,
        "scopes": list(claims.scopes),
        "custom_claims": dict(claims.custom_claims),
    }


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await verifier.warm_up_async()  # fetch the keys now; a failure is logged, never fatal
    yield
    await verifier.aclose()


app = install(FastAPI(title="m2m_guard FastAPI example", lifespan=lifespan))


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/whoami")
async def whoami(claims: Annotated[M2MClaims, Security(guard)]) -> dict[str, Any]:
    return client_info(claims)


@app.get("/settings")
async def read_settings(
    claims: Annotated[M2MClaims, Security(guard, scopes=["read:settings"])],
) -> dict[str, Any]:
    return client_info(claims)


@app.post("/settings")
async def write_settings(
    claims: Annotated[M2MClaims, Security(guard, scopes=["write:settings"])],
) -> dict[str, Any]:
    return client_info(claims)


if __name__ == "__main__":
    uvicorn.run(
        app, host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "8000"))
    )
