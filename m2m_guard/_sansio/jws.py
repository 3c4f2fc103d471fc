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
import json.scanner
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from .errors import (
    InvalidRequestError,
    MalformedTokenError,
    MissingTokenError,
    TokenTooLargeError,
)
from .frozen import FrozenDict, FrozenList

__all__ = ["B64TOKEN", "ParsedToken", "extract_bearer_token", "parse_token"]

# The last character of a canonical segment, by segment length modulo 4:
# with 2 trailing characters 4 bits are unused, with 3 characters 2 bits.
_CANONICAL_LAST_2 = frozenset(b"AQgw")
_CANONICAL_LAST_3 = frozenset(b"AEIMQUYcgkosw048")
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr]")
#: RFC 6750 §2.1 b64token: the only characters a bearer token may carry in a header
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class ParsedToken(NamedTuple):
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
    # Only SP and HTAB are whitespace in HTTP (RFC 9110 §5.6.3 OWS); str.strip()
    # would also eat NBSP, NEL and the \x1c-\x1f separators.
    scheme, _, credentials = authorization.strip(" \t").partition(" ")
    if not _BEARER.fullmatch(scheme):
        # No header value, or a credential of another scheme (Basic, DPoP …):
        # the request carries no bearer token (RFC 6750 §3.1).
        raise MissingTokenError()
    credentials = credentials.strip(" ")
    if not credentials:
        raise InvalidRequestError("The Bearer credentials are empty.")
    if "," in credentials or " " in credentials:
        raise InvalidRequestError("The Authorization header carries more than one credential.")
    if not B64TOKEN.fullmatch(credentials):
        raise InvalidRequestError("The Bearer credentials contain invalid characters.")
    return credentials


#: base64url's two own characters to standard base64's, for ``a2b_base64``
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"", b"==", b"=")
#: every character a segment may hold: deleting them from a token leaves its dots
_B64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _b64decode(segment: str) -> bytes:
    """Decode a base64url segment whose alphabet the caller checked."""
    try:
        raw = segment.encode("ascii")
    except UnicodeEncodeError:
        raise MalformedTokenError("The access token is not valid base64url.") from None
    return _b64decode_bytes(raw)


def _b64decode_bytes(segment: bytes) -> bytes:
    # Callers ensured the alphabet; here only length and trailing bits remain.
    remainder = len(segment) % 4
    if remainder == 1:
        raise MalformedTokenError("The access token is not valid base64url.")
    if (remainder == 2 and segment[-1] not in _CANONICAL_LAST_2) or (
        remainder == 3 and segment[-1] not in _CANONICAL_LAST_3
    ):
        raise MalformedTokenError("The access token is not canonical base64url.")
    try:
        return binascii.a2b_base64(segment.translate(_TO_STANDARD) + _PADDING[remainder])
    except binascii.Error as exc:  # pragma: no cover - the alphabet was checked
        raise MalformedTokenError("The access token is not valid base64url.") from exc


# Member names get one shared spelling each: every token repeats the same
# dozen, and the token cache keeps many payloads. A fixed table, not
# sys.intern: parsing runs before any signature is checked, and on Python 3.12
# an interned string is never freed, so interning names an attacker chose
# would let every request grow the process for good.
_NAMES = {
    name: name
    for name in (
        # JOSE headers (RFC 7515, 7516)
        "alg", "kid", "typ", "cty", "crit", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256",
        "enc", "zip",
        # registered claims (RFC 7519), access tokens (RFC 9068), OIDC, RFC 8693
        "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "client_id", "auth_time",
        "acr", "amr", "groups", "roles", "entitlements", "azp", "sid", "nonce", "act",
        "may_act", "cnf",
        # the presets' issuers: Stytch, Auth0, Okta, Entra ID, Keycloak, Cognito
        "gty", "permissions", "org_id", "cid", "uid", "scp", "ver", "tid", "oid", "appid",
        "appidacr", "azpacr", "idp", "rh", "uti", "wids", "aio", "version", "clientId",
        "clientHost", "clientAddress", "realm_access", "resource_access", "session_state",
        "preferred_username", "email_verified", "allowed-origins", "token_use", "username",
        "event_id", "origin_jti",
    )
}  # fmt: skip
_shared_name = _NAMES.get


