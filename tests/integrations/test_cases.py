"""One table of cases, run against every integration (README, "Errors and HTTP responses")."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from m2m_guard import (
    InsufficientScopeError,
    InvalidTokenError,
    M2MClaims,
    MemoryRevocations,
    RequestContext,
    Verifier,
)
from tests.integrations._harness import Harness
from tests.support.clock import FakeClock
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims

#: module:class of every harness; each module belongs to its integration.
HARNESSES = [
    "tests.integrations._harness_asgi:ASGIMiddlewareHarness",
    "tests.integrations._harness_asgi:StarletteDecoratorHarness",
    "tests.integrations._harness_asgi:FastAPIDependencyHarness",
    "tests.integrations._harness_wsgi:WSGIMiddlewareHarness",
    "tests.integrations._harness_wsgi:FlaskExtensionHarness",
    "tests.integrations._harness_django:DjangoMiddlewareHarness",
    "tests.integrations._harness_django:DjangoDecoratorHarness",
    "tests.integrations._harness_django:DRFHarness",
    "tests.integrations._harness_django:DRFBehindMiddlewareHarness",
    "tests.integrations._harness_aiohttp:AiohttpMiddlewareHarness",
    "tests.integrations._harness_aiohttp:AiohttpDecoratorHarness",
    "tests.integrations._harness_litestar:LitestarPluginHarness",
    "tests.integrations._harness_litestar:LitestarGuardHarness",
]

#: Adapters whose guards do not take the per-route options yet (``Case.route``).
WITHOUT_ROUTE_OPTIONS = {
    "DjangoMiddlewareHarness",
    "DjangoDecoratorHarness",
    "DRFHarness",
    "DRFBehindMiddlewareHarness",
    "AiohttpMiddlewareHarness",
    "AiohttpDecoratorHarness",
    "LitestarPluginHarness",
    "LitestarGuardHarness",
}
#: the harnesses that take ``route=`` options
ROUTE_HARNESSES = [h for h in HARNESSES if h.rsplit(":", 1)[1] not in WITHOUT_ROUTE_OPTIONS]

CHALLENGE = 'Bearer realm="api"'


@dataclass(frozen=True)
class Tokens:
    valid: str
    expired: str
    wrong_audience: str
    bad_signature: str


@dataclass(frozen=True)
class Case:
    id: str
    headers: Callable[[Tokens], Sequence[tuple[str, str]]]
    status: int
    error: str | None = None
    path: str = "/whoami"
    required_scopes: tuple[str, ...] = ()
    optional: bool = False
    keys_unavailable: bool = False
    scope_attr: str | None = None
    body: dict[str, object] | None = field(default=None)
    #: the route's (or the middleware's) own options: audience, checks …
    route: Mapping[str, Any] | None = None
    #: the audiences the verifier accepts
    audiences: tuple[str, ...] = (PROJECT_ID,)
    #: the verifier's revocations: the token ``"revoked"``, or the state ``"stale"``
    revocations: str | None = None


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def revoked_client(claims: M2MClaims, request: RequestContext | None) -> None:
    """A custom check refusing the token (401)."""
    raise InvalidTokenError("This client was revoked.")


def tenant_only(claims: M2MClaims, request: RequestContext | None) -> None:
    """A custom check refusing the request (403) unless its tenant header
    matches the token's ``tenant`` claim."""
    tenant = None if request is None else request.header("x-tenant")
    if tenant != claims.custom_claims.get("tenant"):
        raise InsufficientScopeError(("tenant:" + str(tenant),), claims.scopes)


OTHER_API = "https://other-api.example"


