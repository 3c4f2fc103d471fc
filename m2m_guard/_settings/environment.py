"""``Verifier`` keyword arguments from ``{prefix}NAME`` variables, strictly.

The README's "Configuration" table lists the variables; ``VARIABLES`` is the
truth. Lists are comma-separated; Flask's ``app.config`` may hold native
values instead of text.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from m2m_guard import _presets
from m2m_guard._sansio.errors import ConfigurationError

__all__ = ["ELSEWHERE", "VARIABLES", "MappedSettings", "read_bool", "settings_from_mapping"]


Reader = Callable[[str, Any], Any]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _as_text(name: str, value: Any) -> str:
    return _text(value)


def _as_list(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(_text(v) for v in value)


def read_bool(name: str, value: Any) -> bool:
    """A true/false setting from text (``1``/``true``/``yes``/``on`` …) or a bool."""
    if isinstance(value, bool):
        return value
    text = _text(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigurationError.of(name, f"must be true or false, got {value!r}")


def _as_number(kind: type[float] | type[int]) -> Reader:
    def read(name: str, value: Any) -> float | int:
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise ConfigurationError.of(name, f"must be a number, got {value!r}") from None

    return read


def _as_jwks(name: str, value: Any) -> Mapping[str, Any] | str:
    # JSON text from the environment, or a dict straight from app config
    return value if isinstance(value, Mapping) else _text(value)


#: variable (without prefix) -> the ``Verifier`` argument it sets, and how it is read
VARIABLES: dict[str, tuple[str, Reader]] = {
    "ISSUER": ("issuer", _as_list),
    "AUDIENCE": ("audience", _as_list),
    "JWKS_URL": ("jwks_url", _as_text),
    "DISCOVERY_URL": ("discovery_url", _as_text),
    "JWKS": ("jwks", _as_jwks),
    "ALGORITHMS": ("algorithms", _as_list),
    "LEEWAY": ("leeway", _as_number(float)),
    "MAX_TOKEN_AGE": ("max_token_age", _as_number(float)),
    "MAX_LIFETIME": ("max_lifetime", _as_number(float)),
    "CLIENT_ID_CLAIMS": ("client_id_claims", _as_list),
    "SCOPE_CLAIMS": ("scope_claims", _as_list),
    "REQUIRED_CLAIMS": ("required_claims", _as_list),
    "FORBIDDEN_CLAIMS": ("forbidden_claims", _as_list),
    "REQUIRED_ANY_CLAIMS": ("required_any_claims", _as_list),
    "TRUSTED_JWKS_ORIGINS": ("trusted_jwks_origins", _as_list),
    "STRICT_RFC9068": ("strict_rfc9068", read_bool),
    "AUDIENCE_CLAIM": ("audience_claim", _as_text),
    "MAX_TOKEN_SIZE": ("max_token_size", _as_number(int)),
    "TOKEN_CACHE_SIZE": ("token_cache_size", _as_number(int)),
    "DPOP": ("dpop", _as_text),
    "MTLS": ("mtls", read_bool),
    "MTLS_CERT_HEADER": ("mtls_cert_header", _as_text),
    # a multi-tenant issuer (ISSUER a pattern such as https://{tenant}.example.com/)
    "TENANTS": ("tenants", _as_list),
    "TENANT_CLAIM": ("tenant_claim", _as_text),
    "MAX_TENANTS": ("max_tenants", _as_number(int)),
}
#: the settings only a multi-tenant issuer takes
_TENANT_SETTINGS = ("tenants", "tenant_claim", "max_tenants")
_STYTCH = ("STYTCH_PROJECT_ID", "STYTCH_ENVIRONMENT", "STYTCH_B2B")
#: what the Stytch preset decides, so setting it too is a contradiction
_NOT_WITH_STYTCH = ("ISSUER", "JWKS_URL", "DISCOVERY_URL", "JWKS", "TENANTS")
#: read by other parts of the package (the CLI, start-up checks, the HTTP seam)
ELSEWHERE = frozenset(
    {
        "TOKEN_URL",
        "CLIENT_ID",
        "CLIENT_SECRET",
        "ISSUER_DB",
        "ISSUER_URL",
        "PROJECT_ID",
        "PROJECT_SECRET",
        "HTTP",
        "REQUIRE_KEYS_AT_STARTUP",
    }
)


@dataclass(frozen=True)
class MappedSettings:
    """``Verifier`` keyword arguments read from a mapping, and the variable
    that set each one (for error messages)."""

    kwargs: dict[str, Any]
    sources: dict[str, str]

    @property
    def multi_tenant(self) -> bool:
        """Whether these are a ``MultiTenantVerifier``'s (``TENANTS`` is set)."""
        return "tenants" in self.kwargs

    @contextlib.contextmanager
    def named(self) -> Iterator[None]:
        """Re-raise a ``ConfigurationError`` of the block naming the variable."""
        try:
            yield
        except ConfigurationError as exc:
            renamed = exc.named(self.sources)
            if renamed is exc:
                raise
            raise renamed from None


