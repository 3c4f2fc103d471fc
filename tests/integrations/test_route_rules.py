"""Per-route rules: narrower audience, issuer, max_token_age and checks on one verifier."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from m2m_guard import (
    ConfigurationError,
    Guard,
    InvalidTokenError,
    M2MClaims,
    RequestContext,
    Verifier,
)
from m2m_guard.asgi import M2MGuardMiddleware
from m2m_guard.flask import M2MGuard
from m2m_guard.starlette import require_scopes
from m2m_guard.wsgi import M2MGuardMiddleware as WSGIMiddleware
from tests.integrations._harness_asgi import request as asgi_request
from tests.integrations._harness_wsgi import call as wsgi_call
from tests.integrations._harness_wsgi import plain_app
from tests.integrations.test_request_plumbing import Legacy
from tests.support.clock import FakeClock
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims

OTHER = "https://other-api.example"
OTHER_ISSUER = "https://other-issuer.example"


def verifier_for(rsa_key: SigningKey, clock: FakeClock, **kwargs: Any) -> Verifier:
    kwargs.setdefault("audience", [PROJECT_ID, OTHER])
    return Verifier(issuer=ISSUER, jwks=jwks_of(rsa_key), clock=clock, **kwargs)


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


async def whoami(request: Request) -> JSONResponse:
    claims = request.state.m2m
    return JSONResponse({"client_id": None if claims is None else claims.client_id})


def test_a_route_behind_the_middleware_holds_its_narrower_audience(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """The middleware's claims are not reused by a route with rules of its own."""
    verifier = verifier_for(rsa_key, clock)
    narrow = require_scopes(verifier=verifier, audience=OTHER)(whoami)
    app = M2MGuardMiddleware(
        Starlette(routes=[Route("/open", whoami), Route("/narrow", narrow)]), verifier=verifier
    )
    token = rsa_key.sign(stytch_claims(clock()))  # aud: PROJECT_ID

    assert asgi_request(app, "/open", bearer(token)).status_code == 200
    refused = asgi_request(app, "/narrow", bearer(token))
    assert refused.status_code == 401
    assert "audience is not accepted on this route" in refused.json()["error_description"]


def test_a_route_max_token_age_holds_on_a_cache_hit(rsa_key: SigningKey, clock: FakeClock) -> None:
    """A token another route cached is too old for a stricter route, later."""
    verifier = verifier_for(rsa_key, clock)
    strict = Guard(verifier, max_token_age=60)
    token = rsa_key.sign(stytch_claims(clock()))
    values = [f"Bearer {token}"]

    assert verifier.verify_authorization(values) is not None
    assert strict.check(values) is not None
    clock.advance(120)
    assert verifier.verify_authorization(values) is not None  # the verifier has no limit
    with pytest.raises(InvalidTokenError, match="too old"):
        strict.check(values)
    with pytest.raises(InvalidTokenError, match="too old"):
        anyio.run(strict.check_async, values)


def test_a_route_issuer_narrows_a_combined_verifier(rsa_key: SigningKey, clock: FakeClock) -> None:
    """A combined verifier accepts every member's issuers; a route may pick one."""
    first = verifier_for(rsa_key, clock)
    second = Verifier(issuer=OTHER_ISSUER, audience=OTHER, jwks=jwks_of(rsa_key), clock=clock)
    combined = Verifier.combine(first, second)
    only_second = Guard(combined, issuer=OTHER_ISSUER, audience=[OTHER])
    token = rsa_key.sign(stytch_claims(clock()))

    assert Guard(combined, issuer=ISSUER).check([f"Bearer {token}"]) is not None
    for _ in range(2):
        with pytest.raises(InvalidTokenError, match="issuer is not accepted on this route"):
            only_second.check([f"Bearer {token}"])
    with pytest.raises(ConfigurationError, match="widen"):
        Guard(combined, audience="https://third.example")


def test_route_rules_need_a_verifier_of_the_package(verifier: Verifier) -> None:
    """A third-party TokenVerifier cannot honour a route's rules: refused."""
    with pytest.raises(ConfigurationError, match=r"m2m_guard\.Verifier"):
        Guard(Legacy(verifier), audience=PROJECT_ID)  # type: ignore[arg-type]


