"""One table of cases, run against every integration (README, "Errors and HTTP responses")."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest

from m2m_guard import Verifier
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


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


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
        "keys unavailable",
        lambda t: bearer(t.valid),
        503,
        "temporarily_unavailable",
        keys_unavailable=True,
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
    return Verifier(issuer=ISSUER, audience=PROJECT_ID, clock=clock, **source)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_integration_answers_case_as_specified(
    harness: Harness, case: Case, tokens: Tokens, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Every integration gives the status, challenge and body of the README's error table."""
    harness.build(
        make_verifier(case, rsa_key, clock),
        required_scopes=case.required_scopes,
        optional=case.optional,
    )
    reply = harness.request(case.path, case.headers(tokens))

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
