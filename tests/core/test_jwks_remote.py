"""The JWKS cache rules against a real endpoint on 127.0.0.1, through both drivers.

Every test runs twice: ``sync`` (``Verifier.verify``, threads) and ``async``
(``Verifier.verify_async``, asyncio tasks). Time that the cache reasons about
comes from a FakeClock; only the timeout tests really wait, briefly.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from m2m_guard import KeysUnavailableError, M2MClaims, UnknownKeyError
from m2m_guard._sansio.jwks import JWKSPolicy
from tests.core._helpers import (
    ASYNC,
    SYNC,
    Flavor,
    MakeVerifier,
    header_trickling_server,
    unused_loopback_url,
)
from tests.support.clock import FakeClock
from tests.support.jwks_server import JWKSServer, running_jwks_server
from tests.support.keys import CLIENT_ID, SigningKey, jwks_of, stytch_claims

pytestmark = pytest.mark.anyio

OIDC_PATH = "/.well-known/openid-configuration"
RFC8414_PATH = "/.well-known/oauth-authorization-server"


@pytest.fixture(params=[SYNC, ASYNC], ids=str)
def flavor(request: pytest.FixtureRequest) -> Flavor:
    """The sync driver (threads) or the async driver (tasks)."""
    flavor: Flavor = request.param
    return flavor


@pytest.fixture
def jwks_server(rsa_key: SigningKey) -> Iterator[JWKSServer]:
    """The shared ``jwks_server`` (a real endpoint on 127.0.0.1 serving rsa_key), quick to stop."""
    with running_jwks_server() as server:
        server.document = jwks_of(rsa_key)
        yield server


def token_for(key: SigningKey, clock: FakeClock, **claims: Any) -> str:
    return key.sign(stytch_claims(clock(), **claims))


def assert_unavailable(outcome: object, retry_after: int) -> None:
    """A 503 with the given Retry-After, not an exception of another kind."""
    assert isinstance(outcome, KeysUnavailableError), outcome
    assert outcome.status_code == 503
    assert outcome.response_headers()["retry-after"] == str(retry_after)


# -- rotation and floods ---------------------------------------------------------------------


async def test_rotated_key_is_accepted_after_one_refetch_once_the_cooldown_allows(
    flavor: Flavor,
    jwks_server: JWKSServer,
    make_verifier: MakeVerifier,
    clock: FakeClock,
    rsa_key: SigningKey,
    other_rsa_key: SigningKey,
) -> None:
    """A new kid triggers one refetch (off cooldown); the retired kid is then refused."""
    verifier = make_verifier(jwks_server.url)
    assert await flavor.warm_up(verifier)
    old, new = token_for(rsa_key, clock), token_for(other_rsa_key, clock)
    jwks_server.document = jwks_of(other_rsa_key)  # the issuer rotates: old key retired

    assert isinstance(await flavor.outcome(verifier, new), UnknownKeyError)  # within cooldown
    await flavor.verify(verifier, old)  # still cached
    assert jwks_server.fetches == 1

    clock.advance(30)
    claims = await flavor.verify(verifier, new)
    assert claims.client_id == CLIENT_ID
    assert jwks_server.fetches == 2
    assert isinstance(await flavor.outcome(verifier, old), UnknownKeyError)
    assert jwks_server.fetches == 2


async def test_flood_of_unknown_kids_fetches_at_most_once_per_cooldown(
    flavor: Flavor,
    jwks_server: JWKSServer,
    make_verifier: MakeVerifier,
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """200 tokens with random kids cost no fetch inside a window and one per window after."""
    verifier = make_verifier(jwks_server.url)
    good = token_for(rsa_key, clock, exp=int(clock()) + 10_000)
    await flavor.verify(verifier, good)
    claims = stytch_claims(clock())

    def forged() -> str:
        return rsa_key.sign(claims, {"kid": secrets.token_hex(8)})

    for _ in range(200):  # all inside the cooldown of the first fetch
        assert isinstance(await flavor.outcome(verifier, forged()), UnknownKeyError)
    assert jwks_server.fetches == 1

    for _ in range(200):  # one a second for 200 s: windows of 30 s
        clock.advance(1)
        assert isinstance(await flavor.outcome(verifier, forged()), UnknownKeyError)
        await flavor.verify(verifier, good)
    assert 2 <= jwks_server.fetches <= 1 + 7


async def test_concurrent_cold_requests_share_exactly_one_fetch(
    flavor: Flavor,
    jwks_server: JWKSServer,
    make_verifier: MakeVerifier,
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """24 threads or tasks on a cold cache, all waiting while the fetch is held: one fetch."""
    verifier = make_verifier(jwks_server.url)
    jwks_server.mode = "slow"  # held until every caller waits, then released
    tokens = [token_for(rsa_key, clock, jti=f"jti-{i}") for i in range(24)]
    outcomes = await flavor.verify_together(verifier, tokens, hold=jwks_server)
    assert len(outcomes) == 24
    assert all(isinstance(outcome, M2MClaims) for outcome in outcomes), outcomes
    assert jwks_server.fetches == 1


# -- outages -------------------------------------------------------------------------------


async def test_outage_after_warm_up_serves_cached_keys_within_the_stale_bound_then_503(
    flavor: Flavor,
    jwks_server: JWKSServer,
    make_verifier: MakeVerifier,
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """Cached keys outlive an outage for stale_if_error; then 503; recovery needs no restart."""
    verifier = make_verifier(jwks_server.url)  # max-age=300, stale_if_error=3600, cooldown=30
    assert await flavor.warm_up(verifier)
    token = token_for(rsa_key, clock, exp=int(clock()) + 10_000)
    jwks_server.mode, jwks_server.status_code = "status", 500

    clock.advance(301)  # stale: an opportunistic refresh fails, the cached key serves
    await flavor.verify(verifier, token)
    assert jwks_server.fetches == 2
    clock.advance(10)  # inside the cooldown: not even an attempt
    await flavor.verify(verifier, token)
    assert jwks_server.fetches == 2
    clock.advance(3899 - 311)  # the last second of the stale bound
    await flavor.verify(verifier, token)
    assert jwks_server.fetches == 3
    assert verifier.ready

    clock.advance(1)  # the stale bound is over: 503 until the cooldown of the last attempt ends
    assert_unavailable(await flavor.outcome(verifier, token), retry_after=29)
    assert not verifier.cache.has_usable_keys()  # what verifier.ready reports
    clock.advance(29)
    assert_unavailable(await flavor.outcome(verifier, token), retry_after=30)
    assert jwks_server.fetches == 4

    jwks_server.mode = "ok"
    clock.advance(30)
    await flavor.verify(verifier, token)
    assert jwks_server.fetches == 5
    assert verifier.ready


@pytest.mark.parametrize(
    ("mode", "status"),
    [
        ("status", 500),
        ("status", 404),
        ("garbage", 0),
        ("not-object", 0),
        ("huge", 0),
        ("reset", 0),
    ],
    ids=["http-500", "http-404", "garbage", "not-object", "huge", "reset"],
)
async def test_unusable_answer_at_cold_start_is_503_until_the_server_recovers(
    flavor: Flavor,
    jwks_server: JWKSServer,
    make_verifier: MakeVerifier,
    clock: FakeClock,
    rsa_key: SigningKey,
    mode: str,
    status: int,
) -> None:
    """Cold start against a broken endpoint: 503 + Retry-After, one fetch per cooldown, recovery."""
    jwks_server.mode, jwks_server.status_code = mode, status
    verifier = make_verifier(jwks_server.url)
    token = token_for(rsa_key, clock)
    assert_unavailable(await flavor.outcome(verifier, token), retry_after=30)
    clock.advance(10)
    assert_unavailable(await flavor.outcome(verifier, token), retry_after=20)
    assert jwks_server.fetches == 1

    jwks_server.mode = "ok"
    clock.advance(19)
    assert_unavailable(await flavor.outcome(verifier, token), retry_after=1)
    assert jwks_server.fetches == 1
    clock.advance(1)
    await flavor.verify(verifier, token)
    assert jwks_server.fetches == 2


async def test_server_down_at_cold_start_is_503_and_warm_up_returns_false(
    flavor: Flavor, make_verifier: MakeVerifier, clock: FakeClock, rsa_key: SigningKey
) -> None:
    """Nothing listening: constructing and warming up never raise; verification answers 503."""
    verifier = make_verifier(unused_loopback_url())
    assert await flavor.warm_up(verifier) is False
    assert not verifier.ready
    assert_unavailable(await flavor.outcome(verifier, token_for(rsa_key, clock)), retry_after=30)
    clock.advance(30)
    assert await flavor.warm_up(verifier) is False


async def test_warm_up_fetches_once_and_reports_ready(
    flavor: Flavor, jwks_server: JWKSServer, make_verifier: MakeVerifier, clock: FakeClock
) -> None:
    """warm_up fetches on a cold cache, returns True, and does nothing while keys are fresh."""
    verifier = make_verifier(jwks_server.url)
    assert not verifier.ready
    assert await flavor.warm_up(verifier) is True
    clock.advance(299)  # max-age=300: still fresh, though off cooldown
    assert await flavor.warm_up(verifier) is True
    assert jwks_server.fetches == 1
    assert verifier.ready


async def test_empty_key_set_is_not_ready_and_answers_503(
    flavor: Flavor,
    jwks_server: JWKSServer,
    make_verifier: MakeVerifier,
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """A JWKS with `keys: []` is reachable but not ready; tokens get 503, not 401."""
    jwks_server.document = {"keys": []}
    verifier = make_verifier(jwks_server.url)
    assert await flavor.warm_up(verifier) is False
    assert_unavailable(await flavor.outcome(verifier, token_for(rsa_key, clock)), retry_after=30)
    assert jwks_server.fetches == 1


# -- slow endpoints ------------------------------------------------------------------------------


async def test_slow_endpoint_times_out_into_a_503(
    flavor: Flavor,
    jwks_server: JWKSServer,
    make_verifier: MakeVerifier,
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """A JWKS that does not answer within JWKSPolicy.timeout is a failure, not a hang."""
    jwks_server.mode = "slow"  # would hold the answer for 5 s
    verifier = make_verifier(jwks_server.url, jwks_policy=JWKSPolicy(timeout=0.3))
    started = time.monotonic()
    assert_unavailable(await flavor.outcome(verifier, token_for(rsa_key, clock)), retry_after=30)
    assert 0.25 <= time.monotonic() - started < 2.0


async def test_concurrent_requests_on_a_slow_endpoint_wait_on_one_fetch(
    flavor: Flavor,
    jwks_server: JWKSServer,
    make_verifier: MakeVerifier,
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """20 callers against a JWKS that times out: one fetch, one timeout's wait, all 503."""
    jwks_server.mode = "slow"
    verifier = make_verifier(jwks_server.url, jwks_policy=JWKSPolicy(timeout=0.3))
    started = time.monotonic()
    outcomes = await flavor.verify_together(verifier, [token_for(rsa_key, clock)] * 20)
    assert time.monotonic() - started < 2.0
    assert all(isinstance(outcome, KeysUnavailableError) for outcome in outcomes), outcomes
    assert jwks_server.fetches == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    "driver",
    [
        SYNC,
        ASYNC,
    ],
    ids=str,
)
async def test_headers_trickling_in_are_cut_off_at_the_timeout(
    driver: Flavor, make_verifier: MakeVerifier, clock: FakeClock, rsa_key: SigningKey
) -> None:
    """A server sending its headers a byte at a time cannot hold a fetch past the timeout."""
    with header_trickling_server(byte_delay=0.0015) as url:  # 1.2 s or more in all
        verifier = make_verifier(url, jwks_policy=JWKSPolicy(timeout=0.3))
        started = time.monotonic()
        assert_unavailable(await driver.outcome(verifier, token_for(rsa_key, clock)), 30)
        assert time.monotonic() - started < 0.8