def settings_from_mapping(
    mapping: Mapping[str, Any],
    prefix: str,
    overrides: Mapping[str, Any],
    *,
    also_known: Iterable[str] = (),
) -> MappedSettings:
    """``Verifier`` keyword arguments from ``{prefix}NAME`` entries (environment,
    app config), with ``overrides`` applied as ``Verifier.for_stytch`` would.

    Strict: an unknown ``{prefix}*`` name, a setting without its partner and
    contradictory settings are ``ConfigurationError``s naming the variables.
    Build the verifier inside ``MappedSettings.named()`` so that errors of
    the constructor name the variables too. ``also_known`` are names an
    integration reads itself (Django's ``EXCLUDE_PATHS`` …): skipped here, and
    suggested in the did-you-mean of an unknown name.
    """
    present = {
        key[len(prefix) :]: value
        for key, value in mapping.items()
        if isinstance(key, str) and key.startswith(prefix) and value is not None and value != ""
    }
    extra = frozenset(also_known)
    _refuse_unknown(present, prefix, extra)
    present = {name: value for name, value in present.items() if name not in extra}
    kwargs: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, (param, read) in VARIABLES.items():
        if name in present:
            kwargs[param] = read(prefix + name, present[name])
            sources[param] = prefix + name
    for param in overrides:
        sources.pop(param, None)
    kwargs.update(overrides)
    if "STYTCH_PROJECT_ID" in present:
        clash = [prefix + n for n in _NOT_WITH_STYTCH if n in present]
        if clash:
            raise ConfigurationError(
                f"{prefix}STYTCH_PROJECT_ID sets the issuer and its keys; "
                f"unset {', '.join(clash)} (or configure a generic issuer without it)"
            )
        environment = present.get("STYTCH_ENVIRONMENT")
        preset = _presets.stytch(
            _text(present["STYTCH_PROJECT_ID"]),
            None if environment is None else _text(environment),
            b2b=read_bool(prefix + "STYTCH_B2B", present.get("STYTCH_B2B", False)),
        )
        # As Verifier.for_stytch: the preset's required claims only grow.
        return MappedSettings(_presets.merge(preset, kwargs), sources)
    stray = [prefix + n for n in _STYTCH[1:] if n in present]
    if stray:
        raise ConfigurationError(f"{' and '.join(stray)} need {prefix}STYTCH_PROJECT_ID")
    for have, need in (("issuer", "AUDIENCE"), ("audience", "ISSUER")):
        if have in kwargs and need.lower() not in kwargs:
            raise ConfigurationError(
                f"{sources.get(have, have)} is set but {prefix}{need} is missing"
            )
    if "issuer" not in kwargs:
        raise ConfigurationError(
            f"set {prefix}STYTCH_PROJECT_ID, or {prefix}ISSUER and {prefix}AUDIENCE"
        )
    if any(param in kwargs for param in _TENANT_SETTINGS):
        _check_multi_tenant(kwargs, sources, prefix)
        return MappedSettings(kwargs, sources)
    if not any(k in kwargs for k in ("jwks_url", "jwks", "discovery_url", "public_key")):
        issuers = kwargs["issuer"]
        if len(issuers) != 1:
            raise ConfigurationError(
                f"discovery needs a single {prefix}ISSUER or a {prefix}JWKS_URL"
            )
        kwargs["discovery_url"] = issuers[0]
        sources["discovery_url"] = sources.get("issuer", "issuer")
    return MappedSettings(kwargs, sources)


def _check_multi_tenant(kwargs: Mapping[str, Any], sources: Mapping[str, str], prefix: str) -> None:
    """A multi-tenant issuer's settings: the tenants, and one keys URL (a
    template or the shared one); discovery and inline keys do not apply."""
    if "tenants" not in kwargs:
        named = [sources.get(p, p) for p in _TENANT_SETTINGS if p in kwargs]
        raise ConfigurationError(f"{' and '.join(named)} need {prefix}TENANTS")
    if "jwks_url" not in kwargs or any(k in kwargs for k in ("jwks", "discovery_url")):
        raise ConfigurationError(
            f"{prefix}TENANTS needs {prefix}JWKS_URL (the shared keys URL or a template "
            f"with the issuer's placeholder), and neither {prefix}JWKS nor {prefix}DISCOVERY_URL"
        )


def _refuse_unknown(present: Mapping[str, Any], prefix: str, extra: frozenset[str]) -> None:
    known = [*VARIABLES, *_STYTCH, *sorted(ELSEWHERE), *sorted(extra)]
    for name in sorted(present):
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
            hint = f"; did you mean {prefix}{close[0]}?" if close else ""
            raise ConfigurationError(f"unknown setting {prefix}{name}{hint}")
