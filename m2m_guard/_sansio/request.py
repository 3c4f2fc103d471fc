"""What a verifier may know about the request a token came with.

Most verifications need only the ``Authorization`` values. Rules that look
further (custom checks, DPoP proofs bound to the method and URL, certificate-
bound tokens) get a ``RequestContext``: one immutable value built by the
integration from its framework's request, only when the verifier or the
route asks for it (so the warm path of a plain bearer token never builds
one).

The builders ``from_asgi`` and ``from_wsgi`` are pure functions of the ASGI
scope and the WSGI environ; the frameworks built on them (Starlette, FastAPI,
Flask) use the same two.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

__all__ = ["RequestContext"]


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The request a token was presented with.

    Attributes:
        method: the HTTP method, upper case (``"GET"``).
        scheme: ``"http"`` or ``"https"`` as the server saw it (behind a proxy,
            the proxy's hop; forwarded headers are *not* applied here).
        host: the ``Host`` header (or the server's name and port without
            one), as sent.
        path: the decoded path the framework routes on (ASGI ``path`` below
            ``root_path``, WSGI ``PATH_INFO``).
        raw_path: the request target's path as sent, percent-encoded,
            without the query (``root_path`` / ``SCRIPT_NAME`` included).
        query: the query string as sent, without ``?``.
        headers: every header as ``(lower-case name, value)``, in order;
            names may repeat.
        client_cert: the TLS client certificate (PEM) when the server
            terminated TLS and passed one on; ``None`` otherwise.
    """

    method: str
    scheme: str
    host: str
    path: str
    raw_path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    client_cert: str | None = None

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or ``None``."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_values(self, name: str) -> tuple[str, ...]:
        """Every value of header ``name`` (any case), in order."""
        name = name.lower()
        return tuple(value for key, value in self.headers if key == name)

    @property
    def url(self) -> str:
        """``scheme://host/raw_path`` without query or fragment, as the server
        saw the request (not normalised; DPoP's ``htu`` check normalises)."""
        return f"{self.scheme}://{self.host}{self.raw_path}"

    @classmethod
    def from_asgi(cls, scope: Mapping[str, Any]) -> RequestContext:
        """Build the context of an ASGI HTTP (or WebSocket) connection scope."""
        headers = tuple(
            (bytes(key).decode("latin-1").lower(), bytes(value).decode("latin-1"))
            for key, value in scope.get("headers", ())
        )
        root_path = str(scope.get("root_path", ""))
        path = str(scope.get("path", "/"))
        routed = path
        if root_path and path.startswith(root_path):
            routed = path[len(root_path) :] or "/"
        raw = scope.get("raw_path")
        raw_path = (
            bytes(raw).decode("latin-1").partition("?")[0]
            if raw
            else quote(path, safe="/:@!$&'()*+,;=-._~%")
        )
        scheme = str(scope.get("scheme", "http"))
        if scheme == "ws":
            scheme = "http"
        elif scheme == "wss":
            scheme = "https"
        host = _first(headers, "host") or _server_host(scope.get("server"), scheme)
        query = scope.get("query_string", b"")
        return cls(
            method=str(scope.get("method", "GET")).upper(),
            scheme=scheme,
            host=host,
            path=routed,
            raw_path=raw_path,
            query=bytes(query).decode("latin-1"),
            headers=headers,
            client_cert=_asgi_client_cert(scope),
        )

    @classmethod
    def from_wsgi(cls, environ: Mapping[str, Any]) -> RequestContext:
        """Build the context of a WSGI request environ."""
        headers: list[tuple[str, str]] = []
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                headers.append((key[5:].replace("_", "-").lower(), str(value)))
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
                headers.append((key.replace("_", "-").lower(), str(value)))
        scheme = str(environ.get("wsgi.url_scheme", "http"))
        host = str(environ.get("HTTP_HOST") or "") or _server_host(
            (environ.get("SERVER_NAME"), environ.get("SERVER_PORT")), scheme
        )
        script = _wsgi_text(environ.get("SCRIPT_NAME", ""))
        path = _wsgi_text(environ.get("PATH_INFO", "")) or "/"
        uri = environ.get("REQUEST_URI") or environ.get("RAW_URI")
        if isinstance(uri, str) and uri.startswith("/"):
            raw_path = uri.partition("?")[0]
        else:
            raw_path = quote(script + path, safe="/:@!$&'()*+,;=-._~%")
        cert = environ.get("SSL_CLIENT_CERT")
        return cls(
            method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
            scheme=scheme,
            host=host,
            path=path,
            raw_path=raw_path,
            query=str(environ.get("QUERY_STRING", "")),
            headers=tuple(headers),
            client_cert=cert if isinstance(cert, str) and cert else None,
        )


def _first(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def _server_host(server: Any, scheme: str) -> str:
    try:
        name, port = server
    except (TypeError, ValueError):
        return ""
    if not name:
        return ""
    default = "443" if scheme == "https" else "80"
    port = str(port) if port is not None else default
    return str(name) if port == default else f"{name}:{port}"


def _wsgi_text(value: Any) -> str:
    # PEP 3333: environ strings are latin-1 decoded bytes; the routed path is UTF-8.
    text = str(value)
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _asgi_client_cert(scope: Mapping[str, Any]) -> str | None:
    extensions = scope.get("extensions") or {}
    tls = extensions.get("tls") if isinstance(extensions, Mapping) else None
    if not isinstance(tls, Mapping):
        return None
    chain = tls.get("client_cert_chain") or ()
    first = chain[0] if chain else None
    return first if isinstance(first, str) and first else None
