"""How a refusal is answered over HTTP: ``ErrorResponse``, ``error_response``
(status, RFC 6750 headers, the body) and the process-wide ``set_error_renderer``
for other body formats. Re-exported by ``_guard``, which every adapter uses."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ._sansio.errors import ConfigurationError, M2MGuardError

__all__ = ["ErrorRenderer", "ErrorResponse", "error_response", "set_error_renderer"]

logger = logging.getLogger("m2m_guard")

#: Renders the body of a refusal: ``renderer(exc) -> (content_type, body)``.
ErrorRenderer = Callable[[M2MGuardError], tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """An HTTP error answer; header names are lower case."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


_renderer: ErrorRenderer | None = None


def set_error_renderer(renderer: ErrorRenderer | None) -> ErrorRenderer | None:
    """Render every refusal's body with ``renderer(exc) -> (content_type, body)``.

    One setting for the process, used by ``error_response`` and so by every
    integration (ASGI, Starlette, FastAPI, WSGI, Flask): an API answers in one
    format (``{"detail": …}``, RFC 9457 ``application/problem+json`` …). Only
    the body and its ``content-type``/``content-length`` change: the status,
    ``WWW-Authenticate`` and ``Retry-After`` stay as they are. A renderer that
    raises or returns something else is logged and the default JSON body is
    sent (the request is refused either way). ``None`` restores the default.

    Returns:
        the renderer set before (to restore it).
    """
    global _renderer
    if renderer is not None and not callable(renderer):
        raise ConfigurationError(
            "the error renderer must be callable(exc) -> (content_type, bytes)"
        )
    previous, _renderer = _renderer, renderer
    return previous


def error_response(
    exc: M2MGuardError, realm: str = "api", *, resource_metadata: str | None = None
) -> ErrorResponse:
    """The RFC 6750 answer for ``exc``: status, headers and a body (JSON, or
    what the renderer of ``set_error_renderer`` makes)."""
    content_type, body = "application/json", b""
    rendered = _render(exc) if _renderer is not None else None
    if rendered is None:
        body = json.dumps(exc.to_dict(), separators=(",", ":")).encode()
    else:
        content_type, body = rendered
    headers = [("content-type", content_type), ("content-length", str(len(body)))]
    headers.extend(exc.response_headers(realm, resource_metadata=resource_metadata).items())
    return ErrorResponse(exc.status_code, tuple(headers), body)


def _render(exc: M2MGuardError) -> tuple[str, bytes] | None:
    renderer = _renderer
    assert renderer is not None
    try:
        content_type, body = renderer(exc)
    except Exception:
        logger.exception("the error renderer raised; the default body is sent")
        return None
    if (
        not isinstance(content_type, str)
        or not isinstance(body, bytes)
        or not content_type.isprintable()
    ):
        logger.error("the error renderer must return (str, bytes); the default body is sent")
        return None
    return content_type, body
