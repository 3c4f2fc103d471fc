"""What every verifier shares: the entry points, and the one place that reports.

Every way in is written here once, on the concrete verifiers' primitives:

- ``verify`` / ``verify_async``: a compact token;
- ``verify_header`` / ``verify_header_async``: the ``Authorization`` value(s);
- ``verify_authorization`` / ``verify_authorization_async``: the fast lane of
  the integrations (``Guard`` and every adapter). It takes the request's
  ``Authorization`` values and scopes normalised once (``normalize_scopes``),
  and its first step is the token-cache hit: an exact ``Bearer <token>``
  value whose token this verifier accepted before and that still holds
  (time, key) costs one dictionary lookup, no parsing, no suspension.

Custom checks (``Verifier(checks=...)``, ``_sansio/checks.py``) and a
route's rules (``RouteRules``, passed by its ``Guard`` as ``rules=``) run in
``_granted`` / ``_granted_async``: after the claims, before the scopes, on a
token-cache hit as on a full verification. The sync ``_hit`` runs sync ones;
when any of them is ``async`` (``_sync_hits`` false), the async entry points
take ``_lookup`` and ``_granted_async`` instead, which await them.

Events (``TokenVerified``, ``VerificationFailed``) are emitted by
``_granted`` and ``_failed`` (``Admission``, in ``_admission.py``) and
nowhere else, exactly once per call, to the hook of the ``IssuerVerifier``
that decided (whose token cache hit, or whom the token's issuer selects). A
refusal no issuer decided (no or malformed credentials; for a combined
verifier an unknown issuer) goes to the verifier's own ``_on_event``. So
``Verifier.combine(v)`` reports exactly what ``v`` reports.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from ._admission import Admission
from ._bound import BoundEntryPoints
from ._closing import Closing
from ._header import HeaderEntryPoints
from ._sansio.checks import Check, compile_checks
from ._sansio.claims import M2MClaims
from ._sansio.engine import Engine
from ._sansio.errors import M2MGuardError
from ._sansio.events import EventHook
from ._sansio.jwks import JWKSCache
from ._sansio.policy import ClaimsPolicy
from ._sansio.request import RequestContext
from ._sansio.rules import RouteRules

__all__ = ["IssuerVerifier", "VerifierBase"]

logger = logging.getLogger("m2m_guard")

Scopes = tuple[str, ...]


class VerifierBase(Admission, HeaderEntryPoints, BoundEntryPoints, Closing):
    """The entry points of every verifier (the ``verify_header`` pair and
    ``cached_bearer`` are ``HeaderEntryPoints``'); its checks and event
    reporting are ``Admission``'s."""

    __slots__ = ()

    #: Where this verifier reports what no issuer decided (see the module doc).
    _on_event: EventHook | None

    # -- what the concrete verifiers provide ------------------------------

    def _hit(
        self,
        header: str,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
        request: RequestContext | None = None,
        rules: RouteRules | None = None,
    ) -> M2MClaims | None:
        """The claims when ``header`` (one ``Authorization`` value) is exactly
        ``"Bearer <token>"`` of a cached, still valid token, scopes checked and
        reported; ``None``: take the full path."""
        raise NotImplementedError

    def _cached(
        self,
        token: str,
        max_token_age: float | None,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
        request: RequestContext | None = None,
        rules: RouteRules | None = None,
    ) -> M2MClaims | None:
        """Like ``_hit``, for a bare token and an optional age limit."""
        raise NotImplementedError

    def _lookup(
        self, key: str, bearer: bool, max_token_age: float | None
    ) -> tuple[IssuerVerifier, M2MClaims] | None:
        """The cached claims of ``key`` (a ``Bearer <token>`` value when
        ``bearer``, else a token) and the verifier that holds them, nothing
        checked or reported; ``None``: take the full path."""
        raise NotImplementedError

    def _issuer_verifier(self, token: str) -> IssuerVerifier:
        """The verifier that decides about ``token``; raises when there is none."""
        raise NotImplementedError

    async def _issuer_verifier_async(self, token: str) -> IssuerVerifier:
        """Like ``_issuer_verifier``, for a choice that may await (a tenant resolver)."""
        return self._issuer_verifier(token)

    def _key_caches(self) -> list[JWKSCache]:
        """The JWKS caches in use now."""
        raise NotImplementedError

    @property
    def principal_target(self) -> object:
        """What ``principal=`` names (a class or a callable), or ``None``."""
        raise NotImplementedError

    @property
    def ready(self) -> bool:
        """Whether usable keys are cached (for readiness probes)."""
        raise NotImplementedError

    @property
    def needs_request(self) -> bool:
        """Whether this verifier's rules look at the request (not only at the
        token): the integrations then pass a ``RequestContext`` as
        ``request=``; otherwise they build none (the warm path stays a lookup)."""
        raise NotImplementedError

    @property
    def accepted(self) -> tuple[frozenset[str], frozenset[str], float | None]:
        """The issuers, audiences and ``max_token_age`` a route may narrow."""
        raise NotImplementedError

    def warm_up(self, *, strict: bool = False) -> bool:
        raise NotImplementedError

    async def warm_up_async(self, *, strict: bool = False) -> bool:
        raise NotImplementedError

    def _decider(self, token: str, path: str | None = None) -> IssuerVerifier:
        """The verifier that decides about ``token``; a refusal is reported here."""
        try:
            return self._issuer_verifier(token)
        except M2MGuardError as exc:
            self._failed(exc, path)
            raise

    async def _decider_async(self, token: str, path: str | None = None) -> IssuerVerifier:
        """Like ``_decider``, for a choice that may await."""
        try:
            return await self._issuer_verifier_async(token)
        except M2MGuardError as exc:
            self._failed(exc, path)
            raise

    # -- the token entry points -------------------------------------------

    def _verify(
        self,
        token: str,
        max_token_age: float | None,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
        request: RequestContext | None = None,
        rules: RouteRules | None = None,
    ) -> M2MClaims:
        claims = self._cached(token, max_token_age, required, any_of, path, request, rules)
        if claims is not None:
            return claims
        decider = self._decider(token, path)
        try:
            claims = decider._fresh(token, max_token_age)
        except M2MGuardError as exc:
            decider._failed(exc, path)
            raise
        return decider._granted(claims, False, required, any_of, path, request, rules)

    async def _verify_async(
        self,
        token: str,
        max_token_age: float | None,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
        request: RequestContext | None = None,
        rules: RouteRules | None = None,
    ) -> M2MClaims:
        if self._sync_hits and (rules is None or not rules.asynchronous):
            claims = self._cached(token, max_token_age, required, any_of, path, request, rules)
            if claims is not None:
                return claims
        else:
            found = self._lookup(token, False, max_token_age)
            if found is not None:
                holder, claims = found
                return await holder._granted_async(
                    claims, True, required, any_of, path, request, rules
                )
        decider = await self._decider_async(token, path)
        try:
            claims = await decider._fresh_async(token, max_token_age)
        except M2MGuardError as exc:
            decider._failed(exc, path)
            raise
        return await decider._granted_async(claims, False, required, any_of, path, request, rules)

    # -- the header entry points ------------------------------------------

    def verify_authorization(
        self,
        values: Sequence[str],
        required: Scopes = (),
        any_of: Scopes = (),
        *,
        optional: bool = False,
        path: str | None = None,
        request: RequestContext | None = None,
        rules: RouteRules | None = None,
    ) -> M2MClaims | None:
        """The integrations' entry: verify a request's ``Authorization`` values.

        Args:
            values: every value of the request's ``Authorization`` header
                (two of them are a malformed request).
            required: normalised scopes (``normalize_scopes``), all needed.
            any_of: normalised scopes, one of them needed.
            optional: a request without any bearer token is let through as
                ``None`` (a malformed or invalid one is still refused).
            path: the request path, carried by the events (``TokenVerified``,
                ``VerificationFailed``) when the integration knows it.
            request: the request, for rules that look beyond the token
                (custom checks …); integrations build it only when
                ``needs_request`` (``None`` otherwise: a check then sees ``None``).
            rules: a route's narrower rules (its ``Guard`` builds them once).

        Raises:
            M2MGuardError: ``MissingTokenError``, ``InvalidRequestError`` and
                everything ``verify`` raises; render it with ``Guard.error_response``.
        """
        if len(values) == 1:
            claims = self._hit(values[0], required, any_of, path, request, rules)
            if claims is not None:
                return claims
        if self._binding is not None and request is not None:  # DPoP, mTLS: _bound
            return self._bound(values, required, any_of, optional, path, request, rules)
        token = self._token(values, optional, path)
        if token is None:
            return None
        max_age = None if rules is None else rules.max_token_age
        return self._verify(token, max_age, required, any_of, path, request, rules)

    async def verify_authorization_async(
        self,
        values: Sequence[str],
        required: Scopes = (),
        any_of: Scopes = (),
        *,
        optional: bool = False,
        path: str | None = None,
        request: RequestContext | None = None,
        rules: RouteRules | None = None,
    ) -> M2MClaims | None:
        """Like ``verify_authorization``, without blocking the loop on key
        fetches, and awaiting the checks that are ``async``."""
        if len(values) == 1:
            if self._sync_hits and (rules is None or not rules.asynchronous):
                claims = self._hit(values[0], required, any_of, path, request, rules)
                if claims is not None:
                    return claims
            else:
                found = self._lookup(
                    values[0], True, None if rules is None else rules.max_token_age
                )
                if found is not None:
                    holder, claims = found
                    return await holder._granted_async(
                        claims, True, required, any_of, path, request, rules
                    )
        if self._binding is not None and request is not None:
            return await self._bound_async(values, required, any_of, optional, path, request, rules)
        token = self._token(values, optional, path)
        if token is None:
            return None
        max_age = None if rules is None else rules.max_token_age
        return await self._verify_async(token, max_age, required, any_of, path, request, rules)


class IssuerVerifier(VerifierBase):
    """A verifier bound to one issuer's rules and keys (``Verifier``): what
    ``MultiIssuerVerifier`` combines. It decides about every token it sees.

    (No ``__slots__``: a ``Verifier`` keeps its checks in its ``__dict__``.)"""

    policy: ClaimsPolicy
    _engine: Engine

    def _fresh(self, token: str, max_token_age: float | None) -> M2MClaims:
        """The full verification (no cache, no scopes, no events)."""
        raise NotImplementedError

    async def _fresh_async(self, token: str, max_token_age: float | None) -> M2MClaims:
        """Like ``_fresh``, fetching keys without blocking the loop."""
        raise NotImplementedError

    def _hit(
        self,
        header: str,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
        request: RequestContext | None = None,
        rules: RouteRules | None = None,
    ) -> M2MClaims | None:
        if rules is None:
            claims = self._engine.cached_bearer(header)
            if claims is None or (
                not required and not any_of and self._on_event is None and self._checks is None
            ):
                return claims  # nothing to check, nobody to tell: spare the call
        else:
            claims = self._engine.cached_bearer(header, rules.max_token_age)
            if claims is None:
                return None
            if not (required or any_of or rules.checks) and (
                self._on_event is None and self._checks is None
            ):
                # Only the route's audience and issuer to hold: accepted inline,
                # refused (and reported) by RouteRules.check_claims, the authority.
                audiences, issuers = rules.audiences, rules.issuers
                if (audiences is not None and audiences.isdisjoint(claims.audience)) or (
                    issuers is not None and claims.issuer not in issuers
                ):
                    try:
                        rules.check_claims(claims)
                    except M2MGuardError as exc:
                        self._failed(exc, path)
                        raise
                return claims
        return self._granted(claims, True, required, any_of, path, request, rules)

    def _cached(
        self,
        token: str,
        max_token_age: float | None,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
        request: RequestContext | None = None,
        rules: RouteRules | None = None,
    ) -> M2MClaims | None:
        claims = self._engine.cached(token, max_token_age)
        if claims is None or (
            not (required or any_of or rules) and self._on_event is None and self._checks is None
        ):
            return claims
        return self._granted(claims, True, required, any_of, path, request, rules)

    def _lookup(
        self, key: str, bearer: bool, max_token_age: float | None
    ) -> tuple[IssuerVerifier, M2MClaims] | None:
        lookup = self._engine.cached_bearer if bearer else self._engine.cached
        claims = lookup(key, max_token_age)
        return None if claims is None else (self, claims)

    def _use_checks(self, checks: Iterable[Check] | None) -> None:
        """Adopt custom checks (``Verifier(checks=...)``): the pure ones run in
        the engine before a token is cached, the others on every verification."""
        compiled = compile_checks(checks)
        self._engine.pure_checks = () if compiled is None else compiled.pure
        self._checks = None if compiled is None or not compiled.each else compiled
        self._sync_hits = compiled is None or not compiled.asynchronous

    @property
    def needs_request(self) -> bool:
        """Whether a custom check looks at the request (every check not marked
        pure), or bound tokens are taken (DPoP, mTLS)."""
        return self._checks is not None or self._binding is not None

    @property
    def accepted(self) -> tuple[frozenset[str], frozenset[str], float | None]:
        """The issuers, audiences and ``max_token_age`` a route may narrow."""
        policy = self.policy
        return policy.issuers, policy.audiences, policy.max_token_age

    def _issuer_verifier(self, token: str) -> IssuerVerifier:
        return self
