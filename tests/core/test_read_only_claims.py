"""Claims are read-only all the way down: one handler cannot change what the next sees.

The token cache hands the same claim objects to every request carrying the
same token, and decoded headers are memoised across tokens; nested lists
and objects must therefore refuse mutation, while still being a ``list``
and a ``dict`` to code that checks types or serialises them.
"""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from typing import Any

import pytest

from m2m_guard import M2MClaims, Verifier
from m2m_guard._sansio.frozen import FrozenDict, FrozenList, freeze
from m2m_guard._sansio.jws import parse_token
from tests.support.clock import FakeClock
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims

NESTED = {
    "roles": ["reader", ["nested"]],
    "org": {"id": 7, "teams": ["a", "b"], "meta": {"tier": "gold"}},
}

MUTATIONS: dict[str, Callable[[Any], object]] = {
    "list.append": lambda c: c["roles"].append("admin"),
    "list.extend": lambda c: c["roles"].extend(["admin"]),
    "list.insert": lambda c: c["roles"].insert(0, "admin"),
    "list.setitem": lambda c: c["roles"].__setitem__(0, "admin"),
    "list.delitem": lambda c: c["roles"].__delitem__(0),
    "list.pop": lambda c: c["roles"].pop(),
    "list.remove": lambda c: c["roles"].remove("reader"),
    "list.clear": lambda c: c["roles"].clear(),
    "list.sort": lambda c: c["roles"][1].sort(),
    "list.reverse": lambda c: c["roles"].reverse(),
    "list.iadd": lambda c: c["roles"].__iadd__(["admin"]),
    "list.imul": lambda c: c["roles"].__imul__(2),
    "nested-list.append": lambda c: c["roles"][1].append("admin"),
    "dict.setitem": lambda c: c["org"].__setitem__("id", 8),
    "dict.delitem": lambda c: c["org"].__delitem__("id"),
    "dict.update": lambda c: c["org"].update(id=8),
    "dict.setdefault": lambda c: c["org"].setdefault("admin", True),
    "dict.pop": lambda c: c["org"].pop("id"),
    "dict.popitem": lambda c: c["org"].popitem(),
    "dict.clear": lambda c: c["org"].clear(),
    "dict.ior": lambda c: c["org"].__ior__({"id": 8}),
    "deep-dict.setitem": lambda c: c["org"]["meta"].__setitem__("tier", "platinum"),
    "deep-list.append": lambda c: c["org"]["teams"].append("root"),
}


@pytest.fixture
def key() -> SigningKey:
    return SigningKey("RS256", kid="jwk-test-ro")


@pytest.fixture
def verifier(key: SigningKey, clock: FakeClock) -> Verifier:
    return Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(key), clock=clock)


@pytest.mark.parametrize("mutate", MUTATIONS.values(), ids=MUTATIONS.keys())
@pytest.mark.parametrize("view", ["claims", "custom_claims"])
def test_a_handler_cannot_change_what_the_next_request_sees(
    verifier: Verifier,
    key: SigningKey,
    clock: FakeClock,
    view: str,
    mutate: Callable[[Any], object],
) -> None:
    """Every mutating method of nested lists and dicts raises; the cached claims stay intact."""
    token = key.sign(stytch_claims(clock.now, **NESTED))
    first = verifier.verify(token)
    with pytest.raises(TypeError, match="read-only"):
        mutate(getattr(first, view))
    second = verifier.verify(token)  # a token cache hit: the same objects
    assert {name: second.custom_claims[name] for name in NESTED} == NESTED
    assert second.claims["roles"] == ["reader", ["nested"]]


def test_frozen_values_still_look_like_json(
    verifier: Verifier, key: SigningKey, clock: FakeClock
) -> None:
    """isinstance, equality, json.dumps, copies, pickling: as for plain dicts and lists."""
    claims = verifier.verify(key.sign(stytch_claims(clock.now, **NESTED))).custom_claims
    roles, org = claims["roles"], claims["org"]
    assert isinstance(roles, list)
    assert isinstance(org, dict)
    assert json.loads(json.dumps({name: claims[name] for name in NESTED})) == NESTED
    mutable = list(roles)
    mutable.append("admin")
    assert roles == ["reader", ["nested"]]
    assert copy.deepcopy(org) == NESTED["org"]
    assert pickle.loads(pickle.dumps(org)) == NESTED["org"]  # noqa: S301 - our own bytes
    assert type(pickle.loads(pickle.dumps(roles))) is FrozenList  # noqa: S301


def test_decoded_headers_are_shared_but_read_only(key: SigningKey, clock: FakeClock) -> None:
    """Two tokens with one header share the memoised dict, which refuses changes."""
    first = parse_token(key.sign(stytch_claims(clock.now, jti="1")), max_size=8192)
    second = parse_token(key.sign(stytch_claims(clock.now, jti="2")), max_size=8192)
    assert first.header is second.header
    with pytest.raises(TypeError, match="read-only"):
        first.header["alg"] = "none"  # type: ignore[index]
    with pytest.raises(TypeError, match="read-only"):
        first.header.pop("kid")  # type: ignore[attr-defined]
    assert second.header["alg"] == "RS256"


def test_claims_built_by_hand_are_frozen_too() -> None:
    """M2MClaims made directly (tests, custom verifiers) get the same protection."""
    roles = ["reader"]
    claims = M2MClaims(client_id="c", scopes=("s",), custom_claims={"roles": roles})
    with pytest.raises(TypeError):
        claims.custom_claims["roles"].append("admin")
    roles.append("admin")  # the caller's own list is copied, not captured
    assert claims.custom_claims["roles"] == ["reader"]


def test_freeze_keeps_tuples_and_scalars() -> None:
    """freeze copies containers and leaves other values alone."""
    frozen = freeze({"t": (1, [2]), "s": "x", "n": None})
    assert isinstance(frozen, FrozenDict)
    assert frozen["t"] == (1, [2])
    assert isinstance(frozen["t"][1], FrozenList)
    assert freeze(frozen) is frozen


def test_repeated_values_in_arrays_are_shared_between_cached_tokens(
    verifier: Verifier, key: SigningKey, clock: FakeClock
) -> None:
    """Every token of a project repeats its aud: cached tokens keep one copy, still read-only."""
    first = verifier.verify(key.sign(stytch_claims(clock.now, jti="a")))
    second = verifier.verify(key.sign(stytch_claims(clock.now, jti="b")))
    assert isinstance(first.claims["aud"], FrozenList)
    assert first.claims["aud"][0] is second.claims["aud"][0]
