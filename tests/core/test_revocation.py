"""Revocation: refused on the cold path and on every token-cache hit; stale state is a 503."""

from __future__ import annotations

import math
from typing import Any

import pytest

from m2m_guard import (
    ConfigurationError,
    KeysUnavailableError,
    M2MClaims,
    MemoryRevocations,
    RevocationsUnavailableError,
    TokenRevokedError,
    Verifier,
)
from m2m_guard._sansio.revocation import (
    RevocationEvent,
    RevocationState,
    decode_event,
    encode_event,
    parse_hash,
    redis_keys,
    revocation_commands,
)
from m2m_guard.revocations import Revocations
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims

pytestmark = pytest.mark.anyio


def make(
    rsa_key: SigningKey, clock: FakeClock, revocations: Revocations | None, **kwargs: Any
) -> Verifier:
    return Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks=jwks_of(rsa_key),
        clock=clock,
        client_id_claims=("sub",),
        revocations=revocations,
        **kwargs,
    )


@pytest.fixture
def revocations(clock: FakeClock) -> MemoryRevocations:
    return MemoryRevocations(clock=clock)


@pytest.fixture
def guarded(rsa_key: SigningKey, clock: FakeClock, revocations: MemoryRevocations) -> Verifier:
    return make(rsa_key, clock, revocations)


