"""Input validation shared by the in-process API and the HTTP routes.

Each function takes an untrusted value (decoded JSON, or whatever a Python
caller passed) and returns a typed, checked value or raises
:class:`BadRequestError` naming the field. Nothing here touches storage.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from m2m_guard._sansio.claims import RESERVED_CLAIMS  # the issuer sets these itself

from ._errors import BadRequestError, IssuerConfigError

__all__ = [
    "AUTHORITY_CLAIMS",
    "MAX_JSON_DEPTH",
    "MAX_OPERANDS",
    "RESERVED_CLAIMS",
    "SearchQuery",
    "check_depth",
    "client_id_value",
    "client_secret_value",
    "custom_claims_value",
    "issuer_url_value",
    "limit_value",
    "metadata_value",
    "optional_text",
    "query_value",
    "reject_json_constant",
    "scopes_value",
    "status_value",
]

# Claims some verifier reads as identity or authority (scopes, roles, the
# client, the proof of possession): a claims template may never produce one,
# or a client could mint itself powers it was not granted.
AUTHORITY_CLAIMS = RESERVED_CLAIMS | frozenset(
    {
        "scp",
        "permissions",
        "roles",
        "client_id",
        "azp",
        "cid",
        "appid",
        "gty",
        "token_use",
        "uid",
        "cnf",
        "act",
        "may_act",
        "realm_access",
        "resource_access",
    }
)
STATUSES = ("active", "inactive")
FILTER_NAMES = ("client_id", "client_name", "scopes")
MAX_TEXT = 1024
MAX_SCOPES = 200
MAX_SECRET = 512
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_JSON_BYTES = 64 * 1024
MAX_FILTER_VALUES = 1000
# SQLite refuses expressions deeper than 1000 (SQLITE_MAX_EXPR_DEPTH) and
# statements with more than 32766 bound values: stay far below both.
MAX_OPERANDS = 50
MAX_QUERY_VALUES = 1000
# Nesting of stored and minted JSON (metadata, templates, claims). Deeper
# values overflow the JSON encoder's recursion and could never be read back.
MAX_JSON_DEPTH = 32

# Ids travel in URL paths and in HTTP Basic user names: no ':' and no '/'.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._~-]{1,128}")
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,256}")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A checked search query: AND/OR over (filter_name, values) operands."""

    operator: str
    operands: tuple[tuple[str, tuple[str, ...]], ...]


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def optional_text(value: object, name: str) -> str | None:
    """A string of at most 1024 characters, or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequestError(f"{name} must be a string, not {_type_name(value)}.")
    if len(value) > MAX_TEXT:
        raise BadRequestError(f"{name} must be at most {MAX_TEXT} characters.")
    return value


def client_id_value(value: object) -> str:
    """An imported client id: 1-128 characters from ``A-Z a-z 0-9 . _ ~ -``."""
    if not isinstance(value, str):
        raise BadRequestError(f"client_id must be a string, not {_type_name(value)}.")
    if not _CLIENT_ID.fullmatch(value):
        raise BadRequestError(
            "client_id must be 1-128 characters of letters, digits, '.', '_', '~' or '-'."
        )
    return value


def client_secret_value(value: object) -> str:
    """An imported client secret: 8 to 512 characters."""
    if not isinstance(value, str):
        raise BadRequestError(f"client_secret must be a string, not {_type_name(value)}.")
    if not 8 <= len(value) <= MAX_SECRET:
        raise BadRequestError(
            f"client_secret must be between 8 and {MAX_SECRET} characters long.",
            error_type="invalid_client_secret",
        )
    return value


def scopes_value(value: object) -> tuple[str, ...]:
    """A list of RFC 6749 scope tokens; duplicates dropped, order kept."""
    if not isinstance(value, (list, tuple)):
        raise BadRequestError(f"scopes must be a list of strings, not {_type_name(value)}.")
    if len(value) > MAX_SCOPES:
        raise BadRequestError(f"A client may have at most {MAX_SCOPES} scopes.")
    for scope in value:
        if not isinstance(scope, str) or not _SCOPE_TOKEN.fullmatch(scope):
            raise BadRequestError(
                f"Invalid scope {scope!r}: scopes are non-empty strings without spaces, "
                "quotes or backslashes.",
                error_type="invalid_scope",
            )
    return tuple(dict.fromkeys(value))


def reject_json_constant(name: str) -> None:
    """``json.loads``' ``parse_constant``: NaN and Infinity are not JSON (RFC 8259 §6)."""
    raise ValueError(f"{name} is not valid JSON")


