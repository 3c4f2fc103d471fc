"""One answer to "is this host loopback?" for the verifier's URLs and the caller's token URL."""

from __future__ import annotations

import logging

import pytest

from m2m_guard import Verifier
from m2m_guard._urls import is_loopback
from m2m_guard.client import ClientCredentialsAuth
from tests.support.keys import ISSUER, PROJECT_ID

LOOPBACK = ["localhost", "LOCALHOST", "127.0.0.1", "127.0.0.2", "127.255.255.254", "[::1]"]
LOOPBACK += ["[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]"]
REMOTE = ["issuer.example", "app.localhost", "localhost.example", "localhost.", "10.0.0.1"]
REMOTE += ["128.0.0.1", "126.255.255.255", "[::2]", "[::ffff:10.0.0.1]", "[fe80::1]", "0.0.0.0"]
REMOTE += ["[::]", "127.0.0.1.nip.io", "2130706433"]


@pytest.mark.parametrize("host", LOOPBACK)
def test_loopback_hosts(host: str) -> None:
    """localhost, 127.0.0.0/8 and ::1, bracketed or not."""
    assert is_loopback(host)
    assert is_loopback(host.strip("[]"))


@pytest.mark.parametrize("host", REMOTE)
def test_hosts_that_are_not_loopback(host: str) -> None:
    """Names other than localhost itself are not trusted to resolve to loopback."""
    assert not is_loopback(host)
    assert not is_loopback(host.strip("[]"))


def warned(kind: str, url: str, caplog: pytest.LogCaptureFixture) -> bool:
    """Whether building a verifier (JWKS URL) or an auth (token URL) warns about plain http."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="m2m_guard"):
        if kind == "verifier":
            Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks_url=url)
        else:
            ClientCredentialsAuth(url, "client", "secret-1234")
    return "plain http" in caplog.text


@pytest.mark.parametrize("host", LOOPBACK + REMOTE)
def test_the_verifier_and_the_client_agree_on_plain_http(
    host: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A JWKS URL and a token URL on the same host: both warn about plain http, or neither."""
    url = f"http://{host}:8787/path"
    verifier, client = (warned(kind, url, caplog) for kind in ("verifier", "client"))
    assert verifier == client == (host in REMOTE)


@pytest.mark.parametrize("kind", ["verifier", "client"])
@pytest.mark.parametrize("host", ["issuer.example", "localhost"])
def test_https_is_never_warned_about(
    kind: str, host: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert not warned(kind, f"https://{host}/path", caplog)
