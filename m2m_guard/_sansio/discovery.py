"""OAuth 2.0 / OIDC discovery documents (RFC 8414, OpenID Connect Discovery 1.0)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

__all__ = ["discovery_urls", "jwks_uri_from_metadata", "origin_of", "token_endpoint_from_metadata"]


def discovery_urls(issuer: str) -> tuple[str, str]:
    """The OIDC and the RFC 8414 metadata URLs of an issuer, in that order.

    OIDC appends the well-known suffix to the issuer (Discovery §4); RFC 8414
    §3.1 inserts it between the host and the issuer's path.
    """
    base = issuer.rstrip("/")
    parts = urlsplit(base)
    rfc8414 = f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{parts.path}"
    return f"{base}/.well-known/openid-configuration", rfc8414


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower case, default port left out."""
    parts = urlsplit(url)
    scheme, host, port = parts.scheme.lower(), (parts.hostname or ""), parts.port
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + ("" if port in (None, _DEFAULT_PORTS.get(scheme)) else f":{port}")


def jwks_uri_from_metadata(
    body: bytes, issuer: str, trusted_origins: tuple[str, ...] = ()
) -> tuple[str | None, str]:
    """Read ``jwks_uri`` from a metadata document; ``(None, reason)`` if unusable.

    The document's ``issuer`` must equal the configured one exactly (OIDC
    Discovery §4.3, RFC 8414 §3.3), or a compromised or misconfigured
    metadata endpoint could hand us another issuer's keys. For the same
    reason the ``jwks_uri`` must be on the issuer's own origin, or on one
    the configuration trusts explicitly.
    """
    try:
        metadata = json.loads(body)
    except (ValueError, RecursionError):
        return None, "metadata is not JSON"
    if not isinstance(metadata, dict):
        return None, "metadata is not a JSON object"
    if metadata.get("issuer") != issuer:
        return None, f"metadata names issuer {metadata.get('issuer')!r}, expected {issuer!r}"
    jwks_uri = metadata.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        return None, "metadata has no usable jwks_uri"
    try:
        origin = origin_of(jwks_uri)
    except ValueError:  # urlsplit refuses e.g. an unbalanced "[" or a bad port
        return None, "metadata has no usable jwks_uri"
    if urlsplit(jwks_uri).scheme not in ("http", "https"):
        return None, "metadata has no usable jwks_uri"
    if origin != origin_of(issuer) and origin not in trusted_origins:
        return None, f"jwks_uri {jwks_uri!r} is not on the issuer's origin"
    return jwks_uri, ""


def token_endpoint_from_metadata(body: bytes) -> str | None:
    """The metadata's ``token_endpoint`` when it is an http(s) URL, else ``None``.

    Only for documentation (the OpenAPI ``tokenUrl``): nothing is ever sent
    to it, and it decides nothing about a token.
    """
    try:
        metadata = json.loads(body)
    except (ValueError, RecursionError):
        return None
    endpoint = metadata.get("token_endpoint") if isinstance(metadata, dict) else None
    if not isinstance(endpoint, str) or len(endpoint) > 2048:
        return None
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in endpoint):
        return None
    return endpoint
