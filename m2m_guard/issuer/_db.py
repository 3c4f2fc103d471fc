"""The issuer's SQLite database: connection, schema migrations, transactions.

One connection per :class:`Database`, shared by every thread behind a lock:
an in-memory database exists only inside its connection, and SQLite
serializes writers anyway. Expensive work (scrypt, RSA) is done outside the
lock. Writes run in ``BEGIN IMMEDIATE`` transactions, so other processes on
the same file (the CLI rotating keys next to a running server) wait for the
write lock instead of failing halfway; files use WAL journaling.

The schema version lives in ``PRAGMA user_version``; :data:`MIGRATIONS`
holds one tuple of statements per version and is only ever appended to.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ._errors import IssuerConfigError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Database"]

logger = logging.getLogger("m2m_guard.issuer")

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE project (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            project_id TEXT NOT NULL,
            project_secret TEXT NOT NULL
        )""",
        """CREATE TABLE clients (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            client_id TEXT NOT NULL UNIQUE,
            client_name TEXT NOT NULL,
            client_description TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
            scopes TEXT NOT NULL,
            trusted_metadata TEXT NOT NULL,
            secret_hash TEXT NOT NULL,
            secret_last_four TEXT NOT NULL,
            next_secret_hash TEXT,
            next_secret_last_four TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE signing_keys (
            kid TEXT PRIMARY KEY,
            private_key_pem TEXT NOT NULL,
            created_at REAL NOT NULL,
            retire_at REAL
        )""",
        # At most one key signs: the one not scheduled for retirement.
        """CREATE UNIQUE INDEX one_signing_key ON signing_keys ((retire_at IS NULL))
            WHERE retire_at IS NULL""",
    ),
    (
        # The project's JWT templates (only type 'M2M' so far): custom claims.
        """CREATE TABLE jwt_templates (
            template_type TEXT PRIMARY KEY,
            template_content TEXT NOT NULL,
            custom_audience TEXT,
            updated_at REAL NOT NULL
        )""",
    ),
    (
        # Sender-constrained tokens: the client must prove possession of a
        # DPoP key (RFC 9449 §5.2) / a TLS client certificate (RFC 8705 §3.4).
        """ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens INTEGER NOT NULL DEFAULT 0
            CHECK (dpop_bound_access_tokens IN (0, 1))""",
        """ALTER TABLE clients ADD COLUMN tls_client_certificate_bound_access_tokens INTEGER
            NOT NULL DEFAULT 0 CHECK (tls_client_certificate_bound_access_tokens IN (0, 1))""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """A migrated SQLite connection with a lock and a transaction helper."""

    def __init__(self, path: str | os.PathLike[str] = ":memory:", *, timeout: float = 10.0) -> None:
        self.path = os.fspath(path)
        self._lock = threading.RLock()
        is_file = self.path not in (":memory:", "")
        if is_file and not os.path.exists(self.path):
            # The file holds the project secret and private keys: owner-only.
            try:
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            except OSError as exc:
                raise IssuerConfigError(f"cannot create {self.path!r}: {exc.strerror}") from exc
        self._conn = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        try:
            self._conn.execute("PRAGMA foreign_keys = ON")
            if is_file:
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise IssuerConfigError(
                f"cannot use {self.path!r} as an issuer database: {exc}"
            ) from exc
        except BaseException:
            self._conn.close()
            raise

    @property
    def schema_version(self) -> int:
        """The database's ``PRAGMA user_version``."""
        with self._lock:
            row = self._conn.execute("PRAGMA user_version").fetchone()
        return int(row[0])

    def _migrate(self) -> None:
        with self.transaction() as conn:
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if current > SCHEMA_VERSION:
                raise IssuerConfigError(
                    f"database {self.path!r} has schema version {current}; this version of "
                    f"m2m_guard knows up to {SCHEMA_VERSION}. Upgrade m2m_guard."
                )
            for version in range(current, SCHEMA_VERSION):
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
                # PRAGMA cannot take parameters; the value is our own integer.
                conn.execute(f"PRAGMA user_version = {version + 1}")
                logger.info("issuer database %s migrated to schema %d", self.path, version + 1)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed on success, rolled back on any error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.rollback()
                raise
            self._conn.commit()

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, held under the lock, for reads outside a transaction."""
        with self._lock:
            yield self._conn

    def close(self) -> None:
        """Close the connection; the database cannot be used afterwards."""
        with self._lock:
            self._conn.close()
