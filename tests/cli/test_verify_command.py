"""``m2m-guard verify``: verify a token and explain every check."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from m2m_guard import cli
from m2m_guard.cli import main
from tests.support.clock import FakeClock
from tests.support.jwks_server import JWKSServer
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims


@pytest.fixture
def jwks_file(tmp_path: Path, rsa_key: SigningKey) -> str:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks_of(rsa_key)))
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def offline(jwks_file: str, token: str, *extra: str) -> list[str]:
    return [
        "verify",
        token,
        "--issuer",
        ISSUER,
        "--audience",
        PROJECT_ID,
        "--jwks",
        jwks_file,
        *extra,
    ]


def test_valid_token_passes_every_check(
    capsys: pytest.CaptureFixture[str], jwks_file: str, rsa_key: SigningKey
) -> None:
    """A good token exits 0 and shows header, claims and each passed check."""
    token = rsa_key.sign(stytch_claims(FakeClock.real_now()))
    status, out, _ = run(capsys, *offline(jwks_file, token, "--scope", "read:users"))
    assert status == 0
    assert '"alg": "RS256"' in out
    assert '"tenant": "acme"' in out
    for step in (
        "format",
        "header",
        "required",
        "issuer",
        "audience",
        "key",
        "signature",
        "time",
        "claims",
        "scopes",
    ):
        assert f"pass  {step}" in out
    assert "Result: VALID - client m2m-client-test-" in out


@pytest.mark.parametrize(
    ("overrides", "step", "words"),
    [
        ({"exp": 1_000}, "time", "expired"),
        ({"iss": "https://evil.example"}, "issuer", "unexpected issuer"),
        ({"aud": ["other"]}, "audience", "not meant for this audience"),
        ({"iat": ...}, "required", "no 'iat' claim"),
        ({"sub": 5}, "claims", "'sub' claim must be a string"),
    ],
)
def test_failed_check_is_named_and_later_checks_skipped(
    capsys: pytest.CaptureFixture[str],
    jwks_file: str,
    rsa_key: SigningKey,
    overrides: dict[str, object],
    step: str,
    words: str,
) -> None:
    """The failing check says why; checks after it are marked as not reached."""
    token = rsa_key.sign(stytch_claims(FakeClock.real_now(), **overrides))
    status, out, _ = run(capsys, *offline(jwks_file, token))
    assert status == 1
    assert f"FAIL  {step}" in out
    assert words in out
    assert "-     scopes" in out
    assert "Result: INVALID (401)" in out


def test_missing_scope_fails_the_scopes_check(
    capsys: pytest.CaptureFixture[str], jwks_file: str, rsa_key: SigningKey
) -> None:
    """Required scopes are checked last and answer 403."""
    token = rsa_key.sign(stytch_claims(FakeClock.real_now()))
    status, out, _ = run(capsys, *offline(jwks_file, token, "--scope", "admin:all"))
    assert status == 1
    assert "FAIL  scopes" in out
    assert "Result: INVALID (403)" in out


def test_bad_signature_fails_the_signature_check(
    capsys: pytest.CaptureFixture[str],
    jwks_file: str,
    rsa_key: SigningKey,
    other_rsa_key: SigningKey,
) -> None:
    """A forged token passes the claim checks but not the signature."""
    forger = SigningKey("RS256", kid=rsa_key.kid, private=other_rsa_key.private)
    status, out, _ = run(
        capsys, *offline(jwks_file, forger.sign(stytch_claims(FakeClock.real_now())))
    )
    assert status == 1
    assert "pass  key" in out
    assert "FAIL  signature" in out


def test_garbage_shows_no_header_and_fails_format(
    capsys: pytest.CaptureFixture[str], jwks_file: str
) -> None:
    """A token that does not parse has nothing to show but the reason."""
    status, out, _ = run(capsys, *offline(jwks_file, "not.a.token!"))
    assert status == 1
    assert "Header" not in out
    assert "FAIL  format" in out


def test_token_from_stdin_with_bearer_prefix(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    jwks_file: str,
    rsa_key: SigningKey,
) -> None:
    """'-' reads the token from stdin; a pasted 'Bearer ' prefix is dropped."""
    token = rsa_key.sign(stytch_claims(FakeClock.real_now()))
    monkeypatch.setattr("sys.stdin", io.StringIO(f"Bearer {token}\n"))
    status, out, _ = run(capsys, *offline(jwks_file, "-"))
    assert status == 0, out


def test_stytch_project_fetches_the_stytch_jwks(
    capsys: pytest.CaptureFixture[str], jwks_server: JWKSServer, rsa_key: SigningKey
) -> None:
    """--stytch-project with a base URL uses Stytch's JWKS path and issuers."""
    jwks_server.extra[f"/v1/sessions/jwks/{PROJECT_ID}"] = json.dumps(jwks_of(rsa_key)).encode()
    token = rsa_key.sign(stytch_claims(FakeClock.real_now()))
    status, out, _ = run(
        capsys,
        "verify",
        token,
        "--stytch-project",
        PROJECT_ID,
        "--environment",
        jwks_server.base_url,
    )
    assert status == 0, out
    assert jwks_server.paths == [f"/v1/sessions/jwks/{PROJECT_ID}"]


