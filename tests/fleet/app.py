"""One replica of the fleet tests: a Starlette service sharing its state on Redis.

Run by uvicorn in its own process (``tests/fleet/test_fleet.py`` starts two
or more), configured by environment variables:

``FLEET_JWKS`` (a JWKS file), ``FLEET_REDIS`` (the Redis URL),
``FLEET_MAX_STALE`` (seconds), ``FLEET_NAME`` (this replica's name).

Routes:
    GET  /health              public: this replica's name and revocation readiness
    GET  /whoami              any valid bearer token (the middleware)
    POST /admin/revoke-client public here (a test fixture): revokes ?client_id=
    GET  /dpop                a DPoP-bound token (``Authorization: DPoP``) with its
                              proof; the proof's use recorded in the shared store
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from m2m_guard import DPoPPolicy, M2MGuardError, RequestContext, Verifier
from m2m_guard.redis import RedisReplayStore, RedisRevocations
from m2m_guard.starlette import M2MGuardMiddleware
from tests.support.keys import ISSUER, PROJECT_ID

NAME = os.environ.get("FLEET_NAME", "replica")
URL = os.environ["FLEET_REDIS"]
with open(os.environ["FLEET_JWKS"]) as jwks_file:
    JWKS = json.load(jwks_file)

revocations = RedisRevocations(
    URL,
    namespace="fleet",
    heartbeat=0.1,
    max_stale=float(os.environ["FLEET_MAX_STALE"]),
    timeout=0.5,
)
replay_store = RedisReplayStore(URL, namespace="fleet", timeout=0.5)
dpop_policy = DPoPPolicy(replay_store=replay_store)
verifier = Verifier(
    issuer=ISSUER,
    audience=PROJECT_ID,
    jwks=JWKS,
    client_id_claims=("sub",),
    revocations=revocations,
)
#: DPoP-bound tokens only, the proofs' jtis shared by every replica
dpop_verifier = Verifier(
    issuer=ISSUER,
    audience=PROJECT_ID,
    jwks=JWKS,
    client_id_claims=("sub",),
    revocations=revocations,
    dpop="required",
    dpop_policy=dpop_policy,
)


def refusal(exc: M2MGuardError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), exc.status_code, headers=exc.response_headers())


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"name": NAME, "ready": revocations.ready})


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"client_id": request.state.m2m.client_id, "replica": NAME})


async def revoke_client(request: Request) -> JSONResponse:
    await revocations.revoke_client_async(request.query_params["client_id"])
    return JSONResponse({"revoked": request.query_params["client_id"], "by": NAME})


async def dpop(request: Request) -> JSONResponse:
    values = [v.decode("latin-1") for k, v in request.scope["headers"] if k == b"authorization"]
    try:
        claims = await dpop_verifier.verify_authorization_async(
            values, request=RequestContext.from_asgi(request.scope)
        )
    except M2MGuardError as exc:
        return refusal(exc)
    assert claims is not None
    return JSONResponse({"client_id": claims.client_id, "replica": NAME})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    await verifier.warm_up_async()
    yield
    revocations.close()
    await replay_store.aclose()


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/whoami", whoami),
        Route("/admin/revoke-client", revoke_client, methods=["POST"]),
        Route("/dpop", dpop),
    ],
    middleware=[
        Middleware(
            M2MGuardMiddleware,
            verifier=verifier,
            exclude_paths=["/health", "/admin/*", "/dpop"],
        )
    ],
    lifespan=lifespan,
)
