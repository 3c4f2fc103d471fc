"""Each setting checked and normalised; errors name the setting."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import SplitResult, urlsplit

from jwt.exceptions import InvalidKeyError

from m2m_guard._http import httpx
from m2m_guard._sansio.discovery import origin_of
from m2m_guard._sansio.errors import ConfigurationError
from m2m_guard._sansio.keys import KeySet, key_from_pem
from m2m_guard._urls import is_loopback

__all__ = [
    "check_url",
    "claim_values_of",
    "names",
    "optional_names",
    "origin",
    "plain_http",
    "static_keys",
    "strings",
    "valid_url",
]

logger = logging.getLogger("m2m_guard")


def strings(value: str | Iterable[str], what: str) -> frozenset[str]:
    """One non-empty string or several, as a set."""
    values = [value] if isinstance(value, str) else list(value)
    if not values or not all(isinstance(v, str) and v for v in values):
        raise ConfigurationError.of(what, "must be a non-empty string or a list of them")
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
        raise ConfigurationError.of(what, "must be a non-empty string or a list of them")
    return tuple(dict.fromkeys(values))


def origin(url: str, what: str) -> str:
    """The origin of a configured http(s) URL."""
    check_url(url, what)
    return origin_of(url)


def claim_values_of(values: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """``claim_values`` as pairs of strings."""
    items = tuple((values or {}).items())
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in items):
        raise ConfigurationError.of("claim_values", "must map claim names to strings")
    return items


def valid_url(url: str, what: str) -> SplitResult:
    """The parts of a valid http(s) URL; anything else is a ``ConfigurationError``.

    Its ``hostname`` is never empty.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        httpx.URL(url)
    except (ValueError, TypeError, httpx.InvalidURL):
        raise ConfigurationError.of(what, f"is not a valid URL: {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError.of(what, f"must be an http(s) URL, got {url!r}")
    return parts


def plain_http(parts: SplitResult) -> bool:
    """Whether a request to this URL travels unencrypted beyond loopback."""
    return parts.scheme == "http" and not is_loopback(parts.hostname or "")


def check_url(url: str, what: str) -> None:
    """Refuse anything but a valid http(s) URL; warn about plain http off loopback."""
    if plain_http(valid_url(url, what)):
        logger.warning("%s %s uses plain http; use https outside local development", what, url)


def static_keys(jwks: Mapping[str, Any] | str | None, public_key: str | bytes | None) -> KeySet:
    """Hand-configured keys: a JWKS (dict or JSON text) or one PEM key."""
    what = "public_key" if public_key is not None else "jwks"
    try:
        if public_key is not None:
            return KeySet(keys=(key_from_pem(public_key),), wildcard=True)
        document = json.loads(jwks) if isinstance(jwks, str) else jwks
        if not isinstance(document, Mapping):
            raise InvalidKeyError("jwks must be a JWKS object")
        keys = KeySet.from_jwks(document)
    except (InvalidKeyError, ValueError, RecursionError) as exc:
        raise ConfigurationError.of(what, f"holds invalid static keys: {exc}") from exc
    if not keys.keys:
        raise ConfigurationError.of(what, "holds no usable verification key")
    return keys
