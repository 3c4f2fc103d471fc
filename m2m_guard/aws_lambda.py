"""AWS API Gateway Lambda authorizers: HTTP API (payload 2.0) and REST API.

    from m2m_guard import Verifier
    from m2m_guard.aws_lambda import lambda_authorizer

    handler = lambda_authorizer(
        Verifier.from_env(),
        routes={"GET/orders*": "read:orders", "POST/orders": "write:orders"},
        context_claims=["tenant"],
    )

The module runs once per execution environment: the verifier is built
there (or on the first invocation, from a factory), and its key and token
caches serve every warm invocation after. ``handler(event, context)`` is
synchronous, as Lambda's Python runtime calls it.

What the caller of the API sees (API Gateway, not the authorizer, answers):

* REST API, ``TOKEN`` or ``REQUEST`` authorizer: a missing, malformed or
  invalid token raises ``Exception("Unauthorized")``: **401**; a missing
  scope returns a ``Deny`` policy: **403**; a token that passes returns an
  ``Allow`` policy for the call's ARN, ``principalId`` = the client id,
  ``context`` = ``client_id``, ``scopes`` and the ``context_claims``.
* HTTP API, simple responses: ``isAuthorized: false`` for every refusal:
  **403** (API Gateway answers a *missing* identity source with 401 before
  invoking the authorizer); ``isAuthorized: true`` with the same ``context``.
  With ``simple_responses=False`` (``enableSimpleResponses`` off), HTTP API
  events get IAM policies instead, every refusal a ``Deny``: **403**.
  (HTTP API payload format 1.0 events have REST's ``REQUEST`` shape.)
* Keys unavailable (the issuer's JWKS unreachable): ``AuthorizerUnavailable``
  is raised, so the refusal is not cached; API Gateway answers **500**
  (REST's ``AUTHORIZER_FAILURE`` gateway response can be set to 503 with a
  ``Retry-After`` header).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._guard import Guard
from ._lambda_events import HTTP_API, Call, allow, deny, parse_event
from ._sansio.checks import Check
from ._sansio.claims import M2MClaims
from ._sansio.errors import (
    ConfigurationError,
    InsufficientScopeError,
    KeysUnavailableError,
    M2MGuardError,
)
from ._scope_table import RouteScopes, Scopes, ScopeTable, check_table
from ._types import TokenVerifier

__all__ = ["AuthorizerUnavailable", "LambdaAuthorizer", "RouteScopes", "lambda_authorizer"]

logger = logging.getLogger("m2m_guard.aws_lambda")


class AuthorizerUnavailable(RuntimeError):
    """Raised when a call cannot be decided now (keys unavailable, a failing
    check): API Gateway answers 500 and does not cache the outcome."""

    def __init__(self, description: str, retry_after: int) -> None:
        super().__init__(f"{description} Retry after {retry_after} s.")
        self.retry_after = retry_after


#: what every allowed call's context holds, from the verified claims
_CONTEXT_KEYS = frozenset({"client_id", "scopes"})


def _route_pattern(name: object) -> str:
    if not isinstance(name, str) or "/" not in name or name.startswith("/"):
        raise ConfigurationError(
            f"routes are named '{{METHOD}}/{{path}}' as in the ARN ('GET/orders/*', "
            f"'*/admin/*'): {name!r}"
        )
    return name


class LambdaAuthorizer:
    """The handler ``lambda_authorizer`` returns: ``handler(event, context)``."""

    def __init__(
        self,
        verifier: TokenVerifier | Callable[[], TokenVerifier],
        *,
        routes: Mapping[str, Scopes] | None = None,
        default: Scopes = (),
        context_claims: Iterable[str] = (),
        simple_responses: bool = True,
        realm: str = "api",
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        max_token_age: float | None = None,
        checks: Iterable[Check] | None = None,
    ) -> None:
        #: whether HTTP API events get simple responses (else IAM policies)
        self.simple_responses = bool(simple_responses)
        self._options: dict[str, Any] = {
            "realm": realm,
            "audience": audience,
            "issuer": issuer,
            "max_token_age": max_token_age,
            "checks": checks,
        }
        self._routes: Mapping[str, Scopes] = routes or {}
        self._default = default
        selected = tuple([context_claims] if isinstance(context_claims, str) else context_claims)
        for name in selected:
            if not isinstance(name, str) or not name or name in _CONTEXT_KEYS:
                raise ConfigurationError(
                    f"context_claims: {name!r} is not a claim name the context can carry "
                    f"(client_id and scopes are always there)"
                )
        #: the claims passed on in the ``context`` next to ``client_id`` and ``scopes``
        self.context_claims = selected
        self.realm = realm
        self._table: ScopeTable | None = None
        self._factory: Callable[[], TokenVerifier] | None = None
        if isinstance(verifier, TokenVerifier):
            self._table = self._build(verifier)
        elif callable(verifier):
            check_table(self._routes, default, _route_pattern)  # errors now, not at first call
            self._factory = verifier  # built on the first invocation, then kept
        else:
            raise ConfigurationError("verifier must be an m2m_guard.Verifier or a factory of one")

    def _build(self, verifier: TokenVerifier) -> ScopeTable:
        table = ScopeTable(verifier, self._routes, self._default, self._options, _route_pattern)
        table.default.require_sync("m2m_guard.aws_lambda")
        return table

    @property
    def table(self) -> ScopeTable:
        """The routes' guards (the verifier built now if it came as a factory)."""
        table = self._table
        if table is None:
            assert self._factory is not None
            table = self._table = self._build(self._factory())
        return table

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        """Authorize the call ``event`` describes (``context``: Lambda's, unused).

        Raises:
            Exception: ``Exception("Unauthorized")`` (REST API: 401).
            AuthorizerUnavailable: the call cannot be decided now (500).
        """
        table = self.table
        try:
            call = parse_event(event)
        except M2MGuardError as exc:
            logger.warning("not an authorizer event: %s", exc.description)
            raise Exception("Unauthorized") from None
        guard = table.guard_for(call.route)
        simple = self.simple_responses
        try:
            claims = self._check(guard, call)
        except InsufficientScopeError as exc:
            return deny(call, exc, self.realm, simple)
        except KeysUnavailableError as exc:
            raise AuthorizerUnavailable(exc.description, exc.retry_after) from None
        except M2MGuardError as exc:
            if exc.status_code >= 500:
                raise AuthorizerUnavailable(exc.description, 5) from None
            if call.kind == HTTP_API:
                return deny(call, exc, self.realm, simple)
            raise Exception("Unauthorized") from None
        return allow(call, claims, self.context_claims, simple)

    @staticmethod
    def _check(guard: Guard, call: Call) -> M2MClaims | None:
        request = call.request if guard.needs_request else None
        claims = guard.cached(call.authorization, call.route, request)
        if claims is None:
            claims = guard.check(call.authorization, call.route, request)
        return claims


