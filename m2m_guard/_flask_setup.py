"""The Flask extension's start-up: where its verifier comes from, whether it
needs keys before the first request, and how views are found (no Flask import)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from ._sansio.errors import ConfigurationError, KeysUnavailableError
from ._settings.environment import ELSEWHERE, read_bool, settings_from_mapping
from ._types import TokenVerifier
from ._verifier import Verifier

__all__ = ["configured_verifier", "require_keys", "unwrapped", "wants_keys"]

PREFIX = "M2M_GUARD_"
REQUIRE_KEYS = PREFIX + "REQUIRE_KEYS_AT_STARTUP"


def configures(mapping: Mapping[str, Any]) -> bool:
    """Whether ``mapping`` holds any ``M2M_GUARD_*`` setting of the verifier."""
    return any(
        isinstance(key, str)
        and key.startswith(PREFIX)
        and key[len(PREFIX) :] not in ELSEWHERE
        and value is not None
        and value != ""
        for key, value in mapping.items()
    )


def unwrapped(view: object) -> Iterator[object]:
    """``view`` and every function it wraps (``__wrapped__``), bounded."""
    for _ in range(32):
        yield view
        view = getattr(view, "__wrapped__", None)
        if view is None:
            return


def configured_verifier(config: Mapping[str, Any]) -> TokenVerifier:
    """The verifier of ``app.config``'s ``M2M_GUARD_*``, else of the environment."""
    if configures(config):
        source: Mapping[str, Any] = config
    elif configures(os.environ):
        source = os.environ
    else:
        raise ConfigurationError(
            "M2MGuard has no verifier: pass verifier=, or set M2M_GUARD_STYTCH_PROJECT_ID, "
            "or M2M_GUARD_ISSUER and M2M_GUARD_AUDIENCE, in app.config or in the "
            "environment variables"
        )
    settings = settings_from_mapping(source, PREFIX, {})
    with settings.named():
        return Verifier(**settings.kwargs)


def wants_keys(config: Mapping[str, Any], require: bool | None) -> bool:
    """``require``, else ``M2M_GUARD_REQUIRE_KEYS_AT_STARTUP`` of ``config``, then
    of the environment; off by default."""
    if require is not None:
        return bool(require)
    for source in (config, os.environ):
        value = source.get(REQUIRE_KEYS)
        if value is not None and value != "":
            return read_bool(REQUIRE_KEYS, value)
    return False


def require_keys(verifier: TokenVerifier) -> None:
    """Fetch the keys now; none usable is a ``KeysUnavailableError`` with the reason."""
    if isinstance(verifier, Verifier):
        verifier.warm_up(strict=True)
    elif not verifier.warm_up():
        raise KeysUnavailableError("no usable keys at start-up (see the m2m_guard log)")
