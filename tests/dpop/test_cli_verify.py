"""``m2m-guard verify TOKEN --dpop PROOF --method M --url U`` explains each proof check."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from m2m_guard.cli import main
from m2m_guard.client import DPoPKey
from m2m_guard.issuer import LocalIssuer, ScryptParams

URL = "https://api.example.com/things"


@dataclass
class Setup:
    issuer: LocalIssuer
    argv: list[str]
    key: DPoPKey
    token: str


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    """A token bound to a key, and verify's options for its issuer (offline, a JWKS file)."""
    with LocalIssuer(":memory:", scrypt=ScryptParams.insecure_fast()) as issuer:
        jwks = tmp_path / "jwks.json"
        jwks.write_text(json.dumps(issuer.jwks()))
        client, secret = issuer.create_client(scopes=["read"])
        key = DPoPKey.generate()
        token = issuer.issue_token(
            client.client_id, secret, confirmation={"jkt": key.thumbprint}
        ).access_token
        argv = ["--issuer", issuer.issuer, "--audience", issuer.project_id, "--jwks", str(jwks)]
        yield Setup(issuer, argv, key, token)


def _checks(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    report = json.loads(capsys.readouterr().out)
    return {check["check"]: check["status"] for check in report["checks"]}


def test_a_good_proof_passes_every_check(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    """Every proof check passes, binding included; exit 0."""
    proof = setup.key.proof("POST", URL, access_token=setup.token)
    argv = ["verify", f"DPoP {setup.token}", *setup.argv, "--dpop", proof, "--method", "POST"]
    assert main([*argv, "--url", URL + "?q=1"]) == 0
    out = capsys.readouterr().out
    for step in ("proof", "proof-hdr", "jti", "htm", "htu", "iat", "ath", "proof-sig", "binding"):
        assert f"pass  {step}" in out
    assert "Result: VALID" in out


@pytest.mark.parametrize(
    ("what", "failed", "proof_for"),
    [
        ("another method", "htm", lambda s: s.key.proof("GET", URL, access_token=s.token)),
        ("another URL", "htu", lambda s: s.key.proof("POST", URL + "/x", access_token=s.token)),
        ("another token", "ath", lambda s: s.key.proof("POST", URL, access_token="a.b.c")),
        (
            "an old proof",
            "iat",
            lambda s: s.key.proof(
                "POST", URL, access_token=s.token, issued_at=int(time.time()) - 3600
            ),
        ),
        (
            "another key",
            "binding",
            lambda s: DPoPKey.generate().proof("POST", URL, access_token=s.token),
        ),
        ("no JWS", "proof", lambda s: "nonsense"),
    ],
)
def test_a_bad_proof_fails_at_its_check(
    setup: Setup, capsys: pytest.CaptureFixture[str], what: str, failed: str, proof_for: object
) -> None:
    """The failing check is named, later ones are not reached; exit 1."""
    proof = proof_for(setup)  # type: ignore[operator]
    argv = ["verify", setup.token, *setup.argv, "--dpop", proof, "--method", "POST", "--url", URL]
    assert main([*argv, "--json"]) == 1, what
    checks = _checks(capsys)
    assert checks[failed] == "fail", what
    names = list(checks)
    assert all(checks[name] == "skipped" for name in names[names.index(failed) + 1 :])


def test_with_an_invalid_token_the_binding_is_not_reached(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    """An expired token: the proof's own checks still explained, binding skipped."""
    token = setup.issuer.mint_token("c", issued_at=int(time.time()) - 7200, lifetime=60)
    proof = setup.key.proof("GET", URL, access_token=token)
    argv = ["verify", token, *setup.argv, "--dpop", proof, "--url", URL, "--json"]
    assert main(argv) == 1
    checks = _checks(capsys)
    assert checks["time"] == "fail"
    assert checks["proof-sig"] == "pass"
    assert checks["binding"] == "skipped"


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--method", "GET"], "go with --dpop"), (["--dpop", "x"], "needs --url")],
)
def test_proof_options_go_together(
    setup: Setup, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    """--method/--url without --dpop, or --dpop without --url: usage errors (exit 2)."""
    assert main(["verify", setup.token, *setup.argv, *extra]) == 2
    assert message in capsys.readouterr().err


def test_with_an_invalid_token_a_bad_proof_is_still_named(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    """An expired token and a proof for another method: htm fails, binding not reached."""
    token = setup.issuer.mint_token("c", issued_at=int(time.time()) - 7200, lifetime=60)
    proof = setup.key.proof("DELETE", URL, access_token=token)
    argv = ["verify", token, *setup.argv, "--dpop", proof, "--url", URL, "--json"]
    assert main(argv) == 1
    checks = _checks(capsys)
    assert (checks["time"], checks["htm"], checks["binding"]) == ("fail", "fail", "skipped")
