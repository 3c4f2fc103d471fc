"""The aiohttp integration: class-based views, reuse, verifiers, keys fetched on the loop."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from m2m_guard import Verifier, events
from m2m_guard.aiohttp import M2M, get_claims, m2m_middleware, require_scopes
from tests.integrations._harness import Reply
from tests.integrations._harness_aiohttp import http_get, request_app
from tests.integrations._harness_asgi import bearer
from tests.support.clock import FakeClock
from tests.support.jwks_server import JWKSServer
from tests.support.keys import CLIENT_ID, ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims


@pytest.fixture
def sign(rsa_key: SigningKey, clock: FakeClock) -> Any:
    def sign(scope: str) -> list[tuple[str, str]]:
        return bearer(rsa_key.sign(stytch_claims(clock(), scope=scope)))

    return sign


async def who(request: web.Request) -> web.Response:
    claims = get_claims(request)
    return web.json_response({"client_id": claims and claims.client_id})


class Orders(web.View):
    @require_scopes("read:orders")
    async def get(self) -> web.Response:
        return web.json_response({"client_id": self.request[M2M].client_id})


def test_web_view_methods_take_require_scopes(verifier: Verifier, sign: Any) -> None:
    """A class-based view's method is guarded like a handler (the middleware's verifier)."""

    def make() -> web.Application:
        app = web.Application(middlewares=[m2m_middleware(verifier)])
        app.router.add_view("/orders", Orders)
        return app

    assert request_app(make, "/orders", sign("write:orders")).status == 403
    assert request_app(make, "/orders", sign("read:orders")).json == {"client_id": CLIENT_ID}


def test_the_decorator_reuses_the_middlewares_claims(
    rsa_key: SigningKey, clock: FakeClock, sign: Any
) -> None:
    """Behind the middleware with the same verifier, one verification per request;
    the decorator still checks its own scopes."""
    seen: list[object] = []
    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock, on_event=seen.append
    )

    def make() -> web.Application:
        app = web.Application(middlewares=[m2m_middleware(verifier)])
        app.router.add_get("/orders", require_scopes("read:orders")(who))
        app.router.add_get("/admin", require_scopes("admin:orders", verifier=verifier)(who))
        return app

    assert request_app(make, "/orders", sign("read:orders")).status == 200
    refused = request_app(make, "/admin", sign("read:orders"))
    assert refused.status == 403
    assert refused.headers["www-authenticate"].endswith('scope="admin:orders"')
    assert len([e for e in seen if isinstance(e, events.TokenVerified)]) == 2


def test_a_handler_with_its_own_verifier_verifies_again(
    verifier: Verifier, rsa_key: SigningKey, clock: FakeClock, sign: Any
) -> None:
    other = Verifier(issuer=ISSUER, audience="another-api", jwks=jwks_of(rsa_key), clock=clock)

    def make() -> web.Application:
        app = web.Application(middlewares=[m2m_middleware(verifier)])
        app.router.add_get("/orders", require_scopes(verifier=other, any_of=True)(who))
        return app

    reply = request_app(make, "/orders", sign("read:orders"))
    assert reply.status == 401
    assert reply.json["error"] == "invalid_token"


def test_without_a_verifier_the_decorator_is_a_configuration_error(sign: Any) -> None:
    """No verifier=, no app[VERIFIER], no middleware: a server error, never a pass."""

    def make() -> web.Application:
        app = web.Application()
        app.router.add_get("/orders", require_scopes()(who))
        return app

    assert request_app(make, "/orders", sign("read:orders")).status == 500


def test_require_scopes_needs_parentheses() -> None:
    with pytest.raises(TypeError, match="parentheses"):
        require_scopes(who)  # type: ignore[arg-type]


def test_a_key_fetch_does_not_block_the_event_loop(
    jwks_server: JWKSServer, rsa_key: SigningKey
) -> None:
    """While a cold key set is being fetched (held by the JWKS server), the same
    server answers another request: the fetch is awaited on the loop, not blocking it."""
    verifier = Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks_url=jwks_server.url)
    token = rsa_key.sign(stytch_claims(time.time(), scope="read:orders"))
    jwks_server.mode = "slow"

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(middlewares=[m2m_middleware(verifier, exclude_paths=["/health"])])
    app.router.add_get("/orders", who)
    app.router.add_get("/health", health)

    async def scenario() -> tuple[Reply, Reply, bool]:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            orders = asyncio.create_task(
                asyncio.to_thread(http_get, server.port, "/orders", bearer(token), "GET")
            )
            while jwks_server.fetches == 0:  # the fetch has started and is being held
                await asyncio.sleep(0)
            health_reply = await asyncio.to_thread(http_get, server.port, "/health", [], "GET")
            still_waiting = not orders.done()
            jwks_server.release.set()
            return await orders, health_reply, still_waiting
        finally:
            await server.close()

    orders_reply, health_reply, still_waiting = asyncio.run(scenario())
    assert health_reply.status == 200
    assert still_waiting
    assert orders_reply.json == {"client_id": CLIENT_ID}
