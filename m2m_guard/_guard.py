"""What every integration decides the same way, so adapters only translate.

A ``Guard`` holds one route's (or one middleware's) requirements: the
verifier, required scopes, excluded paths, whether anonymous requests may
pass, the realm, and the route's narrower rules (``RouteRules``: audience,
issuer, ``max_token_age``, checks; checked against the verifier's when the
guard is built, applied on every request, cache hit or not). Adapters hand
it the ``Authorization`` header values and turn an ``M2MGuardError`` into
their framework's response with
``error_response`` — the same status, headers and JSON body everywhere.

Claims verified earlier in the same request (by a middleware, a blueprint
guard, another dependency) are reused only by a guard with the *same*
verifier object: every integration stores the verifier that produced the
claims next to them (``VERIFIED_BY_KEY``), and ``Guard.reuse`` hands them
back, scopes checked, only when it is this guard's verifier. A route with a
verifier of its own (another audience, issuer, ``max_token_age``, strict
mode …) verifies the token again; its token cache keeps that cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterable, Sequence
from typing import cast

from ._base import VerifierBase
from ._paths import PathMatcher
from ._resource import ProtectedResource
from ._responses import ErrorRenderer, ErrorResponse, error_response, set_error_renderer
from ._sansio.checks import Check
from ._sansio.claims import M2MClaims
from ._sansio.engine import check_scopes
from ._sansio.errors import ConfigurationError, M2MGuardError
from ._sansio.location import token_location
from ._sansio.request import RequestContext
from ._sansio.rules import RouteRules, route_rules
from ._sansio.scopes import normalize_scopes
from ._types import TokenVerifier

__all__ = [
    "VERIFIED_BY_KEY",
    "ErrorRenderer",
    "ErrorResponse",
    "Guard",
    "PathMatcher",
    "error_response",
    "set_error_renderer",
]

logger = logging.getLogger("m2m_guard")

#: Where an integration records which verifier produced the claims it stored
#: (next to them: in ``scope["state"]``, in the WSGI environ).
VERIFIED_BY_KEY = "m2m_guard.verified_by"


class Guard:
    """The authentication decision of one middleware or one route."""

    __slots__ = (
        "_hit",
        "_with_path",
        "any_scopes",
        "exclude",
        "location",
        "needs_request",
        "optional",
        "realm",
        "required_scopes",
        "resource",
        "rules",
        "verifier",
    )

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        required_scopes: str | Iterable[str] = (),
        any_scopes: str | Iterable[str] = (),
        exclude_paths: Iterable[str] = (),
        optional: bool = False,
        realm: str = "api",
        resource_metadata: ProtectedResource | None = None,
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        max_token_age: float | None = None,
        checks: Iterable[Check] | None = None,
        token_header: str | None = None,
        token_cookie: str | None = None,
    ) -> None:
        if not isinstance(verifier, TokenVerifier):
            raise ConfigurationError(
                "verifier must be an m2m_guard.Verifier (or Verifier.combine(...))"
            )
        self.verifier = verifier
        # The package's verifiers report the request path in their events;
        # another TokenVerifier is called as its protocol says.
        self._with_path = isinstance(verifier, VerifierBase)
        #: the route's narrower rules (``audience``, ``issuer``,
        #: ``max_token_age``, ``checks``), or ``None``
        self.rules = self._rules(audience, issuer, max_token_age, checks)
        #: where the token is read instead of ``Authorization`` (``None``: there)
        self.location = token_location(token_header, token_cookie)
        #: whether adapters must build a ``RequestContext`` for ``check``
        #: (the verifier's or the route's checks, or the location, look at
        #: it); read once, here
        self.needs_request = (
            getattr(verifier, "needs_request", False) is True
            or bool(self.rules is not None and self.rules.checks)
            or self.location is not None
        )
        # The fast lane without a coroutine (``cached``), where the sync hit
        # decides alone: no token location to read first, no async check.
        self._hit = (
            cast(VerifierBase, verifier)._hit
            if self._with_path and self.location is None and self.synchronous
            else None
        )
        self.required_scopes = normalize_scopes(required_scopes)
        self.any_scopes = normalize_scopes(any_scopes)
        self.exclude = PathMatcher(exclude_paths)
        self.optional = optional
        self.realm = realm
        if resource_metadata is not None and not isinstance(resource_metadata, ProtectedResource):
            raise ConfigurationError("resource_metadata must be an m2m_guard.ProtectedResource")
        #: RFC 9728 metadata the middleware serves and its challenges point to
        self.resource = resource_metadata

    def _rules(
        self,
        audience: str | Iterable[str] | None,
        issuer: str | Iterable[str] | None,
        max_token_age: float | None,
        checks: Iterable[Check] | None,
    ) -> RouteRules | None:
        if audience is None and issuer is None and max_token_age is None and checks is None:
            return None
        verifier = self.verifier
        if not isinstance(verifier, VerifierBase):
            raise ConfigurationError(
                "a route's audience, issuer, max_token_age and checks need an "
                "m2m_guard.Verifier (or Verifier.combine(...))"
            )
        issuers, audiences, max_age = verifier.accepted
        return route_rules(
            audience=audience,
            issuer=issuer,
            max_token_age=max_token_age,
            checks=checks,
            accepted_audiences=audiences,
            accepted_issuers=issuers,
            verifier_max_token_age=max_age,
        )

    @property
    def synchronous(self) -> bool:
        """Whether every check of the verifier and the route is a plain
        function (a sync integration can run them all)."""
        verifier = self.verifier
        if isinstance(verifier, VerifierBase) and not verifier._sync_hits:
            return False
        return self.rules is None or not self.rules.asynchronous

    def require_sync(self, where: str) -> None:
        """Refuse, at construction, async checks on a sync integration (``where``).

        Raises:
            ConfigurationError: a check of the verifier or the route is ``async``.
        """
        if not self.synchronous:
            raise ConfigurationError(
                f"{where} runs checks synchronously: an async def check needs an "
                "ASGI integration (or make the check a plain function)"
            )

    def reuse(self, claims: M2MClaims | None, verified_by: object) -> M2MClaims | None:
        """``claims`` verified earlier in this request, scopes checked, when
        ``verified_by`` (the verifier that produced them) is this guard's own
        verifier and the guard adds no rules of its own; ``None`` otherwise:
        then ``check`` the token again (a token-cache hit, its rules re-checked).

        Raises:
            InsufficientScopeError: the reused claims lack a required scope.
        """
        if claims is None or verified_by is not self.verifier or self.rules is not None:
            return None
        check_scopes(claims, self.required_scopes, self.any_scopes)
        return claims

    def cached(
        self,
        authorization: Sequence[str],
        path: str | None = None,
        request: RequestContext | None = None,
    ) -> M2MClaims | None:
        """The fast lane's first step, without a coroutine: the claims when
        ``authorization`` is one ``Bearer <token>`` value of a token the
        verifier accepted before and that still holds (the route's rules and
        the checks run with ``request``, scopes checked, the outcome
        reported); ``None``: call ``check`` or ``check_async``.

        An async adapter calls this first, so a warm request creates no
        coroutine for its verification.

        Raises:
            M2MGuardError: a rule, a check or the scopes refuse the cached token.
        """
        hit = self._hit
        if hit is None or len(authorization) != 1:
            return None
        return hit(
            authorization[0], self.required_scopes, self.any_scopes, path, request, self.rules
        )

    def check(
        self,
        authorization: Sequence[str],
        path: str | None = None,
        request: RequestContext | None = None,
    ) -> M2MClaims | None:
        """Verify the request's ``Authorization`` values; ``None`` if anonymous.

        The verifier's fast lane (``verify_authorization``): a token it
        verified before costs a dictionary lookup, and reports its event,
        which carries ``path`` (the request path) when the adapter knows it.
        ``request`` is the request's ``RequestContext``: adapters build it
        only when ``needs_request`` is true.

        Raises:
            M2MGuardError: render it with ``error_response``.
        """
        if self.location is not None:
            authorization = self._located(authorization, request, path)
        if not self._with_path:
            return self._foreign(authorization, request)
        return cast(VerifierBase, self.verifier).verify_authorization(
            authorization,
            self.required_scopes,
            self.any_scopes,
            optional=self.optional,
            path=path,
            request=request,
            rules=self.rules,
        )

    def check_async(
        self,
        authorization: Sequence[str],
        path: str | None = None,
        request: RequestContext | None = None,
    ) -> Awaitable[M2MClaims | None]:
        """Like ``check``, without blocking the event loop on key fetches: await it.

        (The verifier's coroutine itself, so the warm path awaits just one.)
        """
        if self.location is not None:
            try:
                authorization = self._located(authorization, request, path)
            except M2MGuardError as exc:
                return _raising(exc)
        if not self._with_path:
            return self._foreign_async(authorization, request)
        return cast(VerifierBase, self.verifier).verify_authorization_async(
            authorization,
            self.required_scopes,
            self.any_scopes,
            optional=self.optional,
            path=path,
            request=request,
            rules=self.rules,
        )

    def _located(
        self, authorization: Sequence[str], request: RequestContext | None, path: str | None
    ) -> Sequence[str]:
        location = self.location
        assert location is not None
        try:
            return location.credentials(authorization, request)
        except M2MGuardError as exc:
            if isinstance(self.verifier, VerifierBase):
                self.verifier._failed(exc, path)  # reported like every refusal
            raise

    # Another TokenVerifier is called as its protocol says: ``request=`` only
    # when it declared ``needs_request`` (older verifiers do not take it).

    def _foreign(
        self, authorization: Sequence[str], request: RequestContext | None
    ) -> M2MClaims | None:
        verifier = self.verifier
        if request is None or not self.needs_request:
            return verifier.verify_authorization(
                authorization, self.required_scopes, self.any_scopes, optional=self.optional
            )
        return verifier.verify_authorization(
            authorization,
            self.required_scopes,
            self.any_scopes,
            optional=self.optional,
            request=request,
        )

    def _foreign_async(
        self, authorization: Sequence[str], request: RequestContext | None
    ) -> Awaitable[M2MClaims | None]:
        verifier = self.verifier
        if request is None or not self.needs_request:
            return verifier.verify_authorization_async(
                authorization, self.required_scopes, self.any_scopes, optional=self.optional
            )
        return verifier.verify_authorization_async(
            authorization,
            self.required_scopes,
            self.any_scopes,
            optional=self.optional,
            request=request,
        )

    def error_response(self, exc: M2MGuardError) -> ErrorResponse:
        """The RFC 6750 answer for ``exc``."""
        metadata = self.resource.url if self.resource is not None else None
        return error_response(exc, self.realm, resource_metadata=metadata)

    def metadata_response(self, method: str, path: str) -> ErrorResponse | None:
        """The RFC 9728 document, when this request asks for it; else ``None``.

        (An ``ErrorResponse`` with status 200: the same shape serves both.)
        """
        resource = self.resource
        if resource is None or path != resource.path or method not in ("GET", "HEAD"):
            return None
        body = resource.body()
        headers = (
            ("content-type", "application/json"),
            ("content-length", str(len(body))),
            ("cache-control", "max-age=3600"),
        )
        return ErrorResponse(200, headers, b"" if method == "HEAD" else body)


async def _raising(exc: M2MGuardError) -> M2MClaims | None:
    raise exc
