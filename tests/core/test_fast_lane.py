"""The integrations' one entry pair: ``verify_authorization`` and its async twin.

Its first step is the token-cache hit; everything else (no token, a
malformed header, a token to verify in full) falls through to the same
checks ``verify_header`` makes. ``Guard.check`` / ``check_async`` are it,
with the guard's normalised scopes and ``optional``.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from m2m_guard import (
    Guard,
    InsufficientScopeError,
    InvalidRequestError,
    MissingTokenError,
    TokenTooOldError,
    TokenVerifier,
    Verifier,
)
from m2m_guard.events import Event, TokenVerified
from tests.core._helpers import static_verifier as make
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, ISSUER, SigningKey, stytch_claims

pytestmark = pytest.mark.anyio


async def test_without_a_token_cache_every_request_is_verified_in_full(
    rsa_key: SigningKey, clock: FakeClock, signature_checks: list[str]
) -> None:
    verifier = make(rsa_key, clock, token_cache_size=0)
    header = f"Bearer {rsa_key.sign(stytch_claims(clock()))}"
    assert verifier.verify_authorization([header]) is not None
    assert await verifier.verify_authorization_async([header]) is not None
    assert verifier.verify_header(header).client_id == CLIENT_ID
    assert len(signature_checks) == 3


async def test_an_age_limit_of_the_caller_skips_the_fast_lane(
    rsa_key: SigningKey, clock: FakeClock, signature_checks: list[str]
) -> None:
    """verify_header(max_token_age=...) applies the caller's limit to a cached token."""
    verifier = make(rsa_key, clock)
    header = f"Bearer {rsa_key.sign(stytch_claims(clock()))}"
    verifier.verify_header(header)
    clock.advance(120)
    assert verifier.verify_header(header).client_id == CLIENT_ID  # the verifier's own: none
    with pytest.raises(TokenTooOldError):
        verifier.verify_header(header, max_token_age=60)
    with pytest.raises(TokenTooOldError):
        await verifier.verify_header_async(header, max_token_age=60)
    assert (await verifier.verify_header_async(header, max_token_age=600)).client_id == CLIENT_ID
    assert len(signature_checks) == 1 + 2  # too old for the caller: the full path says so


async def test_the_fast_lane_checks_scopes_on_every_hit(
    rsa_key: SigningKey, clock: FakeClock, signature_checks: list[str]
) -> None:
    verifier = make(rsa_key, clock)
    header = f"Bearer {rsa_key.sign(stytch_claims(clock(), scope='read:* write:users'))}"
    verifier.verify_authorization([header])
    assert verifier.verify_authorization([header], ("read:orders", "write:users"))
    assert await verifier.verify_authorization_async([header], (), ("admin", "read:x"))
    with pytest.raises(InsufficientScopeError):
        verifier.verify_authorization([header], ("write:orders",))
    with pytest.raises(InsufficientScopeError):
        await verifier.verify_authorization_async([header], (), ("admin", "*"))
    assert len(signature_checks) == 1


async def test_header_forms_the_fast_lane_does_not_take_are_still_answered(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    verifier = make(rsa_key, clock)
    token = rsa_key.sign(stytch_claims(clock()))
    claims = verifier.verify_header((f"Bearer {token}",))
    assert verifier.verify_header(iter([f"bearer {token}"])) is claims  # any iterable
    with pytest.raises(MissingTokenError):
        verifier.verify_authorization(["Basic dXNlcjpwYXNz"])
    for scheme in ("Beaver", "DPoP  ", "Token:"):  # seven characters, like "Bearer "
        with pytest.raises(MissingTokenError):
            verifier.verify_authorization([f"{scheme} {token}"])
        with pytest.raises(MissingTokenError):
            verifier.verify_header(f"{scheme} {token}")
    assert verifier.verify_authorization(["Basic dXNlcjpwYXNz"], optional=True) is None
    with pytest.raises(InvalidRequestError):
        await verifier.verify_authorization_async([f"Bearer {token}", f"Bearer {token}"])


async def test_guard_check_is_the_fast_lane_with_the_guards_requirements(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    events: list[Event] = []
    verifier = make(rsa_key, clock, on_event=events.append)
    header = f"Bearer {rsa_key.sign(stytch_claims(clock()))}"
    guard = Guard(verifier, required_scopes="read:users", optional=True)
    assert guard.check([]) is None
    claims = guard.check([header])
    assert claims is not None
    pending = guard.check_async([header])
    assert inspect.isawaitable(pending)
    assert await pending is claims
    assert guard.reuse(claims, verifier) is claims
    assert Guard(verifier).reuse(claims, verifier) is claims  # nothing asked: nothing checked
    assert events == [
        TokenVerified(CLIENT_ID, ISSUER, cached=False),
        TokenVerified(CLIENT_ID, ISSUER, cached=True),
    ]


def test_the_protocol_asks_for_the_fast_lane(verifier: Verifier) -> None:
    """TokenVerifier names verify_authorization (and its twin), no longer cached_bearer."""
    assert isinstance(verifier, TokenVerifier)
    assert hasattr(TokenVerifier, "verify_authorization")
    assert hasattr(TokenVerifier, "verify_authorization_async")
    assert not hasattr(TokenVerifier, "cached_bearer")

    class OldStyle:
        def verify(self, *args: Any, **kwargs: Any) -> Any: ...
        async def verify_async(self, *args: Any, **kwargs: Any) -> Any: ...
        def cached_bearer(self, *args: Any) -> Any: ...
        def warm_up(self) -> bool: ...
        async def warm_up_async(self) -> bool: ...
        def close(self) -> None: ...
        async def aclose(self) -> None: ...

    assert not isinstance(OldStyle(), TokenVerifier)


def test_the_scope_memo_answers_only_for_the_very_tuple_it_checked() -> None:
    """ScopeSet remembers the last tuple it found met, by identity; anything
    else (another tuple, a list, a refused set) is checked in full."""
    from m2m_guard._sansio.scopes import ScopeSet

    granted = ScopeSet(("read:users", "write:*"))
    asked = ("read:users", "write:orders")
    assert granted.satisfies_all(asked)
    assert granted._met_all is asked
    assert granted.satisfies_all(asked)  # answered by the memo
    assert not granted.satisfies_all(("read:users", "admin"))
    assert granted._met_all is asked  # a refusal is never remembered
    assert granted.satisfies_all(["write:x"])  # not a tuple: checked, not remembered
    assert granted._met_all is asked
    assert not granted.satisfies_all(("*",))
    one_of = ("admin", "write:anything")
    assert granted.satisfies_any(one_of)
    assert granted._met_any is one_of
    assert granted.satisfies_any(one_of)  # answered by the memo
    assert not granted.satisfies_any(("admin", "*"))
    assert granted.satisfies_any(())  # nothing asked
    assert granted._met_any is one_of


def test_a_path_matcher_says_once_whether_it_excludes_anything() -> None:
    """``active`` (read per request) and ``bool()`` agree."""
    from m2m_guard import PathMatcher

    for patterns, active in (((), False), (["/health"], True), (["/docs/*"], True)):
        matcher = PathMatcher(patterns)
        assert matcher.active is active
        assert bool(matcher) is active
