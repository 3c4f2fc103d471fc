"""The m2m-guard CLI: issuer, keys and token commands, exit codes, one-line errors."""

from __future__ import annotations

import json
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from m2m_guard import cli
from m2m_guard._tools.server import ServerThread
from m2m_guard._version import __version__
from m2m_guard.issuer import CreatedClient, LocalIssuer, create_app
from tests.issuer._helpers import FAST
from tests.support.token_endpoint import TokenEndpointServer

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Call main() and return (status, stdout, stderr)."""

    def invoke(*argv: str) -> tuple[int, str, str]:
        status = cli.main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return invoke


@pytest.fixture
def db(tmp_path: Path, key_factory: Callable[[], Any]) -> str:
    """An existing issuer database file."""
    path = tmp_path / "issuer.db"
    LocalIssuer(path, scrypt=FAST, key_factory=key_factory).close()
    return str(path)


def assert_one_line_error(status: int, err: str, needle: str, *, code: int = 1) -> None:
    """Exit ``code`` with a single 'm2m-guard: error:' line mentioning needle."""
    assert status == code
    assert err.count("\n") == 1
    assert err.startswith("m2m-guard: error: ")
    assert needle in err
    assert "Traceback" not in err


# -- general ----------------------------------------------------------------------


def test_version_prints_the_package_version(run: Run) -> None:
    """--version exits 0 with the version."""
    status, out, _ = run("--version")
    assert (status, out.strip()) == (0, f"m2m-guard {__version__}")


def test_help_lists_every_command(run: Run) -> None:
    """--help names issuer, keys and token."""
    status, out, _ = run("--help")
    assert status == 0
    for command in ("issuer", "keys", "token"):
        assert command in out


@pytest.mark.parametrize("argv", [[], ["keys"], ["nope"], ["issuer", "--port", "x"]])
def test_usage_errors_exit_2(run: Run, argv: list[str]) -> None:
    """Missing or unknown commands and bad values are usage errors."""
    status, _, err = run(*argv)
    assert status == 2
    assert "usage:" in err


def test_an_unexpected_failure_is_one_line(
    run: Run, monkeypatch: pytest.MonkeyPatch, db: str
) -> None:
    """Even a bug prints one line, never a traceback."""

    def broken(args: object) -> int:
        raise KeyError

    monkeypatch.setattr(cli, "cmd_keys_list", broken)
    status, _, err = run("keys", "list", "--db", db)
    assert_one_line_error(status, err, "KeyError")


def test_ctrl_c_exits_130(run: Run, monkeypatch: pytest.MonkeyPatch, db: str) -> None:
    """KeyboardInterrupt is exit status 130, silently."""

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_keys_list", interrupted)
    assert run("keys", "list", "--db", db) == (130, "", "")


# -- keys ---------------------------------------------------------------------------


def test_keys_list_shows_the_signing_key(run: Run, db: str) -> None:
    """list prints one line per key."""
    status, out, _ = run("keys", "list", "--db", db)
    assert status == 0
    (line,) = out.splitlines()
    assert line.startswith("jwk-test-")
    assert line.endswith("signing")


def test_keys_rotate_then_retire(run: Run, db: str) -> None:
    """rotate adds a signer and keeps the old key published; retire drops it."""
    with LocalIssuer(db) as issuer:
        (old,) = issuer.signing_keys()
    status, out, _ = run("keys", "rotate", "--db", db, "--grace", "120")
    assert status == 0
    assert f"previous key {old.kid} stays in the JWKS until" in out
    with LocalIssuer(db) as issuer:
        listing = issuer.signing_keys()
        assert [key.kid for key in listing][1] == old.kid
        assert out.startswith(f"new signing key: {listing[0].kid}")
    status, out, _ = run("keys", "list", "--db", db)
    assert "published until" in out
    status, out, _ = run("keys", "retire", "--db", db)
    assert (status, out) == (0, f"retired 1 key(s)\n  {old.kid}\n")
    with LocalIssuer(db) as issuer:
        assert len(issuer.jwks()["keys"]) == 1


def test_keys_retire_by_kid_refuses_the_signing_key(run: Run, db: str) -> None:
    """Retiring the signer is a one-line error."""
    with LocalIssuer(db) as issuer:
        (key,) = issuer.signing_keys()
    status, _, err = run("keys", "retire", "--db", db, "--kid", key.kid)
    assert_one_line_error(status, err, "rotate before retiring")


def test_a_negative_grace_is_refused(run: Run, db: str) -> None:
    """--grace must not be negative: a usage error."""
    status, _, err = run("keys", "rotate", "--db", db, "--grace", "-5")
    assert status == 2
    assert "argument --grace: not a number of seconds >= 0: '-5'" in err


def test_keys_commands_need_an_existing_database(run: Run, tmp_path: Path) -> None:
    """A missing file is reported, and not created."""
    path = tmp_path / "missing.db"
    for action in ("list", "rotate", "retire"):
        status, _, err = run("keys", action, "--db", str(path))
        assert_one_line_error(status, err, "no issuer database", code=2)
    assert not path.exists()


def test_the_db_path_defaults_to_the_environment(
    run: Run, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$M2M_GUARD_ISSUER_DB is the default --db."""
    monkeypatch.setenv("M2M_GUARD_ISSUER_DB", db)
    status, out, _ = run("keys", "list")
    assert status == 0
    assert "signing" in out


