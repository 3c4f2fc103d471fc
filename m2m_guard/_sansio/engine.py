"""The verification algorithm, written once for the sync and async drivers.

``Engine.flow`` is a generator in the manner of httpx's auth flows: it runs
every check and, where it needs fresher keys, yields a ``Refresh`` request;
the driver performs it (with its own kind of waiting) and resumes the flow.
Order matters: the size cap, parsing, header and issuer/audience checks all
run before a key is looked up, so junk never costs a fetch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from typing import Any

from .checks import Check
from .checks import run_sync as run_checks
from .claims import M2MClaims
from .errors import (
    BadSignatureError,
    InsufficientScopeError,
    InvalidTokenError,
    MalformedTokenError,
)
from .jwks import JWKSCache, Need, Refresh
from .jws import parse_token
from .keys import VerificationKey, verify_signature
from .policy import ClaimsPolicy
from .token_cache import Entry, TokenCache

__all__ = ["Engine", "Flow", "check_scopes"]

Flow = Generator[Refresh, None, M2MClaims]


class Engine:
    """Checks one token against one policy and one key cache."""

    __slots__ = (
        "bound_tokens",
        "cache",
        "clock",
        "dpop_required",
        "max_token_size",
        "policy",
        "pure_checks",
        "tokens",
    )

    def __init__(
        self,
        policy: ClaimsPolicy,
        cache: JWKSCache,
        *,
        clock: Callable[[], float],
        max_token_size: int,
        token_cache_size: int = 0,
    ) -> None:
        self.policy = policy
        self.cache = cache
        self.clock = clock
        self.max_token_size = max_token_size
        self.tokens = TokenCache(token_cache_size) if token_cache_size else None
        #: custom checks marked pure: run once per token, before it is cached
        self.pure_checks: tuple[Check, ...] = ()
        #: bound tokens (``cnf``) apart: the ``Bearer`` fast lane never finds
        #: them, only the binding path (``cached_bound``) does
        self.bound_tokens = TokenCache(token_cache_size) if token_cache_size else None
        #: ``Verifier(dpop="required")``: tokens without ``cnf.jkt`` are refused
        self.dpop_required = False

    def cached(self, token: Any, max_token_age: float | None) -> M2MClaims | None:
        """The claims of an already verified token, if still valid; else ``None``.

        ``None`` sends the caller down the full ``flow``, which raises the
        right error (expired, too old, unknown key …) or refreshes the keys.
        """
        tokens = self.tokens
        if tokens is None or type(token) is not str:
            return None
        entry = tokens.get(token)
        return None if entry is None else self._hit(entry, max_token_age)

    def cached_bearer(self, header: str, max_token_age: float | None = None) -> M2MClaims | None:
        """Like ``cached``, for an ``Authorization`` value: a hit only when it
        is exactly ``"Bearer <token>"`` (the integrations' fast lane: nothing
        is parsed or copied out of the header)."""
        tokens = self.tokens
        if tokens is None:
            return None
        entry = tokens.get_bearer(header)
        return None if entry is None else self._hit(entry, max_token_age)

    def cached_bound(self, token: str, max_token_age: float | None) -> M2MClaims | None:
        """Like ``cached``, for a bound token (one with ``cnf``)."""
        tokens = self.bound_tokens
        if tokens is None:
            return None
        entry = tokens.get(token)
        return None if entry is None else self._hit(entry, max_token_age)

    def _hit(self, entry: Entry, max_token_age: float | None) -> M2MClaims | None:
        now = self.clock()
        claims = entry.claims
        if (
            not entry.not_before <= now < claims.expires_at + self.policy.leeway
            or not self.cache.still_serves(entry.key, now)
        ):
            for tokens in (self.tokens, self.bound_tokens):
                if tokens is not None:
                    tokens.discard(entry)  # only where it is (an identity check)
            return None
        max_age = self.policy.max_token_age if max_token_age is None else max_token_age
        if max_age is not None and (claims.issued_at is None or now - claims.issued_at >= max_age):
            return None  # too old for this caller; maybe not for others
        return claims

    def flow(self, token: Any, max_token_age: float | None, bound_ok: bool = False) -> Flow:
        """Verify ``token``; yields ``Refresh`` requests, returns the claims.

        A bound token (``cnf``, RFC 7800) is refused unless ``bound_ok``: the
        caller then checks the binding against the request (``Binding``).
        """
        if not isinstance(token, str):
            raise MalformedTokenError("The access token must be a string.")
        parsed = parse_token(token, max_size=self.max_token_size)
        alg, kid = self.policy.check_header(parsed.header)
        self.policy.precheck_claims(parsed.claims)
        cache = self.cache
        generation = cache.generation  # read before the lookup: see should_fetch
        key, need = cache.lookup(kid, alg)
        if need is not Need.NOTHING:
            yield Refresh(cache, generation, wait=need is Need.REQUIRED)
            key, _ = cache.lookup(kid, alg)
        if key is None:
            raise cache.missing_key_error()
        if not verify_signature(key, alg, parsed.signing_input, parsed.signature):
            raise BadSignatureError()
        claims = self.policy.validate_claims(parsed.claims, self.clock(), max_token_age)
        if self.pure_checks:  # before the cache: a refused token never enters it
            run_checks(self.pure_checks, claims, None)
        bound = "cnf" in parsed.claims
        if self.dpop_required and claims.dpop_jkt is None:
            raise InvalidTokenError("This resource takes DPoP-bound tokens only (cnf.jkt).")
        tokens = self.bound_tokens if bound else self.tokens
        if tokens is not None and claims.expires_at != math.inf:
            tokens.put(self._entry(token, claims, key))
        if bound and not bound_ok:
            raise InvalidTokenError(
                "The token is bound to a key or a certificate (cnf): this verifier or "
                "entry point cannot check the proof of possession."
            )
        return claims

    def _entry(self, token: str, claims: M2MClaims, key: VerificationKey) -> Entry:
        # The window in which a re-check of exp, nbf and iat would pass: it
        # starts at the later of nbf and iat (both checked numbers), less leeway.
        start = claims.issued_at
        nbf = claims.claims.get("nbf")
        if nbf is not None and (start is None or nbf > start):
            start = nbf
        return Entry(token, claims, key, -math.inf if start is None else start - self.policy.leeway)


def check_scopes(claims: M2MClaims, required: Sequence[str], any_of: Sequence[str]) -> None:
    """Raise ``InsufficientScopeError`` unless the claims grant what is asked.

    ``required`` and ``any_of`` are normalised (``normalize_scopes``).
    """
    if not (required or any_of):
        return
    granted = claims._scopes or claims._scope_set  # the property only the first time
    # The route's tuple met last time (ScopeSet's identity memo) needs no call.
    if required and required is not granted._met_all and not granted.satisfies_all(required):
        raise InsufficientScopeError(required, claims.scopes)
    if any_of and any_of is not granted._met_any and not granted.satisfies_any(any_of):
        raise InsufficientScopeError(any_of, claims.scopes, any_of=True)
