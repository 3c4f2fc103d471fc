"""``m2m-guard verify``: verify a token and explain every check."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from m2m_guard import cli
from m2m_guard._tools.cli_verify import _verifier_for
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
    """Bad options give one line on stderr and exit 2, never a traceback."""
    for name in list(__import__("os").environ):
        if name.startswith("M2M_GUARD_"):
            monkeypatch.delenv(name)
    status, _, err = run(capsys, *argv)
    assert status == 2
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
    verifier = _verifier_for(args)
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


# -- times in words, --json, why keys are unavailable ------------------------------------


def test_times_are_said_in_words(
    capsys: pytest.CaptureFixture[str], jwks_file: str, rsa_key: SigningKey
) -> None:
    """An expired token says how long ago it expired and was issued."""
    now = FakeClock.real_now()
    claims = stytch_claims(now - 3600 - 3780)  # expired 1 h 3 m ago
    status, out, _ = run(capsys, *offline(jwks_file, rsa_key.sign(claims)))
    assert status == 1
    times = out[out.index("Times:") : out.index("Checks:")]
    assert re.search(r"^  iat  \S+Z  issued 2 h 3 m ago$", times, re.MULTILINE), times
    assert re.search(r"^  nbf  \S+Z  valid since 2 h 3 m ago$", times, re.MULTILINE), times
    assert re.search(r"^  exp  \S+Z  expired 1 h 3 m ago$", times, re.MULTILINE), times


def test_a_valid_token_says_when_it_expires(
    capsys: pytest.CaptureFixture[str], jwks_file: str, rsa_key: SigningKey
) -> None:
    """Issued 5 minutes ago, an hour's token expires in 55 minutes."""
    now = FakeClock.real_now()
    status, out, _ = run(capsys, *offline(jwks_file, rsa_key.sign(stytch_claims(now - 330))))
    assert status == 0
    assert re.search(r"issued 5 m 3\d s ago", out)
    assert re.search(r"exp  \S+Z  expires in 54 m 2\d s", out)
    assert re.search(r"^  expires \S+Z \(in 54 m 2\d s\)$", out, re.MULTILINE)


def test_a_future_token_and_odd_times(
    capsys: pytest.CaptureFixture[str], jwks_file: str, rsa_key: SigningKey
) -> None:
    """Not yet valid, issued in the future; times that are not numbers are not shown."""
    now = FakeClock.real_now()
    claims = stytch_claims(now, nbf=int(now) + 125, iat=int(now) + 65, exp=True)
    status, out, _ = run(capsys, *offline(jwks_file, rsa_key.sign(claims)))
    assert status == 1
    assert re.search(r"nbf  \S+Z  not valid for another 2 m( \d s)?$", out, re.MULTILINE)
    assert re.search(r"iat  \S+Z  issued 1 m( \d s)? in the future$", out, re.MULTILINE)
    assert "  exp  " not in out
    claims = stytch_claims(now, exp=10**20)
    _, out, _ = run(capsys, *offline(jwks_file, rsa_key.sign(claims)))
    assert "  exp  " not in out


def test_json_for_a_valid_token(
    capsys: pytest.CaptureFixture[str], jwks_file: str, rsa_key: SigningKey
) -> None:
    """--json: the verdict, every check, the times and the caller, for machines."""
    now = FakeClock.real_now()
    token = rsa_key.sign(stytch_claims(now))
    status, out, _ = run(capsys, *offline(jwks_file, token, "--scope", "read:users", "--json"))
    report = json.loads(out)
    assert status == 0
    assert report["valid"] is True
    assert report["error"] is None
    assert report["keys_reason"] is None
    assert report["header"]["alg"] == "RS256"
    assert report["claims"]["tenant"] == "acme"
    assert report["checks"][0]["check"] == "format"
    assert {c["status"] for c in report["checks"]} == {"pass"}
    assert report["result"]["client_id"].startswith("m2m-client-test-")
    assert report["result"]["scopes"] == ["read:users", "write:users"]
    assert report["result"]["custom_claims"] == {"tenant": "acme"}
    assert report["result"]["audience"] == [PROJECT_ID]
    assert set(report["times"]) == {"iat", "nbf", "exp"}
    assert report["times"]["exp"]["text"].startswith("expires in 59 m")
    assert report["times"]["exp"]["utc"].endswith("Z")
    assert abs(report["now"] - now) < 60


