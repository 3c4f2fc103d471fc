"""Presets and configuration from the environment (or any mapping).

Every variable takes the prefix (``M2M_GUARD_`` by default); list values
are comma-separated:

=====================  ========================================================
``STYTCH_PROJECT_ID``  use the Stytch preset for this project
``STYTCH_ENVIRONMENT`` ``test`` (default), ``live`` or a base URL
``STYTCH_B2B``         ``true`` for a Stytch B2B project's JWKS path
``ISSUER``             accepted ``iss`` value(s) (generic issuers)
``AUDIENCE``           accepted ``aud`` value(s); defaults to the project id
                       with Stytch, required otherwise
``JWKS_URL``           the issuer's JWKS; without it, discovery is used
``DISCOVERY_URL``      issuer or metadata URL for discovery (default: ISSUER)
``JWKS``               a static JWKS as JSON text (no network)
``ALGORITHMS``         allow-list, e.g. ``RS256,ES256`` (default ``RS256``)
``LEEWAY``             clock skew tolerance in seconds (default 0)
``MAX_TOKEN_AGE``      reject tokens issued longer ago (seconds)
``MAX_LIFETIME``       reject tokens whose ``exp - iat`` is longer (seconds)
``CLIENT_ID_CLAIMS``   where the client id is read, in order
``SCOPE_CLAIMS``       claims that carry scopes
``REQUIRED_CLAIMS``    claims every token must have
``STRICT_RFC9068``     ``true`` to require RFC 9068 access tokens
``MAX_TOKEN_SIZE``     size cap in characters (default 8192)
``AUDIENCE_CLAIM``     the claim holding the audience (default ``aud``)
``TRUSTED_JWKS_ORIGINS`` other origins a discovered ``jwks_uri`` may use
``FORBIDDEN_CLAIMS``   claims a token must not carry
=====================  ========================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._presets import merge, stytch
from ._sansio.errors import ConfigurationError

if TYPE_CHECKING:
    from ._verifier import Verifier

__all__ = ["verifier_from_mapping"]

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


def verifier_from_mapping(
    cls: type[Verifier], mapping: Mapping[str, Any], prefix: str, **overrides: Any
) -> Verifier:
    """Build a verifier from ``{prefix}NAME`` entries (environment, app config)."""

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
        settings = stytch(
            _text(project_id),
            None if environment is None else _text(environment),
            b2b=_bool(prefix + "STYTCH_B2B", get("STYTCH_B2B") or False),
        )
        # As Verifier.for_stytch: the preset's required claims only grow.
        return cls(**merge(settings, kwargs))
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
    return cls(**kwargs)
