"""Where scopes are read: claim names, nested paths, and prefixed role claims.

``scope_claims`` entries are plain claim names (``"scope"``, ``"scp"``), dotted
paths into nested objects (``"realm_access.roles"``), or ``ScopeClaim``
values that add a prefix to every value they grant, so that roles and scopes
live in separate namespaces: with ``ScopeClaim("realm_access.roles",
prefix="role:")`` a realm role named ``orders:write`` grants the scope
``role:orders:write``, never ``orders:write``.

The same mapping is spelled as text (an environment variable, a config
file): ``"resource_access.my-api.roles=>role:"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError

__all__ = ["ABSENT", "ScopeClaim", "claim_at", "scope_claim_of"]

#: The separator of the text form: ``"<claim path>=><prefix>"``.
ARROW = "=>"

ABSENT: Any = object()


def claim_at(claims: Mapping[str, Any], path: str | tuple[str, ...]) -> Any:
    """A claim by name; a dotted name not present as such is a path into
    nested objects (Keycloak's ``realm_access.roles``); a tuple is a path
    whose parts may contain dots. ``ABSENT`` when any step is missing."""
    if type(path) is str:
        if path in claims:
            return claims[path]
        if "." not in path:
            return ABSENT
        path = tuple(path.split("."))
    value: Any = claims
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return ABSENT
        value = value[part]
    return value


def _valid_part(part: object) -> bool:
    return isinstance(part, str) and bool(part) and not any(c.isspace() for c in part)


@dataclass(frozen=True, slots=True)
class ScopeClaim:
    """A claim whose values grant scopes, each with ``prefix`` in front.

    Args:
        claim: the claim's name, a dotted path (``resource_access.my-api.roles``)
            or a tuple of path parts (for keys that contain dots themselves:
            ``("resource_access", "api.example.com", "roles")``).
        prefix: put in front of every value (``"role:"``); empty: none. The
            values are read as scope claims are: a space-separated string or
            a list of strings.
    """

    claim: str | tuple[str, ...]
    prefix: str = ""

    def __post_init__(self) -> None:
        parts = (self.claim,) if isinstance(self.claim, str) else self.claim
        if not isinstance(parts, tuple) or not parts or not all(map(_valid_part, parts)):
            raise ConfigurationError.of("scope_claims", f"has an invalid claim path {self.claim!r}")
        if not isinstance(self.prefix, str) or any(c.isspace() for c in self.prefix):
            raise ConfigurationError.of(
                "scope_claims", f"has an invalid prefix {self.prefix!r} (no spaces)"
            )
        if ARROW in self.prefix or any(ARROW in p for p in parts):
            raise ConfigurationError.of(
                "scope_claims", f"may use {ARROW!r} once per entry, in {self.claim!r}"
            )

    @property
    def name(self) -> str:
        """The claim path as text (for messages)."""
        return self.claim if isinstance(self.claim, str) else ".".join(self.claim)

    def __str__(self) -> str:
        return f"{self.name}{ARROW}{self.prefix}" if self.prefix else self.name


def scope_claim_of(entry: object) -> str | ScopeClaim:
    """One ``scope_claims`` entry, checked: a claim name stays a string (the
    common case, read as before); ``"path=>prefix"`` becomes a ``ScopeClaim``."""
    if isinstance(entry, ScopeClaim):
        return entry if entry.prefix or not isinstance(entry.claim, str) else entry.claim
    if not isinstance(entry, str) or not entry:
        raise ConfigurationError.of("scope_claims", "must be claim names or ScopeClaim values")
    if ARROW not in entry:
        if not _valid_part(entry):
            raise ConfigurationError.of("scope_claims", f"has an invalid claim name {entry!r}")
        return entry
    path, _, prefix = entry.partition(ARROW)
    if not prefix:
        raise ConfigurationError.of("scope_claims", f"{entry!r} names no prefix after {ARROW!r}")
    return ScopeClaim(path, prefix)
