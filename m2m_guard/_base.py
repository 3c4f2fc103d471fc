"""What every verifier shares: resource handling and the header entry points."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ._closing import Closing
from ._sansio.claims import M2MClaims
from ._sansio.engine import Engine
from ._sansio.jws import extract_bearer_token
from ._sansio.policy import ClaimsPolicy

__all__ = ["IssuerVerifier", "VerifierBase"]


class VerifierBase(Closing):
    """``verify_header`` and ``verify_header_async`` on top of ``verify``."""

    __slots__ = ()

    def verify(
        self,
        token: str,
        required_scopes: str | Iterable[str] = (),
        *,
        any_scopes: str | Iterable[str] = (),
        max_token_age: float | None = None,
    ) -> M2MClaims:
        raise NotImplementedError

    async def verify_async(
        self,
        token: str,
        required_scopes: str | Iterable[str] = (),
        *,
        any_scopes: str | Iterable[str] = (),
        max_token_age: float | None = None,
    ) -> M2MClaims:
        raise NotImplementedError

    def cached_bearer(
        self,
        authorization: Sequence[str],
        required_scopes: Sequence[str] = (),
        any_scopes: Sequence[str] = (),
    ) -> M2MClaims | None:
        raise NotImplementedError

    @property
    def ready(self) -> bool:
        """Whether usable keys are cached (for readiness probes)."""
        raise NotImplementedError

    def warm_up(self) -> bool:
        raise NotImplementedError

    async def warm_up_async(self) -> bool:
        raise NotImplementedError

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
        token = extract_bearer_token(authorization)
        return self.verify(
            token, required_scopes, any_scopes=any_scopes, max_token_age=max_token_age
        )

    async def verify_header_async(
        self,
        authorization: str | Sequence[str] | None,
        required_scopes: str | Iterable[str] = (),
        *,
        any_scopes: str | Iterable[str] = (),
        max_token_age: float | None = None,
    ) -> M2MClaims:
        """Like ``verify_header``, for async code."""
        token = extract_bearer_token(authorization)
        return await self.verify_async(
            token, required_scopes, any_scopes=any_scopes, max_token_age=max_token_age
        )


class IssuerVerifier(VerifierBase):
    """A verifier bound to one issuer's rules and keys (``Verifier``): what
    ``MultiIssuerVerifier`` combines."""

    __slots__ = ()

    policy: ClaimsPolicy
    _engine: Engine