def lambda_authorizer(
    verifier: TokenVerifier | Callable[[], TokenVerifier],
    *,
    routes: Mapping[str, Scopes] | None = None,
    default: Scopes = (),
    context_claims: Iterable[str] = (),
    simple_responses: bool = True,
    realm: str = "api",
    audience: str | Iterable[str] | None = None,
    issuer: str | Iterable[str] | None = None,
    max_token_age: float | None = None,
    checks: Iterable[Check] | None = None,
) -> LambdaAuthorizer:
    """A Lambda authorizer handler for API Gateway (HTTP API and REST API).

    ``verifier``: a verifier, or a function building one on the first
    invocation (kept for the execution environment's life). ``routes`` maps
    the ``{METHOD}/{path}`` part of the call's ARN, exactly or with ``*``
    wildcards (``"GET/orders/*"``, ``"*/admin/*"``), to the scopes it needs
    (a scope, several, or ``RouteScopes(required=…, any_of=…)``); an exact
    name wins, then the pattern with the most literal characters; other
    routes need ``default``. ``context_claims``: the claims passed on to the
    integration in the authorizer's ``context`` (with ``client_id`` and
    ``scopes``). ``simple_responses``: answer HTTP API (payload 2.0) events
    with simple responses, as when the authorizer's ``enableSimpleResponses``
    is on; off, they get IAM policies for the call's ``routeArn`` (every
    refusal a ``Deny``: 403). The ``audience``, ``issuer``, ``max_token_age`` and
    ``checks`` of a route narrow the verifier's for every route.

    Raises:
        ConfigurationError: an invalid route name or scopes, an async check.
    """
    return LambdaAuthorizer(
        verifier,
        routes=routes,
        default=default,
        context_claims=context_claims,
        simple_responses=simple_responses,
        realm=realm,
        audience=audience,
        issuer=issuer,
        max_token_age=max_token_age,
        checks=checks,
    )
