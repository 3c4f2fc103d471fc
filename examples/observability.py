"""Metrics and readiness for an m2m_guard-protected Starlette service.

``Verifier(on_event=...)`` reports every JWKS fetch, every use of stale keys,
and every token accepted or refused (with the reason). This example counts
them and serves:

    GET /metrics   Prometheus text format (no client library needed)
    GET /ready     200 when usable keys are cached, 503 otherwise
    GET /whoami    any valid token

Run it against a Stytch project (or any issuer, see the other examples)::

    M2M_GUARD_STYTCH_PROJECT_ID=project-test-... python examples/observability.py

With ``prometheus_client`` or OpenTelemetry, increment real counters in
``Metrics.record`` instead; keep the hook quick, it runs inline.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from m2m_guard import Verifier
from m2m_guard.asgi import M2MGuardMiddleware
from m2m_guard.events import (
    Event,
    JWKSFetched,
    StaleKeysServed,
    TokenVerified,
    VerificationFailed,
)


class Metrics:
    """Counters fed by the verifier's events (thread-safe)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def record(self, event: Event) -> None:
        if isinstance(event, TokenVerified):
            key = ("m2m_tokens_verified_total", f'cached="{str(event.cached).lower()}"')
        elif isinstance(event, VerificationFailed):
            key = ("m2m_tokens_refused_total", f'reason="{event.reason}"')
        elif isinstance(event, JWKSFetched):
            key = ("m2m_jwks_fetches_total", f'ok="{str(event.ok).lower()}"')
        elif isinstance(event, StaleKeysServed):
            key = ("m2m_stale_keys_served_total", "")
        with self._lock:
            self.counts[key] += 1

    def render(self) -> str:
        with self._lock:
            lines = [
                f"{name}{{{labels}}} {value}" if labels else f"{name} {value}"
                for (name, labels), value in sorted(self.counts.items())
            ]
        return "\n".join(lines) + "\n"


metrics = Metrics()
verifier = Verifier.from_env(on_event=metrics.record)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    await verifier.warm_up_async()  # never raises; /ready tells whether it worked
    yield
    await verifier.aclose()


async def render_metrics(request: Request) -> PlainTextResponse:
    return PlainTextResponse(metrics.render())


async def ready(request: Request) -> JSONResponse:
    # Readiness: usable keys cached (warm_up at start-up fetched them).
    return JSONResponse({"ready": verifier.ready}, status_code=200 if verifier.ready else 503)


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"client_id": request.state.m2m.client_id})


app = Starlette(
    routes=[
        Route("/metrics", render_metrics),
        Route("/ready", ready),
        Route("/whoami", whoami),
    ],
    middleware=[
        Middleware(M2MGuardMiddleware, verifier=verifier, exclude_paths=["/metrics", "/ready"])
    ],
    lifespan=lifespan,
)

if __name__ == "__main__":
    uvicorn.run(
        app, host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "8000"))
    )