# -- issuer -------------------------------------------------------------------------


@pytest.mark.slow
def test_issuer_serves_until_shutdown_and_prints_its_coordinates(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issuer command serves real HTTP, prints URL and credentials, then stops."""
    seen: dict[str, Any] = {}

    def probe(server: ServerThread) -> None:
        seen["url"] = server.base_url
        seen["jwks"] = httpx.get(f"{server.base_url}/v1/sessions/jwks/project-test-cli").json()
        seen["sigterm"] = signal.getsignal(signal.SIGTERM)

    from m2m_guard._tools import cli_issuer

    monkeypatch.setattr(cli_issuer, "_wait_for_shutdown", probe)
    previous = signal.getsignal(signal.SIGTERM)
    db = tmp_path / "served.db"
    status, out, _ = run(
        "issuer",
        "--port",
        "0",
        "--db",
        str(db),
        "--project-id",
        "project-test-cli",
        "--project-secret",
        "cli-secret-1",
    )
    assert status == 0
    assert f"listening on {seen['url']}" in out
    assert "project-test-cli" in out
    assert "cli-secret-1" in out
    assert f"{seen['url']}/v1/public/project-test-cli/oauth2/token" in out
    assert len(seen["jwks"]["keys"]) == 1
    assert seen["sigterm"] is cli_issuer._raise_interrupt
    assert signal.getsignal(signal.SIGTERM) is previous
    assert not [t for t in threading.enumerate() if t.name == "m2m-guard-uvicorn"]
    with LocalIssuer(db) as issuer:
        assert (issuer.project_id, issuer.project_secret) == ("project-test-cli", "cli-secret-1")


def test_issuer_with_an_unusable_database_is_one_line(run: Run, tmp_path: Path) -> None:
    """A bad --db is a one-line error."""
    status, _, err = run("issuer", "--db", str(tmp_path / "no" / "such.db"))
    assert_one_line_error(status, err, "cannot create", code=2)


def test_issuer_refuses_a_database_of_another_project(run: Run, db: str) -> None:
    """--project-id must match the database's project."""
    status, _, err = run("issuer", "--db", db, "--project-id", "project-test-else")
    assert_one_line_error(status, err, "belongs to project", code=2)


def test_waiting_ends_on_ctrl_c(capsys: pytest.CaptureFixture[str]) -> None:
    """_wait_for_shutdown returns on KeyboardInterrupt, saying it stops."""

    class Interrupted:
        def wait(self, timeout: float) -> bool:
            raise KeyboardInterrupt

    from m2m_guard._tools.cli_issuer import _wait_for_shutdown

    _wait_for_shutdown(Interrupted())  # type: ignore[arg-type]
    assert capsys.readouterr().err == "stopping\n"


def test_waiting_ends_when_the_server_dies() -> None:
    """_wait_for_shutdown polls until the server is gone."""
    answers = iter([False, False, True])

    class Dying:
        def wait(self, timeout: float) -> bool:
            return next(answers)

    from m2m_guard._tools.cli_issuer import _wait_for_shutdown

    _wait_for_shutdown(Dying())  # type: ignore[arg-type]
    assert next(answers, None) is None


def test_sigterm_is_turned_into_keyboard_interrupt() -> None:
    """The SIGTERM handler raises KeyboardInterrupt for a clean stop."""
    from m2m_guard._tools.cli_issuer import _raise_interrupt

    with pytest.raises(KeyboardInterrupt):
        _raise_interrupt(signal.SIGTERM, None)


# -- token ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(
    rsa_pool: list[Any],
) -> Iterator[tuple[ServerThread, LocalIssuer, CreatedClient]]:
    """A real issuer server with one client, for the token command."""
    with LocalIssuer(scrypt=FAST, key_factory=lambda: rsa_pool[0]) as issuer:
        created = issuer.create_client(scopes=["read", "write"])
        issuer.set_m2m_template('{"user_id": {{ request.user_id }}}')
        with ServerThread(create_app(issuer=issuer)) as server:
            yield server, issuer, created


