"""What every verifier shares: the entry points, and the one place that reports.

Every way in is written here once, on top of a few primitives the concrete
verifiers provide:

- ``verify`` / ``verify_async``: a compact token;
- ``verify_header`` / ``verify_header_async``: the ``Authorization`` value(s);
- ``verify_authorization`` / ``verify_authorization_async``: the fast lane of
  the integrations (``Guard`` and every adapter). It takes the request's
  ``Authorization`` values and scopes normalised once (``normalize_scopes``),
  and its first step is the token-cache hit: an exact ``Bearer <token>``
  value whose token this verifier accepted before and that still holds
  (time, key) costs one dictionary lookup and no parsing, and needs no
  coroutine to suspend.

Events (``TokenVerified``, ``VerificationFailed``) are emitted by
``_granted`` and ``_failed`` below and nowhere else, exactly once per call,
to the hook of the ``IssuerVerifier`` that decided: the one whose token cache
hit, or the one the token's issuer selects. A refusal no issuer decided (no
or malformed credentials, and for a combined verifier an unknown issuer or a
token too malformed to name one) goes to the verifier's own ``_on_event``:
a ``Verifier``'s hook, a combined verifier's first member's hook. So
``Verifier.combine(v)`` reports exactly what ``v`` reports.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from ._closing import Closing
from ._sansio.claims import M2MClaims
from ._sansio.engine import Engine, check_scopes
from ._sansio.errors import M2MGuardError, MissingTokenError
from ._sansio.events import EventHook, TokenVerified, VerificationFailed, emit
from ._sansio.jws import extract_bearer_token
from ._sansio.policy import ClaimsPolicy
from ._sansio.scopes import normalize_scopes

__all__ = ["IssuerVerifier", "VerifierBase"]

logger = logging.getLogger("m2m_guard")

Scopes = tuple[str, ...]


class VerifierBase(Closing):
    """The entry points of every verifier, and its event reporting."""

    __slots__ = ()

    #: Where this verifier reports what no issuer decided (see the module doc).
    _on_event: EventHook | None

    # -- what the concrete verifiers provide ------------------------------

    def _hit(
        self, header: str, required: Scopes, any_of: Scopes, path: str | None = None
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
    ) -> M2MClaims | None:
        """Like ``_hit``, for a bare token and an optional age limit."""
        raise NotImplementedError

    def _issuer_verifier(self, token: str) -> IssuerVerifier:
        """The verifier that decides about ``token``; raises when there is none."""
        raise NotImplementedError

    @property
    def ready(self) -> bool:
        """Whether usable keys are cached (for readiness probes)."""
        raise NotImplementedError

    def warm_up(self, *, strict: bool = False) -> bool:
        raise NotImplementedError

    async def warm_up_async(self, *, strict: bool = False) -> bool:
        raise NotImplementedError

    # -- reporting: the only place events are emitted ---------------------

    def _granted(
        self,
        claims: M2MClaims,
        cached: bool,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
    ) -> M2MClaims:
        """Check the (normalised) scopes of verified claims and report the outcome."""
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
        hook = self._on_event
        if hook is not None:
            emit(hook, VerificationFailed(type(exc).__name__, exc.error, exc.status_code, path))

    def _decider(self, token: str, path: str | None = None) -> IssuerVerifier:
        try:
            return self._issuer_verifier(token)
        except M2MGuardError as exc:
            self._failed(exc, path)
            raise

    def _header_hit(
        self, authorization: str | Sequence[str] | None, required: Scopes, any_of: Scopes
    ) -> M2MClaims | None:
        """The fast lane's first step for ``verify_header``'s argument."""
        if isinstance(authorization, str):
            return self._hit(authorization, required, any_of)
        if isinstance(authorization, list | tuple) and len(authorization) == 1:
            return self._hit(authorization[0], required, any_of)
        return None

    def cached_bearer(
        self,
        authorization: Sequence[str],
        required_scopes: Sequence[str] = (),
        any_scopes: Sequence[str] = (),
    ) -> M2MClaims | None:
        """Only the fast lane's first step: the claims when ``authorization`` is
        one ``Bearer <token>`` value whose token is cached (scopes checked, the
        outcome reported), else ``None``. Integrations call
        ``verify_authorization``, which starts with this step."""
        if len(authorization) != 1:
            return None
        return self._hit(authorization[0], tuple(required_scopes), tuple(any_scopes))

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

    # -- the token entry points -------------------------------------------

    def _verify(
        self,
        token: str,
        max_token_age: float | None,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
    ) -> M2MClaims:
        claims = self._cached(token, max_token_age, required, any_of, path)
        if claims is not None:
            return claims
        decider = self._decider(token, path)
        try:
            claims = decider._fresh(token, max_token_age)
        except M2MGuardError as exc:
            decider._failed(exc, path)
            raise
        return decider._granted(claims, False, required, any_of, path)

    async def _verify_async(
        self,
        token: str,
        max_token_age: float | None,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
    ) -> M2MClaims:
        claims = self._cached(token, max_token_age, required, any_of, path)
        if claims is not None:
            return claims
        decider = self._decider(token, path)
        try:
            claims = await decider._fresh_async(token, max_token_age)
        except M2MGuardError as exc:
            decider._failed(exc, path)
            raise
        return decider._granted(claims, False, required, any_of, path)

    def verify(
        self,
        token: str,
        required_scopes: str | Iterable[str] = (),
        *,
        any_scopes: str | Iterable[str] = (),
        max_token_age: float | None = None,
    ) -> M2MClaims:
        """Verify a token and return its claims.

        Args:
            token: the compact JWT (without ``Bearer``).
            required_scopes: every one of these must be granted.
            any_scopes: at least one of these must be granted.
            max_token_age: overrides the verifier's ``max_token_age``.

        Raises:
            InvalidTokenError: (401) the token is not acceptable.
            InsufficientScopeError: (403) a required scope is missing.
            KeysUnavailableError: (503) no keys to check it with right now.
        """
        # No scopes asked (the default, and most calls): no call to normalise them.
        required = () if required_scopes == () else normalize_scopes(required_scopes)
        any_of = () if any_scopes == () else normalize_scopes(any_scopes)
        return self._verify(token, max_token_age, required, any_of)

    async def verify_async(
        self,
        token: str,
        required_scopes: str | Iterable[str] = (),
        *,
        any_scopes: str | Iterable[str] = (),
        max_token_age: float | None = None,
    ) -> M2MClaims:
        """Like ``verify``, for async code: key fetches do not block the loop."""
        required = () if required_scopes == () else normalize_scopes(required_scopes)
        any_of = () if any_scopes == () else normalize_scopes(any_scopes)
        return await self._verify_async(token, max_token_age, required, any_of)

    # -- the header entry points ------------------------------------------

    def verify_authorization(
        self,
        values: Sequence[str],
        required: Scopes = (),
        any_of: Scopes = (),
        *,
        optional: bool = False,
        path: str | None = None,
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

        Raises:
            M2MGuardError: ``MissingTokenError``, ``InvalidRequestError`` and
                everything ``verify`` raises; render it with ``Guard.error_response``.
        """
        if len(values) == 1:
            claims = self._hit(values[0], required, any_of, path)
            if claims is not None:
                return claims
        token = self._token(values, optional, path)
        if token is None:
            return None
        return self._verify(token, None, required, any_of, path)

    async def verify_authorization_async(
        self,
        values: Sequence[str],
        required: Scopes = (),
        any_of: Scopes = (),
        *,
        optional: bool = False,
        path: str | None = None,
    ) -> M2MClaims | None:
        """Like ``verify_authorization``, without blocking the loop on key fetches."""
        if len(values) == 1:
            claims = self._hit(values[0], required, any_of, path)
            if claims is not None:
                return claims
        token = self._token(values, optional, path)
        if token is None:
            return None
        return await self._verify_async(token, None, required, any_of, path)

    def verify_header(
        self,
        authorization: str | Sequence[str] | None,
        required_scopes: str | Iterable[str] = (),
        *,
        any_scopes: str | Iterable[str] = (),
        max_token_age: float | None = None,
    ) -> M2MClaims:
        """Verify the value(s) of an ``Authorization`` header.

        Raises ``MissingTokenError`` (401) without a bearer token and
        ``InvalidRequestError`` (400) for malformed or repeated credentials,
        besides everything ``verify`` raises.
        """
        required, any_of = normalize_scopes(required_scopes), normalize_scopes(any_scopes)
        if max_token_age is None:  # the fast lane applies the verifier's own limit only
            claims = self._header_hit(authorization, required, any_of)
            if claims is not None:
                return claims
        token = self._token(authorization, False)
        assert token is not None  # not optional: no token raised
        return self._verify(token, max_token_age, required, any_of)

    async def verify_header_async(
        self,
        authorization: str | Sequence[str] | None,
        required_scopes: str | Iterable[str] = (),
        *,
        any_scopes: str | Iterable[str] = (),
        max_token_age: float | None = None,
    ) -> M2MClaims:
        """Like ``verify_header``, for async code."""
        required, any_of = normalize_scopes(required_scopes), normalize_scopes(any_scopes)
        if max_token_age is None:  # the fast lane applies the verifier's own limit only
            claims = self._header_hit(authorization, required, any_of)
            if claims is not None:
                return claims
        token = self._token(authorization, False)
        assert token is not None  # not optional: no token raised
        return await self._verify_async(token, max_token_age, required, any_of)


