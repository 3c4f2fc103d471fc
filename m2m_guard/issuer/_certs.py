"""The caller's TLS client certificate, for certificate-bound tokens (RFC 8705 §3).

Two sources, both of which only the server or a trusted proxy can fill:

* the ASGI ``tls`` extension (``client_cert_chain``, PEM), where the server
  terminates mutual TLS itself and provides it;
* a header a proxy that terminates mutual TLS sets (nginx's
  ``$ssl_client_escaped_cert``, Envoy's ``X-Forwarded-Client-Cert`` with a
  ``Cert="…"`` element): read only when the issuer is told its name, since
  a client could send it as well. The proxy must strip it from clients.

The token's ``cnf["x5t#S256"]`` is the base64url SHA-256 of the
certificate's DER (RFC 8705 §3.1). A header that is there but holds no
certificate is refused (``invalid_request``), never ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from m2m_guard._sansio.binding import cert_thumbprint

from ._errors import OAuthError

__all__ = ["certificate_thumbprint"]

_XFCC_CERT = re.compile(r'(?:^|;)Cert="?([^";]+)"?')  # Envoy: Hash=…;Cert="<URL-encoded PEM>"
_MAX_HEADER = 16 * 1024


def _thumbprint(pem: str) -> str:
    try:
        return cert_thumbprint(pem)
    except (ValueError, UnicodeEncodeError) as exc:
        raise OAuthError("invalid_request", "The client certificate is not PEM.") from exc


def _from_header(values: Sequence[str]) -> str:
    if len(values) != 1:  # a caller's own next to the proxy's
        raise OAuthError("invalid_request", "Send exactly one client certificate header.")
    value = values[0]
    if len(value) > _MAX_HEADER:
        raise OAuthError("invalid_request", "The client certificate header is too large.")
    match = _XFCC_CERT.search(value)
    return _thumbprint(unquote(match.group(1) if match else value))


def certificate_thumbprint(
    scope: Mapping[str, Any], headers: Sequence[tuple[str, str]], header: str | None
) -> str | None:
    """The ``x5t#S256`` of the caller's certificate, or None when there is none.

    ``headers`` are the request's (name, value) pairs, names in lower case.
    """
    tls = scope.get("extensions", {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or ()
    if chain:
        return _thumbprint(str(chain[0]))
    if header is None:
        return None
    name = header.lower()
    values = [value for key, value in headers if key == name]
    return None if not values else _from_header(values)
