"""SQL for M2M clients: insert, read, partial update, delete, search.

Every write is one ``BEGIN IMMEDIATE`` transaction, and updates only touch
the columns they change, so concurrent updates of different fields of the
same client never undo each other.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._db import Database
from ._errors import BadRequestError, ClientNotFoundError, ConflictError
from ._models import M2MClient, SearchPage
from ._search import decode_cursor, encode_cursor, where_clause
from ._validate import SearchQuery

__all__ = ["ClientStore", "StoredClient"]

_COLUMNS = (
    "client_id, client_name, client_description, status, scopes, trusted_metadata, "
    "secret_last_four, next_secret_last_four, dpop_bound_access_tokens, "
    "tls_client_certificate_bound_access_tokens"
)
_WIDTH = _COLUMNS.count(",") + 1  # where the columns a query adds after these start
_BINDINGS = ("dpop_bound_access_tokens", "tls_client_certificate_bound_access_tokens")
_UPDATABLE = frozenset(
    {"client_name", "client_description", "status", "scopes", "trusted_metadata", *_BINDINGS}
)


@dataclass(frozen=True, slots=True)
class StoredClient:
    """A client with its secret hashes, for authentication only."""

    client: M2MClient
    secret_hash: str
    next_secret_hash: str | None


def _to_client(row: sqlite3.Row | tuple[Any, ...]) -> M2MClient:
    return M2MClient(
        client_id=row[0],
        client_name=row[1],
        client_description=row[2],
        status=row[3],
        scopes=tuple(json.loads(row[4])),
        trusted_metadata=json.loads(row[5]),
        client_secret_last_four=row[6],
        next_client_secret_last_four=row[7],
        dpop_bound_access_tokens=bool(row[8]),
        tls_client_certificate_bound_access_tokens=bool(row[9]),
    )


def _renderable(client: M2MClient) -> M2MClient:
    """Encode the client as the response will, inside the write transaction.

    A value the response cannot encode then rolls the write back instead of
    being stored and failing every later read.
    """
    json.dumps(client.to_json(), allow_nan=False)
    return client


class ClientStore:
    """Client rows in a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def insert(self, client: M2MClient, secret_hash: str, *, now: float) -> M2MClient:
        """Store a new client; a taken client_id is a :class:`ConflictError`."""
        try:
            with self._db.transaction() as conn:
                _renderable(client)
                conn.execute(
                    "INSERT INTO clients (client_id, client_name, client_description, status, "
                    "scopes, trusted_metadata, secret_hash, secret_last_four, created_at, "
                    "updated_at, dpop_bound_access_tokens, "
                    "tls_client_certificate_bound_access_tokens) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        client.client_id,
                        client.client_name,
                        client.client_description,
                        client.status,
                        json.dumps(list(client.scopes)),
                        json.dumps(dict(client.trusted_metadata)),
                        secret_hash,
                        client.client_secret_last_four,
                        now,
                        now,
                        int(client.dpop_bound_access_tokens),
                        int(client.tls_client_certificate_bound_access_tokens),
                    ),
                )
        except sqlite3.IntegrityError as exc:
            raise ConflictError(
                f"An M2M client with client_id {client.client_id!r} already exists.",
                error_type="duplicate_m2m_client_id",
            ) from exc
        return client

    def _fetch(self, conn: sqlite3.Connection, client_id: str) -> M2MClient:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM clients WHERE client_id = ?",  # noqa: S608
            (client_id,),
        ).fetchone()
        if row is None:
            raise ClientNotFoundError(client_id)
        return _to_client(row)

    def get(self, client_id: str) -> M2MClient:
        """The client, or :class:`ClientNotFoundError`."""
        with self._db.reading() as conn:
            return self._fetch(conn, client_id)

    def get_for_auth(self, client_id: str) -> StoredClient | None:
        """The client with its secret hashes, or None when unknown."""
        with self._db.reading() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS}, secret_hash, next_secret_hash FROM clients "  # noqa: S608
                "WHERE client_id = ?",
                (client_id,),
            ).fetchone()
        if row is None:
            return None
        return StoredClient(_to_client(row), row[_WIDTH], row[_WIDTH + 1])

    def update(self, client_id: str, changes: Mapping[str, Any], *, now: float) -> M2MClient:
        """Set the given columns (validated values) and return the client."""
        assignments = {key: changes[key] for key in _UPDATABLE & set(changes)}
        for key in ("scopes", "trusted_metadata"):
            if key in assignments:
                value = assignments[key]
                assignments[key] = json.dumps(list(value) if key == "scopes" else value)
        for key in _BINDINGS:
            if key in assignments:
                assignments[key] = int(assignments[key])
        return self._write(client_id, {**assignments, "updated_at": now})

    def _write(self, client_id: str, assignments: Mapping[str, object]) -> M2MClient:
        # Column names come from fixed sets in this module, never from input.
        sql = ", ".join(f"{column} = ?" for column in assignments)
        with self._db.transaction() as conn:
            cursor = conn.execute(
                f"UPDATE clients SET {sql} WHERE client_id = ?",  # noqa: S608
                (*assignments.values(), client_id),
            )
            if cursor.rowcount == 0:
                raise ClientNotFoundError(client_id)
            return _renderable(self._fetch(conn, client_id))

    def set_next_secret(
        self, client_id: str, next_hash: str, last_four: str, *, now: float
    ) -> M2MClient:
        """Start a secret rotation (or replace the pending next secret)."""
        return self._write(
            client_id,
            {"next_secret_hash": next_hash, "next_secret_last_four": last_four, "updated_at": now},
        )

    def finish_rotation(self, client_id: str, *, complete: bool, now: float) -> M2MClient:
        """Complete (next secret becomes the secret) or cancel a pending rotation."""
        promote = (
            "secret_hash = next_secret_hash, secret_last_four = next_secret_last_four, "
            if complete
            else ""
        )
        with self._db.transaction() as conn:
            client = self._fetch(conn, client_id)
            if client.next_client_secret_last_four is None:
                raise BadRequestError(
                    "No secret rotation is in progress for this client.",
                    error_type="m2m_client_secret_rotation_not_started",
                )
            conn.execute(
                f"UPDATE clients SET {promote}next_secret_hash = NULL, "  # noqa: S608
                "next_secret_last_four = NULL, updated_at = ? WHERE client_id = ?",
                (now, client_id),
            )
            return self._fetch(conn, client_id)

    def delete(self, client_id: str) -> None:
        """Remove the client for good."""
        with self._db.transaction() as conn:
            cursor = conn.execute("DELETE FROM clients WHERE client_id = ?", (client_id,))
            if cursor.rowcount == 0:
                raise ClientNotFoundError(client_id)

    def search(self, query: SearchQuery | None, cursor: str | None, limit: int) -> SearchPage:
        """One page of matching clients in creation order."""
        after = 0 if cursor is None else decode_cursor(cursor)
        where, params = where_clause(query)
        with self._db.reading() as conn:
            total = conn.execute(
                f"SELECT COUNT(*) FROM clients WHERE {where}",  # noqa: S608
                params,
            ).fetchone()[0]
            rows = conn.execute(
                f"SELECT {_COLUMNS}, seq FROM clients WHERE {where} AND seq > ? "  # noqa: S608
                "ORDER BY seq LIMIT ?",
                (*params, after, limit + 1),
            ).fetchall()
        page = rows[:limit]
        next_cursor = encode_cursor(page[-1][_WIDTH]) if len(rows) > limit else None
        return SearchPage(tuple(_to_client(row) for row in page), int(total), next_cursor)