def test_environment_variables_configure_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, rsa_key: SigningKey
) -> None:
    """Without options, M2M_GUARD_* variables say whose token it is."""
    monkeypatch.setenv("M2M_GUARD_ISSUER", ISSUER)
    monkeypatch.setenv("M2M_GUARD_AUDIENCE", PROJECT_ID)
    monkeypatch.setenv("M2M_GUARD_JWKS", json.dumps(jwks_of(rsa_key)))
    status, out, _ = run(capsys, "verify", rsa_key.sign(stytch_claims(FakeClock.real_now())))
    assert status == 0, out


def test_unreachable_keys_are_explained(
    capsys: pytest.CaptureFixture[str], rsa_key: SigningKey
) -> None:
    """With the issuer unreachable the key check fails with a 503."""
    token = rsa_key.sign(stytch_claims(FakeClock.real_now()))
    status, out, _ = run(
        capsys,
        "verify",
        token,
        "--issuer",
        ISSUER,
        "--audience",
        PROJECT_ID,
        "--jwks-url",
        "http://127.0.0.1:9/jwks",
    )
    assert status == 1
    assert "FAIL  key" in out
    assert "Result: INVALID (503)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["verify", "t"], "say whose token it is"),
        (["verify", "t", "--issuer", ISSUER], "--issuer needs --audience"),
        (
            ["verify", "t", "--issuer", ISSUER, "--audience", "a", "--jwks", "/nonexistent.json"],
            "cannot read",
        ),
        (["verify", "t", "--stytch-project", "p", "--environment", "staging"], "environment"),
    ],
)
def test_usage_problems_are_one_line_errors(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    """Bad options give one line on stderr and exit 1, never a traceback."""
    for name in list(__import__("os").environ):
        if name.startswith("M2M_GUARD_"):
            monkeypatch.delenv(name)
    status, _, err = run(capsys, *argv)
    assert status == 1
    assert message in err
    assert "Traceback" not in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("project", "environment", "jwks_host"),
    [
        ("project-live-1", None, "https://api.stytch.com"),
        ("project-test-1", None, "https://test.stytch.com"),
        ("project-test-1", "http://127.0.0.1:9", "http://127.0.0.1:9"),
    ],
)
def test_verify_infers_the_stytch_environment_from_the_project_id(
    project: str, environment: str | None, jwks_host: str
) -> None:
    """Without --environment a live project is verified against api.stytch.com."""
    argv = ["verify", "x", "--stytch-project", project]
    if environment is not None:
        argv += ["--environment", environment]
    args = cli.build_parser().parse_args(argv)
    verifier = cli._verifier_for(args)
    assert verifier.cache.url == f"{jwks_host}/v1/sessions/jwks/{project}"


def test_the_report_prints_a_tokens_control_characters_escaped(
    capsys: pytest.CaptureFixture[str], jwks_file: str, rsa_key: SigningKey
) -> None:
    """A signed sub or scope with terminal escapes or newlines cannot drive the terminal."""
    claims = stytch_claims(
        FakeClock.real_now(), sub="client\x1b[2J\nResult: VALID", scope="read:users\x1b[31m"
    )
    status, out, _ = run(capsys, *offline(jwks_file, rsa_key.sign(claims)))
    assert status == 0
    assert all(line.isprintable() for line in out.splitlines())
    assert "client\\x1b[2J\\nResult: VALID" in out
