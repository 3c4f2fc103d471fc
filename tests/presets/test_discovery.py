"""Discovery against real metadata servers on 127.0.0.1, through both drivers.

tests/core/test_jwks_remote.py already covers the basics (OIDC metadata found,
RFC 8414 fallback for an issuer without a path, a foreign ``issuer`` refused,
a metadata outage at cold start following the cooldown). This module adds
what "Any issuer" brought: the jwks_uri origin rule and its trusted origins,
the RFC 8414 path insertion, the metadata max-age and its refresh, keeping
the known jwks_uri through a metadata outage, and discovery from the
environment.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from m2m_guard import KeysUnavailableError, UnknownKeyError, Verifier
from m2m_guard._sansio.discovery import jwks_uri_from_metadata
from tests.core._helpers import Flavor
from tests.presets.conftest import Track
from tests.presets.support import OIDC_PATH, RFC8414_PATH, IssuerServer
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, PROJECT_ID, SigningKey, stytch_claims

pytestmark = pytest.mark.anyio


def token_for(key: SigningKey, clock: FakeClock, issuer: str, **claims: Any) -> str:
    return key.sign(stytch_claims(clock(), iss=issuer, exp=int(clock()) + 100_000, **claims))


def discovering(
    server: IssuerServer, clock: FakeClock, issuer: str | None = None, **kwargs: Any
) -> Verifier:
    return Verifier.from_discovery(
        issuer or server.base_url, audience=PROJECT_ID, clock=clock, **kwargs
    )


def assert_unavailable(outcome: object) -> None:
    assert isinstance(outcome, KeysUnavailableError), outcome
    assert outcome.status_code == 503


# -- where the keys may come from -------------------------------------------------------------


async def test_jwks_uri_on_another_origin_is_refused(
    flavor: Flavor,
    issuer_server: IssuerServer,
    other_server: IssuerServer,
    track: Track[Verifier],
    clock: FakeClock,
    other_rsa_key: SigningKey,
) -> None:
    """Metadata pointing at another host:port for keys is refused (503); that host sees nothing."""
    issuer_server.publish_metadata(jwks_uri=other_server.url)
    verifier = track(discovering(issuer_server, clock))
    token = token_for(other_rsa_key, clock, issuer_server.base_url)
    assert_unavailable(await flavor.outcome(verifier, token))
    assert issuer_server.paths == [OIDC_PATH]
    assert other_server.paths == []


async def test_jwks_uri_on_a_trusted_origin_is_used(
    flavor: Flavor,
    issuer_server: IssuerServer,
    other_server: IssuerServer,
    track: Track[Verifier],
    clock: FakeClock,
    other_rsa_key: SigningKey,
) -> None:
    """trusted_jwks_origins names the other origin: its keys are fetched and used."""
    issuer_server.publish_metadata(jwks_uri=other_server.url)
    verifier = track(
        discovering(issuer_server, clock, trusted_jwks_origins=[other_server.base_url])
    )
    claims = await flavor.verify(verifier, token_for(other_rsa_key, clock, issuer_server.base_url))
    assert claims.client_id == CLIENT_ID
    assert issuer_server.paths == [OIDC_PATH]
    assert other_server.paths == ["/jwks"]


async def test_trusting_one_origin_does_not_trust_another(
    flavor: Flavor,
    issuer_server: IssuerServer,
    other_server: IssuerServer,
    track: Track[Verifier],
    clock: FakeClock,
    other_rsa_key: SigningKey,
) -> None:
    """Origins compare literally: trusting localhost:PORT does not trust 127.0.0.1:PORT."""
    issuer_server.publish_metadata(jwks_uri=other_server.url)
    elsewhere = f"http://localhost:{other_server.port}"
    verifier = track(discovering(issuer_server, clock, trusted_jwks_origins=[elsewhere]))
    token = token_for(other_rsa_key, clock, issuer_server.base_url)
    assert_unavailable(await flavor.outcome(verifier, token))
    assert other_server.paths == []


@pytest.mark.parametrize(
    ("issuer", "jwks_uri", "trusted", "accepted"),
    [
        ("https://auth.example/t1", "https://auth.example/keys/t1.json", (), True),
        ("https://auth.example", "https://AUTH.example/jwks", (), True),
        ("https://auth.example", "http://auth.example/jwks", (), False),
        ("https://auth.example", "https://auth.example:8443/jwks", (), False),
        ("https://auth.example", "https://keys.auth.example/jwks", (), False),
        ("https://auth.example", "https://auth.example@evil.example/jwks", (), False),
        ("https://auth.example", "https://evil.example/jwks", ("https://keys.example",), False),
        ("https://auth.example", "https://keys.example/jwks", ("https://keys.example",), True),
    ],
    ids=[
        "same-origin-other-path",
        "host-case",
        "http-downgrade",
        "other-port",
        "subdomain",
        "userinfo-trick",
        "untrusted",
        "trusted",
    ],
)
def test_jwks_uri_origin_rule(
    issuer: str, jwks_uri: str, trusted: tuple[str, ...], accepted: bool
) -> None:
    """The jwks_uri must share the issuer's scheme, host and port, or be on a trusted origin."""
    body = f'{{"issuer": "{issuer}", "jwks_uri": "{jwks_uri}"}}'.encode()
    found, reason = jwks_uri_from_metadata(body, issuer, trusted)
    if accepted:
        assert (found, reason) == (jwks_uri, "")
    else:
        assert found is None
        assert "origin" in reason


