"""``Verifier.combine`` reports exactly the events its member would report alone.

Every case runs twice: through a single ``Verifier`` and through
``Verifier.combine`` of an identically configured verifier (plus one for a
second issuer), over every entry point: ``verify``, ``verify_header``, their
async twins, and the integrations' fast lane (``verify_authorization`` and
its async twin). The ``TokenVerified`` / ``VerificationFailed`` events must
be the same, each emitted exactly once: a combined verifier reports through
the hook of the member that decided (the one whose token cache hit, or the
one its ``iss`` selects), and a refusal no member decided (an unknown
issuer, no credentials at all) through its first member's hook.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from m2m_guard import M2MGuardError, MultiIssuerVerifier, Verifier
from m2m_guard.events import Event, JWKSFetched, StaleKeysServed, TokenVerified, VerificationFailed
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims

pytestmark = pytest.mark.anyio

OTHER_ISSUER = "https://other.example/"
OTHER_AUDIENCE = "https://api.example/"
OTHER_CLIENT = "other-client"

ENTRY_POINTS = ["verify", "verify_async", "header", "header_async", "lane", "lane_async"]
HEADER_ENTRY_POINTS = ["header", "header_async", "lane", "lane_async"]

VERIFIED = TokenVerified(CLIENT_ID, ISSUER, cached=False)
VERIFIED_CACHED = TokenVerified(CLIENT_ID, ISSUER, cached=True)
NO_SCOPE = VerificationFailed("InsufficientScopeError", "insufficient_scope", 403)
UNKNOWN_ISSUER = VerificationFailed("InvalidIssuerError", "invalid_token", 401)
BAD_SIGNATURE = VerificationFailed("BadSignatureError", "invalid_token", 401)
EXPIRED = VerificationFailed("ExpiredTokenError", "invalid_token", 401)
MISSING = VerificationFailed("MissingTokenError", None, 401)


def token_events(events: list[Event]) -> list[Event]:
    """The events this test is about (key fetch events are not)."""
    return [e for e in events if not isinstance(e, JWKSFetched | StaleKeysServed)]


@dataclass
class Setup:
    """The verifier under test, and the hooks' event lists."""

    verifier: Verifier | MultiIssuerVerifier
    events: list[Event] = field(default_factory=list)  # the (first) member's hook
    others: list[Event] = field(default_factory=list)  # the second member's hook, if any

    def take(self) -> list[Event]:
        taken = token_events(self.events)
        self.events.clear()
        return taken


def stytch(rsa_key: SigningKey, clock: FakeClock, hook: Callable[[Event], None]) -> Verifier:
    return Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock, on_event=hook
    )


def other(key: SigningKey, clock: FakeClock, hook: Callable[[Event], None]) -> Verifier:
    return Verifier(
        issuer=OTHER_ISSUER, audience=OTHER_AUDIENCE, jwks=jwks_of(key), clock=clock, on_event=hook
    )


@pytest.fixture(params=["single", "combined", "combined-shared-hook"])
def setup(
    request: pytest.FixtureRequest,
    rsa_key: SigningKey,
    other_rsa_key: SigningKey,
    clock: FakeClock,
) -> Setup:
    """``single``: one Verifier. ``combined``: it combined with a second issuer's
    verifier that has a hook of its own. ``combined-shared-hook``: both members
    report to one hook, which must still see every event once."""
    s = Setup(verifier=None)  # type: ignore[arg-type]
    member = stytch(rsa_key, clock, s.events.append)
    if request.param == "single":
        s.verifier = member
    elif request.param == "combined":
        s.verifier = Verifier.combine(member, other(other_rsa_key, clock, s.others.append))
    else:
        s.verifier = Verifier.combine(member, other(other_rsa_key, clock, s.events.append))
    return s


async def call(
    verifier: Verifier | MultiIssuerVerifier,
    entry: str,
    token: str | None,
    scopes: tuple[str, ...] = (),
) -> Any:
    header = None if token is None else f"Bearer {token}"
    values = [] if header is None else [header]
    if entry == "verify":
        return verifier.verify(token or "", scopes)
    if entry == "verify_async":
        return await verifier.verify_async(token or "", scopes)
    if entry == "header":
        return verifier.verify_header(header, scopes)
    if entry == "header_async":
        return await verifier.verify_header_async(header, scopes)
    if entry == "lane":
        return verifier.verify_authorization(values, scopes)
    return await verifier.verify_authorization_async(values, scopes)


async def outcome(
    verifier: Verifier | MultiIssuerVerifier,
    entry: str,
    token: str | None,
    scopes: tuple[str, ...] = (),
) -> str:
    try:
        await call(verifier, entry, token, scopes)
    except M2MGuardError as exc:
        return type(exc).__name__
    return "ok"


@pytest.mark.parametrize("entry", ENTRY_POINTS)
async def test_a_fresh_token_is_reported_once_as_verified(
    setup: Setup, entry: str, rsa_key: SigningKey, clock: FakeClock
) -> None:
    token = rsa_key.sign(stytch_claims(clock()))
    assert await outcome(setup.verifier, entry, token, ("read:users",)) == "ok"
    assert setup.take() == [VERIFIED]
    assert setup.others == []