@pytest.fixture
def token_args(served: tuple[ServerThread, LocalIssuer, CreatedClient]) -> list[str]:
    """--url, --client-id and --client-secret for the served client."""
    server, issuer, created = served
    return [
        "--url",
        f"{server.base_url}/v1/public/{issuer.project_id}/oauth2/token",
        "--client-id",
        created.client.client_id,
        "--client-secret",
        created.client_secret,
    ]


def claims_of(token: str) -> dict[str, Any]:
    """The unverified claims of a token."""
    return jwt.decode(token, options={"verify_signature": False})


@pytest.mark.slow
def test_token_prints_just_the_access_token(run: Run, token_args: list[str]) -> None:
    """stdout is the bare token, ready for $(...)."""
    status, out, err = run("token", *token_args)
    assert (status, err) == (0, "")
    assert claims_of(out.strip())["scope"] == "read write"
    assert out.count("\n") == 1


@pytest.mark.slow
def test_token_passes_scopes_and_claims(run: Run, token_args: list[str]) -> None:
    """--scope (repeatable) and --claim NAME=VALUE (through the template) reach the token."""
    status, out, _ = run(
        "token", *token_args, "--scope", "read", "--scope", "write", "--claim", "user_id=u=1"
    )
    claims = claims_of(out.strip())
    assert status == 0
    assert (claims["scope"], claims["user_id"]) == ("read write", "u=1")


@pytest.mark.slow
def test_token_json_prints_the_whole_response(run: Run, token_args: list[str]) -> None:
    """--json prints the JSON body."""
    status, out, _ = run("token", *token_args, "--json")
    body = json.loads(out)
    assert (status, body["token_type"], body["expires_in"]) == (0, "bearer", 3600)


