"""The per-client binding fields over Stytch's management API, and their migration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from m2m_guard.issuer import SCHEMA_VERSION, LocalIssuer, ScryptParams
from m2m_guard.issuer._db import MIGRATIONS

FIELDS = ("dpop_bound_access_tokens", "tls_client_certificate_bound_access_tokens")


def test_create_and_update_take_the_binding_fields(
    http: httpx.Client, auth: tuple[str, str]
) -> None:
    """Both fields default to false, are set on create and changed on update."""
    plain = http.post("/v1/m2m/clients", json={"scopes": []}, auth=auth).json()["m2m_client"]
    assert [plain[name] for name in FIELDS] == [False, False]
    body = {"scopes": ["read"], "dpop_bound_access_tokens": True}
    created = http.post("/v1/m2m/clients", json=body, auth=auth).json()["m2m_client"]
    assert [created[name] for name in FIELDS] == [True, False]
    path = f"/v1/m2m/clients/{created['client_id']}"
    change = {"dpop_bound_access_tokens": False, "tls_client_certificate_bound_access_tokens": True}
    updated = http.put(path, json=change, auth=auth).json()["m2m_client"]
    assert [updated[name] for name in FIELDS] == [False, True]
    assert http.get(path, auth=auth).json()["m2m_client"]["scopes"] == ["read"]


@pytest.mark.parametrize("value", ["true", 1, None, [True]])
@pytest.mark.parametrize("name", FIELDS)
def test_a_binding_field_must_be_a_boolean(
    http: httpx.Client, auth: tuple[str, str], name: str, value: object
) -> None:
    """Anything but a JSON boolean is 400 (null is "leave it alone" on update only)."""
    answer = http.post("/v1/m2m/clients", json={"scopes": [], name: value}, auth=auth)
    if value is None:
        assert answer.status_code == 200
        assert answer.json()["m2m_client"][name] is False
    else:
        assert answer.status_code == 400
        assert "boolean" in answer.json()["error_message"]


def test_an_older_database_gains_the_fields_unbound(tmp_path: Path) -> None:
    """A schema-2 database migrates; a client it already held stays unbound."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for version, statements in enumerate(MIGRATIONS[:2]):
        for statement in statements:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version + 1}")
    conn.execute(
        "INSERT INTO clients (client_id, client_name, client_description, status, scopes, "
        "trusted_metadata, secret_hash, secret_last_four, created_at, updated_at) "
        "VALUES ('old-client', '', '', 'active', '[]', '{}', 'x', 'abcd', 0, 0)"
    )
    conn.commit()
    conn.close()
    with LocalIssuer(path, scrypt=ScryptParams.insecure_fast()) as issuer:
        assert issuer.db.schema_version == SCHEMA_VERSION
        client = issuer.get_client("old-client")
    assert not client.dpop_bound_access_tokens
    assert not client.tls_client_certificate_bound_access_tokens
