"""SQLite storage: schema versioning, persistence, hashing, transactions, threads."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from m2m_guard.issuer import (
    SCHEMA_VERSION,
    ConflictError,
    IssuerConfigError,
    LocalIssuer,
)
from m2m_guard.issuer._db import Database
from m2m_guard.issuer._models import M2MClient
from tests.issuer._helpers import FAST

KeyFactory = Callable[[], rsa.RSAPrivateKey]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A fresh database file path."""
    return tmp_path / "issuer.db"


def open_issuer(
    path: Path,
    key_factory: KeyFactory,
    project_id: str | None = None,
    project_secret: str | None = None,
) -> LocalIssuer:
    """A file-backed issuer with cheap hashing."""
    return LocalIssuer(
        path,
        project_id=project_id,
        project_secret=project_secret,
        scrypt=FAST,
        key_factory=key_factory,
    )


def test_a_new_database_is_at_the_current_schema_version(db_path: Path) -> None:
    """PRAGMA user_version records the schema the migrations produced."""
    db = Database(db_path)
    try:
        assert db.schema_version == SCHEMA_VERSION >= 1
    finally:
        db.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_reopening_does_not_migrate_again(db_path: Path) -> None:
    """Opening a current database twice keeps its data and version."""
    Database(db_path).close()
    db = Database(db_path)
    try:
        assert db.schema_version == SCHEMA_VERSION
    finally:
        db.close()


def test_a_database_from_a_newer_version_is_refused(db_path: Path) -> None:
    """A schema we do not know is never touched."""
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(IssuerConfigError, match="schema version"):
        Database(db_path)


def test_a_file_that_is_not_a_database_is_refused(db_path: Path) -> None:
    """A random file gives a clear configuration error."""
    db_path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(IssuerConfigError, match="cannot use"):
        Database(db_path)


def test_a_database_in_a_missing_directory_is_refused(tmp_path: Path) -> None:
    """An impossible path is a clear configuration error."""
    with pytest.raises(IssuerConfigError, match="cannot create"):
        Database(tmp_path / "missing" / "issuer.db")


def test_database_files_are_private_and_use_wal(db_path: Path) -> None:
    """The file holds secrets: owner-only permissions, WAL journaling."""
    db = Database(db_path)
    try:
        with db.reading() as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600


def test_a_failed_transaction_leaves_no_trace(db_path: Path) -> None:
    """An exception inside a transaction rolls every statement back."""
    db = Database(db_path)

    def crash_halfway() -> None:
        with db.transaction() as conn:
            conn.execute("INSERT INTO project VALUES (1, 'p', 's')")
            raise RuntimeError("crash halfway")

    try:
        with pytest.raises(RuntimeError, match="crash halfway"):
            crash_halfway()
        with db.reading() as conn:
            assert conn.execute("SELECT COUNT(*) FROM project").fetchone()[0] == 0
    finally:
        db.close()


def test_project_and_clients_persist_across_reopen(db_path: Path, key_factory: KeyFactory) -> None:
    """Project credentials, clients, secrets and keys survive a restart."""
    with open_issuer(db_path, key_factory) as first:
        created = first.create_client(scopes=["read:users"], client_name="svc")
        project = (first.project_id, first.project_secret)
        jwks = first.jwks()
    with open_issuer(db_path, key_factory) as second:
        assert (second.project_id, second.project_secret) == project
        assert second.get_client(created.client.client_id) == created.client
        assert second.jwks() == jwks
        token = second.issue_token(created.client.client_id, created.client_secret)
        assert token.client_id == created.client.client_id


def test_a_generated_project_has_stytch_shaped_credentials(issuer: LocalIssuer) -> None:
    """Generated ids look like Stytch test projects; secrets are long."""
    assert issuer.project_id.startswith("project-test-")
    assert len(issuer.project_secret) >= 40


def test_given_project_credentials_are_stored(db_path: Path, key_factory: KeyFactory) -> None:
    """A new database keeps the project id and secret it was given."""
    with open_issuer(db_path, key_factory, project_id="project-test-x", project_secret="s3cr3t!"):
        pass
    with open_issuer(db_path, key_factory) as issuer:
        assert (issuer.project_id, issuer.project_secret) == ("project-test-x", "s3cr3t!")


def test_a_database_of_another_project_is_refused(db_path: Path, key_factory: KeyFactory) -> None:
    """Reopening with a different project id is a configuration error."""
    open_issuer(db_path, key_factory, project_id="project-test-a").close()
    with pytest.raises(IssuerConfigError, match="belongs to project"):
        open_issuer(db_path, key_factory, project_id="project-test-b")


def test_a_given_secret_replaces_the_stored_one(db_path: Path, key_factory: KeyFactory) -> None:
    """The project secret can be changed by passing a new one."""
    open_issuer(db_path, key_factory, project_secret="first-secret").close()
    open_issuer(db_path, key_factory, project_secret="second-secret").close()
    with open_issuer(db_path, key_factory) as issuer:
        assert issuer.project_secret == "second-secret"


