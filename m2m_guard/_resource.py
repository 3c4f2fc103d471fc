"""RFC 9728 OAuth 2.0 Protected Resource Metadata.

A protected API can publish, at ``/.well-known/oauth-protected-resource``,
which authorization servers issue tokens for it and which scopes it knows,
and point to that document from its ``WWW-Authenticate`` challenges
(``resource_metadata="…"``, RFC 9728 §5.1), so a client that got a 401 can
find out where to get a token. The middlewares serve it when configured.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit

from ._sansio.errors import ConfigurationError

__all__ = ["ProtectedResource"]

_WELL_KNOWN = "/.well-known/oauth-protected-resource"


def _strings(values: str | Sequence[str], *, split: bool = False) -> tuple[str, ...]:
    # A lone string is one value (scopes: space-separated), never characters.
    if isinstance(values, str):
        return tuple(values.split()) if split else (values,)
    items = tuple(values)
    if not all(isinstance(item, str) for item in items):
        raise ConfigurationError("resource metadata lists must hold strings")
    return items


@dataclass(frozen=True)
class ProtectedResource:
    """The metadata of one protected resource (an API).

    Args:
        resource: the resource identifier, an https (or http) URL such as
            ``https://api.example.com`` — usually the audience of its tokens.
        authorization_servers: issuer URLs whose tokens it accepts.
        scopes_supported: scopes it understands.
        resource_name: a human-readable name.
        extra: any other RFC 9728 §2 member (``resource_documentation`` …).
    """

    resource: str
    authorization_servers: str | Sequence[str] = ()
    scopes_supported: str | Sequence[str] = ()
    resource_name: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    _body: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.resource) if isinstance(self.resource, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(f"resource must be an http(s) URL, got {self.resource!r}")
        if parts.query or parts.fragment:
            # RFC 9728 §1.2: the identifier has no query and no fragment.
            raise ConfigurationError("resource must not have a query or a fragment")
        object.__setattr__(self, "authorization_servers", _strings(self.authorization_servers))
        object.__setattr__(self, "scopes_supported", _strings(self.scopes_supported, split=True))
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))
        try:  # a document that cannot be rendered fails now, not per request
            object.__setattr__(self, "_body", json.dumps(self.document(), separators=(",", ":")))
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"resource metadata is not JSON: {exc}") from None

    @property
    def path(self) -> str:
        """Where the document is served, as servers hand over request paths
        (percent-decoded): the well-known path, then the resource's own path
        (RFC 9728 §3.1)."""
        return _WELL_KNOWN + unquote(urlsplit(self.resource).path.rstrip("/"))

    @property
    def url(self) -> str:
        """The document's URL, as challenges name it."""
        parts = urlsplit(self.resource)
        return f"{parts.scheme}://{parts.netloc}{_WELL_KNOWN}{parts.path.rstrip('/')}"

    def document(self) -> dict[str, Any]:
        """The metadata as a JSON object (RFC 9728 §2)."""
        document: dict[str, Any] = {
            **self.extra,
            "resource": self.resource,
            "bearer_methods_supported": ["header"],
        }
        if self.authorization_servers:
            document["authorization_servers"] = list(self.authorization_servers)
        if self.scopes_supported:
            document["scopes_supported"] = list(self.scopes_supported)
        if self.resource_name is not None:
            document["resource_name"] = self.resource_name
        return document

    def body(self) -> bytes:
        """The JSON body the middlewares answer with."""
        body: str = object.__getattribute__(self, "_body")
        return body.encode()
