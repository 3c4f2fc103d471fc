"""What a key fetch asks for and what it got, and reading a body under a cap.

``HttpGet`` is the one request the JWKS and discovery flows make;
``FetchResponse`` is what a driver sends back; ``ResponseReader`` applies the
response rules both drivers share (status, no compression, size cap) to
headers and chunks as they arrive. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["FetchResponse", "HttpGet", "ResponseReader"]


@dataclass(frozen=True, slots=True)
class HttpGet:
    """Yielded by ``JWKSCache.refresh_flow``: the one kind of I/O it needs."""

    url: str
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class FetchResponse:
    """What a driver hands back from one JWKS request.

    ``status`` is ``None`` when no HTTP response arrived (timeout, refused
    connection, body over the size cap); ``reason`` then says why, for logs.
    """

    status: int | None
    headers: Mapping[str, str]
    body: bytes = b""
    reason: str = ""
    #: seconds the request took (set by the driver)
    duration: float = 0.0


class ResponseReader:
    """Collects a JWKS response body under the size cap, for either driver.

    ``start`` and ``feed`` return a finished ``FetchResponse`` as soon as the
    outcome is known (a non-200 status, an oversized body); ``finish`` builds
    it once the body is complete.
    """

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._chunks: list[bytes] = []
        self._size = 0
        self._status = 0
        self._headers: Mapping[str, str] = {}

    def start(self, status: int, headers: Mapping[str, str]) -> FetchResponse | None:
        """Look at the status line and headers; a result when no body is wanted."""
        self._status, self._headers = status, headers
        if status != 200:
            return FetchResponse(status, headers)
        if headers.get("content-encoding", "identity").lower() != "identity":
            # We asked for identity; decoding a compressed body could blow
            # far past the size cap before the cap is checked.
            return FetchResponse(None, {}, reason="compressed response")
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            return FetchResponse(None, {}, reason="response body over the size cap")
        return None

    def feed(self, chunk: bytes) -> FetchResponse | None:
        """Add a body chunk; a result when the body grew over the cap."""
        self._size += len(chunk)
        if self._size > self._max_bytes:
            return FetchResponse(None, {}, reason="response body over the size cap")
        self._chunks.append(chunk)
        return None

    def finish(self) -> FetchResponse:
        """The complete response."""
        return FetchResponse(self._status, self._headers, b"".join(self._chunks))
