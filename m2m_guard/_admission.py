"""Admission of verified claims: custom checks, a route's rules, scopes, and
the one place that reports events (see ``_base``'s module docstring); and
the bearer token of a request's header values, a refusal reported here too."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence

from ._sansio.binding import Binding
from ._sansio.checks import Checks, call_check, failed, misused, run_sync
from ._sansio.claims import M2MClaims
from ._sansio.engine import check_scopes
from ._sansio.errors import M2MGuardError, MissingTokenError
from ._sansio.events import EventHook, TokenVerified, VerificationFailed, emit
from ._sansio.jws import extract_bearer_token
from ._sansio.request import RequestContext
from ._sansio.rules import RouteRules

__all__ = ["Admission", "admit", "admit_async"]

logger = logging.getLogger("m2m_guard")

Scopes = tuple[str, ...]


def admit(
    checks: Checks | None,
    rules: RouteRules | None,
    claims: M2MClaims,
    request: RequestContext | None,
) -> None:
    """The route's issuer and audience, then the verifier's checks, then the
    route's, on the sync path (an ``async`` check is a ``ConfigurationError``)."""
    if rules is not None:
        rules.check_claims(claims)
    if checks is not None:
        run_sync(checks.each, claims, request)
    if rules is not None and rules.checks:
        run_sync(rules.checks, claims, request)


async def admit_async(
    checks: Checks | None,
    rules: RouteRules | None,
    claims: M2MClaims,
    request: RequestContext | None,
) -> None:
    """Like ``admit``, awaiting the checks that are ``async``."""
    if rules is not None:
        rules.check_claims(claims)
    own = () if checks is None else checks.each
    for check in own + (() if rules is None else rules.checks):
        result = call_check(check, claims, request)
        if result is None:
            continue
        if not inspect.isawaitable(result):
            raise misused(check, result, sync_path=False)
        try:
            result = await result
        except M2MGuardError:
            raise
        except Exception as exc:
            raise failed(check, claims, exc) from exc
        if result is not None:
            raise misused(check, result, sync_path=False)


class Admission:
    """What ``VerifierBase`` does with verified claims: admit and report them."""

    __slots__ = ()

    #: Where this verifier reports what no issuer decided (see ``_base``).
    _on_event: EventHook | None
    #: The checks run on every verification (``None``: none); an issuer's.
    _checks: Checks | None = None
    #: Whether ``_hit`` and ``_cached`` can run every check (none is async).
    _sync_hits: bool = True
    #: The verifier's rules for bound tokens (DPoP, mTLS); ``None``: none.
    _binding: Binding | None = None

    def _granted(
        self,
        claims: M2MClaims,
        cached: bool,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
        request: RequestContext | None = None,
        rules: RouteRules | None = None,
    ) -> M2MClaims:
        """Run the checks and the route's rules on verified claims, then their
        (normalised) scopes, and report the outcome."""
        if rules is not None or self._checks is not None:
            try:
                admit(self._checks, rules, claims, request)
            except M2MGuardError as exc:
                self._failed(exc, path)
                raise
        return self._scoped(claims, cached, required, any_of, path)

    async def _granted_async(
        self,
        claims: M2MClaims,
        cached: bool,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
        request: RequestContext | None = None,
        rules: RouteRules | None = None,
    ) -> M2MClaims:
        """Like ``_granted``, awaiting the checks that are ``async``."""
        if rules is not None or self._checks is not None:
            try:
                await admit_async(self._checks, rules, claims, request)
            except M2MGuardError as exc:
                self._failed(exc, path)
                raise
        return self._scoped(claims, cached, required, any_of, path)

    def _scoped(
        self, claims: M2MClaims, cached: bool, required: Scopes, any_of: Scopes, path: str | None
    ) -> M2MClaims:
        if required or any_of:
            try:
                check_scopes(claims, required, any_of)
            except M2MGuardError as exc:
                self._failed(exc, path)
                raise
        hook = self._on_event
        if hook is not None:
            emit(hook, TokenVerified(claims.client_id, claims.issuer, cached, path))
        return claims

    def _failed(self, exc: M2MGuardError, path: str | None = None) -> None:
        """Report a refusal (of a token, or of a request without a usable one)."""
        logger.debug("token refused: %s (%s)", type(exc).__name__, exc.description)
        binding = self._binding
        if binding is not None and "dpop_challenge" not in vars(exc):
            exc.dpop_challenge = binding.challenge(None)  # the DPoP challenge too
        hook = self._on_event
        if hook is not None:
            emit(hook, VerificationFailed(type(exc).__name__, exc.error, exc.status_code, path))

    def _token(
        self, authorization: str | Sequence[str] | None, optional: bool, path: str | None = None
    ) -> str | None:
        """The bearer token of the header value(s); ``None`` when there is none
        and ``optional`` (an anonymous request is no refusal). A missing
        (not ``optional``) or malformed header is reported as a refusal."""
        try:
            return extract_bearer_token(authorization)
        except MissingTokenError as exc:
            if optional:
                return None
            self._failed(exc, path)
            raise
        except M2MGuardError as exc:
            self._failed(exc, path)
            raise
