"""``m2m-guard clients --dpop-bound / --mtls-bound``: the per-client binding fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from m2m_guard.cli import main
from m2m_guard.issuer import LocalIssuer


def test_create_and_update_set_the_binding_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dpop-bound on create, --no-dpop-bound --mtls-bound on update, stored and shown."""
    db = str(tmp_path / "dev.db")
    LocalIssuer(db).close()
    argv = ["clients", "create", "--db", db, "--scope", "read", "--client-id", "c-1"]
    assert main([*argv, "--dpop-bound", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["dpop_bound_access_tokens"] is True
    assert created["tls_client_certificate_bound_access_tokens"] is False
    assert main(["clients", "get", "c-1", "--db", db]) == 0
    assert "tokens:       bound (DPoP proof required)" in capsys.readouterr().out
    assert main(["clients", "update", "c-1", "--db", db, "--no-dpop-bound", "--mtls-bound"]) == 0
    assert "bound (TLS client certificate required)" in capsys.readouterr().out
    with LocalIssuer(db) as issuer:
        client = issuer.get_client("c-1")
    assert not client.dpop_bound_access_tokens
    assert client.tls_client_certificate_bound_access_tokens


def test_a_non_boolean_binding_is_refused(tmp_path: Path) -> None:
    """The in-process API wants a real boolean, as the HTTP API does."""
    from m2m_guard.issuer import BadRequestError

    with LocalIssuer(":memory:") as issuer, pytest.raises(BadRequestError, match="boolean"):
        issuer.create_client(scopes=[], dpop_bound_access_tokens=1)  # type: ignore[arg-type]