class IssuerVerifier(VerifierBase):
    """A verifier bound to one issuer's rules and keys (``Verifier``): what
    ``MultiIssuerVerifier`` combines. It decides about every token it sees."""

    __slots__ = ()

    policy: ClaimsPolicy
    _engine: Engine

    def _fresh(self, token: str, max_token_age: float | None) -> M2MClaims:
        """The full verification (no cache, no scopes, no events)."""
        raise NotImplementedError

    async def _fresh_async(self, token: str, max_token_age: float | None) -> M2MClaims:
        """Like ``_fresh``, fetching keys without blocking the loop."""
        raise NotImplementedError

    def _hit(
        self, header: str, required: Scopes, any_of: Scopes, path: str | None = None
    ) -> M2MClaims | None:
        claims = self._engine.cached_bearer(header)
        if claims is None or (not required and not any_of and self._on_event is None):
            return claims  # nothing to check, nobody to tell: spare the call
        return self._granted(claims, True, required, any_of, path)

    def _cached(
        self,
        token: str,
        max_token_age: float | None,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
    ) -> M2MClaims | None:
        claims = self._engine.cached(token, max_token_age)
        if claims is None or (not required and not any_of and self._on_event is None):
            return claims
        return self._granted(claims, True, required, any_of, path)

    def _issuer_verifier(self, token: str) -> IssuerVerifier:
        return self
