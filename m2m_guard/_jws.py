"""Parsing of bearer credentials and JWS compact tokens, without I/O.

Everything here runs before any key is looked up, so it is written to be
cheap and to fail early: the size cap is checked before anything else, then
the shape, then the base64url alphabet, and only then is JSON decoded.

Base64url policy (RFC 7515 §2, §7.1): segments must use the URL-safe
alphabet with no padding and no other characters, and must be canonical
(the unused low bits of the last character are zero). Anything else is
rejected, so one token has exactly one spelling.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._errors import (
    InvalidRequestError,
    MalformedTokenError,
    MissingTokenError,
    TokenTooLargeError,
)

__all__ = ["ParsedToken", "extract_bearer_token", "parse_token"]

_B64URL_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
# The last character of a canonical segment, by segment length modulo 4:
# with 2 trailing characters 4 bits are unused, with 3 characters 2 bits.
_CANONICAL_LAST_2 = frozenset("AQgw")
_CANONICAL_LAST_3 = frozenset("AEIMQUYcgkosw048")
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr]")
# RFC 6750 §2.1 b64token
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


@dataclass(frozen=True, slots=True)
class ParsedToken:
    """A JWS split into its parts, decoded but not verified."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def extract_bearer_token(authorization: str | Sequence[str] | None) -> str:
    """Return the token from ``Authorization`` header value(s).

    Pass every value of the header when the framework exposes them (a
    request with two ``Authorization`` headers is malformed).

    Raises:
        MissingTokenError: no header, or a scheme other than Bearer.
        InvalidRequestError: several credentials or bad syntax (RFC 6750 §3.1).
    """
    if authorization is None:
        raise MissingTokenError()
    if not isinstance(authorization, str):
        values = list(authorization)
        if not values:
            raise MissingTokenError()
        if len(values) > 1:
            raise InvalidRequestError("The request carries more than one Authorization header.")
        authorization = values[0]
    scheme, _, credentials = authorization.strip().partition(" ")
    if not _BEARER.fullmatch(scheme):
        # No header value, or a credential of another scheme (Basic, DPoP …):
        # the request carries no bearer token (RFC 6750 §3.1).
        raise MissingTokenError()
    credentials = credentials.strip(" ")
    if not credentials:
        raise InvalidRequestError("The Bearer credentials are empty.")
    if "," in credentials or " " in credentials:
        raise InvalidRequestError("The Authorization header carries more than one credential.")
    if not _B64TOKEN.fullmatch(credentials):
        raise InvalidRequestError("The Bearer credentials contain invalid characters.")
    return credentials


def _b64decode(segment: str) -> bytes:
    # Callers ensured the alphabet; here only length and trailing bits remain.
    remainder = len(segment) % 4
    if remainder == 1:
        raise MalformedTokenError("The access token is not valid base64url.")
    if remainder == 2:
        if segment[-1] not in _CANONICAL_LAST_2:
            raise MalformedTokenError("The access token is not canonical base64url.")
        segment += "=="
    elif remainder == 3:
        if segment[-1] not in _CANONICAL_LAST_3:
            raise MalformedTokenError("The access token is not canonical base64url.")
        segment += "="
    try:
        return binascii.a2b_base64(segment.replace("-", "+").replace("_", "/"))
    except binascii.Error as exc:  # pragma: no cover - the alphabet was checked
        raise MalformedTokenError("The access token is not valid base64url.") from exc


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        # RFC 7515 §5.2: a parser must reject or use the last; two readers of
        # one token must never disagree, so reject.
        raise MalformedTokenError("The access token contains duplicate JSON members.")
    return obj


def _reject_constant(name: str) -> Any:
    raise MalformedTokenError("The access token contains a non-finite number.")


_DECODER = json.JSONDecoder(object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)


def _decode_json_object(data: bytes, part: str) -> dict[str, Any]:
    try:
        value = _DECODER.decode(data.decode("utf-8"))
    except MalformedTokenError:
        raise
    except (ValueError, RecursionError) as exc:
        # ValueError covers bad JSON, bad UTF-8 and oversized integers.
        raise MalformedTokenError(f"The access token {part} is not valid JSON.") from exc
    if not isinstance(value, dict):
        raise MalformedTokenError(f"The access token {part} is not a JSON object.")
    return value


def parse_token(token: str, *, max_size: int) -> ParsedToken:
    """Split and decode a JWS compact token; nothing is verified yet.

    Raises:
        TokenTooLargeError: longer than ``max_size`` characters.
        MalformedTokenError: anything else that is not a compact JWS.
    """
    if len(token) > max_size:
        raise TokenTooLargeError()
    parts = token.split(".")
    if len(parts) != 3:
        if len(parts) == 5:
            raise MalformedTokenError("Encrypted tokens (JWE) are not accepted.")
        raise MalformedTokenError("The access token is not a signed JWT.")
    header_b64, payload_b64, signature_b64 = parts
    if not (header_b64 and payload_b64 and signature_b64):
        raise MalformedTokenError("The access token has an empty part.")
    if not (
        _B64URL_SEGMENT.fullmatch(header_b64)
        and _B64URL_SEGMENT.fullmatch(payload_b64)
        and _B64URL_SEGMENT.fullmatch(signature_b64)
    ):
        raise MalformedTokenError("The access token is not valid base64url.")
    header = _decode_json_object(_b64decode(header_b64), "header")
    claims = _decode_json_object(_b64decode(payload_b64), "payload")
    signature = _b64decode(signature_b64)
    return ParsedToken(
        header=header,
        claims=claims,
        signing_input=token[: len(header_b64) + 1 + len(payload_b64)].encode("ascii"),
        signature=signature,
    )
