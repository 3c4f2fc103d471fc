"""Every preset names its issuer's token endpoint (``Verifier.token_url``); discovery
reads the metadata's ``token_endpoint``. Documentation only: the OpenAPI flow."""

from __future__ import annotations

import pytest

from m2m_guard import ConfigurationError, Verifier
from m2m_guard._sansio.discovery import token_endpoint_from_metadata
from tests.presets.conftest import Track
from tests.presets.support import OIDC_PATH, IssuerServer
from tests.support.clock import FakeClock
from tests.support.keys import PROJECT_ID


@pytest.mark.parametrize(
    ("verifier", "token_url"),
    [
        (
            lambda: Verifier.for_stytch("project-test-1"),
            "https://test.stytch.com/v1/public/project-test-1/oauth2/token",
        ),
        (
            lambda: Verifier.for_stytch("project-x", environment="http://127.0.0.1:8787/"),
            "http://127.0.0.1:8787/v1/public/project-x/oauth2/token",
        ),
        (
            lambda: Verifier.for_stytch("project-live-1", b2b=True),
            "https://api.stytch.com/v1/public/project-live-1/oauth2/token",
        ),
        (
            lambda: Verifier.for_auth0("acme.us.auth0.com", audience="api"),
            "https://acme.us.auth0.com/oauth/token",
        ),
        (
            lambda: Verifier.for_okta("https://acme.okta.com"),
            "https://acme.okta.com/oauth2/default/v1/token",
        ),
        (
            lambda: Verifier.for_entra("tenant-1", audience="api://orders"),
            "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token",
        ),
        (
            lambda: Verifier.for_keycloak("https://sso.example.com", "ops", audience="orders"),
            "https://sso.example.com/realms/ops/protocol/openid-connect/token",
        ),
        (lambda: Verifier.for_cognito("eu-west-1", "pool_1", client_ids="c"), None),
    ],
    ids=["stytch", "stytch-local", "stytch-b2b", "auth0", "okta", "entra", "keycloak", "cognito"],
)
def test_each_preset_names_its_token_endpoint(verifier: object, token_url: str | None) -> None:
    assert callable(verifier)
    assert verifier().token_url == token_url


def test_a_token_url_may_be_given_or_overridden() -> None:
    assert Verifier.for_cognito(
        "eu-west-1", "pool_1", client_ids="c", token_url="https://auth.example.com/oauth2/token"
    ).token_url == ("https://auth.example.com/oauth2/token")
    plain = Verifier(issuer="i", audience="a", jwks_url="https://i.example.com/jwks")
    assert plain.token_url is None


@pytest.mark.parametrize("bad", ["ftp://host/token", "not a url", ""])
def test_a_bad_token_url_is_refused(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="token_url"):
        Verifier(issuer="i", audience="a", jwks_url="https://i.example.com/j", token_url=bad)


def test_a_combined_verifier_names_no_token_url() -> None:
    combined = Verifier.combine(Verifier.for_stytch("project-test-1"))
    assert getattr(combined, "token_url", None) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"token_endpoint": "https://i.example.com/token"}', "https://i.example.com/token"),
        (b'{"token_endpoint": "javascript:alert(1)"}', None),
        (b'{"token_endpoint": "https://"}', None),
        (b'{"token_endpoint": "https://h:99999/t"}', None),
        (b'{"token_endpoint": "https://h/a b"}', None),
        (b'{"token_endpoint": 3}', None),
        (b"[]", None),
        (b"not json", None),
    ],
)
def test_the_metadata_token_endpoint_must_be_an_http_url(body: bytes, expected: str | None) -> None:
    assert token_endpoint_from_metadata(body) == expected


def test_discovery_records_the_token_endpoint(
    issuer_server: IssuerServer, track_sync: Track[Verifier], clock: FakeClock
) -> None:
    """Known only once the metadata was fetched (the OpenAPI document reads it lazily)."""
    endpoint = f"{issuer_server.base_url}/oauth2/token"
    issuer_server.serve(
        OIDC_PATH,
        {
            "issuer": issuer_server.base_url,
            "jwks_uri": issuer_server.url,
            "token_endpoint": endpoint,
        },
    )
    verifier = track_sync(
        Verifier.from_discovery(issuer_server.base_url, audience=PROJECT_ID, clock=clock)
    )
    assert verifier.token_url is None
    assert verifier.warm_up(strict=True)
    assert verifier.token_url == endpoint


def test_an_explicit_token_url_wins_over_discovery(
    issuer_server: IssuerServer, track_sync: Track[Verifier], clock: FakeClock
) -> None:
    issuer_server.serve(
        OIDC_PATH,
        {
            "issuer": issuer_server.base_url,
            "jwks_uri": issuer_server.url,
            "token_endpoint": f"{issuer_server.base_url}/elsewhere",
        },
    )
    verifier = track_sync(
        Verifier.from_discovery(
            issuer_server.base_url,
            audience=PROJECT_ID,
            clock=clock,
            token_url="https://auth.example.com/token",
        )
    )
    verifier.warm_up(strict=True)
    assert verifier.token_url == "https://auth.example.com/token"