def test_async_route_checks_are_awaited_by_the_asgi_integrations(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """An async check runs on the async path, on every request."""
    seen: list[str] = []

    async def audit(claims: M2MClaims, request: RequestContext | None) -> None:
        assert request is not None
        seen.append(request.path)

    verifier = verifier_for(rsa_key, clock)
    route = require_scopes(verifier=verifier, checks=[audit])(whoami)
    app = Starlette(routes=[Route("/audited", route)])
    middleware = M2MGuardMiddleware(
        Starlette(routes=[Route("/m", whoami)]), verifier=verifier, checks=[audit]
    )
    token = rsa_key.sign(stytch_claims(clock()))

    for _ in range(2):
        assert asgi_request(app, "/audited", bearer(token)).status_code == 200
        assert asgi_request(middleware, "/m", bearer(token)).status_code == 200
    assert seen == ["/audited", "/m", "/audited", "/m"]


def test_async_checks_are_refused_where_requests_are_checked_synchronously(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Flask, the WSGI middleware, sync Starlette endpoints: refused when built."""

    async def audit(claims: M2MClaims, request: RequestContext | None) -> None:
        """Never run."""

    verifier = verifier_for(rsa_key, clock)
    with_async = verifier_for(rsa_key, clock, checks=[audit])

    with pytest.raises(ConfigurationError, match="async def check"):
        WSGIMiddleware(plain_app, verifier=with_async)
    with pytest.raises(ConfigurationError, match="async def check"):
        WSGIMiddleware(plain_app, verifier=verifier, checks=[audit])

    def sync_endpoint(request: Request) -> JSONResponse:
        return JSONResponse({})  # pragma: no cover - refused before

    with pytest.raises(ConfigurationError, match="sync endpoint"):
        require_scopes(verifier=verifier, checks=[audit])(sync_endpoint)

    app = Flask(__name__)
    guard = M2MGuard(app, verifier=verifier)
    with pytest.raises(ConfigurationError, match="async def check"):
        guard.require_scopes(checks=[audit])
    later = M2MGuard()
    later.require_scopes(audience="https://evil.example")  # no verifier yet: kept
    with pytest.raises(ConfigurationError, match="widen"):
        later.init_app(Flask(__name__), verifier=verifier)


def test_flask_blueprint_and_view_rules_through_the_verifier_cache(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """A blueprint's audience and a view's check, on one verifier and its cache."""
    from flask import Blueprint

    calls: list[str] = []

    def only_acme(claims: M2MClaims, request: RequestContext | None) -> None:
        assert request is not None
        calls.append(request.path)
        if claims.custom_claims.get("tenant") != "acme":
            raise InvalidTokenError("Not this tenant.")

    verifier = verifier_for(rsa_key, clock)
    app = Flask(__name__)
    guard = M2MGuard(app, verifier=verifier)
    other = Blueprint("other", __name__, url_prefix="/other")
    guard.protect_blueprint(other, audience=OTHER)

    @other.get("/x")
    def other_view() -> dict[str, str]:
        return {"ok": "yes"}  # pragma: no cover - refused

    @app.get("/acme")
    @guard.require_scopes(checks=[only_acme])
    def acme() -> dict[str, str]:
        return {"ok": "yes"}

    app.register_blueprint(other)
    token = rsa_key.sign(stytch_claims(clock()))
    globex = rsa_key.sign(stytch_claims(clock(), tenant="globex"))

    assert wsgi_call(app, "/acme", bearer(token)).status == 200
    assert wsgi_call(app, "/acme", bearer(token)).status == 200
    assert wsgi_call(app, "/acme", bearer(globex)).status == 401
    assert wsgi_call(app, "/other/x", bearer(token)).status == 401
    assert calls == ["/acme", "/acme", "/acme"]


def test_verifier_checks_see_the_request_in_every_integration_harness(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """``needs_request`` of the verifier alone makes the integrations build it."""
    import importlib

    from tests.integrations.test_cases import HARNESSES

    seen: list[str | None] = []

    def header_check(claims: M2MClaims, request: RequestContext | None) -> None:
        seen.append(None if request is None else request.header("x-trace"))

    token = rsa_key.sign(stytch_claims(clock()))
    for spec in HARNESSES:
        module, name = spec.split(":")
        harness = getattr(importlib.import_module(module), name)()
        harness.build(verifier_for(rsa_key, clock, checks=[header_check]))
        assert harness.request("/whoami", [*bearer(token), ("x-trace", name)]).status == 200
    assert seen == [spec.split(":")[1] for spec in HARNESSES]


def test_a_route_age_limit_never_exceeds_any_members_own(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """On a combined verifier, a route's max_token_age is at most the strictest member's."""
    strict = verifier_for(rsa_key, clock, max_token_age=60)
    lax = Verifier(issuer=OTHER_ISSUER, audience=OTHER, jwks=jwks_of(rsa_key), clock=clock)
    combined = Verifier.combine(strict, lax)
    with pytest.raises(ConfigurationError, match="may only lower"):
        Guard(combined, max_token_age=600)
    assert Guard(combined, max_token_age=30).rules is not None
    assert Guard(combined, checks=[]).rules is None  # nothing added: no rules at all


def test_checks_given_as_a_generator_serve_every_guard_built_from_them(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """A guard built later (another verifier, scope set or app) keeps the checks."""
    calls: list[str] = []

    def audit(claims: M2MClaims, request: RequestContext | None) -> None:
        calls.append("audit")

    first, second = verifier_for(rsa_key, clock), verifier_for(rsa_key, clock)
    route = require_scopes(checks=(c for c in [audit]))(whoami)
    token = rsa_key.sign(stytch_claims(clock()))
    for verifier in (first, second):
        app = Starlette(routes=[Route("/r", route)])
        app.state.m2m_verifier = verifier
        assert asgi_request(app, "/r", bearer(token)).status_code == 200
    assert calls == ["audit", "audit"]
    with pytest.raises(ConfigurationError, match="checks"):
        require_scopes(checks=[1])  # type: ignore[list-item] - refused when decorated
