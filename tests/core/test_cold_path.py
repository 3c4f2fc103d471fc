"""The cold path's shortcuts keep every rule: what they share, remember and skip.

A token never seen before is parsed, checked and turned into ``M2MClaims``;
these tests pin down the memos and shared objects that keep that cheap, and
that none of them can carry a decision over to a token it does not belong to.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from types import MappingProxyType
from typing import Any

import pytest

from m2m_guard import DisallowedAlgorithmError, UnsupportedHeaderError, Verifier
from m2m_guard._sansio import policy as _policy
from m2m_guard._sansio import scopes as _scopes
from m2m_guard._sansio.claims import CustomClaims, M2MClaims, verified_claims
from m2m_guard._sansio.frozen import FrozenDict, FrozenList
from m2m_guard._sansio.jws import parse_token
from m2m_guard._sansio.policy import ClaimsPolicy
from tests.support.clock import FakeClock
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, forge, jwks_of, stytch_claims


def make(rsa_key: SigningKey, clock: FakeClock, **kwargs: Any) -> Verifier:
    return Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock, **kwargs
    )


def test_member_names_an_attacker_chose_are_never_interned(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Parsing runs before the signature is checked: a name it does not know
    keeps its own string (sys.intern would keep it forever on Python 3.12)."""
    name = f"zq-{id(object())}-unusual"
    probe = sys.intern("".join([name]))  # the interned spelling, if anyone interned it
    forged = forge({"alg": "RS256", "kid": "x", name: 1}, {**stytch_claims(clock()), name: 2})
    parsed = parse_token(forged, max_size=8192)
    payload_name = next(k for k in parsed.claims if k == name)
    header_name = next(k for k in parsed.header if k == name)
    assert payload_name is not probe
    assert header_name is not probe


def test_known_member_names_share_one_spelling(rsa_key: SigningKey, clock: FakeClock) -> None:
    first = parse_token(rsa_key.sign(stytch_claims(clock(), jti="a")), max_size=8192)
    second = parse_token(rsa_key.sign(stytch_claims(clock(), jti="b")), max_size=8192)
    for name in ("sub", "iss", "aud", "exp", "scope"):
        mine = next(k for k in first.claims if k == name)
        theirs = next(k for k in second.claims if k == name)
        assert mine is theirs


def test_verified_claims_equal_the_public_constructor() -> None:
    """The verifier's constructor sets every field the dataclass has."""
    view = MappingProxyType({"sub": "c", "tenant": "t"})
    fast = verified_claims("c", ("a",), view, "i", ("x",), 10.0, 5.0, "j")
    slow = M2MClaims("c", ("a",), CustomClaims(view), view, "i", ("x",), 10.0, 5.0, "j")
    assert fast == slow
    assert repr(fast) == repr(slow)
    assert dict(fast.custom_claims) == {"tenant": "t"}
    assert fast.has_scopes("a")
    covered = {f.name for f in dataclasses.fields(M2MClaims)}
    assert covered == {
        "client_id", "scopes", "custom_claims", "claims", "issuer", "audience",
        "expires_at", "issued_at", "token_id", "principal", "_scopes", "_adapted",
    }  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.client_id = "other"  # type: ignore[misc]


def _policy_for(**kwargs: Any) -> ClaimsPolicy:
    return ClaimsPolicy(issuers=frozenset({ISSUER}), audiences=frozenset({PROJECT_ID}), **kwargs)


def test_accepted_headers_are_remembered_per_policy_and_object() -> None:
    header = FrozenDict({"alg": "RS256", "kid": "k", "typ": "JWT"})
    lenient = _policy_for(algorithms=frozenset({"RS256"}))
    strict = _policy_for(algorithms=frozenset({"RS256"}), strict_rfc9068=True)
    assert lenient.check_header(header) == ("RS256", "k")
    assert lenient.check_header(header) == ("RS256", "k")
    assert list(lenient._accepted_headers.values()) == [(header, "RS256", "k")]
    with pytest.raises(UnsupportedHeaderError):  # another policy decides for itself
        strict.check_header(header)
    assert strict._accepted_headers == {}
    equal_copy = FrozenDict(header)
    assert lenient.check_header(equal_copy) == ("RS256", "k")  # checked in full, then kept
    assert len(lenient._accepted_headers) == 2
    mutable = {"alg": "RS256"}
    assert lenient.check_header(mutable) == ("RS256", None)
    assert len(lenient._accepted_headers) == 2  # a mutable header is never remembered
    mutable["alg"] = "none"
    with pytest.raises(DisallowedAlgorithmError):
        lenient.check_header(mutable)


def test_the_header_memo_stays_bounded() -> None:
    policy = _policy_for(algorithms=frozenset({"RS256"}))
    for i in range(_policy._MAX_ACCEPTED_HEADERS + 5):
        assert policy.check_header(FrozenDict({"alg": "RS256", "kid": f"k{i}"})) == (
            "RS256",
            f"k{i}",
        )
        assert len(policy._accepted_headers) <= _policy._MAX_ACCEPTED_HEADERS


def test_repeated_values_are_interned_in_place_after_verification(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """aud is interned item by item inside the parser's own read-only array."""
    verifier = make(rsa_key, clock)
    audience = "".join([PROJECT_ID])
    claims = verifier.verify(rsa_key.sign(stytch_claims(clock(), aud=[audience, "other-api"])))
    aud = claims.claims["aud"]
    assert type(aud) is FrozenList
    assert aud[0] is sys.intern(audience)
    assert aud[1] is sys.intern("".join(["other-", "api"]))
    assert claims.audience == (PROJECT_ID, "other-api")
    with pytest.raises(TypeError):
        aud.append("x")


def test_scope_strings_are_parsed_once_and_lists_every_time() -> None:
    first = _scopes.scope_tuple("scope", "read:a write:b read:a")
    assert first == ("read:a", "write:b")
    assert _scopes.scope_tuple("scope", "".join(["read:a write:b read:a"])) is first
    listed = _scopes.scope_tuple("scp", ["read:a", "write:b"])
    assert listed == ("read:a", "write:b")
    for i in range(_scopes._MAX_SCOPE_STRINGS + 5):
        assert _scopes.scope_tuple("scope", f"s{i}") == (f"s{i}",)
        assert len(_scopes._SCOPE_STRINGS) <= _scopes._MAX_SCOPE_STRINGS


@pytest.mark.parametrize(
    ("nbf", "iat", "leeway", "expected"),
    [
        (100, 90, 0, 100),
        (90, 100, 5, 95),
        (None, 100, 2, 98),
        (100, None, 0, 100),
        (None, None, 0, -math.inf),
    ],
)
def test_a_cached_token_is_valid_from_the_later_of_nbf_and_iat(
    rsa_key: SigningKey,
    clock: FakeClock,
    nbf: int | None,
    iat: int | None,
    leeway: float,
    expected: float,
) -> None:
    verifier = make(rsa_key, clock, leeway=leeway, required_claims=("iss", "aud", "exp"))
    base = int(clock()) - 200
    claims = stytch_claims(
        clock(),
        nbf=... if nbf is None else base + nbf,
        iat=... if iat is None else base + iat,
    )
    token = rsa_key.sign(claims)
    verifier.verify(token)
    entry = verifier._engine.tokens.get(token)  # type: ignore[union-attr]
    assert entry is not None
    assert entry.not_before == (expected if expected == -math.inf else base + expected)
