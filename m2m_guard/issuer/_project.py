"""The project's id and secret: given, or generated once and kept in the database."""

from __future__ import annotations

import logging
import re
import secrets
import uuid

from ._db import Database
from ._errors import IssuerConfigError

__all__ = ["load_project"]

logger = logging.getLogger("m2m_guard.issuer")

_PROJECT_ID = re.compile(r"[A-Za-z0-9._~-]{1,128}")


def _check(project_id: str | None, project_secret: str | None) -> None:
    if project_id is not None and not _PROJECT_ID.fullmatch(project_id):
        raise IssuerConfigError(
            "project id must be 1-128 characters of letters, digits, '.', '_', '~' or '-'"
        )
    if project_secret is not None and not project_secret:
        raise IssuerConfigError("project secret must not be empty")


def load_project(
    db: Database, project_id: str | None = None, project_secret: str | None = None
) -> tuple[str, str]:
    """The project's ``(id, secret)``.

    A new database stores the given values or generated ones
    (``project-test-<uuid>`` and a random secret), so restarting with the same
    database keeps them. A database created for another project id is
    refused; a given secret replaces the stored one.
    """
    _check(project_id, project_secret)
    with db.transaction() as conn:
        row = conn.execute("SELECT project_id, project_secret FROM project").fetchone()
        if row is None:
            pid = project_id or f"project-test-{uuid.uuid4()}"
            secret = project_secret or f"secret-test-{secrets.token_urlsafe(32)}"
            conn.execute(
                "INSERT INTO project (id, project_id, project_secret) VALUES (1, ?, ?)",
                (pid, secret),
            )
            logger.info("created project %s in %s", pid, db.path)
            return pid, secret
        stored_id, stored_secret = row
        if project_id is not None and project_id != stored_id:
            raise IssuerConfigError(
                f"database {db.path!r} belongs to project {stored_id!r}, not {project_id!r}"
            )
        if project_secret is not None and project_secret != stored_secret:
            conn.execute("UPDATE project SET project_secret = ?", (project_secret,))
            logger.info("project secret of %s replaced", stored_id)
            stored_secret = project_secret
        return str(stored_id), str(stored_secret)