@pytest.mark.parametrize("entry", ENTRY_POINTS)
async def test_a_cached_hit_is_reported_once_as_cached(
    setup: Setup, entry: str, rsa_key: SigningKey, clock: FakeClock
) -> None:
    token = rsa_key.sign(stytch_claims(clock()))
    await call(setup.verifier, "verify", token)
    setup.take()
    assert await outcome(setup.verifier, entry, token, ("read:users",)) == "ok"
    assert setup.take() == [VERIFIED_CACHED]
    assert setup.others == []


@pytest.mark.parametrize("entry", ENTRY_POINTS)
async def test_a_missing_scope_on_a_fresh_token_is_reported_once(
    setup: Setup, entry: str, rsa_key: SigningKey, clock: FakeClock
) -> None:
    token = rsa_key.sign(stytch_claims(clock()))
    assert await outcome(setup.verifier, entry, token, ("admin",)) == "InsufficientScopeError"
    assert setup.take() == [NO_SCOPE]
    assert setup.others == []


@pytest.mark.parametrize("entry", ENTRY_POINTS)
async def test_a_missing_scope_on_a_cached_token_is_reported_once(
    setup: Setup, entry: str, rsa_key: SigningKey, clock: FakeClock
) -> None:
    token = rsa_key.sign(stytch_claims(clock()))
    await call(setup.verifier, "verify", token)
    setup.take()
    assert await outcome(setup.verifier, entry, token, ("admin",)) == "InsufficientScopeError"
    assert setup.take() == [NO_SCOPE]
    assert setup.others == []


@pytest.mark.parametrize("entry", ENTRY_POINTS)
async def test_an_unknown_issuer_is_reported_once(
    setup: Setup, entry: str, rsa_key: SigningKey, clock: FakeClock
) -> None:
    token = rsa_key.sign(stytch_claims(clock(), iss="https://stranger.example/"))
    assert await outcome(setup.verifier, entry, token) == "InvalidIssuerError"
    assert setup.take() == [UNKNOWN_ISSUER]
    assert setup.others == []


@pytest.mark.parametrize("entry", ENTRY_POINTS)
async def test_a_bad_signature_is_reported_once(
    setup: Setup, entry: str, other_rsa_key: SigningKey, clock: FakeClock
) -> None:
    forged = other_rsa_key.sign(stytch_claims(clock()), {"kid": "jwk-test-primary"})
    assert await outcome(setup.verifier, entry, forged) == "BadSignatureError"
    assert setup.take() == [BAD_SIGNATURE]
    assert setup.others == []


@pytest.mark.parametrize("entry", ENTRY_POINTS)
async def test_an_expired_token_is_reported_once(
    setup: Setup, entry: str, rsa_key: SigningKey, clock: FakeClock
) -> None:
    stale = rsa_key.sign(stytch_claims(clock() - 7200))
    assert await outcome(setup.verifier, entry, stale) == "ExpiredTokenError"
    assert setup.take() == [EXPIRED]
    cached = rsa_key.sign(stytch_claims(clock()))
    await call(setup.verifier, "verify", cached)
    setup.take()
    clock.advance(3601)  # the cached entry runs out: the full path says why
    assert await outcome(setup.verifier, entry, cached) == "ExpiredTokenError"
    assert setup.take() == [EXPIRED]
    assert setup.others == []


@pytest.mark.parametrize("entry", HEADER_ENTRY_POINTS)
async def test_a_request_without_a_token_is_reported_once(setup: Setup, entry: str) -> None:
    assert await outcome(setup.verifier, entry, None) == "MissingTokenError"
    assert setup.take() == [MISSING]
    assert setup.others == []


@pytest.mark.parametrize("entry", ["lane", "lane_async"])
async def test_an_anonymous_request_let_through_reports_nothing(setup: Setup, entry: str) -> None:
    """``optional``: no credentials is no refusal; a bad one still is."""
    verifier = setup.verifier
    if entry == "lane":
        assert verifier.verify_authorization([], optional=True) is None
        with pytest.raises(M2MGuardError):
            verifier.verify_authorization(["Bearer a b"], optional=True)
    else:
        assert await verifier.verify_authorization_async([], optional=True) is None
        with pytest.raises(M2MGuardError):
            await verifier.verify_authorization_async(["Bearer a b"], optional=True)
    assert setup.take() == [VerificationFailed("InvalidRequestError", "invalid_request", 400)]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
async def test_the_second_issuers_tokens_are_reported_to_its_own_hook(
    rsa_key: SigningKey, other_rsa_key: SigningKey, clock: FakeClock, entry: str
) -> None:
    """Decided events go to the deciding member's hook only."""
    first: list[Event] = []
    second: list[Event] = []
    combined = Verifier.combine(
        stytch(rsa_key, clock, first.append), other(other_rsa_key, clock, second.append)
    )
    now = int(clock())
    claims = {"iss": OTHER_ISSUER, "aud": OTHER_AUDIENCE, "sub": OTHER_CLIENT}
    token = other_rsa_key.sign({**claims, "iat": now, "exp": now + 600, "scope": "read:orders"})
    for scopes in [("read:orders",), ("read:orders",), ("admin",)]:
        await outcome(combined, entry, token, scopes)
    assert token_events(second) == [
        TokenVerified(OTHER_CLIENT, OTHER_ISSUER, cached=False),
        TokenVerified(OTHER_CLIENT, OTHER_ISSUER, cached=True),
        NO_SCOPE,
    ]
    assert token_events(first) == []