def test_a_revoked_jti_is_refused_on_a_token_cache_hit(
    guarded: Verifier, revocations: MemoryRevocations, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """A token verified (and cached) before its revocation is refused right after it."""
    token = rsa_key.sign(stytch_claims(clock.now))
    assert guarded.verify(token).client_id == CLIENT_ID
    assert guarded.verify_authorization([f"Bearer {token}"]) is not None  # warm
    revocations.revoke_token("jti-1", clock.now + 3600)
    for attempt in (
        lambda: guarded.verify(token),
        lambda: guarded.verify_authorization([f"Bearer {token}"]),
    ):
        with pytest.raises(TokenRevokedError) as caught:
            attempt()
        assert caught.value.status_code == 401
        assert caught.value.error == "invalid_token"
        assert caught.value.description == "The token has been revoked."


def test_a_revoked_jti_is_refused_on_the_cold_path_and_others_pass(
    guarded: Verifier, revocations: MemoryRevocations, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Only the revoked jti is refused; another token of the same client passes."""
    revocations.revoke_token("jti-1", clock.now + 3600)
    with pytest.raises(TokenRevokedError):
        guarded.verify(rsa_key.sign(stytch_claims(clock.now)))
    assert guarded.verify(rsa_key.sign(stytch_claims(clock.now, jti="jti-2"))).token_id == "jti-2"


async def test_async_entry_points_refuse_a_revoked_token(
    guarded: Verifier, revocations: MemoryRevocations, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """verify_async and verify_authorization_async consult the state too (hit and cold)."""
    token = rsa_key.sign(stytch_claims(clock.now))
    assert await guarded.verify_async(token)
    await revocations.revoke_token_async("jti-1", clock.now + 3600)
    with pytest.raises(TokenRevokedError):
        await guarded.verify_authorization_async([f"Bearer {token}"])
    with pytest.raises(TokenRevokedError):
        await guarded.verify_async(token)


def test_a_client_cut_off_refuses_older_tokens_and_admits_newer_ones(
    guarded: Verifier, revocations: MemoryRevocations, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """revoke_client(issued_before=t): tokens issued before t refused, after t accepted."""
    old = rsa_key.sign(stytch_claims(clock.now))
    guarded.verify(old)
    clock.advance(10)
    revocations.revoke_client(CLIENT_ID)  # default: now
    with pytest.raises(TokenRevokedError):
        guarded.verify(old)
    clock.advance(1)
    new = rsa_key.sign(stytch_claims(clock.now, jti="jti-new"))
    assert guarded.verify(new).client_id == CLIENT_ID
    other = rsa_key.sign(stytch_claims(clock.now - 20, sub="other-client", jti="j3"))
    assert guarded.verify(other).client_id == "other-client"


async def test_an_issuer_cut_off_refuses_every_older_token_of_the_issuer(
    guarded: Verifier, revocations: MemoryRevocations, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """revoke_issuer(iss, issued_before=t) refuses all of its tokens issued before t."""
    token = rsa_key.sign(stytch_claims(clock.now))
    guarded.verify(token)
    await revocations.revoke_issuer_async(ISSUER, issued_before=clock.now + 1)
    with pytest.raises(TokenRevokedError):
        guarded.verify(token)
    await revocations.revoke_client_async(CLIENT_ID, issued_before=clock.now + 1)
    assert revocations.state.clients == {CLIENT_ID: clock.now + 1}


def test_a_token_without_iat_is_refused_when_its_client_has_a_cut_off(
    rsa_key: SigningKey, clock: FakeClock, revocations: MemoryRevocations
) -> None:
    """No iat cannot prove issuance after the cut-off: refused (when in doubt, reject)."""
    verifier = make(rsa_key, clock, revocations, required_claims=("exp",))
    token = rsa_key.sign(stytch_claims(clock.now, iat=..., nbf=...))
    assert verifier.verify(token)
    revocations.revoke_client(CLIENT_ID, issued_before=clock.now - 1000)
    with pytest.raises(TokenRevokedError):
        verifier.verify(token)
    by_issuer = MemoryRevocations(clock=clock)
    by_issuer.revoke_issuer(ISSUER, issued_before=clock.now - 1000)
    with pytest.raises(TokenRevokedError):
        make(rsa_key, clock, by_issuer, required_claims=("exp",)).verify(token)


def test_revoked_jtis_are_pruned_after_their_expiry(
    revocations: MemoryRevocations, clock: FakeClock
) -> None:
    """A jti entry lives until the token's exp, then it is forgotten at the next write."""
    revocations.revoke_token("a", clock.now + 5)
    clock.advance(6)
    revocations.revoke_token("b", clock.now + 5)
    assert set(revocations.state.jtis) == {"b"}
    assert "jtis=1" in repr(revocations)


def test_a_stale_state_answers_503_with_retry_after_on_hit_and_cold_path(
    guarded: Verifier, revocations: MemoryRevocations, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Past fresh_until every token is a 503 (RevocationsUnavailableError), then fine again."""
    token = rsa_key.sign(stytch_claims(clock.now))
    guarded.verify(token)
    revocations.state.fresh_until = clock.now + 5
    assert guarded.verify(token)  # still fresh: served from the cache
    clock.advance(5)
    assert not guarded.ready
    assert not revocations.ready
    for attempt in (
        lambda: guarded.verify(token),
        lambda: guarded.verify_authorization([f"Bearer {token}"]),
    ):
        with pytest.raises(RevocationsUnavailableError) as caught:
            attempt()
        assert isinstance(caught.value, KeysUnavailableError)
        assert caught.value.status_code == 503
        assert caught.value.response_headers()["retry-after"] == "5"
    with pytest.raises(RevocationsUnavailableError):
        guarded.warm_up(strict=True)
    assert guarded.warm_up() is False
    revocations.state.fresh_until = math.inf
    assert guarded.verify(token)
    assert guarded.ready
    assert guarded.warm_up(strict=True)


async def test_async_warm_up_reports_revocation_readiness(
    guarded: Verifier, revocations: MemoryRevocations, clock: FakeClock
) -> None:
    """warm_up_async is False (strict: raises) while the state is stale."""
    assert await guarded.warm_up_async(strict=True)
    revocations.state.fresh_until = clock.now
    assert await guarded.warm_up_async() is False
    with pytest.raises(RevocationsUnavailableError):
        await guarded.warm_up_async(strict=True)
    await revocations.aclose()


class CountingState(RevocationState):
    """Counts the lookups of ``revoked``."""

    __slots__ = ("looked",)

    def __init__(self) -> None:
        super().__init__()
        self.looked = 0

    def revoked(self, claims: M2MClaims) -> bool:
        self.looked += 1
        return super().revoked(claims)


def test_a_cached_token_checked_at_the_current_epoch_needs_no_lookup(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """The hit path looks the state up once per epoch, not once per request."""
    revocations = MemoryRevocations(clock=clock)
    state = revocations.state = CountingState()
    guarded = make(rsa_key, clock, revocations)
    token = rsa_key.sign(stytch_claims(clock.now))
    guarded.verify(token)
    assert state.looked == 1  # the cold path
    for _ in range(5):
        guarded.verify(token)
    assert state.looked == 1  # cached with the epoch it was checked at
    revocations.revoke_token("unrelated", clock.now + 60)
    for _ in range(5):
        guarded.verify(token)
    assert state.looked == 2


def test_revocations_must_be_a_backend(rsa_key: SigningKey, clock: FakeClock) -> None:
    """A wrong revocations= fails at construction, naming the setting."""
    with pytest.raises(ConfigurationError, match="revocations"):
        make(rsa_key, clock, object())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "setting"),
    [
        (lambda r: r.revoke_token("", 1.0), "jti"),
        (lambda r: r.revoke_token(7, 1.0), "jti"),
        (lambda r: r.revoke_token("j", "soon"), "exp"),
        (lambda r: r.revoke_token("j", math.inf), "exp"),
        (lambda r: r.revoke_token("j", True), "exp"),
        (lambda r: r.revoke_client("c" * 1025), "client_id"),
        (lambda r: r.revoke_issuer(None), "iss"),
        (lambda r: r.revoke_client("c", issued_before=math.nan), "issued_before"),
    ],
)
def test_bad_revocations_are_configuration_errors(
    revocations: MemoryRevocations, call: object, setting: str
) -> None:
    """An operator's bad input is a clear error naming the argument."""
    with pytest.raises(ConfigurationError, match=setting):
        call(revocations)  # type: ignore[operator]


def test_the_wire_format_is_stable() -> None:
    """Keys, channel, event JSON and the commands the issuer runs, exactly."""
    keys = redis_keys("orders")
    assert keys.jti == "m2m_guard:revocations:orders:jti"
    assert keys.clients == "m2m_guard:revocations:orders:clients"
    assert keys.issuers == "m2m_guard:revocations:orders:issuers"
    assert keys.events == "m2m_guard:revocations:orders:events"
    jti = RevocationEvent("jti", "j1", 1800000000)
    assert encode_event(jti) == '{"kind":"jti","value":"j1","until":1800000000}'
    client = RevocationEvent("client", "c1", 17.5)
    assert encode_event(client) == '{"kind":"client","value":"c1","issued_before":17.5}'
    for event in (jti, client, RevocationEvent("issuer", "i", 3)):
        assert decode_event(encode_event(event)) == event
        assert decode_event(encode_event(event).encode()) == event
    assert revocation_commands(keys, client) == (
        ("HSET", keys.clients, "c1", "17.5"),
        ("PUBLISH", keys.events, encode_event(client)),
    )
    assert parse_hash({b"a": b"1.5", "b": "x", "c": "inf", b"\xff": "2"}) == {"a": 1.5, "\ufffd": 2}


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff",
        "not json",
        "[]",
        '{"kind": "token", "value": "x", "until": 1}',
        '{"kind": "jti", "value": "", "until": 1}',
        '{"kind": "jti", "value": 3, "until": 1}',
        '{"kind": "jti", "value": "x"}',
        '{"kind": "jti", "value": "x", "until": "1"}',
        '{"kind": "client", "value": "x", "until": 1}',
        '{"kind": "issuer", "value": "x", "issued_before": 1e999}',
    ],
)
def test_malformed_events_are_value_errors(raw: str | bytes) -> None:
    """A hostile or broken event never gets into the state."""
    with pytest.raises(ValueError, match="revocation"):
        decode_event(raw)


def test_an_event_of_an_unknown_kind_cannot_be_built() -> None:
    """Only jti, client and issuer revocations exist."""
    with pytest.raises(ValueError, match="unknown revocation kind"):
        RevocationEvent("token", "x", 1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("namespace", ["", "a:b", "a b", "x" * 129, "\x00", 3])
def test_bad_namespaces_are_refused(namespace: object) -> None:
    """The namespace cannot break out of its keys."""
    with pytest.raises(ConfigurationError, match="namespace"):
        redis_keys(namespace)  # type: ignore[arg-type]


def test_merging_a_snapshot_keeps_the_later_times_and_reports_what_the_store_lacks() -> None:
    """A resync only adds; what the store lost comes back as events to write back."""
    state = RevocationState()
    assert state.merge({"j": 10.0}, {"c": 5.0}, {}) == []
    epoch = state.epoch
    assert state.merge({"j": 10.0}, {"c": 5.0}, {}) == []
    assert state.epoch == epoch  # nothing new: cached checks stay valid
    missing = state.merge({}, {"c": 4.0, "d": 1.0}, {"i": 2.0})
    assert missing == [RevocationEvent("jti", "j", 10.0), RevocationEvent("client", "c", 5.0)]
    assert state.jtis == {"j": 10.0}
    assert state.clients == {"c": 5.0, "d": 1.0}
    assert state.issuers == {"i": 2.0}
    assert state.epoch > epoch
    state.apply(RevocationEvent("client", "c", 1.0))  # earlier: no effect
    assert state.clients["c"] == 5.0
    assert state.prune(10.5) == ["j"]
    assert state.prune(10.5) == []