def test_json_for_an_invalid_token(
    capsys: pytest.CaptureFixture[str], jwks_file: str, rsa_key: SigningKey
) -> None:
    """The failed check, the skipped ones and the error, with exit status 1."""
    token = rsa_key.sign(stytch_claims(FakeClock.real_now(), iss="https://evil.example"))
    status, out, _ = run(capsys, *offline(jwks_file, token, "--json"))
    report = json.loads(out)
    assert status == 1
    assert report["valid"] is False
    assert report["result"] is None
    assert report["error"]["type"] == "InvalidIssuerError"
    assert report["error"]["status_code"] == 401
    assert report["error"]["error"] == "invalid_token"
    statuses = {c["check"]: c["status"] for c in report["checks"]}
    assert statuses["required"] == "pass"
    assert statuses["issuer"] == "fail"
    assert statuses["scopes"] == "skipped"


def test_json_for_garbage(capsys: pytest.CaptureFixture[str], jwks_file: str) -> None:
    status, out, _ = run(
        capsys, *offline(jwks_file, "not.a.token!", "--json", "--algorithm", "RS256")
    )
    report = json.loads(out)
    assert (status, report["header"], report["claims"], report["times"]) == (1, None, None, {})


def test_unreachable_keys_say_why_on_stdout(
    capsys: pytest.CaptureFixture[str], rsa_key: SigningKey
) -> None:
    """A 503 names the failed fetch and its reason in the report, not only in the logs."""
    token = rsa_key.sign(stytch_claims(FakeClock.real_now()))
    argv = ["verify", token, "--issuer", ISSUER, "--audience", PROJECT_ID]
    status, out, _ = run(capsys, *argv, "--jwks-url", "http://127.0.0.1:9/jwks")
    assert status == 1
    assert "Result: INVALID (503)" in out
    assert re.search(r"^  why: fetching keys from http://127\.0\.0\.1:9/jwks failed: .+", out, re.M)
    status, out, _ = run(capsys, *argv, "--jwks-url", "http://127.0.0.1:9/jwks", "--json")
    report = json.loads(out)
    assert report["error"]["status_code"] == 503
    assert report["keys_reason"].startswith("fetching keys from http://127.0.0.1:9/jwks failed: ")


def test_a_jwks_answering_an_error_says_its_status(
    capsys: pytest.CaptureFixture[str], jwks_server: JWKSServer, rsa_key: SigningKey
) -> None:
    """The reason is the fetch's own: here the HTTP status."""
    jwks_server.mode = "status"
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
        jwks_server.url,
    )
    assert status == 1
    assert f"why: fetching keys from {jwks_server.url} failed: HTTP 500" in out


def test_failed_discovery_says_why(capsys: pytest.CaptureFixture[str], rsa_key: SigningKey) -> None:
    """Without a JWKS URL the issuer's metadata is discovered; its failure is the reason."""
    token = rsa_key.sign(stytch_claims(FakeClock.real_now(), iss="http://127.0.0.1:9"))
    status, out, _ = run(
        capsys, "verify", token, "--issuer", "http://127.0.0.1:9", "--audience", PROJECT_ID
    )
    assert status == 1
    assert "why: fetching keys from http://127.0.0.1:9 failed: discovery: " in out


def test_a_fetch_hook_ignores_other_events() -> None:
    """Only failed JWKS fetches are reasons."""
    from m2m_guard._tools.cli_verify import _FetchFailures
    from m2m_guard.events import JWKSFetched, TokenVerified

    failures = _FetchFailures()
    failures(TokenVerified(client_id="c", issuer="i", cached=False))
    failures(JWKSFetched("u", 200, 0.1, True, "", 1))
    failures(JWKSFetched(None, None, 0.1, False, "", 0))
    assert failures == ["fetching keys failed: no usable keys"]
