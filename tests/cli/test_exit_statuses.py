"""The CLI's contract: 0 ok, 1 refused / invalid / not found, 2 usage or configuration."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from m2m_guard import cli
from m2m_guard._tools.cli_common import CLIError, UsageError, duration, exit_status
from m2m_guard._tools.server import ServerThread
from m2m_guard.issuer import LocalIssuer
from m2m_guard.testing import LiveIssuer

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """Call main() without ambient M2M_GUARD_* variables; (status, stdout, stderr)."""
    import os

    for name in list(os.environ):
        if name.startswith("M2M_GUARD_"):
            monkeypatch.delenv(name)

    def invoke(*argv: str) -> tuple[int, str, str]:
        status = cli.main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return invoke


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["clients"], "usage:"),
        (["clients", "get"], "usage:"),
        (["clients", "frobnicate"], "usage:"),
        (["clients", "list", "--limit", "0"], "not a positive integer"),
        (["clients", "list", "--limit", "x"], "not a positive integer"),
        (["clients", "update", "--status", "gone", "c"], "invalid choice"),
        (["clients", "list", "--issuer", "http://127.0.0.1:9", "--db", "x.db"], "pick one"),
        (["clients", "list", "--issuer", "http://127.0.0.1:9"], "--project-id and --secret"),
        (["clients", "list", "--secret", "s"], "go with --issuer"),
        (["clients", "list", "--db", "/nonexistent/issuer.db"], "no issuer database"),
        (["clients", "update", "c", "--db", "x.db"], "update needs a change"),
        (["clients", "create", "--metadata", "[1]"], "wants a JSON object"),
        (["clients", "create", "--metadata", "{"], "wants a JSON object"),
        (["keys", "rotate", "--grace", "nan"], "not a number of seconds"),
        (["verify", "t"], "say whose token it is"),
        (["verify", "t", "--stytch-project", "project-test-1", "--issuer", "i"], "pick one"),
        (["verify", "t", "--stytch-project", "p", "--audience", "a"], "--audience go(es) with"),
        (["verify", "t", "--stytch-project", "p", "--jwks", "f"], "--jwks go(es) with --issuer"),
        (["verify", "t", "--environment", "test"], "--environment go(es) with"),
        (["verify", "t", "--b2b", "--issuer", "i", "--audience", "a"], "--b2b go(es) with"),
        (
            ["verify", "t", "--issuer", "i", "--audience", "a", "--jwks", "f", "--jwks-url", "u"],
            "not both",
        ),
        (["verify", "t", "--stytch-project", "p", "--environment", "staging"], "environment"),
        (["verify", "t", "--stytch-project", "project-test-1", "--leeway", "-1"], "leeway"),
    ],
)
def test_usage_and_configuration_errors_exit_2(run: Run, argv: list[str], needle: str) -> None:
    """Every usage or configuration problem is exit 2 with the reason on stderr."""
    status, out, err = run(*argv)
    assert (status, out) == (2, "")
    assert needle in err
    assert "Traceback" not in err


def test_an_unreadable_jwks_file_is_a_configuration_error(run: Run, tmp_path: Path) -> None:
    """A --jwks file that cannot be read (or decoded) exits 2."""
    binary = tmp_path / "jwks.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    for path in (str(tmp_path / "missing.json"), str(binary)):
        status, _, err = run("verify", "t", "--issuer", "i", "--audience", "a", "--jwks", path)
        assert status == 2
        assert "cannot read" in err


def test_an_unusable_claims_template_is_a_configuration_error(run: Run, tmp_path: Path) -> None:
    """--claims-template that is missing or sets a reserved claim exits 2."""
    reserved = tmp_path / "reserved.json"
    reserved.write_text('{"sub": {{ request.x }}}')
    for path in (str(tmp_path / "missing.json"), str(reserved)):
        status, _, err = run(
            "issuer", "--port", "0", "--db", str(tmp_path / "i.db"), "--claims-template", path
        )
        assert status == 2
        assert "--claims-template" in err


def test_a_foreign_database_is_a_configuration_error(run: Run, tmp_path: Path) -> None:
    """A file that is not an issuer database exits 2 for keys and clients alike."""
    path = tmp_path / "not-a.db"
    path.write_bytes(b"this is not sqlite" * 100)
    for argv in (["keys", "list"], ["clients", "list"]):
        status, _, err = run(*argv, "--db", str(path))
        assert status == 2, err


def test_exit_status_of_errors() -> None:
    """Our errors carry their status; other failures are 1."""
    from m2m_guard import ConfigurationError, ExpiredTokenError

    assert exit_status(UsageError("x")) == 2
    assert exit_status(ConfigurationError("x")) == 2
    assert exit_status(CLIError("x")) == 1
    assert exit_status(ExpiredTokenError()) == 1
    assert exit_status(KeyError("x")) == 1


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (0.9, "0 s"),
        (59, "59 s"),
        (60, "1 m"),
        (312, "5 m 12 s"),
        (3600, "1 h"),
        (3605, "1 h"),
        (3780, "1 h 3 m"),
        (-3780, "1 h 3 m"),
        (90061, "1 d 1 h"),
    ],
)
def test_durations_read_as_people_say_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text


# -- the clients command against odd servers and the environment ------------------------


def _answering(status: int, body: bytes) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.mark.slow
@pytest.mark.parametrize(
    ("status", "body", "needle"),
    [
        (502, b"<html>bad gateway</html>", "refused (HTTP 502): Bad Gateway"),
        (500, b"", "refused (HTTP 500): Internal Server Error"),
        (200, b"[1, 2]", "did not answer with a JSON object"),
        (200, b"not json", "did not answer with a JSON object"),
        (200, b'{"status_code": 200}', "no m2m_client object"),
        (200, b"[" * 100_000 + b"]" * 100_000, "did not answer with a JSON object"),
    ],
)
def test_odd_management_answers_are_one_line_exit_1(
    run: Run, status: int, body: bytes, needle: str
) -> None:
    """Whatever a server answers, the command says so in one line and exits 1."""
    with ServerThread(_answering(status, body)) as server:
        code, out, err = run(
            "clients", "get", "c", "--issuer", server.base_url, "--project-id", "p", "--secret", "s"
        )
    assert (code, out) == (1, "")
    assert needle in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "http://[::1"])
def test_an_unusable_issuer_url_exits_2(run: Run, url: str) -> None:
    status, _, err = run("clients", "list", "--issuer", url, "--project-id", "p", "--secret", "s")
    assert status == 2
    assert "--issuer" in err


def test_an_unreachable_issuer_exits_1(run: Run) -> None:
    status, _, err = run(
        "clients", "list", "--issuer", "http://127.0.0.1:9", "--project-id", "p", "--secret", "s"
    )
    assert status == 1
    assert "cannot reach http://127.0.0.1:9" in err


@pytest.mark.slow
def test_wrong_project_credentials_are_refused(run: Run, m2m_issuer: LiveIssuer) -> None:
    status, _, err = run(
        "clients", "list", "--issuer", m2m_issuer.base_url,
        "--project-id", m2m_issuer.project_id, "--secret", "wrong",
    )  # fmt: skip
    assert status == 1
    assert "refused (HTTP 401): unauthorized_credentials" in err
    assert "wrong" not in err


@pytest.mark.slow
def test_the_environment_names_the_issuer(
    run: Run, m2m_issuer: LiveIssuer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """$M2M_GUARD_ISSUER_URL, _PROJECT_ID and _PROJECT_SECRET stand in for the flags;
    an explicit --db still wins."""
    monkeypatch.setenv("M2M_GUARD_ISSUER_URL", m2m_issuer.base_url)
    monkeypatch.setenv("M2M_GUARD_PROJECT_ID", m2m_issuer.project_id)
    monkeypatch.setenv("M2M_GUARD_PROJECT_SECRET", m2m_issuer.project_secret)
    status, out, _ = run("clients", "create", "--scope", "a", "--json")
    assert status == 0
    assert m2m_issuer.local.get_client(json.loads(out)["client_id"]).scopes == ("a",)
    db = tmp_path / "other.db"
    LocalIssuer(db).close()
    assert run("clients", "list", "--db", str(db)) == (0, "no clients\n", "")


def test_the_database_defaults_to_the_environment(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without --issuer, $M2M_GUARD_ISSUER_DB (then ./m2m-guard-issuer.db) is the target."""
    db = tmp_path / "env.db"
    with LocalIssuer(db) as issuer:
        issuer.create_client(scopes=["a"], client_name="from-env")
    monkeypatch.setenv("M2M_GUARD_ISSUER_DB", str(db))
    status, out, _ = run("clients", "list")
    assert status == 0
    assert "from-env" in out
    monkeypatch.delenv("M2M_GUARD_ISSUER_DB")
    monkeypatch.chdir(tmp_path)
    status, _, err = run("clients", "list")
    assert status == 2
    assert "no issuer database at 'm2m-guard-issuer.db'" in err


