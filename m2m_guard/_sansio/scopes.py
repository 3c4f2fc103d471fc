"""Scope parsing and Stytch's ``action:resource`` matching rule.

A granted scope ``action:*`` satisfies any required ``action:<resource>``
and also a required bare ``action`` (the Python SDK stores a bare scope as
resource ``-``, which ``*`` covers; the Node and Go SDKs agree). There is no
wildcard on the action side, and a bare ``*`` only satisfies a required
``*`` (stricter than the Python SDK, which lets a granted ``*:*`` cover a
required ``*``). Matching is case-sensitive. Scopes with more than one colon
are split at the first one (``a:b:c`` is action ``a``, resource ``b:c``),
as Stytch's Go SDK does; its Python and Node SDKs raise or truncate instead.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterable, Sequence

from .errors import InvalidClaimError

__all__ = ["ScopeSet", "normalize_scopes", "parse_scope_claim", "scope_tuple"]


def parse_scope_claim(name: str, value: object) -> list[str]:
    """Read a scope claim: a space-separated string or a list of strings.

    Empty entries are dropped. Any other type makes the token invalid: an
    issuer that sends ``"scope": 42`` is not one whose grants we can read.
    """
    # Interned: tokens of one client repeat the same few scope names, and
    # verified tokens stay in the token cache.
    # RFC 6749 §3.3: scopes are separated by spaces (%x20) only; any other
    # character, NBSP or a control included, belongs to a scope.
    if isinstance(value, str):
        return [sys.intern(part) for part in value.split(" ") if part]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [sys.intern(part) for item in value for part in item.split(" ") if part]
    raise InvalidClaimError(
        name, f"The token's {name!r} claim must be a string or a list of strings."
    )


def scope_tuple(name: str, value: object) -> tuple[str, ...]:
    """``parse_scope_claim`` as a tuple, order kept, duplicates dropped.

    Called for verified tokens only. The tuple of a string claim is
    remembered (bounded): every token of a client repeats the same string.
    """
    if type(value) is str:
        known = _SCOPE_STRINGS.get(value)
        if known is not None:
            return known
    parsed = tuple(dict.fromkeys(parse_scope_claim(name, value)))
    if type(value) is str:
        if len(_SCOPE_STRINGS) >= _MAX_SCOPE_STRINGS:
            _SCOPE_STRINGS.clear()
        _SCOPE_STRINGS[value] = parsed
    return parsed


_SCOPE_STRINGS: dict[str, tuple[str, ...]] = {}
_MAX_SCOPE_STRINGS = 1024


def normalize_scopes(scopes: str | Iterable[str]) -> tuple[str, ...]:
    """Turn ``"a b"`` or ``["a", "b c"]`` into ``("a", "b", "c")``, order kept."""
    if scopes == ():
        return ()
    if isinstance(scopes, str | tuple):
        # Routes ask with the same few values again and again: remember them.
        known = _NORMALIZED.get(scopes)
        if known is not None:
            return known
    normalized = _normalize(scopes)
    if isinstance(scopes, str | tuple):
        if len(_NORMALIZED) >= _MAX_NORMALIZED:
            _NORMALIZED.clear()
        _NORMALIZED[scopes] = normalized
    return normalized


_NORMALIZED: dict[str | tuple[str, ...], tuple[str, ...]] = {}
_MAX_NORMALIZED = 1024


def _normalize(scopes: str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(scopes, str):
        scopes = (scopes,)
    seen: dict[str, None] = {}
    for item in scopes:
        if not isinstance(item, str):
            raise TypeError(f"scopes must be strings, not {type(item).__name__}")
        for part in item.split():
            seen[part] = None
    return tuple(seen)


class ScopeSet:
    """The scopes a token grants, prepared for fast repeated checks."""

    __slots__ = ("_exact", "_met_all", "_met_any", "_wildcard_actions")

    def __init__(self, scopes: Sequence[str]) -> None:
        # A verified token lives in the token cache, so this stays small: the
        # claims' own tuple (cheap to search when short), a set only when long.
        unique = scopes if type(scopes) is tuple else tuple(dict.fromkeys(scopes))
        self._exact: Collection[str] = unique if len(unique) <= 16 else frozenset(unique)
        # "action:*" grants every "action:<x>"; "a:b:*" is action "a", resource "b:*".
        self._wildcard_actions = tuple(
            s[:-2] for s in unique if s.endswith(":*") and s.find(":") == len(s) - 2
        )
        # The last tuple ``satisfies_all`` / ``satisfies_any`` found met: a
        # route asks with the same (normalised, memoised) tuple object on
        # every request, and neither it nor this set ever changes, so the
        # same object is met again. An identity memo: a race only loses it.
        self._met_all: tuple[str, ...] | None = None
        self._met_any: tuple[str, ...] | None = None

    def satisfies(self, required: str) -> bool:
        """Whether one granted scope covers ``required``."""
        if required in self._exact:
            return True
        # "read:*" covers "read:users" and a bare "read", as all three Stytch
        # SDKs do; a required bare "*" is only met by a granted "*".
        action = required.partition(":")[0]
        return required != "*" and action in self._wildcard_actions

    # The two checks below run on every guarded request: ``satisfies`` is
    # spelled out in them, as plain loops (no generator, no call per scope).

    def satisfies_all(self, required: Iterable[str]) -> bool:
        """Whether every scope in ``required`` is covered."""
        if required is self._met_all:
            return True
        exact, wildcards = self._exact, self._wildcard_actions
        for scope in required:
            if scope not in exact and (
                not wildcards or scope == "*" or scope.partition(":")[0] not in wildcards
            ):
                return False
        if type(required) is tuple:
            self._met_all = required
        return True

    def satisfies_any(self, required: Iterable[str]) -> bool:
        """Whether at least one scope in ``required`` is covered.

        An empty ``required`` is satisfied: nothing was asked for.
        """
        if required is self._met_any:
            return True
        exact, wildcards = self._exact, self._wildcard_actions
        asked = False
        for scope in required:
            if scope in exact or (
                wildcards and scope != "*" and scope.partition(":")[0] in wildcards
            ):
                if type(required) is tuple:
                    self._met_any = required
                return True
            asked = True
        return not asked
