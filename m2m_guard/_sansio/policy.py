"""Header and claim policy: everything checked besides the signature.

Split in three so the cheap checks run first: ``check_header`` and
``precheck_claims`` need no key and run before any JWKS lookup or fetch
(SECURITY.md, "Cheap checks first": a disallowed ``alg``, a foreign ``iss``
or a wrong ``aud`` must never cause a fetch); ``validate_claims`` runs after
the signature verified.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .claims import M2MClaims, verified_claims
from .errors import (
    DisallowedAlgorithmError,
    ExpiredTokenError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidIssuerError,
    TokenNotYetValidError,
    TokenTooOldError,
    UnsupportedHeaderError,
)
from .frozen import FrozenDict, FrozenList
from .scope_claims import ABSENT, ScopeClaim, claim_at
from .scopes import scope_tuple

__all__ = ["ClaimsPolicy"]

# RFC 7515 §4.1.2-6 and RFC 7516: headers that name or carry a key, or that
# belong to encrypted tokens. Keys come from configuration only.
_KEY_BEARING_HEADERS = ("jku", "jwk", "x5u", "x5c")
_JWE_HEADERS = ("enc", "zip")
_DEFAULT_TYPES = frozenset({"jwt", "at+jwt", "application/jwt", "application/at+jwt"})
_STRICT_TYPES = frozenset({"at+jwt", "application/at+jwt"})
# Latest instant accepted in a time claim: 9999-12-31T23:59:59Z.
_MAX_TIMESTAMP = 253_402_300_799


def _timestamp(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        if name in claims:
            raise InvalidClaimError(name, f"The token's {name!r} claim must be a number.")
        return None
    # bool is an int subclass; RFC 7519 §2 NumericDate is a JSON number.
    # Comparing (not math.isfinite) keeps huge ints from overflowing a float;
    # NaN and infinities fail the comparison too.
    if type(value) not in (int, float) or not 0 <= value <= _MAX_TIMESTAMP:
        raise InvalidClaimError(name, f"The token's {name!r} claim must be a number.")
    return float(value)


def _intern_repeated(claims: dict[str, Any]) -> None:
    # Verified tokens stay in the token cache, and every token of an issuer
    # or a client repeats these values: keep one copy of each.
    # This runs after the signature verified (nothing an attacker chose is
    # interned) and before the payload is published (then only behind
    # read-only views), so an array is still this token's own: its items are
    # replaced in place, not copied into a second array.
    for name in _REPEATED_CLAIMS:
        value = claims.get(name)
        if type(value) is str:
            claims[name] = sys.intern(value)
        elif type(value) is FrozenList:
            for index, item in enumerate(value):
                if type(item) is str:
                    list.__setitem__(value, index, sys.intern(item))


_REPEATED_CLAIMS = ("iss", "sub", "aud", "scope", "client_id", "azp")
_SHARED: dict[tuple[str, ...], tuple[str, ...]] = {}
_MAX_ACCEPTED_HEADERS = 256


def _shared(value: tuple[str, ...]) -> tuple[str, ...]:
    # One tuple object per distinct scope list or audience, like sys.intern.
    known = _SHARED.get(value)
    if known is None:
        if len(_SHARED) >= 4096:
            _SHARED.clear()
        known = _SHARED[value] = value
    return known


@dataclass(frozen=True, slots=True)
class ClaimsPolicy:
    """What a token must look like to be accepted (settings of a verifier)."""

    issuers: frozenset[str]
    audiences: frozenset[str]
    algorithms: frozenset[str]
    leeway: float = 0.0
    max_token_age: float | None = None
    max_lifetime: float | None = None
    required_claims: tuple[str, ...] = ("iss", "aud", "exp", "iat")
    #: the claim that names the audience (Cognito access tokens: client_id)
    audience_claim: str = "aud"
    #: claims that must have exactly these values (Cognito: token_use=access)
    claim_values: tuple[tuple[str, str], ...] = ()
    #: claims that must be absent (Entra: scp marks a delegated user token)
    forbidden_claims: tuple[str, ...] = ()
    #: at least one must be present (Keycloak: client_id / clientId)
    required_any_claims: tuple[str, ...] = ()
    client_id_claims: tuple[str, ...] = ("sub", "client_id", "azp", "cid", "appid")
    #: claim names, dotted paths, or ``ScopeClaim`` values (prefixed roles)
    scope_claims: tuple[str | ScopeClaim, ...] = ("scope", "scp")
    strict_rfc9068: bool = False
    #: builds ``M2MClaims.principal`` from the verified claims (may raise
    #: ``InvalidTokenError``); ``None``: no principal
    principal: Callable[[M2MClaims], Any] | None = field(default=None, compare=False)
    #: Headers this policy accepted: ``id(header) -> (header, alg, kid)``. The
    #: parser shares one read-only header object among the tokens that carry
    #: the same header segment, and the entry holds it, so its id stays its own.
    _accepted_headers: dict[int, tuple[Mapping[str, Any], str, str | None]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def check_header(self, header: Mapping[str, Any]) -> tuple[str, str | None]:
        """Check the JOSE header; return ``(alg, kid)``.

        A header object accepted before (the parser's shared, read-only one)
        is answered from memory: the checks depend on it and on the policy only.
        """
        accepted = self._accepted_headers.get(id(header))
        if accepted is not None and accepted[0] is header:
            return accepted[1], accepted[2]
        alg, kid = self._check_header(header)
        if type(header) is FrozenDict:
            if len(self._accepted_headers) >= _MAX_ACCEPTED_HEADERS:
                self._accepted_headers.clear()
            self._accepted_headers[id(header)] = (header, alg, kid)
        return alg, kid

    def _check_header(self, header: Mapping[str, Any]) -> tuple[str, str | None]:
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise DisallowedAlgorithmError()
        if "crit" in header:
            # RFC 7515 §4.1.11: we understand no extension, so none may be critical.
            raise UnsupportedHeaderError("The token header has critical extensions.")
        for name in _KEY_BEARING_HEADERS:
            if name in header:
                raise UnsupportedHeaderError("The token header may not name its own key.")
        for name in _JWE_HEADERS:
            if name in header:
                raise UnsupportedHeaderError("Encrypted tokens (JWE) are not accepted.")
        self._check_typ(header.get("typ", None), "typ" in header)
        if "cty" in header:
            # RFC 7519 §5.2: cty "JWT" means a nested token; nothing else is expected.
            raise UnsupportedHeaderError("Nested tokens are not accepted.")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise UnsupportedHeaderError("The token header's kid must be a string.")
        return alg, kid

    def _check_typ(self, typ: object, present: bool) -> None:
        if not present:
            if self.strict_rfc9068:
                raise UnsupportedHeaderError('The token type must be "at+jwt".')
            return
        allowed = _STRICT_TYPES if self.strict_rfc9068 else _DEFAULT_TYPES
        # RFC 7515 §4.1.9: media types compare case-insensitively.
        if not isinstance(typ, str) or typ.lower() not in allowed:
            raise UnsupportedHeaderError("The token type is not an access token type.")

    def precheck_claims(self, claims: Mapping[str, Any]) -> None:
        """Issuer and audience: checks that need no key, done before any fetch."""
        for name in self.required_claims:
            if name not in claims:
                raise InvalidClaimError(name, f"The token has no {name!r} claim.")
        iss = claims.get("iss")
        if "iss" in claims and (not isinstance(iss, str) or iss not in self.issuers):
            raise InvalidIssuerError()
        for name, expected in self.claim_values:
            if claims.get(name) != expected:
                raise InvalidClaimError(name, f"The token's {name!r} claim is not {expected!r}.")
        for name in self.forbidden_claims:
            if name in claims:
                raise InvalidClaimError(name, f"Tokens with a {name!r} claim are not accepted.")
        if self.required_any_claims and not any(n in claims for n in self.required_any_claims):
            names = " or ".join(map(repr, self.required_any_claims))
            raise InvalidClaimError(
                self.required_any_claims[0], f"The token has no {names} claim: not a machine token."
            )
        self.check_audience(claims)

    def check_audience(self, claims: Mapping[str, Any]) -> None:
        """The audience claim (a string or a list of strings) names one of ours."""
        name = self.audience_claim
        aud = claims.get(name)
        if isinstance(aud, str):
            if aud in self.audiences:
                return
            raise InvalidAudienceError()
        if not isinstance(aud, list):
            raise InvalidAudienceError(f"The token's {name!r} claim is missing or malformed.")
        for audience in aud:
            if not isinstance(audience, str):
                raise InvalidAudienceError(f"The token's {name!r} claim is missing or malformed.")
        if self.audiences.isdisjoint(aud):
            raise InvalidAudienceError()

    def validate_claims(
        self, claims: dict[str, Any], now: float, max_token_age: float | None
    ) -> M2MClaims:
        """Check time claims and build the result; the signature is already good."""
        expires_at, issued_at = self.check_times(claims, now, max_token_age)
        client_id = self._client_id(claims)
        scopes = self._scopes(claims)
        jti = claims.get("jti")
        if jti is not None and not isinstance(jti, str):
            raise InvalidClaimError("jti", "The token's 'jti' claim must be a string.")
        _intern_repeated(claims)
        aud = claims.get(self.audience_claim)
        return verified_claims(
            client_id,
            scopes,
            MappingProxyType(claims),
            claims.get("iss", ""),
            _shared((aud,) if isinstance(aud, str) else tuple(aud or ())),
            math.inf if expires_at is None else expires_at,
            issued_at,
            jti,
            self.principal,
        )

    def _scopes(self, claims: Mapping[str, Any]) -> tuple[str, ...]:
        """The granted scopes of every scope claim, in order, without duplicates."""
        found: tuple[str, ...] | None = None
        for entry in self.scope_claims:
            if type(entry) is str:
                value = claim_at(claims, entry)
                if value is ABSENT:
                    continue
                parsed = scope_tuple(entry, value)
            else:
                assert isinstance(entry, ScopeClaim)
                value = claim_at(claims, entry.claim)
                if value is ABSENT:
                    continue
                prefix = entry.prefix
                parsed = tuple(prefix + s for s in scope_tuple(entry.name, value))
            found = parsed if found is None else tuple(dict.fromkeys(found + parsed))
        return () if found is None else _shared(found)

    def check_times(
        self, claims: Mapping[str, Any], now: float, max_token_age: float | None
    ) -> tuple[float | None, float | None]:
        """Check ``exp``, ``nbf``, ``iat``, lifetime and age; return (exp, iat)."""
        exp = _timestamp(claims, "exp")
        nbf = _timestamp(claims, "nbf")
        iat = _timestamp(claims, "iat")
        leeway = self.leeway
        if exp is not None and now >= exp + leeway:
            raise ExpiredTokenError()
        if nbf is not None and now + leeway < nbf:
            raise TokenNotYetValidError()
        if iat is not None and now + leeway < iat:
            raise TokenNotYetValidError("The token was issued in the future.")
        if self.max_lifetime is not None and (
            exp is None or iat is None or exp - iat > self.max_lifetime
        ):
            raise InvalidClaimError("exp", "The token's lifetime is longer than allowed.")
        max_age = self.max_token_age if max_token_age is None else max_token_age
        if max_age is not None:
            # Stytch's rule: reject when now - iat >= max_token_age.
            if iat is None:
                raise InvalidClaimError("iat", "The token has no 'iat' claim to check its age.")
            if now - iat >= max_age:
                raise TokenTooOldError()
        return exp, iat

    def _client_id(self, claims: Mapping[str, Any]) -> str:
        for name in self.client_id_claims:
            value = claims.get(name)
            if value is None:
                continue
            if not isinstance(value, str) or not value:
                raise InvalidClaimError(name, f"The token's {name!r} claim must be a string.")
            return value
        raise InvalidClaimError(self.client_id_claims[0], "The token does not name its client.")