def _json_size(value: object, name: str) -> int:
    try:
        return len(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise BadRequestError(f"{name} must be JSON-serializable: {exc}.") from exc


def check_depth(value: object, name: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse a JSON value nested deeper than ``limit`` arrays and objects."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            raise BadRequestError(
                f"{name} must not nest arrays and objects deeper than {limit} levels.",
                error_type="json_too_deep",
            )
        stack.extend((child, depth + 1) for child in children)


def metadata_value(value: object) -> dict[str, Any]:
    """trusted_metadata: a JSON object of at most 64 KiB and 32 levels."""
    if not isinstance(value, dict):
        raise BadRequestError(f"trusted_metadata must be an object, not {_type_name(value)}.")
    check_depth(value, "trusted_metadata")
    if _json_size(value, "trusted_metadata") > MAX_JSON_BYTES:
        raise BadRequestError("trusted_metadata must be at most 64 KiB of JSON.")
    return value


def issuer_url_value(value: object) -> str:
    """An issuer URL: http(s), a host, no query or fragment; no trailing slash."""
    if not isinstance(value, str):
        raise IssuerConfigError("the issuer URL must be a string")
    try:
        parts = urlsplit(value)
        valid = (
            parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and not parts.query
            and not parts.fragment
            and parts.username is None
            and value.isprintable()
            and " " not in value
        )
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        valid = False
    if not valid:
        raise IssuerConfigError(
            f"the issuer URL must be an http(s) URL without query or fragment, not {value!r}"
        )
    return value.rstrip("/")


def flag_value(value: object, name: str) -> bool:
    """A JSON boolean (not 0/1, not a string)."""
    if not isinstance(value, bool):
        raise BadRequestError(f"{name} must be a boolean, not {_type_name(value)}.")
    return value


def status_value(value: object) -> str:
    """``active`` or ``inactive``."""
    if value not in STATUSES:
        raise BadRequestError(
            f"status must be 'active' or 'inactive', not {value!r}.", error_type="invalid_status"
        )
    return str(value)


def limit_value(value: object) -> int:
    """A page size between 1 and 1000; None means 100."""
    if value is None:
        return DEFAULT_LIMIT
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise BadRequestError(f"limit must be an integer between 1 and {MAX_LIMIT}.")
    return value


def _operand(raw: object) -> tuple[str, tuple[str, ...]]:
    if not isinstance(raw, dict) or set(raw) != {"filter_name", "filter_value"}:
        raise BadRequestError("Each query operand must be {filter_name, filter_value}.")
    name, values = raw["filter_name"], raw["filter_value"]
    if name not in FILTER_NAMES:
        raise BadRequestError(f"filter_name must be one of {', '.join(FILTER_NAMES)}.")
    if isinstance(values, str):
        values = [values]
    if (
        not isinstance(values, list)
        or not 1 <= len(values) <= MAX_FILTER_VALUES
        or not all(isinstance(item, str) for item in values)
    ):
        raise BadRequestError(f"filter_value must be a list of 1 to {MAX_FILTER_VALUES} strings.")
    return str(name), tuple(values)


def query_value(value: object) -> SearchQuery | None:
    """A search query ``{operator: AND|OR, operands: [...]}``, or None."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise BadRequestError(f"query must be an object, not {_type_name(value)}.")
    unknown = set(value) - {"operator", "operands"}
    if unknown:
        raise BadRequestError(f"Unknown query field(s): {', '.join(sorted(map(str, unknown)))}.")
    operator = value.get("operator")
    if operator not in ("AND", "OR"):
        raise BadRequestError("query.operator must be 'AND' or 'OR'.")
    operands = value.get("operands", [])
    if not isinstance(operands, list):
        raise BadRequestError("query.operands must be a list.")
    if len(operands) > MAX_OPERANDS:
        raise BadRequestError(
            f"A search query may have at most {MAX_OPERANDS} operands.",
            error_type="invalid_search_query",
        )
    checked = tuple(_operand(raw) for raw in operands)
    if sum(len(values) for _, values in checked) > MAX_QUERY_VALUES:
        raise BadRequestError(
            f"A search query may hold at most {MAX_QUERY_VALUES} filter values in all.",
            error_type="invalid_search_query",
        )
    return SearchQuery(str(operator), checked)


def custom_claims_value(value: object) -> dict[str, Any]:
    """Custom claims: string names, JSON values, never a reserved claim."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadRequestError(f"custom claims must be an object, not {_type_name(value)}.")
    for name in value:
        if not isinstance(name, str) or not name:
            raise BadRequestError("Custom claim names must be non-empty strings.")
        if name in RESERVED_CLAIMS:
            raise BadRequestError(
                f"{name!r} is a reserved claim and cannot be set as a custom claim."
            )
    check_depth(dict(value), "custom claims")
    if _json_size(dict(value), "custom claims") > MAX_JSON_BYTES:
        raise BadRequestError("custom claims must be at most 64 KiB of JSON.")
    return dict(value)
