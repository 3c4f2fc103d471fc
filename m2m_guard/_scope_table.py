"""Scopes by name: one ``Guard`` per distinct requirement, chosen by a
method's or a route's name (gRPC full method names, API Gateway ARNs).

A key of the table is a name, matched exactly, or a pattern in which each
``*`` stands for any run of characters (``/`` included, as in IAM resource
ARNs). An exact name wins; of two patterns that match, the one with more
literal characters wins (the first given, on a tie). Names the table does
not match need ``default``. Adapters validate their keys' shape first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._guard import Guard
from ._sansio.errors import ConfigurationError
from ._sansio.scopes import normalize_scopes
from ._types import TokenVerifier

__all__ = ["RouteScopes", "ScopeTable", "Scopes", "check_table"]


@dataclass(frozen=True)
class RouteScopes:
    """The scopes of one method or route (or a pattern of them): all of
    ``required`` and, when ``any_of`` is given, at least one of those."""

    required: str | Iterable[str] = ()
    any_of: str | Iterable[str] = ()


#: what a name needs: a scope, several (all required), or ``RouteScopes``
Scopes = str | Iterable[str] | RouteScopes

_Key = tuple[tuple[str, ...], tuple[str, ...]]

#: names remembered with their guard before the memory starts over
_MAX_REMEMBERED = 1024


def _scopes(value: Scopes, where: str) -> _Key:
    try:
        if isinstance(value, RouteScopes):
            return normalize_scopes(value.required), normalize_scopes(value.any_of)
        return normalize_scopes(value), ()
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where}: invalid scopes {value!r}") from exc


def check_table(
    table: Mapping[str, Scopes], default: Scopes, validate: Callable[[object], str]
) -> None:
    """Validate a table before its verifier exists (as ``ScopeTable`` would).

    Raises:
        ConfigurationError: not a mapping, a name ``validate`` refuses, invalid scopes.
    """
    if not isinstance(table, Mapping):
        raise ConfigurationError("the scopes must be a mapping of names to scopes")
    _scopes(default, "default")
    for name, value in table.items():
        _scopes(value, validate(name))


class ScopeTable:
    """The guards of a table of names (see the module docstring)."""

    __slots__ = ("_exact", "_patterns", "_remembered", "default", "guards")

    def __init__(
        self,
        verifier: TokenVerifier,
        table: Mapping[str, Scopes],
        default: Scopes,
        options: Mapping[str, Any],
        validate: Callable[[object], str],
    ) -> None:
        if not isinstance(table, Mapping):
            raise ConfigurationError("the scopes must be a mapping of names to scopes")
        built: dict[_Key, Guard] = {}

        def guard(scopes: _Key) -> Guard:
            if scopes not in built:
                required, any_of = scopes
                built[scopes] = Guard(
                    verifier, required_scopes=required, any_scopes=any_of, **options
                )
            return built[scopes]

        #: the guard of every name the table does not match
        self.default = guard(_scopes(default, "default"))
        exact: dict[str, Guard] = {}
        patterns: list[tuple[int, re.Pattern[str], Guard]] = []
        for name, value in table.items():
            chosen = guard(_scopes(value, validate(name)))
            if "*" in name:
                regex = ".*".join(re.escape(part) for part in name.split("*"))
                patterns.append((len(name) - name.count("*"), re.compile(regex, re.S), chosen))
            else:
                exact[name] = chosen
        patterns.sort(key=lambda item: item[0], reverse=True)
        self._exact = exact
        self._patterns = tuple((regex, chosen) for _, regex, chosen in patterns)
        self._remembered: dict[str, Guard] = {}
        #: every distinct guard of the table
        self.guards = tuple(built.values())

    def resolve(self, name: str) -> Guard:
        """The guard of ``name``."""
        chosen = self._exact.get(name)
        if chosen is not None:
            return chosen
        for regex, candidate in self._patterns:
            if regex.fullmatch(name):
                return candidate
        return self.default

    def guard_for(self, name: str) -> Guard:
        """``resolve``, remembered (a bounded memory: names may come from callers)."""
        remembered = self._remembered
        chosen = remembered.get(name)
        if chosen is None:
            if len(remembered) >= _MAX_REMEMBERED:
                remembered.clear()
            chosen = remembered[name] = self.resolve(name)
        return chosen
