"""Per-route rules: one route narrows its verifier's rules, never widens them.

A route (a Starlette ``require_scopes``, a FastAPI ``M2MBearer``, a Flask
decorator …) may accept fewer audiences or issuers than its verifier, want
younger tokens (``max_token_age``), or add its own checks, without a second
verifier: the verifier's JWKS and token caches serve every route, and a
token-cache hit is re-checked against the route's rules each time. Anything
the verifier would not accept (an audience or issuer it does not know, an
older ``max_token_age``) is a ``ConfigurationError`` when the route is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .checks import Check, Checks, compile_checks
from .claims import M2MClaims
from .errors import ConfigurationError, InvalidAudienceError, InvalidIssuerError

__all__ = ["RouteRules", "route_rules"]


@dataclass(frozen=True, slots=True)
class RouteRules:
    """What one route adds to its verifier's rules (built by ``route_rules``).

    Attributes:
        audiences: the accepted audiences (a subset of the verifier's), or
            ``None``: the verifier's.
        issuers: the accepted issuers (a subset of the verifier's), or ``None``.
        max_token_age: the route's limit (below the verifier's), or ``None``.
        checks: the route's own checks; all run on every request (pure or not).
    """

    audiences: frozenset[str] | None = None
    issuers: frozenset[str] | None = None
    max_token_age: float | None = None
    checks: tuple[Check, ...] = ()
    #: whether one of ``checks`` is an ``async def``
    asynchronous: bool = False

    def check_claims(self, claims: M2MClaims) -> None:
        """Refuse verified claims outside the route's issuers or audiences."""
        if self.issuers is not None and claims.issuer not in self.issuers:
            raise InvalidIssuerError("The token's issuer is not accepted on this route.")
        if self.audiences is not None and self.audiences.isdisjoint(claims.audience):
            raise InvalidAudienceError("The token's audience is not accepted on this route.")


def route_rules(
    *,
    audience: str | Iterable[str] | None,
    issuer: str | Iterable[str] | None,
    max_token_age: float | None,
    checks: Iterable[Check] | None,
    accepted_audiences: frozenset[str],
    accepted_issuers: frozenset[str],
    verifier_max_token_age: float | None,
) -> RouteRules | None:
    """The route's rules, checked against its verifier's; ``None`` when the
    route adds nothing.

    Raises:
        ConfigurationError: a setting would widen the verifier's rules, or is malformed.
    """
    audiences = _subset("audience", audience, accepted_audiences)
    issuers = _subset("issuer", issuer, accepted_issuers)
    if max_token_age is not None:
        if isinstance(max_token_age, bool) or not isinstance(max_token_age, int | float):
            raise ConfigurationError.of("max_token_age", "must be a number of seconds")
        if not 0 < max_token_age < float("inf"):
            raise ConfigurationError.of("max_token_age", "must be positive")
        if verifier_max_token_age is not None and max_token_age > verifier_max_token_age:
            raise ConfigurationError.of(
                "max_token_age",
                f"may only lower the verifier's ({verifier_max_token_age:g} s) on a route",
            )
    compiled = compile_checks(checks)
    if audiences is None and issuers is None and max_token_age is None and compiled is None:
        return None
    own = () if compiled is None else compiled.pure + compiled.each
    return RouteRules(
        audiences,
        issuers,
        None if max_token_age is None else float(max_token_age),
        own,
        _asynchronous(compiled),
    )


def _asynchronous(compiled: Checks | None) -> bool:
    return compiled is not None and compiled.asynchronous


def _subset(
    setting: str, value: str | Iterable[str] | None, accepted: frozenset[str]
) -> frozenset[str] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else list(value)
    if not values or not all(isinstance(v, str) and v for v in values):
        raise ConfigurationError.of(setting, "must be a non-empty string or list of strings")
    widened = sorted(set(values) - accepted)
    if widened:
        raise ConfigurationError.of(
            setting,
            f"{widened[0]!r} is not accepted by the route's verifier: "
            "a route can narrow its verifier's rules, never widen them",
        )
    return frozenset(values)