def test_keys_list_says_how_long_an_old_key_stays(run: Run, tmp_path: Path) -> None:
    """The retiring key shows its time left in words."""
    db = tmp_path / "keys.db"
    with LocalIssuer(db) as issuer:
        issuer.rotate_keys(3 * 3600 + 120)
        issuer.rotate_keys(0)
    status, out, _ = run("keys", "list", "--db", str(db))
    lines = out.splitlines()
    assert status == 0
    assert lines[0].endswith("signing")
    assert any(line.endswith("(due for retirement)") for line in lines)
    assert any(line.endswith(("(3 h 1 m left)", "(3 h 2 m left)")) for line in lines)


def test_an_unexpected_failure_opening_the_issuer_frees_the_port(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A bug while opening the database is exit 1, and the bound socket is closed."""
    stopped: list[bool] = []

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("boom")

    original_stop = ServerThread.stop

    def stop(self: ServerThread) -> None:
        stopped.append(True)
        original_stop(self)

    monkeypatch.setattr("m2m_guard.issuer.LocalIssuer", broken)
    monkeypatch.setattr(ServerThread, "stop", stop)
    status, _, err = run("issuer", "--port", "0", "--db", str(tmp_path / "x.db"))
    assert status == 1
    assert "KeyError" in err
    assert stopped


@pytest.mark.parametrize("grace", ["abc", "-1", "inf"])
def test_grace_must_be_seconds(run: Run, grace: str, tmp_path: Path) -> None:
    status, _, err = run("keys", "rotate", "--db", str(tmp_path / "x.db"), "--grace", grace)
    assert status == 2
    assert "--grace" in err
