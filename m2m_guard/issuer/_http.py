"""HTTP plumbing for the issuer routes: bodies, credentials, Stytch responses.

Every handler is wrapped by :func:`endpoint`, which turns an
:class:`IssuerError` into Stytch's error body (plus the OAuth2 fields on the
token endpoint) and any other exception into a logged, generic 500, so no
input can leak a traceback.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import re
import sqlite3
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from ._errors import BadRequestError, IssuerError, PayloadTooLargeError
from ._validate import MAX_JSON_DEPTH, reject_json_constant

__all__ = [
    "basic_credentials",
    "endpoint",
    "error_response",
    "is_json",
    "media_type",
    "ok",
    "parse_json_object",
    "parse_token_body",
    "read_body",
]

logger = logging.getLogger("m2m_guard.issuer")

Handler = Callable[[Request], Awaitable[Response]]
_MAX_FORM_FIELDS = 100


def _request_id() -> str:
    return f"request-id-test-{uuid.uuid4()}"


def ok(
    body: Mapping[str, Any], *, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A success response carrying Stytch's ``status_code`` and ``request_id``."""
    content = {"status_code": status_code, "request_id": _request_id(), **body}
    return JSONResponse(content, status_code=status_code, headers=headers)


def error_response(exc: IssuerError, *, oauth: bool = False) -> JSONResponse:
    """Stytch's error body; on the token endpoint also RFC 6749 §5.2 fields."""
    body: dict[str, Any] = {
        "status_code": exc.status_code,
        "request_id": _request_id(),
        "error_type": exc.error_type,
        "error_message": exc.message,
        "error_url": exc.error_url,
    }
    headers = {}
    if oauth:
        code = getattr(
            exc, "error", "server_error" if exc.status_code >= 500 else "invalid_request"
        )
        body = {
            "error": code,
            "error_description": exc.message,
            "error_uri": exc.error_url,
            **body,
        }
        headers["Cache-Control"] = "no-store"
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = 'Basic realm="m2m_guard"'
    headers.update(getattr(exc, "headers", {}))
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def endpoint(*, oauth: bool = False) -> Callable[[Handler], Handler]:
    """Wrap a handler so every failure becomes a well-formed error response."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: Request) -> Response:
            try:
                return await handler(request)
            except IssuerError as exc:
                return error_response(exc, oauth=oauth)
            except ClientDisconnect:
                return Response(status_code=400)
            except sqlite3.OperationalError:
                # Locked or unreadable database: the client may retry.
                logger.exception("database unavailable in %s %r", request.method, request.url.path)
                error = IssuerError(
                    "The issuer database is unavailable; retry shortly.",
                    error_type="database_unavailable",
                )
                error.status_code = 503
                response = error_response(error, oauth=oauth)
                response.headers["Retry-After"] = "1"
                return response
            except Exception:
                # %r: the path is the caller's input; escapes must not reach a terminal raw.
                logger.exception("unexpected error in %s %r", request.method, request.url.path)
                error = IssuerError(
                    "An internal error occurred.", error_type="internal_server_error"
                )
                error.status_code = 500
                return error_response(error, oauth=oauth)

        return wrapper

    return decorate


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or :class:`PayloadTooLargeError` past ``limit`` bytes."""
    too_large = PayloadTooLargeError(f"The request body must be at most {limit} bytes.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _too_deep(raw: bytes, limit: int) -> bool:
    """Whether the JSON text nests arrays and objects deeper than ``limit``.

    Checked before parsing, so the answer does not depend on how much of
    Python's recursion budget the parser happens to have left.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    for byte in _JSON_STRING.sub(b'""', raw):
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """A JSON object from the body; an empty body is ``{}``.

    The body may nest one level more than a stored value may
    (``MAX_JSON_DEPTH``): deeper is ``json_too_deep``, before parsing.
    """
    if not raw.strip():
        return {}
    if _too_deep(raw, MAX_JSON_DEPTH + 1):
        raise BadRequestError(
            f"The request body nests arrays and objects deeper than {MAX_JSON_DEPTH + 1} levels.",
            error_type="json_too_deep",
        )
    try:
        value = json.loads(raw, parse_constant=reject_json_constant)
    except (ValueError, RecursionError) as exc:
        raise BadRequestError(
            "The request body is not valid JSON.", error_type="invalid_json"
        ) from exc
    if not isinstance(value, dict):
        raise BadRequestError("The request body must be a JSON object.", error_type="invalid_json")
    try:
        # An escaped lone surrogate ("\\ud800") decodes to a str that is not
        # Unicode text (RFC 8259 §8.2): SQLite and the response encoder would fail.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadRequestError(
            "The request body contains an unpaired surrogate.", error_type="invalid_json"
        ) from exc
    return value


def _parse_form(raw: bytes) -> dict[str, Any]:
    try:
        pairs = urllib.parse.parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            errors="strict",
            max_num_fields=_MAX_FORM_FIELDS,
        )
    except ValueError as exc:  # also UnicodeDecodeError and too many fields
        raise BadRequestError(f"The form body is malformed: {exc}.") from exc
    form: dict[str, Any] = {}
    for name, value in pairs:
        if name in form:  # RFC 6749 §3.2: parameters must not be repeated
            raise BadRequestError(f"The parameter {name!r} is repeated.")
        form[name] = value
    return form


def media_type(request: Request) -> str:
    """The request's media type, lower case, without parameters."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_json(media: str) -> bool:
    """Whether a media type is JSON (``application/json`` or ``*/*+json``)."""
    return media == "application/json" or media.endswith("+json")


def parse_token_body(request: Request, raw: bytes) -> dict[str, Any]:
    """Token request parameters from a JSON or form-urlencoded body."""
    media = media_type(request)
    if media == "application/x-www-form-urlencoded":
        return _parse_form(raw)
    if is_json(media):
        return parse_json_object(raw)
    if not media and not raw.strip():
        return {}
    raise BadRequestError("The body must be application/json or application/x-www-form-urlencoded.")


def basic_credentials(request: Request, *, form_decode: bool = False) -> tuple[str, str] | None:
    """``(user, password)`` from an HTTP Basic header; None when there is none.

    ``form_decode`` undoes the form-urlencoding RFC 6749 §2.3.1 asks OAuth
    clients to apply. A malformed Basic header is a :class:`BadRequestError`.
    """
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        # b64decode refuses a str with non-ASCII characters with a ValueError.
        decoded = base64.b64decode(value.strip(" \t"), validate=True).decode("utf-8")
    except ValueError as exc:  # also binascii.Error and UnicodeDecodeError
        raise BadRequestError("Malformed Basic authorization header.") from exc
    user, colon, password = decoded.partition(":")
    if not colon:
        raise BadRequestError("Malformed Basic authorization header.")
    if form_decode:
        return urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)
    return user, password
