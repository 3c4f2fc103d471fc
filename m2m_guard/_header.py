"""The entry points for a token or an ``Authorization`` header value given by
hand: ``verify``, ``verify_header``, their async twins, and ``cached_bearer``,
written on the primitives of ``VerifierBase`` (``_hit``, ``_token``,
``_verify``; see ``_base``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ._sansio.claims import M2MClaims
from ._sansio.request import RequestContext
from ._sansio.scopes import normalize_scopes

__all__ = ["HeaderEntryPoints"]

Scopes = tuple[str, ...]


class HeaderEntryPoints:
    """``verify``, ``verify_header`` (and their async twins), ``cached_bearer``."""

    __slots__ = ()

    #: Whether the sync ``_hit`` can run every check (``Admission``'s).
    _sync_hits: bool

    # -- provided by VerifierBase ---------------------------------------------

    def _hit(
        self,
        header: str,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
        request: RequestContext | None = None,
    ) -> M2MClaims | None:
        raise NotImplementedError

    def _token(
        self, authorization: str | Sequence[str] | None, optional: bool, path: str | None = None
    ) -> str | None:
        raise NotImplementedError

    def _verify(
        self,
        token: str,
        max_token_age: float | None,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
        request: RequestContext | None = None,
    ) -> M2MClaims:
        raise NotImplementedError

    async def _verify_async(
        self,
        token: str,
        max_token_age: float | None,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
        request: RequestContext | None = None,
    ) -> M2MClaims:
        raise NotImplementedError

    # -- the entry points -------------------------------------------------------

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
        # The fast lane applies the verifier's own limit only, and runs sync checks only.
        if max_token_age is None and self._sync_hits:
            claims = self._header_hit(authorization, required, any_of)
            if claims is not None:
                return claims
        token = self._token(authorization, False)
        assert token is not None  # not optional: no token raised
        return await self._verify_async(token, max_token_age, required, any_of)