async def test_rfc8414_metadata_of_an_issuer_with_a_path_is_found_below_the_host(
    flavor: Flavor,
    issuer_server: IssuerServer,
    track: Track[Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """Issuer {host}/tenant-1: RFC 8414 inserts the well-known segment before /tenant-1."""
    issuer = f"{issuer_server.base_url}/tenant-1"
    issuer_server.publish_metadata(f"{RFC8414_PATH}/tenant-1", issuer=issuer)
    verifier = track(discovering(issuer_server, clock, issuer))
    await flavor.verify(verifier, token_for(rsa_key, clock, issuer))
    assert issuer_server.paths == [
        f"/tenant-1{OIDC_PATH}",
        f"{RFC8414_PATH}/tenant-1",
        "/jwks",
    ]


# -- metadata freshness ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cache_control", "max_age"),
    [("max-age=900", 900), (None, 86_400), ("no-cache", 60)],
    ids=["max-age", "default-max-max-age", "no-cache-minimum"],
)
async def test_metadata_is_refreshed_after_its_max_age_and_a_new_jwks_uri_is_followed(
    flavor: Flavor,
    issuer_server: IssuerServer,
    other_server: IssuerServer,
    track: Track[Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
    other_rsa_key: SigningKey,
    cache_control: str | None,
    max_age: int,
) -> None:
    """Past the metadata's max-age it is fetched again and a changed jwks_uri is followed."""
    issuer_server.cache_control = "max-age=60"  # the JWKS is stale after a minute
    issuer_server.publish_metadata()
    if cache_control is not None:
        issuer_server.headers_for[OIDC_PATH] = {"cache-control": cache_control}
    verifier = track(
        discovering(issuer_server, clock, trusted_jwks_origins=[other_server.base_url])
    )
    old = token_for(rsa_key, clock, issuer_server.base_url)
    await flavor.verify(verifier, old)
    assert issuer_server.paths == [OIDC_PATH, "/jwks"]

    # The issuer moves its keys to the other server (and a new key).
    issuer_server.publish_metadata(jwks_uri=other_server.url)
    new = token_for(other_rsa_key, clock, issuer_server.base_url)
    if max_age > 60:
        clock.advance(max_age - 1)  # the JWKS is stale, the metadata is not
        assert isinstance(await flavor.outcome(verifier, new), UnknownKeyError)
        assert issuer_server.paths == [OIDC_PATH, "/jwks", "/jwks"]
        clock.advance(30)  # the cooldown of that fetch; the metadata is now stale too
    else:
        clock.advance(max_age)
    # both are stale: the metadata is fetched again, then the keys where it now points
    claims = await flavor.verify(verifier, new)
    assert claims.client_id == CLIENT_ID
    assert issuer_server.paths[-1] == OIDC_PATH
    assert other_server.paths == ["/jwks"]
    assert isinstance(await flavor.outcome(verifier, old), UnknownKeyError)  # old key retired


@pytest.mark.parametrize(
    "outage",
    ["http-500", "gone", "foreign-issuer", "foreign-jwks-uri", "garbage"],
)
async def test_failed_metadata_refresh_keeps_the_known_jwks_uri(
    flavor: Flavor,
    issuer_server: IssuerServer,
    other_server: IssuerServer,
    track: Track[Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
    other_rsa_key: SigningKey,
    outage: str,
) -> None:
    """A metadata refresh that fails or is refused keeps the known jwks_uri; keys keep working."""
    issuer_server.publish_metadata()
    issuer_server.headers_for[OIDC_PATH] = {"cache-control": "max-age=60"}
    verifier = track(discovering(issuer_server, clock))
    old = token_for(rsa_key, clock, issuer_server.base_url)
    await flavor.verify(verifier, old)

    if outage == "http-500":
        issuer_server.failing[OIDC_PATH] = 500
    elif outage == "gone":
        del issuer_server.extra[OIDC_PATH]
    elif outage == "foreign-issuer":
        issuer_server.publish_metadata(issuer="http://127.0.0.1:1", jwks_uri=other_server.url)
    elif outage == "foreign-jwks-uri":
        issuer_server.publish_metadata(jwks_uri=other_server.url)
    else:
        issuer_server.extra[OIDC_PATH] = b"<html>"
    # The issuer rotates to a key published at the same, known jwks_uri.
    issuer_server.document = {"keys": [rsa_key.jwk(), other_rsa_key.jwk()]}
    before = len(issuer_server.paths)

    clock.advance(601)  # JWKS (default 600 s) and metadata (60 s) are both stale
    new = token_for(other_rsa_key, clock, issuer_server.base_url)
    claims = await flavor.verify(verifier, new)
    assert claims.client_id == CLIENT_ID
    await flavor.verify(verifier, old)
    assert issuer_server.paths[before:][0] == OIDC_PATH  # the refresh was attempted
    assert issuer_server.paths[-1] == "/jwks"
    assert issuer_server.hits("/jwks") == 2
    assert other_server.paths == []
    assert verifier.ready


async def test_metadata_outage_and_jwks_outage_together_serve_stale_keys_then_503(
    flavor: Flavor,
    issuer_server: IssuerServer,
    track: Track[Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """Both endpoints down after discovery: cached keys serve within stale_if_error, then 503."""
    issuer_server.publish_metadata()
    verifier = track(discovering(issuer_server, clock))
    token = token_for(rsa_key, clock, issuer_server.base_url)
    await flavor.verify(verifier, token)
    issuer_server.failing[OIDC_PATH] = 503
    issuer_server.mode, issuer_server.status_code = "status", 503

    clock.advance(601)  # stale: the refresh fails, the cached key still serves
    await flavor.verify(verifier, token)
    clock.advance(3600)  # past stale_if_error
    assert_unavailable(await flavor.outcome(verifier, token))
    assert not verifier.ready


# -- from the environment --------------------------------------------------------------------------


async def test_from_env_with_an_issuer_and_no_jwks_url_discovers_the_keys(
    flavor: Flavor,
    issuer_server: IssuerServer,
    track: Track[Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """M2M_GUARD_ISSUER + M2M_GUARD_AUDIENCE alone: the JWKS is found through the metadata."""
    issuer_server.publish_metadata()
    environ = {"M2M_GUARD_ISSUER": issuer_server.base_url, "M2M_GUARD_AUDIENCE": PROJECT_ID}
    verifier = track(Verifier.from_env(environ=environ, clock=clock))
    assert issuer_server.paths == []  # construction does no I/O
    claims = await flavor.verify(verifier, token_for(rsa_key, clock, issuer_server.base_url))
    assert claims.client_id == CLIENT_ID
    assert issuer_server.paths == [OIDC_PATH, "/jwks"]


async def test_from_env_discovery_url_names_the_metadata_document(
    flavor: Flavor,
    issuer_server: IssuerServer,
    track: Track[Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """M2M_GUARD_DISCOVERY_URL pointing at a well-known document is fetched as it is."""
    issuer_server.publish_metadata("/.well-known/custom-metadata")
    environ = {
        "M2M_GUARD_ISSUER": issuer_server.base_url,
        "M2M_GUARD_AUDIENCE": PROJECT_ID,
        "M2M_GUARD_DISCOVERY_URL": f"{issuer_server.base_url}/.well-known/custom-metadata",
    }
    verifier = track(Verifier.from_env(environ=environ, clock=clock))
    await flavor.verify(verifier, token_for(rsa_key, clock, issuer_server.base_url))
    assert issuer_server.paths == ["/.well-known/custom-metadata", "/jwks"]


async def test_a_discovered_jwks_uri_is_logged_escaped(
    flavor: Flavor,
    issuer_server: IssuerServer,
    track: Track[Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The metadata's jwks_uri is the issuer's text: control characters never reach a log raw."""
    issuer_server.publish_metadata(jwks_uri=f"{issuer_server.base_url}/jwks\x1b[31m\u202e")
    verifier = track(discovering(issuer_server, clock))
    with caplog.at_level(logging.INFO, logger="m2m_guard"):
        await flavor.outcome(verifier, token_for(rsa_key, clock, issuer_server.base_url))
    logged = [
        record.getMessage() for record in caplog.records if "discovered" in record.getMessage()
    ]
    assert logged
    assert all(message.isprintable() for message in logged)
    assert "\\x1b[31m" in logged[0]
