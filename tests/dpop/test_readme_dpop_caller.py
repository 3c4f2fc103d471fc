"""The README's "Sender-constrained tokens" snippets run as written (caller and issuer parts)."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from m2m_guard import Verifier
from m2m_guard._tools.demo import protected_app
from m2m_guard._tools.explain_dpop import PROOF_STEPS
from m2m_guard._tools.server import ServerThread
from m2m_guard.cli import build_parser, main
from m2m_guard.issuer import LocalIssuer, ScryptParams, create_app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section() -> str:
    start = README.index("\n## Sender-constrained tokens: the caller and the local issuer\n")
    return README[start : README.index("\n## ", start + 1)]


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", _section(), flags=re.DOTALL)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """An issuer and a DPoP-only API on 127.0.0.1, and a client's credentials."""
    monkeypatch.chdir(tmp_path)
    with (
        LocalIssuer(":memory:", scrypt=ScryptParams.insecure_fast()) as issuer,
        ServerThread(create_app(issuer=issuer)) as issuer_server,
    ):
        verifier = Verifier.for_stytch(
            issuer.project_id, environment=issuer_server.base_url, dpop="required"
        )
        with ServerThread(protected_app(verifier)) as api_server:
            client, secret = issuer.create_client(scopes=["read:settings"])
            yield {
                "project_id": issuer.project_id,
                "client_id": client.client_id,
                "client_secret": secret,
                "issuer_url": issuer_server.base_url,
                "api_url": api_server.base_url,
            }
        verifier.close()


@pytest.mark.slow
def test_the_caller_snippet_runs_against_a_dpop_only_api(world: dict[str, str]) -> None:
    """The caller block: a bound token, accepted by a dpop="required" API; the key file made."""
    caller, _issuer = _blocks("python")
    namespace: dict[str, object] = dict(world)
    exec(compile(caller, "README-caller", "exec"), namespace)  # noqa: S102 - the README's code
    assert Path("caller-dpop.pem").exists()
    assert isinstance(namespace["proof"], str)


def test_the_issuer_snippet_runs() -> None:
    """The issuer block makes a DPoP-bound client and an app requiring nonces."""
    _caller, issuer = _blocks("python")
    namespace: dict[str, object] = {}
    exec(compile(issuer, "README-issuer", "exec"), namespace)  # noqa: S102 - the README's code
    namespace["issuer"].close()  # type: ignore[attr-defined]


def test_the_commands_parse_and_the_database_ones_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command line parses; the clients one runs on a new database."""
    (block,) = _blocks("sh")
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == 4
    monkeypatch.chdir(tmp_path)
    for name in ("TOKEN_URL", "ID", "SECRET", "TOKEN", "PROJECT", "PROOF"):
        monkeypatch.setenv(name, "x")
    for line in lines:
        argv = shlex.split(os.path.expandvars(line))
        assert argv[0] == "m2m-guard"
        build_parser().parse_args(argv[1:])
    LocalIssuer("dev.db").close()
    assert main(shlex.split(lines[1])[1:]) == 0


def test_the_sample_report_names_the_real_checks() -> None:
    """The verify sample lists PROOF_STEPS in order, with their own words."""
    (sample,) = re.findall(r"```\n(  pass  proof .*?)```", _section(), flags=re.DOTALL)
    rows = [line.split(None, 2) for line in sample.splitlines()]
    assert [row[1] for row in rows] == [name for name, _, _ in PROOF_STEPS]
    for (status, _name, text), (_, what, _) in zip(rows, PROOF_STEPS, strict=True):
        if status != "FAIL":
            assert text == what
