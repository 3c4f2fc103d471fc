"""Where the Django and DRF integrations get their verifier: ``settings.M2M_GUARD``.

    M2M_GUARD = {
        "STYTCH_PROJECT_ID": "project-test-…",  # the M2M_GUARD_* names, no prefix
        "EXCLUDE_PATHS": ["/health"],           # the middleware's own keys
    }

The verifier keys are the environment variables' (``ISSUER``, ``AUDIENCE``,
``JWKS_URL`` …), read as strictly: an unknown key is refused with a
did-you-mean, a setting without its partner and contradictions too, each
error naming ``settings.M2M_GUARD["KEY"]``. ``VERIFIER`` (a verifier, or the
dotted path of one) replaces them; without either, the ``M2M_GUARD_*``
environment variables configure it. Read once, when the first middleware,
view or authentication class needs it, and again after ``override_settings``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from ._flask_setup import configures, require_keys
from ._guard import Guard
from ._sansio.errors import ConfigurationError
from ._settings.environment import read_bool, settings_from_mapping
from ._types import TokenVerifier
from ._verifier import build_verifier, verifier_from_env

__all__ = ["SETTING", "Configured", "configured", "startup"]

#: The name of the Django setting.
SETTING = "M2M_GUARD"
#: Keys the integration reads itself (the rest configure the verifier).
_OWN = (
    "VERIFIER",
    "EXCLUDE_PATHS",
    "REQUIRED_SCOPES",
    "ANY_SCOPES",
    "OPTIONAL",
    "REALM",
    "REQUIRE_KEYS_AT_STARTUP",
)


@dataclass(frozen=True, eq=False)
class Configured:
    """``settings.M2M_GUARD`` read: the verifier, and the middleware's guard."""

    verifier: TokenVerifier
    realm: str
    #: the middleware's decision (its exclusions, scopes, ``OPTIONAL``)
    guard: Guard
    require_keys: bool

    def route_guard(self, required: Iterable[str], any_of: Iterable[str], optional: bool) -> Guard:
        """A view's or an authentication class's guard, with this verifier."""
        return Guard(
            self.verifier,
            required_scopes=required,
            any_scopes=any_of,
            optional=optional,
            realm=self.realm,
        )


_current: Configured | None = None


def configured() -> Configured:
    """``settings.M2M_GUARD`` read and checked (once, until the setting changes)."""
    global _current
    if _current is None:
        _current = _read(getattr(settings, SETTING, None))
    return _current


def _forget(*, setting: str, **kwargs: Any) -> None:
    global _current
    if setting == SETTING:
        _current = None


setting_changed.connect(_forget)


def _named(key: str) -> str:
    return f'settings.{SETTING}["{key}"]'


def _read(raw: object) -> Configured:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"settings.{SETTING} must be a dict")
    own = {k: raw[k] for k in _OWN if raw.get(k) is not None}
    try:
        verifier = _verifier(raw, own.get("VERIFIER"))
        realm = own.get("REALM", "api")
        if not isinstance(realm, str):
            raise ConfigurationError.of(_named("REALM"), "must be a string")
        guard = Guard(
            verifier,
            required_scopes=own.get("REQUIRED_SCOPES", ()),
            any_scopes=own.get("ANY_SCOPES", ()),
            exclude_paths=own.get("EXCLUDE_PATHS", ()),
            optional=read_bool(_named("OPTIONAL"), own.get("OPTIONAL", False)),
            realm=realm,
        )
        wants = own.get("REQUIRE_KEYS_AT_STARTUP")
        if wants is None:
            wants = os.environ.get("M2M_GUARD_REQUIRE_KEYS_AT_STARTUP") or False
        keys = read_bool(_named("REQUIRE_KEYS_AT_STARTUP"), wants)
    except ConfigurationError as exc:
        if exc.description.startswith("settings."):
            raise
        raise ConfigurationError(f"settings.{SETTING}: {exc.description}") from None
    return Configured(verifier, realm, guard, keys)


def _verifier(raw: Mapping[str, Any], given: object) -> TokenVerifier:
    if isinstance(given, str):
        try:
            given = import_string(given)
        except ImportError as exc:
            raise ConfigurationError.of(_named("VERIFIER"), f"cannot be imported: {exc}") from None
    if given is not None:
        if not isinstance(given, TokenVerifier):
            raise ConfigurationError.of(_named("VERIFIER"), "must be an m2m_guard.Verifier")
        return given
    if configures({f"M2M_GUARD_{k}": v for k, v in raw.items() if k not in _OWN}):
        # errors name the key: "LEEWAY must be …"
        return build_verifier(settings_from_mapping(raw, "", {}, also_known=_OWN))
    if configures(os.environ):
        return verifier_from_env()
    raise ConfigurationError(
        "no verifier: set STYTCH_PROJECT_ID, or ISSUER and AUDIENCE (or VERIFIER), "
        "or the M2M_GUARD_* environment variables"
    )


def startup(config: Configured) -> None:
    """Fetch the keys now when ``REQUIRE_KEYS_AT_STARTUP`` asks for it."""
    if config.require_keys:
        require_keys(config.verifier)