CASES = [
    Case("no token", lambda t: [], 401),
    Case("basic scheme", lambda t: [("authorization", "Basic dXNlcjpwYXNz")], 401),
    Case("bearer without token", lambda t: [("authorization", "Bearer")], 400, "invalid_request"),
    Case(
        "two credentials in one header",
        lambda t: [("authorization", f"Bearer {t.valid}, Bearer {t.valid}")],
        400,
        "invalid_request",
    ),
    Case(
        "two authorization headers",
        lambda t: [*bearer(t.valid), *bearer(t.valid)],
        400,
        "invalid_request",
    ),
    Case("garbage token", lambda t: bearer("not-a-jwt"), 401, "invalid_token"),
    Case("bad signature", lambda t: bearer(t.bad_signature), 401, "invalid_token"),
    Case("expired", lambda t: bearer(t.expired), 401, "invalid_token"),
    Case("wrong audience", lambda t: bearer(t.wrong_audience), 401, "invalid_token"),
    Case(
        "insufficient scope",
        lambda t: bearer(t.valid),
        403,
        "insufficient_scope",
        required_scopes=("admin:settings",),
        scope_attr="admin:settings",
    ),
    Case(
        "valid token",
        lambda t: bearer(t.valid),
        200,
        required_scopes=("read:settings",),
        body={
            "client_id": "m2m-client-test-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            "scopes": ["read:settings", "write:settings"],
            "custom_claims": {"tenant": "acme"},
        },
    ),
    Case("public path without token", lambda t: [], 200, path="/health", body={"status": "ok"}),
    Case("optional without token", lambda t: [], 200, optional=True, body={"client_id": None}),
    Case(
        "optional with bad token", lambda t: bearer(t.expired), 401, "invalid_token", optional=True
    ),
    Case(
        "custom check refuses the token",
        lambda t: bearer(t.valid),
        401,
        "invalid_token",
        route={"checks": [revoked_client]},
    ),
    Case(
        "custom check refuses the request",
        lambda t: [*bearer(t.valid), ("x-tenant", "globex")],
        403,
        "insufficient_scope",
        route={"checks": [tenant_only]},
        scope_attr="tenant:globex",
    ),
    Case(
        "custom check reads the request",
        lambda t: [*bearer(t.valid), ("x-tenant", "acme")],
        200,
        route={"checks": [tenant_only]},
        body={"custom_claims": {"tenant": "acme"}},
    ),
    Case(
        "route audience narrower than the token's",
        lambda t: bearer(t.valid),
        401,
        "invalid_token",
        route={"audience": OTHER_API},
        audiences=(PROJECT_ID, OTHER_API),
    ),
    Case(
        "route audience the token names",
        lambda t: bearer(t.valid),
        200,
        route={"audience": PROJECT_ID, "max_token_age": 60},
        audiences=(PROJECT_ID, OTHER_API),
        body={"client_id": "m2m-client-test-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"},
    ),
    Case(
        "token in a custom header",
        lambda t: [("x-api-token", t.valid)],
        200,
        route={"token_header": "X-Api-Token"},
        body={"custom_claims": {"tenant": "acme"}},
    ),
    Case(
        "bearer token in a custom header",
        lambda t: [("x-api-token", f"Bearer {t.valid}")],
        200,
        route={"token_header": "X-Api-Token"},
        body={"custom_claims": {"tenant": "acme"}},
    ),
    Case(
        "custom header and authorization",
        lambda t: [*bearer(t.valid), ("x-api-token", t.valid)],
        400,
        "invalid_request",
        route={"token_header": "X-Api-Token"},
    ),
    Case(
        "token only in authorization when the route reads a header",
        lambda t: bearer(t.valid),
        401,
        route={"token_header": "X-Api-Token"},
    ),
    Case(
        "token in a cookie",
        lambda t: [("cookie", f"theme=dark; m2m_token={t.valid}")],
        200,
        route={"token_cookie": "m2m_token"},
        body={"custom_claims": {"tenant": "acme"}},
    ),
    Case(
        "expired token in a cookie",
        lambda t: [("cookie", f"m2m_token={t.expired}")],
        401,
        "invalid_token",
        route={"token_cookie": "m2m_token"},
    ),
    Case(
        "keys unavailable",
        lambda t: bearer(t.valid),
        503,
        "temporarily_unavailable",
        keys_unavailable=True,
    ),
    Case("revoked token", lambda t: bearer(t.valid), 401, "invalid_token", revocations="revoked"),
    Case(
        "revocation state too stale",
        lambda t: bearer(t.valid),
        503,
        "temporarily_unavailable",
        revocations="stale",
    ),
]


@pytest.fixture(params=HARNESSES, ids=lambda spec: spec.rsplit(":", 1)[1])
def harness(request: pytest.FixtureRequest) -> Harness:
    module, name = request.param.split(":")
    cls = getattr(importlib.import_module(module), name)
    return cls()


@pytest.fixture
def tokens(rsa_key: SigningKey, other_rsa_key: SigningKey, clock: FakeClock) -> Tokens:
    now = clock()
    scopes = "read:settings write:settings"
    forger = SigningKey("RS256", kid=rsa_key.kid, private=other_rsa_key.private)
    return Tokens(
        valid=rsa_key.sign(stytch_claims(now, scope=scopes)),
        expired=rsa_key.sign(stytch_claims(now - 7200, scope=scopes)),
        wrong_audience=rsa_key.sign(stytch_claims(now, scope=scopes, aud=["someone-else"])),
        bad_signature=forger.sign(stytch_claims(now, scope=scopes)),
    )


def make_verifier(case: Case, rsa_key: SigningKey, clock: FakeClock) -> Verifier:
    if case.keys_unavailable:
        # Port 9 (discard) on loopback refuses connections: the JWKS is unreachable.
        source: dict[str, object] = {"jwks_url": "http://127.0.0.1:9/jwks"}
    else:
        source = {"jwks": jwks_of(rsa_key)}
    if case.revocations is not None:
        revocations = source["revocations"] = MemoryRevocations(clock=clock)
        if case.revocations == "revoked":
            revocations.revoke_token("jti-1", clock() + 3600)  # the tokens' jti
        else:
            revocations.state.fresh_until = clock()  # its store unreachable for too long
    return Verifier(issuer=ISSUER, audience=case.audiences, clock=clock, **source)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_integration_answers_case_as_specified(
    harness: Harness, case: Case, tokens: Tokens, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Every integration gives the status, challenge and body of the README's error table."""
    if case.route is not None and type(harness).__name__ in WITHOUT_ROUTE_OPTIONS:
        pytest.skip(f"{type(harness).__name__}: no per-route options in this adapter yet")
    harness.build(
        make_verifier(case, rsa_key, clock),
        required_scopes=case.required_scopes,
        optional=case.optional,
        **({} if case.route is None else {"route": case.route}),
    )
    reply = harness.request(case.path, case.headers(tokens))
    if case.route is not None:  # a second time: the token-cache hit is held to the route too
        assert harness.request(case.path, case.headers(tokens)).status == reply.status

    assert reply.status == case.status, reply
    challenge = reply.headers.get("www-authenticate")
    if case.status == 200:
        assert challenge is None
        if case.body is not None:
            for key, value in case.body.items():
                assert reply.json[key] == value
        return
    assert reply.json["error"] == (case.error or "unauthorized")
    assert isinstance(reply.json["error_description"], str)
    if case.status == 503:
        assert challenge is None
        assert int(reply.headers["retry-after"]) >= 1
        return
    if case.error is None:
        assert challenge == CHALLENGE
        return
    assert challenge is not None
    assert challenge.startswith(f'{CHALLENGE}, error="{case.error}", error_description="')
    if case.scope_attr is not None:
        assert challenge.endswith(f', scope="{case.scope_attr}"')
