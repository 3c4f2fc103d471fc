"""The ``htu`` of a DPoP proof and the request URL, normalised to compare.

RFC 9449 §4.3 (check 9): the proof's ``htu`` must equal the request's target
URI without query and fragment, after RFC 3986 §6.2.2 (syntax-based) and
§6.2.3 (scheme-based) normalisation: scheme and host in lower case, the
scheme's default port dropped, percent-encodings of unreserved characters
decoded and the others in upper case, dot segments removed, an empty path
as ``/``. A proof whose ``htu`` carries a query, a fragment or user info is
refused outright (§4.2: "without query and fragment parts").
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["normalize_htu", "normalize_path"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _percent(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 §5.2.4
    output: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    if path.endswith(("/.", "/..")):
        output.append("")
    return "/" + "/".join(output)


def normalize_path(path: str) -> str:
    """A request path, percent-encodings and dot segments normalised."""
    path = _PERCENT.sub(_percent, path) if "%" in path else path
    if not path.startswith("/"):
        path = "/" + path
    if "/." in path:
        path = _remove_dot_segments(path)
    return path


# A service has few URLs and each caller signs the same htu for each: the
# normalised forms are remembered (bounded, cleared when full).
_KNOWN: dict[tuple[str, bool], str | None] = {}
_MAX_KNOWN = 1024


def normalize_htu(url: str, *, strict: bool = True) -> str | None:
    """``url`` normalised (``scheme://host[:port]/path``), or ``None`` when it
    is no absolute ``http(s)`` URL, or (``strict``) has a query, a fragment
    or user info. The request's own URL is normalised with ``strict=False``:
    its query is dropped."""
    key = (url, strict)
    try:
        return _KNOWN[key]
    except (KeyError, TypeError):
        pass
    normal = _normalize(url, strict)
    if isinstance(url, str) and len(url) <= 2048:
        if len(_KNOWN) >= _MAX_KNOWN:
            _KNOWN.clear()
        _KNOWN[key] = normal
    return normal


def _normalize(url: str, strict: bool) -> str | None:
    if not isinstance(url, str) or not url.isascii() or not url.isprintable() or " " in url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if strict and ("?" in url or "#" in url or "@" in parts.netloc):
        return None
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}{normalize_path(parts.path)}"