@pytest.mark.parametrize(
    ("project_id", "project_secret"), [("has space", None), ("a/b", None), ("", None), (None, "")]
)
def test_invalid_project_credentials_are_refused(
    project_id: str | None, project_secret: str | None, key_factory: KeyFactory
) -> None:
    """Project ids go into URLs; secrets must not be empty."""
    with pytest.raises(IssuerConfigError, match="project"):
        LocalIssuer(project_id=project_id, project_secret=project_secret, key_factory=key_factory)


def test_client_secrets_are_never_stored_in_clear(db_path: Path, key_factory: KeyFactory) -> None:
    """Neither the secret nor the next secret appears anywhere in the database files."""
    with open_issuer(db_path, key_factory) as issuer:
        created = issuer.create_client(scopes=[], client_secret="imported-secret-value")
        rotating = issuer.start_secret_rotation(created.client.client_id)
        with issuer.db.reading() as conn:
            rows = conn.execute("SELECT secret_hash, next_secret_hash FROM clients").fetchall()
    assert rows[0][0].startswith("scrypt$")
    assert rows[0][1].startswith("scrypt$")
    blob = b"".join(path.read_bytes() for path in db_path.parent.iterdir())
    assert b"imported-secret-value" not in blob
    assert rotating.next_client_secret.encode() not in blob


def test_a_duplicate_client_id_leaves_the_first_client_intact(issuer: LocalIssuer) -> None:
    """Importing a taken id is a conflict and changes nothing."""
    first = issuer.create_client(scopes=["a"], client_id="svc-1", client_name="first")
    with pytest.raises(ConflictError):
        issuer.create_client(scopes=["b"], client_id="svc-1", client_name="second")
    assert issuer.get_client("svc-1") == first.client
    assert issuer.search_clients().total == 1


def test_concurrent_creates_from_threads_all_land(issuer: LocalIssuer) -> None:
    """Eight threads creating clients at once leave exactly every client, once."""
    results: list[str] = []
    lock = threading.Lock()

    def create_many(worker: int) -> None:
        for index in range(10):
            created = issuer.create_client(scopes=["s"], client_name=f"w{worker}-{index}")
            with lock:
                results.append(created.client.client_id)

    threads = [threading.Thread(target=create_many, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    page = issuer.search_clients(limit=1000)
    assert page.total == 80
    assert sorted(client.client_id for client in page.clients) == sorted(results)
    assert len(set(results)) == 80
    assert {client.client_name for client in page.clients} == {
        f"w{worker}-{index}" for worker in range(8) for index in range(10)
    }


def test_concurrent_updates_of_different_fields_all_survive(issuer: LocalIssuer) -> None:
    """Updates touch only their own columns, so none undoes another."""
    cid = issuer.create_client(scopes=["s"]).client.client_id
    updates: list[Callable[[], object]] = [
        lambda: issuer.update_client(cid, client_name="named"),
        lambda: issuer.update_client(cid, client_description="described"),
        lambda: issuer.update_client(cid, status="inactive"),
        lambda: issuer.update_client(cid, scopes=["x", "y"]),
        lambda: issuer.update_client(cid, trusted_metadata={"team": "core"}),
        lambda: issuer.start_secret_rotation(cid),
    ]
    threads = [threading.Thread(target=update) for update in updates * 5]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client = issuer.get_client(cid)
    assert (client.client_name, client.client_description, client.status) == (
        "named",
        "described",
        "inactive",
    )
    assert client.scopes == ("x", "y")
    assert client.trusted_metadata == {"team": "core"}
    assert client.next_client_secret_last_four is not None


def test_two_issuers_on_one_file_write_concurrently(db_path: Path, key_factory: KeyFactory) -> None:
    """Separate connections (as separate processes would) wait for the write lock."""
    first = open_issuer(db_path, key_factory)
    second = open_issuer(db_path, key_factory)
    try:
        assert first.project_id == second.project_id

        def create(target: LocalIssuer) -> None:
            for _ in range(15):
                target.create_client(scopes=["s"])

        threads = [threading.Thread(target=create, args=(t,)) for t in (first, second) * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert first.search_clients().total == second.search_clients().total == 60
    finally:
        first.close()
        second.close()


def test_a_write_the_response_cannot_render_is_rolled_back(
    db_path: Path, key_factory: KeyFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The response is encoded inside the transaction: a failure there stores nothing."""
    with open_issuer(db_path, key_factory) as issuer:
        kept = issuer.create_client(scopes=["a"], client_name="kept")
        real = M2MClient.to_json

        def unrenderable(client: M2MClient) -> dict[str, object]:
            body = real(client)
            if client.client_name.startswith("poison"):
                body["trusted_metadata"] = {"x": float("nan")}
            return body

        monkeypatch.setattr(M2MClient, "to_json", unrenderable)
        with pytest.raises(ValueError, match="JSON compliant"):
            issuer.create_client(scopes=["a"], client_name="poison-new")
        with pytest.raises(ValueError, match="JSON compliant"):
            issuer.update_client(kept.client.client_id, client_name="poison-rename")
        monkeypatch.undo()
        page = issuer.search_clients()
        assert [client.client_name for client in page.clients] == ["kept"]
