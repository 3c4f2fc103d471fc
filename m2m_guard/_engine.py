"""The verification algorithm, written once for the sync and async drivers.

``Engine.flow`` is a generator in the manner of httpx's auth flows: it runs
every check and, where it needs fresher keys, yields a ``Refresh`` request;
the driver performs it (with its own kind of waiting) and resumes the flow.
Order matters: the size cap, parsing, header and issuer/audience checks all
run before a key is looked up, so junk never costs a fetch.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any

from ._claims import M2MClaims
from ._errors import BadSignatureError, InsufficientScopeError, MalformedTokenError
from ._jwks import JWKSCache, Need, Refresh
from ._jws import parse_token
from ._keys import VerificationKey, verify_signature
from ._policy import ClaimsPolicy

__all__ = ["Engine", "Flow", "run_sync"]

Flow = Generator[Refresh, None, M2MClaims]


class Engine:
    """Checks one token against one policy and one key cache."""

    __slots__ = ("cache", "clock", "max_token_size", "policy")

    def __init__(
        self,
        policy: ClaimsPolicy,
        cache: JWKSCache,
        *,
        clock: Callable[[], float],
        max_token_size: int,
    ) -> None:
        self.policy = policy
        self.cache = cache
        self.clock = clock
        self.max_token_size = max_token_size

    def flow(
        self,
        token: Any,
        required_scopes: Sequence[str],
        any_scopes: Sequence[str],
        max_token_age: float | None,
    ) -> Flow:
        """Verify ``token``; yields ``Refresh`` requests, returns the claims."""
        if not isinstance(token, str):
            raise MalformedTokenError("The access token must be a string.")
        parsed = parse_token(token, max_size=self.max_token_size)
        alg, kid = self.policy.check_header(parsed.header)
        self.policy.precheck_claims(parsed.claims)
        key = yield from self._key(kid, alg)
        if not verify_signature(key, alg, parsed.signing_input, parsed.signature):
            raise BadSignatureError()
        claims = self.policy.validate_claims(parsed.claims, self.clock(), max_token_age)
        check_scopes(claims, required_scopes, any_scopes)
        return claims

    def _key(self, kid: str | None, alg: str) -> Generator[Refresh, None, VerificationKey]:
        cache = self.cache
        generation = cache.generation  # read before the lookup: see should_fetch
        key, need = cache.lookup(kid, alg)
        if need is not Need.NOTHING:
            yield Refresh(cache, generation, wait=need is Need.REQUIRED)
            key, _ = cache.lookup(kid, alg)
        if key is None:
            raise cache.missing_key_error()
        return key


def check_scopes(claims: M2MClaims, required: Sequence[str], any_of: Sequence[str]) -> None:
    """Raise ``InsufficientScopeError`` unless the claims grant what is asked."""
    if required and not claims.has_scopes(*required):
        raise InsufficientScopeError(required, claims.scopes)
    if any_of and not claims.has_scopes(*any_of, any_of=True):
        raise InsufficientScopeError(any_of, claims.scopes, any_of=True)


def run_sync(flow: Flow, refresh: Callable[[Refresh], None]) -> M2MClaims:
    """Drive a flow to its end, answering refresh requests with ``refresh``."""
    try:
        request = next(flow)
        while True:
            refresh(request)
            request = next(flow)
    except StopIteration as done:
        result: M2MClaims = done.value
        return result
