"""``m2m-guard token --dpop-key FILE`` against the local issuer served on 127.0.0.1."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from m2m_guard._tools.server import ServerThread
from m2m_guard.cli import main
from m2m_guard.client import DPoPKey
from m2m_guard.issuer import LocalIssuer, ScryptParams, create_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def token_argv() -> Iterator[list[str]]:
    """A token command for a fresh client of an issuer served on 127.0.0.1."""
    with (
        LocalIssuer(":memory:", scrypt=ScryptParams.insecure_fast()) as issuer,
        ServerThread(create_app(issuer=issuer, dpop_nonces=True)) as server,
    ):
        client, secret = issuer.create_client(scopes=["read"], dpop_bound_access_tokens=True)
        url = f"{server.base_url}/v1/public/{issuer.project_id}/oauth2/token"
        yield ["token", "--url", url, "--client-id", client.client_id, "--client-secret", secret]


def test_it_creates_an_owner_only_key_and_prints_a_token_bound_to_it(
    token_argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--create-key writes a 0600 key; the token's cnf.jkt is that key's thumbprint."""
    path = tmp_path / "caller.pem"
    assert main([*token_argv, "--dpop-key", str(path), "--create-key"]) == 0
    out, err = capsys.readouterr()
    key = DPoPKey.load(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    claims = jwt.decode(out.strip(), options={"verify_signature": False})
    assert claims["cnf"] == {"jkt": key.thumbprint}
    assert key.thumbprint in err
    # The same file again: the same key, no new one.
    assert main([*token_argv, "--dpop-key", str(path)]) == 0
    out, _ = capsys.readouterr()
    assert jwt.decode(out.strip(), options={"verify_signature": False})["cnf"] == {
        "jkt": key.thumbprint
    }


def test_a_missing_key_file_is_an_error_without_create(
    token_argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No file and no --create-key: a clear error, no token, no file made."""
    path = tmp_path / "absent.pem"
    assert main([*token_argv, "--dpop-key", str(path)]) != 0
    _, err = capsys.readouterr()
    assert "No DPoP key file" in err
    assert not path.exists()


def test_create_key_needs_a_key_file(
    token_argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--create-key alone is a usage error."""
    assert main([*token_argv, "--create-key"]) == 2
    assert "--dpop-key" in capsys.readouterr().err


def test_a_dpop_bound_client_gets_nothing_without_a_key(
    token_argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The client must prove a key: the plain command is refused with invalid_dpop_proof."""
    assert main(token_argv) != 0
    assert "invalid_dpop_proof" in capsys.readouterr().err
