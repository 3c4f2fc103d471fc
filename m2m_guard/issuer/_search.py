"""Client search: opaque cursors and the SQL filter of a checked query.

The WHERE clause is assembled only from fixed fragments and ``?``
placeholders; filter names were checked against a fixed list by the
validator, and values are always bound parameters.
"""

from __future__ import annotations

import base64
import binascii

from ._errors import BadRequestError
from ._validate import SearchQuery

__all__ = ["decode_cursor", "encode_cursor", "where_clause"]


def encode_cursor(seq: int) -> str:
    """An opaque cursor for "after this row"."""
    return base64.urlsafe_b64encode(f"m2m-client:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The row a cursor points after; a forged or garbled cursor is a 400."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, seq = text.partition(":")
        # Row ids are SQLite integers: ASCII digits, well under 2**63.
        if prefix != "m2m-client" or not (seq.isascii() and seq.isdigit() and len(seq) <= 18):
            raise ValueError(cursor)
        return int(seq)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise BadRequestError("Invalid search cursor.", error_type="invalid_cursor") from exc


def where_clause(query: SearchQuery | None) -> tuple[str, list[str]]:
    """``(sql, params)`` matching the query; operands joined by its operator."""
    if query is None or not query.operands:
        return "1", []
    clauses: list[str] = []
    params: list[str] = []
    for name, values in query.operands:
        marks = ", ".join("?" * len(values))
        if name == "scopes":
            clauses.append(
                f"EXISTS (SELECT 1 FROM json_each(scopes) WHERE value IN ({marks}))"  # noqa: S608
            )
        else:  # client_id or client_name, checked by the validator
            clauses.append(f"{name} IN ({marks})")
        params.extend(values)
    return "(" + f" {query.operator} ".join(clauses) + ")", params
