"""Invalid configuration fails when the auth is built, with a clear message."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from m2m_guard._sansio.errors import ConfigurationError
from m2m_guard.client import ClientCredentialsAuth

from .conftest import CLIENT_ID, CLIENT_SECRET, TOKEN_URL

BAD: dict[str, dict[str, Any]] = {
    "ftp token URL": {"token_url": "ftp://issuer.invalid/token"},
    "relative token URL": {"token_url": "/oauth2/token"},
    "unparseable token URL": {"token_url": "https://[::1"},
    "token URL that is no string": {"token_url": b"https://issuer.invalid/token"},
    "a timeout of the wrong type": {"timeout": "5"},
    "empty client_id": {"client_id": ""},
    "empty client_secret": {"client_secret": ""},
    "unknown auth_method": {"auth_method": "private_key_jwt"},
    "unknown body_format": {"body_format": "xml"},
    "negative refresh_margin": {"refresh_margin": -1},
    "boolean refresh_margin": {"refresh_margin": True},
    "zero timeout": {"timeout": 0},
    "boolean timeout": {"timeout": True},
    "scope with a quote": {"scopes": ['read"users']},
    "empty scope": {"scopes": [""]},
    "extra param overriding the grant": {"extra_params": {"grant_type": "password"}},
    "extra param overriding the secret": {"extra_params": {"client_secret": "x"}},
    "non-string extra param": {"extra_params": {"audience": 1}},
}


@pytest.mark.parametrize("override", BAD.values(), ids=BAD.keys())
def test_invalid_settings_raise_configuration_error(override: dict[str, Any]) -> None:
    """Each invalid setting is refused at construction time."""
    settings: dict[str, Any] = {
        "token_url": TOKEN_URL,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **override,
    }
    with pytest.raises(ConfigurationError):
        ClientCredentialsAuth(**settings)


@pytest.mark.parametrize(
    ("project_id", "environment"),
    [("project/../admin", "test"), ("", "test"), ("project-test-1", "staging")],
)
def test_for_stytch_rejects_bad_project_or_environment(project_id: str, environment: str) -> None:
    """A project id that would escape the path, or an unknown environment, is refused."""
    with pytest.raises(ConfigurationError):
        ClientCredentialsAuth.for_stytch(
            project_id, CLIENT_ID, CLIENT_SECRET, environment=environment
        )


def test_httpx_timeout_object_is_accepted() -> None:
    """An httpx.Timeout can be given instead of seconds."""
    from m2m_guard._http import httpx

    ClientCredentialsAuth(TOKEN_URL, CLIENT_ID, CLIENT_SECRET, timeout=httpx.Timeout(1, read=3))


def test_plain_http_to_a_remote_host_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """Sending the secret over plain http beyond loopback logs a warning."""
    with caplog.at_level(logging.WARNING, logger="m2m_guard.client"):
        ClientCredentialsAuth("http://issuer.invalid/token", CLIENT_ID, CLIENT_SECRET)
    assert "plain http" in caplog.text


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8787/token", "http://localhost/token", "http://[::1]:80/token"]
)
def test_plain_http_to_loopback_is_not_warned_about(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Local issuers on loopback over plain http are normal in development."""
    with caplog.at_level(logging.WARNING, logger="m2m_guard.client"):
        ClientCredentialsAuth(url, CLIENT_ID, CLIENT_SECRET)
    assert caplog.records == []


def test_repr_shows_url_and_client_id_but_not_the_secret() -> None:
    """The repr helps debugging without revealing the secret."""
    text = repr(ClientCredentialsAuth(TOKEN_URL, CLIENT_ID, CLIENT_SECRET))
    assert TOKEN_URL in text
    assert CLIENT_ID in text
    assert CLIENT_SECRET not in text
