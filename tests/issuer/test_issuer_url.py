"""Discovery must match the tokens: the issuer's URL mode, and the CLI that sets it up.

In URL mode (Stytch's custom-domain behaviour) tokens carry ``iss`` = the
issuer's base URL and the discovery metadata names the same ``issuer``, so
``Verifier.from_discovery(base)`` accepts the issuer's own tokens. In Stytch
mode (``iss = stytch.com/{project}``) the metadata names that ``iss`` too,
which is not a URL: such an issuer is not discoverable.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from m2m_guard import InvalidIssuerError, Verifier, cli
from m2m_guard._tools.server import ServerThread
from m2m_guard.issuer import IssuerConfigError, LocalIssuer, create_app
from tests.issuer._helpers import FAST, decode


@pytest.fixture
def url_mode(
    key_factory: Callable[[], rsa.RSAPrivateKey],
) -> Iterator[tuple[LocalIssuer, str]]:
    """An issuer in URL mode on a port the OS picked: (issuer, base URL)."""
    server = ServerThread()
    base = server.bind()
    with LocalIssuer(scrypt=FAST, key_factory=key_factory, issuer_url=base) as issuer:
        server.app = create_app(issuer=issuer)
        with server:
            yield issuer, base


def fetch_token(base: str, issuer: LocalIssuer, scopes: list[str]) -> str:
    """A token over HTTP for a new client with these scopes."""
    created = issuer.create_client(scopes=scopes)
    response = httpx.post(
        f"{base}/v1/public/{issuer.project_id}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created.client.client_id,
            "client_secret": created.client_secret,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_url_mode_tokens_and_metadata_name_the_same_issuer(
    url_mode: tuple[LocalIssuer, str],
) -> None:
    """iss = base URL = metadata issuer, on both well-known paths."""
    issuer, base = url_mode
    token = fetch_token(base, issuer, ["read"])
    assert decode(token, issuer)["iss"] == base == issuer.issuer
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        metadata = httpx.get(base + path).json()
        assert metadata["issuer"] == base
        assert metadata["jwks_uri"] == f"{base}/v1/sessions/jwks/{issuer.project_id}"


def test_from_discovery_accepts_the_issuers_own_tokens(
    url_mode: tuple[LocalIssuer, str],
) -> None:
    """The generic verifier finds the JWKS through the issuer's metadata and verifies."""
    issuer, base = url_mode
    token = fetch_token(base, issuer, ["read:users"])
    with Verifier.from_discovery(base, audience=issuer.project_id) as verifier:
        claims = verifier.verify(token, ["read:users"])
    assert claims.scopes == ("read:users",)


def test_the_stytch_preset_accepts_url_mode_tokens(url_mode: tuple[LocalIssuer, str]) -> None:
    """Stytch's SDKs accept iss = the base URL (custom domains); so does for_stytch."""
    issuer, base = url_mode
    token = fetch_token(base, issuer, ["read"])
    with Verifier.for_stytch(issuer.project_id, environment=base) as verifier:
        assert verifier.verify(token).scopes == ("read",)


def test_a_stytch_mode_issuer_is_not_discoverable(
    key_factory: Callable[[], rsa.RSAPrivateKey],
) -> None:
    """Its metadata and tokens name stytch.com/{project}: from_discovery(base) refuses them."""
    with (
        LocalIssuer(scrypt=FAST, key_factory=key_factory) as issuer,
        ServerThread(create_app(issuer=issuer)) as server,
    ):
        base = server.base_url
        metadata = httpx.get(f"{base}/.well-known/openid-configuration").json()
        assert metadata["issuer"] == f"stytch.com/{issuer.project_id}"
        token = fetch_token(base, issuer, ["read"])
        with (
            Verifier.from_discovery(base, audience=issuer.project_id) as verifier,
            pytest.raises(InvalidIssuerError),
        ):
            verifier.verify(token)


@pytest.mark.parametrize(
    "url",
    ["ftp://x", "https://x/?a=b", "https://x/#f", "http://", "https://u:p@x", "http://x:99999"],
)
def test_a_bad_issuer_url_is_a_configuration_error(url: str) -> None:
    """issuer_url must be a plain http(s) URL."""
    with pytest.raises(IssuerConfigError, match="issuer URL"):
        LocalIssuer(scrypt=FAST, issuer_url=url)