# -- what is fetched ------------------------------------------------------------------------------


async def test_redirect_to_another_server_is_never_followed(
    flavor: Flavor,
    jwks_server: JWKSServer,
    make_verifier: MakeVerifier,
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """A 302 to a server that would serve valid keys is a failure; that server sees nothing."""
    with running_jwks_server() as elsewhere:
        elsewhere.document = jwks_of(rsa_key)
        jwks_server.mode, jwks_server.redirect_to = "redirect", elsewhere.url
        verifier = make_verifier(jwks_server.url)
        assert_unavailable(await flavor.outcome(verifier, token_for(rsa_key, clock)), 30)
        assert jwks_server.fetches == 1
        assert elsewhere.paths == []


async def test_conditional_get_answered_304_keeps_the_keys(
    flavor: Flavor,
    jwks_server: JWKSServer,
    make_verifier: MakeVerifier,
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """Past max-age the refetch sends If-None-Match; the 304 keeps the keys and their freshness."""
    verifier = make_verifier(jwks_server.url)
    token = token_for(rsa_key, clock, exp=int(clock()) + 10_000)
    await flavor.verify(verifier, token)
    assert "if-none-match" not in jwks_server.requests[0]

    clock.advance(301)
    await flavor.verify(verifier, token)
    assert jwks_server.fetches == 2
    assert jwks_server.requests[1]["if-none-match"] == jwks_server.etag()

    clock.advance(100)  # fresh again for max-age=300 from the 304: no fetch
    await flavor.verify(verifier, token)
    assert jwks_server.fetches == 2
    # the 304 was a success: an unknown kid is the token's fault (401), not an outage
    unknown = rsa_key.sign(stytch_claims(clock()), {"kid": "not-published"})
    assert isinstance(await flavor.outcome(verifier, unknown), UnknownKeyError)
    assert jwks_server.fetches == 3
    assert jwks_server.requests[2]["if-none-match"] == jwks_server.etag()


# -- discovery ----------------------------------------------------------------------------------


def publish_metadata(server: JWKSServer, path: str, **fields: str) -> None:
    document = {"issuer": server.base_url, "jwks_uri": server.url, **fields}
    server.extra[path] = json.dumps(document).encode()


async def test_discovery_reads_jwks_uri_from_openid_configuration(
    flavor: Flavor,
    jwks_server: JWKSServer,
    make_verifier: MakeVerifier,
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """from_discovery finds the JWKS through the OIDC metadata, on first use."""
    publish_metadata(jwks_server, OIDC_PATH)
    verifier = make_verifier(discover=jwks_server.base_url)
    assert jwks_server.paths == []  # building it did no I/O
    await flavor.verify(verifier, token_for(rsa_key, clock, iss=jwks_server.base_url))
    assert jwks_server.paths == [OIDC_PATH, "/jwks"]


async def test_discovery_falls_back_to_oauth_authorization_server_on_404(
    flavor: Flavor,
    jwks_server: JWKSServer,
    make_verifier: MakeVerifier,
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """Without OIDC metadata (404) the RFC 8414 document is used."""
    publish_metadata(jwks_server, RFC8414_PATH)
    verifier = make_verifier(discover=jwks_server.base_url)
    await flavor.verify(verifier, token_for(rsa_key, clock, iss=jwks_server.base_url))
    assert jwks_server.paths == [OIDC_PATH, RFC8414_PATH, "/jwks"]


async def test_discovery_refuses_metadata_of_another_issuer(
    flavor: Flavor,
    jwks_server: JWKSServer,
    make_verifier: MakeVerifier,
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """Metadata naming a different issuer is never followed: 503, keys unavailable."""
    publish_metadata(jwks_server, OIDC_PATH, issuer="http://127.0.0.1:1/other")
    verifier = make_verifier(discover=jwks_server.base_url)
    token = token_for(rsa_key, clock, iss=jwks_server.base_url)
    assert_unavailable(await flavor.outcome(verifier, token), retry_after=30)
    assert jwks_server.paths == [OIDC_PATH]


async def test_discovery_outage_follows_the_cooldown(
    flavor: Flavor,
    jwks_server: JWKSServer,
    make_verifier: MakeVerifier,
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """No metadata anywhere: 503, no retry inside the cooldown, recovery after it."""
    verifier = make_verifier(discover=jwks_server.base_url)
    token = token_for(rsa_key, clock, iss=jwks_server.base_url)
    assert_unavailable(await flavor.outcome(verifier, token), retry_after=30)
    assert jwks_server.paths == [OIDC_PATH, RFC8414_PATH]
    clock.advance(29)
    assert_unavailable(await flavor.outcome(verifier, token), retry_after=1)
    assert len(jwks_server.paths) == 2

    publish_metadata(jwks_server, OIDC_PATH)
    clock.advance(1)
    await flavor.verify(verifier, token)
    assert jwks_server.paths[2:] == [OIDC_PATH, "/jwks"]


@pytest.mark.parametrize(
    "jwks_uri", ["http://127.0.0.1:abc/jwks", "http://[::1/jwks"], ids=["bad-port", "bad-host"]
)
async def test_discovered_jwks_uri_that_cannot_be_used_is_a_503_with_cooldown(
    flavor: Flavor,
    jwks_server: JWKSServer,
    make_verifier: MakeVerifier,
    clock: FakeClock,
    rsa_key: SigningKey,
    jwks_uri: str,
) -> None:
    """A jwks_uri that httpx or urllib cannot parse is a failed fetch, never an exception."""
    publish_metadata(jwks_server, OIDC_PATH, jwks_uri=jwks_uri)
    verifier = make_verifier(discover=jwks_server.base_url)
    token = token_for(rsa_key, clock, iss=jwks_server.base_url)
    assert_unavailable(await flavor.outcome(verifier, token), retry_after=30)
    assert_unavailable(await flavor.outcome(verifier, token), retry_after=30)
    assert jwks_server.paths == [OIDC_PATH]
