"""The Flask extension's start-up: where its verifier comes from, whether it
needs keys before the first request, how views are found, and the rules and
per-application state its guards are built from (no Flask import)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ._base import VerifierBase
from ._guard import Guard
from ._sansio.checks import Check, as_checks
from ._sansio.errors import ConfigurationError, KeysUnavailableError
from ._settings.environment import ELSEWHERE, read_bool, settings_from_mapping
from ._types import TokenVerifier
from ._verifier import build_verifier

__all__ = [
    "Rule",
    "State",
    "configured_verifier",
    "misplaced_decorator",
    "require_keys",
    "rule_of",
    "unwrapped",
    "wants_keys",
]

PREFIX = "M2M_GUARD_"
REQUIRE_KEYS = PREFIX + "REQUIRE_KEYS_AT_STARTUP"


def configures(mapping: Mapping[str, Any]) -> bool:
    """Whether ``mapping`` holds any ``M2M_GUARD_*`` setting of the verifier."""
    return any(
        isinstance(key, str)
        and key.startswith(PREFIX)
        and key[len(PREFIX) :] not in ELSEWHERE
        and value is not None
        and value != ""
        for key, value in mapping.items()
    )


def unwrapped(view: object) -> Iterator[object]:
    """``view`` and every function it wraps (``__wrapped__``), bounded."""
    for _ in range(32):
        yield view
        view = getattr(view, "__wrapped__", None)
        if view is None:
            return


def misplaced_decorator(views: Iterable[object], decorated: Iterable[object]) -> object | None:
    """The first of ``decorated`` (functions a guard decorated or marked)
    placed above ``@app.route``: not reached from any registered view, yet
    wrapping one (so the route registered the undecorated function)."""
    views = list(views)
    direct = {id(view) for view in views}
    reached = {id(v) for view in views for v in unwrapped(view)}
    for function in decorated:
        if id(function) in reached:
            continue  # the registered view, or wrapped by it
        # A function it wraps is itself the registered view: it was above the route.
        if any(id(v) in direct for v in list(unwrapped(function))[1:]):
            return function
    return None


def configured_verifier(config: Mapping[str, Any]) -> TokenVerifier:
    """The verifier of ``app.config``'s ``M2M_GUARD_*``, else of the environment."""
    if configures(config):
        source: Mapping[str, Any] = config
    elif configures(os.environ):
        source = os.environ
    else:
        raise ConfigurationError(
            "M2MGuard has no verifier: pass verifier=, or set M2M_GUARD_STYTCH_PROJECT_ID, "
            "or M2M_GUARD_ISSUER and M2M_GUARD_AUDIENCE, in app.config or in the "
            "environment variables"
        )
    return build_verifier(settings_from_mapping(source, PREFIX, {}))


def wants_keys(config: Mapping[str, Any], require: bool | None) -> bool:
    """``require``, else ``M2M_GUARD_REQUIRE_KEYS_AT_STARTUP`` of ``config``, then
    of the environment; off by default."""
    if require is not None:
        return bool(require)
    for source in (config, os.environ):
        value = source.get(REQUIRE_KEYS)
        if value is not None and value != "":
            return read_bool(REQUIRE_KEYS, value)
    return False


def require_keys(verifier: TokenVerifier) -> None:
    """Fetch the keys now; none usable is a ``KeysUnavailableError`` with the reason."""
    if isinstance(verifier, VerifierBase):
        verifier.warm_up(strict=True)
    elif not verifier.warm_up():
        raise KeysUnavailableError("no usable keys at start-up (see the m2m_guard log)")


@dataclass(frozen=True, eq=False)
class Rule:
    """What one decorator or one protected blueprint requires.

    Compared by identity (each decorator makes its own): finding its guard
    on every request then costs no field-by-field hashing.
    """

    required_scopes: tuple[str, ...] = ()
    any_scopes: tuple[str, ...] = ()
    optional: bool = False
    exclude_paths: tuple[str, ...] = ()
    audience: str | tuple[str, ...] | None = None
    issuer: str | tuple[str, ...] | None = None
    max_token_age: float | None = None
    checks: tuple[Check, ...] | None = None
    token_header: str | None = None
    token_cookie: str | None = None


_RULE_FIELDS = tuple(f.name for f in fields(Rule))


@dataclass
class State:
    """``app.extensions["m2m_guard"]``: the verifier of one application."""

    verifier: TokenVerifier
    realm: str
    guards: dict[Rule, Guard] = field(default_factory=dict)
    #: the app's own static view (public under ``protect_all``), if any
    static_view: object = None
    #: whether the decorators' order was checked (on the first request)
    checked: bool = False

    def guard(self, rule: Rule) -> Guard:
        """The ``Guard`` of ``rule`` in this application, built once (a rule
        wider than the verifier's, or an ``async def`` check, raises here)."""
        guard = self.guards.get(rule)
        if guard is None:
            fields = {name: getattr(rule, name) for name in _RULE_FIELDS}
            guard = Guard(self.verifier, realm=self.realm, **fields)
            guard.require_sync("Flask's M2MGuard")
            self.guards[rule] = guard
        return guard


def rule_of(
    required_scopes: tuple[str, ...] = (),
    any_scopes: tuple[str, ...] = (),
    optional: bool = False,
    exclude_paths: tuple[str, ...] = (),
    *,
    audience: str | Iterable[str] | None = None,
    issuer: str | Iterable[str] | None = None,
    max_token_age: float | None = None,
    checks: Iterable[Check] | None = None,
    token_header: str | None = None,
    token_cookie: str | None = None,
) -> Rule:
    """A ``Rule``, its collections made tuples (it is kept, and read per app)."""
    return Rule(
        required_scopes,
        any_scopes,
        optional,
        exclude_paths,
        audience if audience is None or isinstance(audience, str) else tuple(audience),
        issuer if issuer is None or isinstance(issuer, str) else tuple(issuer),
        max_token_age,
        as_checks(checks),  # a tuple, read by the guard of every application
        token_header,
        token_cookie,
    )