def _object(pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """A JSON object from its members (the scanner hands each object over as
    a tuple of pairs, so duplicates are seen and arrays, which come as lists,
    are never mistaken for objects)."""
    obj = {_shared_name(name, name): value for name, value in pairs}
    if len(obj) != len(pairs):
        # RFC 7515 §5.2: a parser must reject or use the last; two readers of
        # one token must never disagree, so reject.
        raise MalformedTokenError("The access token contains duplicate JSON members.")
    # Nested objects and arrays come out read-only: claims are shared between
    # requests (the token cache), see _frozen. The outermost object stays a
    # dict (no copy: it is only ever handed out behind a read-only view).
    for name, value in obj.items():
        kind = type(value)
        if kind is list:
            obj[name] = _freeze_list(value)
        elif kind is tuple:
            obj[name] = FrozenDict(_object(value))
    return obj


def _freeze_list(items: list[Any]) -> FrozenList:
    for item in items:  # a loop: most arrays are a few strings
        if type(item) in _CONTAINERS:
            break
    else:
        return FrozenList(items)
    items = [
        _freeze_list(item)
        if type(item) is list
        else FrozenDict(_object(item))
        if type(item) is tuple
        else item
        for item in items
    ]
    return FrozenList(items)


_CONTAINERS = (list, tuple)


def _reject_constant(name: str) -> Any:
    raise MalformedTokenError("The access token contains a non-finite number.")


# The standard library's scanner (its C accelerator where there is one),
# driven directly: objects arrive as tuples of pairs (``_object``).
_SCAN: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(
    # typeshed types the argument as the scanner itself; it is the decoder
    json.JSONDecoder(object_pairs_hook=tuple, parse_constant=_reject_constant)  # type: ignore[arg-type]
)
_JSON_WHITESPACE = " \t\n\r"


def _decode_json_object(data: bytes, part: str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8").strip(_JSON_WHITESPACE)
        value, end = _SCAN(text, 0)
    except MalformedTokenError:
        raise
    except (ValueError, RecursionError, StopIteration) as exc:
        # ValueError covers bad JSON, bad UTF-8 and oversized integers;
        # StopIteration, no JSON value at all.
        raise MalformedTokenError(f"The access token {part} is not valid JSON.") from exc
    if end != len(text):
        raise MalformedTokenError(f"The access token {part} is not valid JSON.")
    if type(value) is not tuple:
        raise MalformedTokenError(f"The access token {part} is not a JSON object.")
    return _object(value)


# Tokens from one issuer share a handful of headers (one per signing key), so
# decoded headers are remembered by their segment; bounded, cleared when full.
_HEADERS: dict[bytes, dict[str, Any]] = {}
_MAX_HEADERS = 256


def _header(segment: bytes) -> dict[str, Any]:
    header = _HEADERS.get(segment)
    if header is None:
        # Shared by every token with this header: read-only.
        header = FrozenDict(_decode_json_object(_b64decode_bytes(segment), "header"))
        if len(_HEADERS) >= _MAX_HEADERS:
            _HEADERS.clear()
        _HEADERS[segment] = header
    return header


def _segments(token: str) -> tuple[bytes, bytes, bytes, bytes]:
    """The token as ASCII and its three segments, each one or more base64url
    characters: one pass over the token checks the alphabet and the dots."""
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise MalformedTokenError(_shape_problem(token)) from None
    if raw.translate(None, _B64URL_ALPHABET) != b"..":
        raise MalformedTokenError(_shape_problem(token))
    header, payload, signature = raw.split(b".")
    if not (header and payload and signature):
        raise MalformedTokenError(_shape_problem(token))
    return raw, header, payload, signature


def parse_token(token: str, *, max_size: int) -> ParsedToken:
    """Split and decode a JWS compact token; nothing is verified yet.

    The header may be shared with other tokens and is a :class:`FrozenDict`;
    the payload's nested objects and arrays are :class:`FrozenDict` and
    :class:`FrozenList`, its outermost dict is handed out only behind a
    read-only view.

    Raises:
        TokenTooLargeError: longer than ``max_size`` characters.
        MalformedTokenError: anything else that is not a compact JWS.
    """
    if len(token) > max_size:
        raise TokenTooLargeError()
    raw, header, payload, signature = _segments(token)
    return ParsedToken(
        _header(header),
        _decode_json_object(_b64decode_bytes(payload), "payload"),
        raw[: len(header) + 1 + len(payload)],
        _b64decode_bytes(signature),
    )


def _shape_problem(token: str) -> str:
    parts = token.split(".")
    if len(parts) == 5:
        return "Encrypted tokens (JWE) are not accepted."
    if len(parts) != 3:
        return "The access token is not a signed JWT."
    if not all(parts):
        return "The access token has an empty part."
    return "The access token is not valid base64url."
