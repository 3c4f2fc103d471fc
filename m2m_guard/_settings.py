"""Verifier settings: checked, normalised and converted into the parts of a verifier.

``Verifier.__init__`` is a list of conversions from here: ``claims_policy``
builds the ``ClaimsPolicy``, ``key_cache`` the ``JWKSCache`` (the key
source), ``engine_limits`` checks the engine's numbers. ``merge`` combines
a preset's settings with a caller's, and ``settings_from_mapping`` reads
them from the environment or any mapping (Flask's ``app.config``). Every
function raises ``ConfigurationError`` for a bad setting.

``settings_from_mapping`` reads ``{prefix}NAME`` variables (``M2M_GUARD_``
by default; lists comma-separated): the README's "Configuration" table
lists them, and ``_LISTS``, ``_FLOATS`` and the code below are the truth.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from jwt.exceptions import InvalidKeyError

from . import _presets
from ._sansio.discovery import discovery_urls, origin_of
from ._sansio.errors import ConfigurationError
from ._sansio.events import EventHook
from ._sansio.jwks import JWKSCache, JWKSPolicy
from ._sansio.keys import ASYMMETRIC_ALGORITHMS, KeySet, key_from_pem
from ._sansio.policy import ClaimsPolicy

__all__ = [
    "check_url",
    "claims_policy",
    "engine_limits",
    "key_cache",
    "merge",
    "names",
    "optional_names",
    "settings_from_mapping",
    "strings",
]

logger = logging.getLogger("m2m_guard")


def strings(value: str | Iterable[str], what: str) -> frozenset[str]:
    """One non-empty string or several, as a set."""
    values = [value] if isinstance(value, str) else list(value)
    if not values or not all(isinstance(v, str) and v for v in values):
        raise ConfigurationError(f"{what} must be a non-empty string or a list of them")
    return frozenset(values)


def names(value: Sequence[str], what: str) -> tuple[str, ...]:
    """One name or several, in order, without duplicates."""
    strings(value, what)
    return tuple(dict.fromkeys([value] if isinstance(value, str) else value))


def optional_names(value: str | Iterable[str] | None, what: str) -> tuple[str, ...]:
    """Zero, one or several names, in order; a single string is one name.

    ``forbidden_claims="scp"`` must forbid ``scp``, not ``s``, ``c`` and ``p``.
    """
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(v, str) and v for v in values):
        raise ConfigurationError(f"{what} must be a non-empty string or a list of them")
    return tuple(dict.fromkeys(values))


def origin(url: str, what: str) -> str:
    """The origin of a configured http(s) URL."""
    check_url(url, what)
    return origin_of(url)


def claim_values_of(values: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """``claim_values`` as pairs of strings."""
    items = tuple((values or {}).items())
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in items):
        raise ConfigurationError("claim_values must map claim names to strings")
    return items


def check_url(url: str, what: str) -> None:
    """Refuse anything but a valid http(s) URL; warn about plain http off loopback."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise ConfigurationError(f"{what} is not a valid URL: {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{what} must be an http(s) URL, got {url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        logger.warning("%s %s uses plain http; use https outside local development", what, url)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def static_keys(jwks: Mapping[str, Any] | str | None, public_key: str | bytes | None) -> KeySet:
    """Hand-configured keys: a JWKS (dict or JSON text) or one PEM key."""
    try:
        if public_key is not None:
            return KeySet(keys=(key_from_pem(public_key),), wildcard=True)
        document = json.loads(jwks) if isinstance(jwks, str) else jwks
        if not isinstance(document, Mapping):
            raise InvalidKeyError("jwks must be a JWKS object")
        keys = KeySet.from_jwks(document)
    except (InvalidKeyError, ValueError, RecursionError) as exc:
        raise ConfigurationError(f"invalid static keys: {exc}") from exc
    if not keys.keys:
        raise ConfigurationError("the static JWKS holds no usable verification key")
    return keys


_DEFAULT_REQUIRED = ("iss", "aud", "exp", "iat")
_RFC9068_REQUIRED = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")


def claims_policy(
    *,
    issuer: str | Sequence[str],
    audience: str | Sequence[str],
    algorithms: str | Sequence[str],
    leeway: float,
    max_token_age: float | None,
    max_lifetime: float | None,
    required_claims: str | Sequence[str] | None,
    client_id_claims: Sequence[str],
    scope_claims: Sequence[str],
    strict_rfc9068: bool,
    audience_claim: str,
    claim_values: Mapping[str, str] | None,
    forbidden_claims: str | Sequence[str],
    required_any_claims: str | Sequence[str],
) -> ClaimsPolicy:
    """The claim rules of ``Verifier``'s arguments of the same names."""
    allowed = strings(algorithms, "algorithms")
    if not allowed <= ASYMMETRIC_ALGORITHMS:
        raise ConfigurationError(
            f"unsupported algorithm(s) {sorted(allowed - ASYMMETRIC_ALGORITHMS)}; "
            f"choose from {sorted(ASYMMETRIC_ALGORITHMS)} (none and HS* are never allowed)"
        )
    for name, value in (("max_token_age", max_token_age), ("max_lifetime", max_lifetime)):
        if value is not None and not value > 0:
            raise ConfigurationError(f"{name} must be positive")
    if not 0 <= leeway <= 3600:
        raise ConfigurationError("leeway must be between 0 and 3600 seconds")
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
        scope_claims=names(scope_claims, "scope_claims"),
        strict_rfc9068=strict_rfc9068,
        audience_claim=names(audience_claim, "audience_claim")[0],
        claim_values=claim_values_of(claim_values),
        forbidden_claims=optional_names(forbidden_claims, "forbidden_claims"),
        required_any_claims=optional_names(required_any_claims, "required_any_claims"),
    )


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
        raise ConfigurationError("max_token_size must be between 256 and 1048576")
    if isinstance(token_cache_size, bool) or not (
        isinstance(token_cache_size, int) and token_cache_size >= 0
    ):
        raise ConfigurationError("token_cache_size must be a whole number >= 0")
    return max_token_size, token_cache_size


def merge(preset: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A preset's settings with a caller's overrides.

    Any argument replaces the preset's, except the machine-token markers:
    ``forbidden_claims`` and ``required_claims`` are unions, and
    ``claim_values`` adds entries but may not change one (Cognito's
    ``token_use=access``, Auth0's ``gty``): a ``ConfigurationError``.
    ``required_any_claims`` from the caller narrows the preset's set only
    by naming claims inside it.
    """
    merged = {**preset, **overrides}
    for name in ("forbidden_claims", "required_claims"):
        if name in preset and name in overrides:
            ours = optional_names(preset[name], name)
            # None ("the default") adds nothing; it never drops the preset's.
            extra = overrides[name]
            theirs = () if extra is None else optional_names(extra, name)
            merged[name] = tuple(dict.fromkeys((*ours, *theirs)))
    if "required_any_claims" in preset and "required_any_claims" in overrides:
        ours = optional_names(preset["required_any_claims"], "required_any_claims")
        extra = overrides["required_any_claims"]
        if extra is None:
            merged["required_any_claims"] = ours
        else:
            theirs = optional_names(extra, "required_any_claims")
            if not theirs or not set(theirs) <= set(ours):
                raise ConfigurationError(
                    f"required_any_claims may only narrow the preset's {ours!r}, "
                    f"not become {theirs!r}"
                )
    if "claim_values" in preset and "claim_values" in overrides:
        ours_values = dict(preset["claim_values"])
        theirs_values = dict(overrides["claim_values"] or {})
        for key, value in ours_values.items():
            if key in theirs_values and theirs_values[key] != value:
                raise ConfigurationError(
                    f"claim_values[{key!r}] is {value!r} in this preset and cannot be changed"
                )
        merged["claim_values"] = {**ours_values, **theirs_values}
    return merged


_FLOATS = ("LEEWAY", "MAX_TOKEN_AGE", "MAX_LIFETIME")
_LISTS = {
    "ALGORITHMS": "algorithms",
    "TRUSTED_JWKS_ORIGINS": "trusted_jwks_origins",
    "FORBIDDEN_CLAIMS": "forbidden_claims",
    "REQUIRED_ANY_CLAIMS": "required_any_claims",
    "CLIENT_ID_CLAIMS": "client_id_claims",
    "SCOPE_CLAIMS": "scope_claims",
    "REQUIRED_CLAIMS": "required_claims",
}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(_text(v) for v in value)


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false, got {value!r}")


def _number(name: str, value: Any, kind: type[float] | type[int]) -> float | int:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} must be a number, got {value!r}") from None


def settings_from_mapping(
    mapping: Mapping[str, Any], prefix: str, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """``Verifier`` keyword arguments from ``{prefix}NAME`` entries (environment,
    app config), with ``overrides`` applied as ``Verifier.for_stytch`` would."""

    def get(name: str) -> Any:
        value = mapping.get(prefix + name)
        return None if value is None or value == "" else value

    kwargs: dict[str, Any] = {}
    for name, param in _LISTS.items():
        if get(name) is not None:
            kwargs[param] = _list(get(name))
    for name in _FLOATS:
        if get(name) is not None:
            kwargs[name.lower()] = _number(prefix + name, get(name), float)
    if get("MAX_TOKEN_SIZE") is not None:
        kwargs["max_token_size"] = _number(prefix + "MAX_TOKEN_SIZE", get("MAX_TOKEN_SIZE"), int)
    if get("STRICT_RFC9068") is not None:
        kwargs["strict_rfc9068"] = _bool(prefix + "STRICT_RFC9068", get("STRICT_RFC9068"))
    for name in ("ISSUER", "AUDIENCE"):
        if get(name) is not None:
            kwargs[name.lower()] = _list(get(name))
    for name in ("JWKS_URL", "DISCOVERY_URL", "AUDIENCE_CLAIM"):
        if get(name) is not None:
            kwargs[name.lower()] = _text(get(name))
    if get("JWKS") is not None:
        # JSON text from the environment, or a dict straight from app config
        jwks = get("JWKS")
        kwargs["jwks"] = jwks if isinstance(jwks, Mapping) else _text(jwks)
    kwargs.update(overrides)

    project_id = get("STYTCH_PROJECT_ID")
    if project_id is not None:
        environment = get("STYTCH_ENVIRONMENT")
        settings = _presets.stytch(
            _text(project_id),
            None if environment is None else _text(environment),
            b2b=_bool(prefix + "STYTCH_B2B", get("STYTCH_B2B") or False),
        )
        # As Verifier.for_stytch: the preset's required claims only grow.
        return merge(settings, kwargs)
    if "issuer" not in kwargs or "audience" not in kwargs:
        raise ConfigurationError(
            f"set {prefix}STYTCH_PROJECT_ID, or {prefix}ISSUER and {prefix}AUDIENCE"
        )
    if not any(k in kwargs for k in ("jwks_url", "jwks", "discovery_url", "public_key")):
        issuers = kwargs["issuer"]
        if len(issuers) != 1:
            raise ConfigurationError(
                f"discovery needs a single {prefix}ISSUER or a {prefix}JWKS_URL"
            )
        kwargs["discovery_url"] = issuers[0]
    return kwargs
