"""Settings turned into the parts of a verifier: ``Verifier.__init__`` calls these."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from m2m_guard._principal import principal_builder
from m2m_guard._sansio.discovery import discovery_urls
from m2m_guard._sansio.errors import ConfigurationError
from m2m_guard._sansio.events import EventHook
from m2m_guard._sansio.jwks import JWKSCache, JWKSPolicy
from m2m_guard._sansio.keys import ASYMMETRIC_ALGORITHMS
from m2m_guard._sansio.policy import ClaimsPolicy
from m2m_guard._sansio.scope_claims import ScopeClaim, scope_claim_of

from .checks import check_url, claim_values_of, names, optional_names, origin, static_keys, strings

__all__ = [
    "DEFAULT_CLIENT_ID_CLAIMS",
    "claims_policy",
    "engine_limits",
    "key_cache",
    "scope_claims_of",
    "token_url_of",
]


#: where the client id is read by default, first present wins
DEFAULT_CLIENT_ID_CLAIMS = ("sub", "client_id", "azp", "cid", "appid")
_DEFAULT_REQUIRED = ("iss", "aud", "exp", "iat")
_RFC9068_REQUIRED = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")


def claims_policy(
    *,
    issuer: str | Sequence[str],
    audience: str | Sequence[str],
    algorithms: str | Sequence[str] = ("RS256",),
    leeway: float = 0.0,
    max_token_age: float | None = None,
    max_lifetime: float | None = None,
    required_claims: str | Sequence[str] | None = None,
    client_id_claims: Sequence[str] = DEFAULT_CLIENT_ID_CLAIMS,
    scope_claims: str | ScopeClaim | Sequence[str | ScopeClaim] = ("scope", "scp"),
    strict_rfc9068: bool = False,
    audience_claim: str = "aud",
    claim_values: Mapping[str, str] | None = None,
    forbidden_claims: str | Sequence[str] = (),
    required_any_claims: str | Sequence[str] = (),
    principal: Any = None,
) -> ClaimsPolicy:
    """The claim rules of ``Verifier``'s arguments of the same names."""
    allowed = strings(algorithms, "algorithms")
    if not allowed <= ASYMMETRIC_ALGORITHMS:
        raise ConfigurationError.of(
            "algorithms",
            f"has unsupported algorithm(s) {sorted(allowed - ASYMMETRIC_ALGORITHMS)}; "
            f"choose from {sorted(ASYMMETRIC_ALGORITHMS)} (none and HS* are never allowed)",
        )
    for name, value in (("max_token_age", max_token_age), ("max_lifetime", max_lifetime)):
        if value is not None and not value > 0:
            raise ConfigurationError.of(name, "must be positive")
    if not 0 <= leeway <= 3600:
        raise ConfigurationError.of("leeway", "must be between 0 and 3600 seconds")
    required = optional_names(required_claims, "required_claims") or _DEFAULT_REQUIRED
    if strict_rfc9068:
        required = tuple(dict.fromkeys((*required, *_RFC9068_REQUIRED)))
    return ClaimsPolicy(
        issuers=strings(issuer, "issuer"),
        audiences=strings(audience, "audience"),
        algorithms=allowed,
        leeway=float(leeway),
        max_token_age=max_token_age,
        max_lifetime=max_lifetime,
        required_claims=required,
        client_id_claims=names(client_id_claims, "client_id_claims"),
        scope_claims=scope_claims_of(scope_claims),
        strict_rfc9068=strict_rfc9068,
        audience_claim=names(audience_claim, "audience_claim")[0],
        claim_values=claim_values_of(claim_values),
        forbidden_claims=optional_names(forbidden_claims, "forbidden_claims"),
        required_any_claims=optional_names(required_any_claims, "required_any_claims"),
        principal=principal_builder(principal),
    )


def scope_claims_of(
    value: str | ScopeClaim | Sequence[str | ScopeClaim],
) -> tuple[str | ScopeClaim, ...]:
    """``scope_claims``: names, dotted paths, ``"path=>prefix"`` texts or
    ``ScopeClaim`` values, at least one, in order, without duplicates."""
    entries = [value] if isinstance(value, str | ScopeClaim) else list(value)
    if not entries:
        raise ConfigurationError.of("scope_claims", "must name at least one claim")
    return tuple(dict.fromkeys(scope_claim_of(entry) for entry in entries))


def key_cache(
    *,
    issuers: frozenset[str],
    jwks_url: str | None,
    jwks: Mapping[str, Any] | str | None,
    public_key: str | bytes | None,
    discovery_url: str | None,
    trusted_jwks_origins: str | Sequence[str],
    policy: JWKSPolicy | None,
    clock: Callable[[], float],
    on_event: EventHook | None,
) -> JWKSCache:
    """The key source: exactly one of a JWKS URL, static keys (a JWKS or a PEM
    key) or discovery from the (single) issuer's metadata."""
    sources = [s for s in (jwks_url, jwks, public_key, discovery_url) if s is not None]
    if len(sources) != 1:
        raise ConfigurationError(
            "give exactly one key source: jwks_url, jwks, public_key or discovery_url"
        )
    for url, what in ((jwks_url, "jwks_url"), (discovery_url, "discovery_url")):
        if url is not None:
            check_url(url, what)
    expected_issuer: str | None = None
    metadata_urls: tuple[str, ...] = ()
    if discovery_url is not None:
        if len(issuers) != 1:
            raise ConfigurationError("discovery needs exactly one issuer")
        (expected_issuer,) = issuers
        metadata_urls = (
            (discovery_url,) if "/.well-known/" in discovery_url else discovery_urls(discovery_url)
        )
    static = None if jwks is None and public_key is None else static_keys(jwks, public_key)
    cache = JWKSCache(
        jwks_url,
        policy=policy or JWKSPolicy(),
        clock=clock,
        static_keys=static,
        discover_from=expected_issuer,
        metadata_urls=metadata_urls,
        trusted_origins=tuple(
            origin(o, "trusted_jwks_origins")
            for o in optional_names(trusted_jwks_origins, "trusted_jwks_origins")
        ),
    )
    cache.on_event = on_event
    return cache


def engine_limits(max_token_size: int, token_cache_size: int) -> tuple[int, int]:
    """The engine's size cap and token cache size, checked."""
    if not 256 <= max_token_size <= 1024 * 1024:
        raise ConfigurationError.of("max_token_size", "must be between 256 and 1048576")
    if isinstance(token_cache_size, bool) or not (
        isinstance(token_cache_size, int) and token_cache_size >= 0
    ):
        raise ConfigurationError.of("token_cache_size", "must be a whole number >= 0")
    return max_token_size, token_cache_size


def token_url_of(token_url: str | None) -> str | None:
    """The issuer's token endpoint, checked as an http(s) URL (documentation only)."""
    if token_url is not None:
        check_url(token_url, "token_url")
    return token_url
