"""Stytch's action:resource scope rule."""

from __future__ import annotations

import pytest

from m2m_guard import InvalidClaimError, M2MClaims
from m2m_guard._sansio.scopes import ScopeSet, normalize_scopes, parse_scope_claim


@pytest.mark.parametrize(
    ("granted", "required", "ok"),
    [
        (["read:users"], "read:users", True),
        (["read:*"], "read:users", True),
        (["read:*"], "read:*", True),
        (["read:*"], "write:users", False),
        (["*:users"], "read:users", False),
        (["*"], "read:users", False),
        (["*"], "*", True),
        (["read:users"], "read:*", False),
        (["read:users"], "Read:users", False),
        (["read"], "read", True),
        # All three Stytch SDKs: a granted action:* covers a required bare action.
        (["read:*"], "read", True),
        (["read:*"], "readx", False),
        (["read:*"], "write", False),
        (["*:*"], "*", False),
        (["read"], "read:users", False),
        (["a:*"], "a:b:c", True),
        (["a:b:*"], "a:b:c", False),
        (["a:b:c"], "a:b:c", True),
        ([":*"], ":x", True),
        ([], "read:users", False),
    ],
)
def test_scope_matching_follows_stytch_rule(granted: list[str], required: str, ok: bool) -> None:
    """action:* covers action:<x> and bare action; no action wildcard; * only matches *."""
    assert ScopeSet(granted).satisfies(required) is ok


def test_all_of_and_any_of() -> None:
    """satisfies_all needs every scope, satisfies_any one of them (or none asked)."""
    scopes = ScopeSet(["read:users", "write:*"])
    assert scopes.satisfies_all(["read:users", "write:x"])
    assert not scopes.satisfies_all(["read:users", "admin:x"])
    assert scopes.satisfies_any(["admin:x", "write:y"])
    assert not scopes.satisfies_any(["admin:x"])
    assert scopes.satisfies_any([])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("read:a  write:b ", ["read:a", "write:b"]),
        ("", []),
        (["read:a", "write:b c"], ["read:a", "write:b", "c"]),
        ([], []),
        ("read:a\u00a0admin:b", ["read:a\u00a0admin:b"]),
        ("read:a\tadmin:b  x", ["read:a\tadmin:b", "x"]),
    ],
)
def test_scope_claim_is_a_string_or_list(value: object, expected: list[str]) -> None:
    """Space-separated strings and lists both work; empty entries are dropped.

    Only a space separates scopes (RFC 6749 §3.3): NBSP or a tab stays inside one.
    """
    assert parse_scope_claim("scope", value) == expected


@pytest.mark.parametrize("value", [42, None, {"a": 1}, ["a", 1], True, [["a"]]])
def test_scope_claim_of_odd_type_is_rejected(value: object) -> None:
    """A scope claim that is neither a string nor a list of strings makes the token invalid."""
    with pytest.raises(InvalidClaimError) as info:
        parse_scope_claim("scp", value)
    assert info.value.claim == "scp"


def test_normalize_scopes_splits_and_dedupes() -> None:
    """Required scopes may be given as one string or an iterable of strings."""
    assert normalize_scopes("a b a") == ("a", "b")
    assert normalize_scopes(["a", "b c", "a"]) == ("a", "b", "c")
    with pytest.raises(TypeError):
        normalize_scopes([1])  # type: ignore[list-item]


def test_claims_has_scopes() -> None:
    """M2MClaims.has_scopes applies the same rule, all-of by default."""
    claims = M2MClaims(client_id="c", scopes=("read:*", "write:users"))
    assert claims.has_scopes("read:users", "write:users")
    assert claims.has_scopes("read:users write:users")
    assert not claims.has_scopes("read:users", "admin:users")
    assert claims.has_scopes("admin:users", "write:users", any_of=True)
    assert not claims.has_scopes("admin:users", any_of=True)
