"""The binding path: requests for a verifier that takes bound tokens.

A ``Verifier(dpop="allowed" | "required")`` or ``Verifier(mtls=True)``
(``Binding``) sends every request its fast lane did not settle here, with
the request's ``RequestContext``: the credentials are read with their scheme
(``Bearer`` or ``DPoP``), the token is verified (or found in the token cache:
bound tokens have a cache of their own, which the ``Bearer`` fast lane never
reads), then the binding is checked on *every* request (a fresh DPoP proof,
the client certificate) and the proof's ``jti`` is claimed once in the
replay store, the only step that may wait. Every refusal carries the
``DPoP`` challenge the mode asks for.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ._sansio.binding import Binding
from ._sansio.claims import M2MClaims
from ._sansio.dpop import DPoPProof
from ._sansio.dpop_errors import InvalidDPoPProofError, ReplayStoreUnavailableError
from ._sansio.engine import Engine
from ._sansio.errors import M2MGuardError, MissingTokenError
from ._sansio.request import RequestContext
from ._sansio.rules import RouteRules

__all__ = ["BoundEntryPoints"]

logger = logging.getLogger("m2m_guard.dpop")

Scopes = tuple[str, ...]
_REPLAYED = "The DPoP proof was used before (its jti is not new)."


class BoundEntryPoints:
    """``_bound`` and ``_bound_async``, on a verifier's primitives."""

    __slots__ = ()

    #: the verifier's rules for bound tokens; ``None``: it takes none
    _binding: Binding | None = None
    _engine: Engine

    # -- provided by the verifier -------------------------------------------

    def _fresh_bound(self, token: str, max_token_age: float | None) -> M2MClaims:
        raise NotImplementedError

    async def _fresh_bound_async(self, token: str, max_token_age: float | None) -> M2MClaims:
        raise NotImplementedError

    def _failed(self, exc: M2MGuardError, path: str | None = None) -> None:
        raise NotImplementedError

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
        raise NotImplementedError

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
        raise NotImplementedError

    # -- the binding path -------------------------------------------------

    def _refuse(self, exc: M2MGuardError, scheme: str | None, path: str | None) -> None:
        """Report a refusal, its challenge naming the scheme the request used."""
        self._challenge(exc, scheme)
        self._failed(exc, path)

    def _challenge(self, exc: M2MGuardError, scheme: str | None, again: bool = False) -> None:
        binding = self._binding
        if binding is not None and (again or "dpop_challenge" not in vars(exc)):
            exc.dpop_challenge = binding.challenge(scheme)

    def _bound_credentials(
        self, values: Sequence[str], optional: bool, path: str | None
    ) -> tuple[str, str] | None:
        binding = self._binding
        assert binding is not None
        try:
            return binding.credentials(values)
        except MissingTokenError as exc:
            if optional:
                return None
            self._refuse(exc, None, path)
            raise
        except M2MGuardError as exc:
            self._refuse(exc, None, path)
            raise

    def _bound_check(
        self, claims: M2MClaims, scheme: str, token: str, request: RequestContext
    ) -> DPoPProof | None:
        binding = self._binding
        assert binding is not None
        return binding.check(claims, scheme, token, request, self._engine.clock())

    def _bound(
        self,
        values: Sequence[str],
        required: Scopes,
        any_of: Scopes,
        optional: bool,
        path: str | None,
        request: RequestContext,
        rules: RouteRules | None,
    ) -> M2MClaims | None:
        """``verify_authorization`` for a verifier with a ``Binding``."""
        found = self._bound_credentials(values, optional, path)
        if found is None:
            return None
        scheme, token = found
        max_age = None if rules is None else rules.max_token_age
        engine = self._engine
        claims = engine.cached(token, max_age) or engine.cached_bound(token, max_age)
        cached = claims is not None
        try:
            if claims is None:
                claims = self._fresh_bound(token, max_age)
            proof = self._bound_check(claims, scheme, token, request)
            if proof is not None and not _claimed(self._binding, proof):
                raise InvalidDPoPProofError(_REPLAYED)
        except M2MGuardError as exc:
            self._refuse(exc, scheme, path)
            raise
        try:
            return self._granted(claims, cached, required, any_of, path, request, rules)
        except M2MGuardError as exc:
            self._challenge(exc, scheme, again=True)  # reported by _granted already
            raise

    async def _bound_async(
        self,
        values: Sequence[str],
        required: Scopes,
        any_of: Scopes,
        optional: bool,
        path: str | None,
        request: RequestContext,
        rules: RouteRules | None,
    ) -> M2MClaims | None:
        """Like ``_bound``, without blocking the loop (key fetches, the replay store)."""
        found = self._bound_credentials(values, optional, path)
        if found is None:
            return None
        scheme, token = found
        max_age = None if rules is None else rules.max_token_age
        engine = self._engine
        claims = engine.cached(token, max_age) or engine.cached_bound(token, max_age)
        cached = claims is not None
        try:
            if claims is None:
                claims = await self._fresh_bound_async(token, max_age)
            proof = self._bound_check(claims, scheme, token, request)
            if proof is not None and not await _claimed_async(self._binding, proof):
                raise InvalidDPoPProofError(_REPLAYED)
        except M2MGuardError as exc:
            self._refuse(exc, scheme, path)
            raise
        try:
            return await self._granted_async(claims, cached, required, any_of, path, request, rules)
        except M2MGuardError as exc:
            self._challenge(exc, scheme, again=True)  # reported by _granted_async
            raise


def _claimed(binding: Binding | None, proof: DPoPProof) -> bool:
    """Whether the proof's ``jti`` is new (the replay store's answer)."""
    assert binding is not None
    try:
        return binding.store.claim(proof.replay_key, proof.replay_until) is True
    except M2MGuardError:
        raise
    except Exception as exc:  # a store's own failure: 503, never a 500, never a pass
        logger.warning("the DPoP replay store failed: %s", type(exc).__name__)
        raise ReplayStoreUnavailableError(retry_after=5) from exc


async def _claimed_async(binding: Binding | None, proof: DPoPProof) -> bool:
    """Like ``_claimed``, awaiting the store's ``claim_async``."""
    assert binding is not None
    try:
        return await binding.store.claim_async(proof.replay_key, proof.replay_until) is True
    except M2MGuardError:
        raise
    except Exception as exc:
        logger.warning("the DPoP replay store failed: %s", type(exc).__name__)
        raise ReplayStoreUnavailableError(retry_after=5) from exc