def test_a_trailing_slash_is_dropped_from_the_issuer_url() -> None:
    """iss is the base URL without a trailing slash, as Stytch's SDKs compare it."""
    with LocalIssuer(scrypt=FAST, issuer_url="https://auth.example/") as issuer:
        assert issuer.issuer == issuer.issuer_url == "https://auth.example"


# -- the CLI ---------------------------------------------------------------------


def serve_cli(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    probe: Callable[[ServerThread], dict[str, Any]],
    *argv: str,
) -> tuple[int, str, str, dict[str, Any]]:
    """Run `m2m-guard issuer ...` until probe() has looked at the running server."""
    seen: dict[str, Any] = {}

    def wait(server: ServerThread) -> None:
        seen.update(probe(server))

    monkeypatch.setattr("m2m_guard._tools.cli_issuer._wait_for_shutdown", wait)
    previous = signal.getsignal(signal.SIGTERM)
    status = cli.main(["issuer", "--port", "0", *argv])
    signal.signal(signal.SIGTERM, previous)
    out, err = capsys.readouterr()
    return status, out, err, seen


def test_cli_issuer_mode_url_mints_the_bound_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--issuer-mode url with --port 0: iss and metadata are the URL the OS gave."""

    def probe(server: ServerThread) -> dict[str, Any]:
        base = server.base_url
        with LocalIssuer(tmp_path / "i.db", scrypt=FAST) as side:
            created = side.create_client(scopes=["read"])
        token = httpx.post(
            f"{base}/v1/public/{side.project_id}/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": created.client.client_id,
                "client_secret": created.client_secret,
            },
        ).json()["access_token"]
        with Verifier.from_discovery(base, audience=side.project_id) as verifier:
            return {"base": base, "sub": verifier.verify(token).client_id, "id": created}

    status, out, err, seen = serve_cli(
        monkeypatch, capsys, probe, "--db", str(tmp_path / "i.db"), "--issuer-mode", "url"
    )
    assert status == 0, err
    assert seen["sub"] == seen["id"].client.client_id
    assert f"issuer (iss):    {seen['base']}" in out


def test_cli_public_url_names_the_endpoints(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--public-url is what metadata advertises (for proxies), whatever Host says."""

    def probe(server: ServerThread) -> dict[str, Any]:
        response = httpx.get(
            f"{server.base_url}/.well-known/openid-configuration", headers={"host": "evil.test"}
        )
        return {"metadata": response.json()}

    status, out, err, seen = serve_cli(
        monkeypatch,
        capsys,
        probe,
        "--db",
        str(tmp_path / "p.db"),
        "--public-url",
        "https://auth.example/",
    )
    assert status == 0, err
    assert seen["metadata"]["token_endpoint"].startswith("https://auth.example/v1/public/")
    assert "public URL:      https://auth.example" in out


def test_cli_claims_template_is_set_and_bad_ones_are_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--claims-template FILE sets the template; an authority claim in it stops startup."""
    good = tmp_path / "good.json"
    good.write_text('{"tenant": {{ request.tenant }}}', encoding="utf-8")
    db = tmp_path / "t.db"
    status, _, err, _ = serve_cli(
        monkeypatch, capsys, lambda server: {}, "--db", str(db), "--claims-template", str(good)
    )
    assert status == 0, err
    with LocalIssuer(db, scrypt=FAST) as issuer:
        assert issuer.get_m2m_template().parameters == {"tenant"}

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"scp": "{{ request.scp }}"}), encoding="utf-8")
    for path in (str(bad), str(tmp_path / "missing.json")):
        status, _, err, seen = serve_cli(
            monkeypatch,
            capsys,
            lambda server: {"served": True},
            "--db",
            str(db),
            "--claims-template",
            path,
        )
        assert status == 2  # a configuration error
        assert err.count("\n") == 1
        assert "--claims-template" in err
        assert "served" not in seen
    with LocalIssuer(db, scrypt=FAST) as issuer:
        assert issuer.get_m2m_template().parameters == {"tenant"}