@pytest.mark.slow
def test_token_reads_credentials_from_the_environment(
    run: Run, token_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """$M2M_GUARD_TOKEN_URL, _CLIENT_ID and _CLIENT_SECRET stand in for flags."""
    for name, value in zip(
        ("TOKEN_URL", "CLIENT_ID", "CLIENT_SECRET"), token_args[1::2], strict=True
    ):
        monkeypatch.setenv(f"M2M_GUARD_{name}", value)
    status, out, _ = run("token")
    assert status == 0
    assert out.count(".") == 2


@pytest.mark.slow
def test_a_refused_token_request_is_one_line(run: Run, token_args: list[str]) -> None:
    """The OAuth2 error and description are shown."""
    args = [*token_args[:-1], "wrong-secret"]
    status, _, err = run("token", *args)
    assert_one_line_error(status, err, "HTTP 401): invalid_client: Client authentication failed.")


@pytest.mark.slow
def test_an_invalid_scope_is_reported(run: Run, token_args: list[str]) -> None:
    """invalid_scope from the server is shown."""
    status, _, err = run("token", *token_args, "--scope", "admin")
    assert_one_line_error(status, err, "invalid_scope")


@pytest.mark.parametrize("claim", ["novalue", "=value"])
def test_a_malformed_claim_is_refused(run: Run, claim: str) -> None:
    """--claim needs NAME=VALUE."""
    argv = ["token", "--url", "http://127.0.0.1:9/t", "--client-id", "c", "--client-secret", "s"]
    status, _, err = run(*argv, "--claim", claim)
    assert_one_line_error(status, err, "--claim wants NAME=VALUE", code=2)


def test_token_needs_url_and_credentials(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """Missing flags (and no environment) are a one-line error."""
    for name in ("TOKEN_URL", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv(f"M2M_GUARD_{name}", raising=False)
    status, _, err = run("token", "--client-id", "c")
    assert_one_line_error(status, err, "--url, --client-id and --client-secret", code=2)


def test_an_unreachable_endpoint_is_one_line(run: Run) -> None:
    """Connection errors are reported without a traceback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = ["--url", f"http://127.0.0.1:{port}/t", "--client-id", "c", "--client-secret", "s"]
    status, _, err = run("token", *argv)
    assert_one_line_error(status, err, "cannot reach")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("status", "body", "needle"),
    [
        (502, b"<html>bad gateway</html>", "HTTP 502): Bad Gateway"),
        (200, b'{"token_type": "bearer"}', "did not answer with an access_token"),
        (200, b"not json", "did not answer with an access_token"),
    ],
)
def test_odd_token_responses_are_one_line(run: Run, status: int, body: bytes, needle: str) -> None:
    """Non-JSON errors and bodies without a token are reported plainly."""

    async def odd(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})

    with ServerThread(odd) as server:
        argv = ["--url", server.base_url, "--client-id", "c", "--client-secret", "s"]
        code, _, err = run("token", *argv)
    assert_one_line_error(code, err, needle)


@pytest.mark.slow
def test_issuer_off_the_main_thread_leaves_signals_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signal handlers can only be set from the main thread; elsewhere they are skipped."""
    from m2m_guard._tools import cli_issuer

    handlers: list[object] = []
    monkeypatch.setattr(
        cli_issuer,
        "_wait_for_shutdown",
        lambda server: handlers.append(signal.getsignal(signal.SIGTERM)),
    )
    statuses: list[int] = []
    argv = ["issuer", "--port", "0", "--db", str(tmp_path / "t.db")]
    thread = threading.Thread(target=lambda: statuses.append(cli.main(argv)))
    thread.start()
    thread.join(30)
    assert statuses == [0]
    assert handlers != [cli_issuer._raise_interrupt]


@pytest.mark.parametrize("module", ["starlette", "uvicorn"])
def test_a_missing_issuer_extra_is_explained(
    run: Run, db: str, monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    """Without Starlette or uvicorn the error names the extra to install."""
    monkeypatch.setitem(sys.modules, module, None)
    for argv in (["issuer", "--db", db], ["keys", "list", "--db", db]):
        status, _, err = run(*argv)
        assert_one_line_error(status, err, "pip install 'm2m-guard[issuer]'", code=2)
        assert module in err


def test_token_errors_from_a_hostile_endpoint_print_as_one_inert_line(run: Run) -> None:
    """An endpoint's error_description with newlines and escapes cannot forge output."""
    hostile = {
        "error": "invalid_client\x1b[2J",
        "error_description": "bad\nm2m-guard: ok: token accepted\r\x1b[31m\u202e",
    }
    with TokenEndpointServer(400, json.dumps(hostile).encode()) as endpoint:
        status, out, err = run(
            "token", "--url", endpoint.url, "--client-id", "c", "--client-secret", "s" * 12
        )
    assert_one_line_error(status, err, "token request refused (HTTP 400)")
    assert err.rstrip("\n").isprintable()
    assert "\\x1b[2J" in err
    assert out == ""


@pytest.mark.parametrize("status", [200, 400])
def test_absurdly_nested_answers_are_one_clear_line(run: Run, status: int) -> None:
    """JSON nested past Python's recursion limit is an unusable answer, not a crash."""
    with TokenEndpointServer(status, b"[" * 100_000 + b"]" * 100_000) as endpoint:
        code, _, err = run(
            "token", "--url", endpoint.url, "--client-id", "c", "--client-secret", "s" * 12
        )
    needle = "did not answer with an access_token" if status == 200 else "HTTP 400"
    assert_one_line_error(code, err, needle)
    assert "recursion" not in err
