"""JWKSCache's policy (README, "The JWKS cache"), with a fake clock and no network."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from m2m_guard import ConfigurationError, KeysUnavailableError, UnknownKeyError
from m2m_guard._sansio.fetch import FetchResponse, HttpGet, ResponseReader
from m2m_guard._sansio.jwks import JWKSCache, JWKSPolicy, Need
from m2m_guard._sansio.keys import KeySet
from tests.support.clock import FakeClock
from tests.support.keys import SigningKey, jwks_of

URL = "http://127.0.0.1:9/jwks"
ISSUER_URL = "http://127.0.0.1:9"
OIDC = f"{ISSUER_URL}/.well-known/openid-configuration"
RFC8414 = f"{ISSUER_URL}/.well-known/oauth-authorization-server"
POLICY = JWKSPolicy()  # default max-age 600, bounds [60, 86400], cooldown 30, stale 3600
UNKNOWN_KID = "kid-nobody-has"


def ok(document: Any, headers: Mapping[str, str] | None = None) -> FetchResponse:
    """A 200 response carrying ``document`` as JSON."""
    return FetchResponse(200, dict(headers or {}), json.dumps(document).encode())


def failure(reason: str = "timed out") -> FetchResponse:
    return FetchResponse(None, {}, reason=reason)


def drive(cache: JWKSCache, *responses: FetchResponse) -> list[HttpGet]:
    """Run one ``refresh_flow``, answering its requests in order; the requests it made."""
    flow = cache.refresh_flow()
    asked = [next(flow)]
    for number, response in enumerate(responses, start=1):
        try:
            asked.append(flow.send(response))
        except StopIteration:
            assert number == len(responses), "the flow ended before every answer was used"
            return asked
    raise AssertionError(f"the flow wants more than {len(responses)} answer(s): {asked[-1]}")


def find(cache: JWKSCache, kid: str | None) -> Any:
    return cache.lookup(kid, "RS256")[0]


def need(cache: JWKSCache, kid: str | None) -> Need:
    return cache.lookup(kid, "RS256")[1]


def unavailable(cache: JWKSCache) -> KeysUnavailableError:
    """The cache's error for a missing key, which must be a 503."""
    error = cache.missing_key_error()
    assert isinstance(error, KeysUnavailableError), error
    return error


@pytest.fixture
def cache(clock: FakeClock) -> JWKSCache:
    return JWKSCache(URL, policy=POLICY, clock=clock)


@pytest.fixture
def good(rsa_key: SigningKey) -> dict[str, Any]:
    return jwks_of(rsa_key)


def assert_fresh_for(cache: JWKSCache, clock: FakeClock, kid: str, seconds: float) -> None:
    """The key is served without any refresh for exactly ``seconds``."""
    start = clock.now
    clock.now = start + seconds - 0.5
    assert find(cache, kid) is not None
    assert need(cache, kid) is Need.NOTHING
    clock.now = start + seconds
    assert need(cache, kid) is Need.OPPORTUNISTIC
    clock.now = start


# -- freshness ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("cache_control", "seconds"),
    [
        ("max-age=120", 120),
        ("public, max-age=7200", 7200),
        ('max-age="90"', 90),
        ("Max-Age=120, must-revalidate", 120),
        ("max-age=5", 60),  # clamped up to min_max_age
        ("max-age=0", 60),
        ("max-age=99999999999", 86_400),  # clamped down to max_max_age
        ("no-cache", 60),
        ("no-store", 60),
        ("max-age=3000, no-cache", 60),
        ("private", 600),  # no max-age: the default
        ("max-age=abc", 600),
        (None, 600),
    ],
)
def test_max_age_comes_from_cache_control_clamped_to_bounds(
    cache: JWKSCache,
    clock: FakeClock,
    rsa_key: SigningKey,
    good: dict[str, Any],
    cache_control: str | None,
    seconds: float,
) -> None:
    """Keys stay fresh for Cache-Control max-age within [min, max], else the default."""
    headers = {} if cache_control is None else {"cache-control": cache_control}
    cache.apply(ok(good, headers))
    assert_fresh_for(cache, clock, rsa_key.kid, seconds)


def test_custom_bounds_and_default_apply(
    clock: FakeClock, rsa_key: SigningKey, good: dict[str, Any]
) -> None:
    """The policy's own default and bounds are the ones used."""
    policy = JWKSPolicy(default_max_age=200, min_max_age=100, max_max_age=300, cooldown=10)
    cache = JWKSCache(URL, policy=policy, clock=clock)
    cache.apply(ok(good))
    assert_fresh_for(cache, clock, rsa_key.kid, 200)
    cache.apply(ok(good, {"cache-control": "max-age=1000"}))
    assert_fresh_for(cache, clock, rsa_key.kid, 300)
    cache.apply(ok(good, {"cache-control": "max-age=1"}))
    assert_fresh_for(cache, clock, rsa_key.kid, 100)


def test_stale_key_is_served_while_an_opportunistic_refresh_is_asked_for(
    cache: JWKSCache, clock: FakeClock, rsa_key: SigningKey, good: dict[str, Any]
) -> None:
    """Past max-age the cached key still verifies; the refresh is opportunistic, not required."""
    cache.apply(ok(good, {"cache-control": "max-age=300"}))
    clock.advance(301)
    key, wanted = cache.lookup(rsa_key.kid, "RS256")
    assert key is not None
    assert wanted is Need.OPPORTUNISTIC


# -- cooldown ----------------------------------------------------------------


def test_unknown_kid_waits_for_the_cooldown_after_a_successful_fetch(
    cache: JWKSCache, clock: FakeClock, good: dict[str, Any]
) -> None:
    """An unknown kid asks for a refetch only once the cooldown since the last fetch passed."""
    cache.apply(ok(good))
    clock.advance(29.9)
    assert cache.lookup(UNKNOWN_KID, "RS256") == (None, Need.NOTHING)
    assert cache.missing_key_error().__class__ is UnknownKeyError
    clock.advance(0.1)
    assert cache.lookup(UNKNOWN_KID, "RS256") == (None, Need.REQUIRED)


def test_a_failed_fetch_starts_the_same_cooldown(cache: JWKSCache, clock: FakeClock) -> None:
    """After a failure no fetch is wanted until the cooldown passed, then one is required."""
    assert need(cache, None) is Need.REQUIRED
    cache.apply(failure())
    clock.advance(29.9)
    assert need(cache, None) is Need.NOTHING
    assert cache.warm_up_request() is None
    assert not cache.should_fetch(cache.generation)
    clock.advance(0.1)
    assert need(cache, None) is Need.REQUIRED
    assert cache.should_fetch(cache.generation)


def test_stale_keys_within_cooldown_ask_for_no_refresh(
    cache: JWKSCache, clock: FakeClock, rsa_key: SigningKey, good: dict[str, Any]
) -> None:
    """A failed refresh of stale keys is not retried before the cooldown passed."""
    cache.apply(ok(good, {"cache-control": "max-age=300"}))
    clock.advance(300)
    cache.apply(failure())
    clock.advance(29)
    assert cache.lookup(rsa_key.kid, "RS256")[1] is Need.NOTHING
    clock.advance(1)
    assert cache.lookup(rsa_key.kid, "RS256")[1] is Need.OPPORTUNISTIC


# -- stale-if-error ------------------------------------------------------------


def test_failed_refresh_keeps_last_good_keys_for_the_stale_bound(
    cache: JWKSCache, clock: FakeClock, rsa_key: SigningKey, good: dict[str, Any]
) -> None:
    """Last good keys serve until max-age + stale_if_error, then a 503 with Retry-After."""
    cache.apply(ok(good, {"cache-control": "max-age=300"}))
    clock.advance(300)
    cache.apply(failure())
    assert cache.has_usable_keys()
    clock.advance(3599.5)
    assert find(cache, rsa_key.kid) is not None
    clock.advance(0.5)
    assert find(cache, rsa_key.kid) is None
    assert not cache.has_usable_keys()
    assert need(cache, rsa_key.kid) is Need.REQUIRED
    error = cache.missing_key_error()
    assert isinstance(error, KeysUnavailableError)
    assert error.retry_after == 1


def test_zero_stale_if_error_drops_keys_at_max_age(
    clock: FakeClock, rsa_key: SigningKey, good: dict[str, Any]
) -> None:
    """With stale_if_error=0 expired keys are never served."""
    cache = JWKSCache(URL, policy=JWKSPolicy(stale_if_error=0), clock=clock)
    cache.apply(ok(good, {"cache-control": "max-age=300"}))
    clock.advance(299)
    assert find(cache, rsa_key.kid) is not None
    clock.advance(1)
    assert find(cache, rsa_key.kid) is None


def test_a_failure_keeps_the_previous_keys_and_etag(
    cache: JWKSCache, clock: FakeClock, rsa_key: SigningKey, good: dict[str, Any]
) -> None:
    """A failed refresh neither wipes the keys nor forgets the ETag."""
    cache.apply(ok(good, {"etag": '"v1"'}))
    keys = cache.keys
    clock.advance(700)
    cache.apply(FetchResponse(500, {}))
    assert cache.keys is keys
    assert cache.request_headers()["if-none-match"] == '"v1"'


# -- conditional GET -------------------------------------------------------------


def test_not_modified_keeps_keys_and_extends_freshness(
    cache: JWKSCache, clock: FakeClock, rsa_key: SigningKey, good: dict[str, Any]
) -> None:
    """A 304 keeps the same key set, restarts max-age and keeps the stored ETag."""
    cache.apply(ok(good, {"cache-control": "max-age=300", "etag": '"v1"'}))
    keys = cache.keys
    clock.advance(400)
    cache.apply(FetchResponse(304, {"cache-control": "max-age=200"}))
    assert cache.keys is keys
    assert_fresh_for(cache, clock, rsa_key.kid, 200)
    assert cache.request_headers()["if-none-match"] == '"v1"'
    assert cache.missing_key_error().__class__ is UnknownKeyError  # a 304 is a success


def test_not_modified_may_carry_a_new_etag(cache: JWKSCache, good: dict[str, Any]) -> None:
    """An ETag on a 304 replaces the stored one."""
    cache.apply(ok(good, {"etag": '"v1"'}))
    cache.apply(FetchResponse(304, {"etag": '"v2"'}))
    assert cache.request_headers()["if-none-match"] == '"v2"'


def test_not_modified_without_cached_keys_is_a_failure(cache: JWKSCache) -> None:
    """A 304 to an unconditional GET carries no keys: a failure."""
    cache.apply(FetchResponse(304, {"etag": '"v1"'}))
    assert cache.keys is None
    assert isinstance(cache.missing_key_error(), KeysUnavailableError)


def test_etag_is_sent_as_if_none_match_only_when_keys_are_cached(
    cache: JWKSCache, clock: FakeClock, good: dict[str, Any]
) -> None:
    """The first GET is unconditional; later ones send the stored ETag, if any."""
    (first,) = drive(cache, ok(good, {"etag": '"v1"'}))
    assert first == HttpGet(URL, {"accept": "application/json"})
    clock.advance(30)
    (second,) = drive(cache, ok(good))
    assert second.headers == {"accept": "application/json", "if-none-match": '"v1"'}
    # that answer had no ETag: nothing to send any more
    assert "if-none-match" not in cache.request_headers()


# -- what counts as a key set -------------------------------------------------------


def test_malformed_keys_are_skipped_while_the_rest_load(
    cache: JWKSCache, rsa_key: SigningKey, other_rsa_key: SigningKey
) -> None:
    """One bad JWK (or several) does not spoil the set."""
    document = {
        "keys": [
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            "not an object",
            {"kty": "RSA", "kid": 7},
            rsa_key.jwk(),
            {"kty": "EC", "kid": "no-curve"},
            {**other_rsa_key.jwk(), "use": "enc"},  # not for signatures: ignored
        ]
    }
    cache.apply(ok(document))
    assert cache.keys is not None
    assert {key.kid for key in cache.keys.keys} == {rsa_key.kid}
    assert find(cache, rsa_key.kid) is not None
    assert cache.has_usable_keys()


def test_a_set_of_only_malformed_keys_is_a_failure(
    cache: JWKSCache, clock: FakeClock, rsa_key: SigningKey, good: dict[str, Any]
) -> None:
    """A non-empty set without one usable key is a failed fetch: old keys stay, 503 for new kids."""
    cache.apply(ok(good))
    clock.advance(30)
    cache.apply(ok({"keys": [{"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"}]}))
    assert find(cache, rsa_key.kid) is not None
    assert isinstance(cache.missing_key_error(), KeysUnavailableError)


def test_an_empty_key_list_answers_503(cache: JWKSCache, clock: FakeClock) -> None:
    """`keys: []` is a valid answer with no key: every token gets 503, not 401."""
    cache.apply(ok({"keys": []}))
    assert cache.keys == KeySet()
    assert not cache.has_usable_keys()
    assert cache.lookup(UNKNOWN_KID, "RS256") == (None, Need.NOTHING)
    error = cache.missing_key_error()
    assert isinstance(error, KeysUnavailableError)
    assert error.retry_after == 30
    clock.advance(10)
    assert unavailable(cache).retry_after == 20


@pytest.mark.parametrize(
    "response",
    [
        FetchResponse(500, {}, b'{"keys": []}'),
        FetchResponse(404, {}),
        FetchResponse(302, {"location": "http://127.0.0.1:9/elsewhere"}),
        FetchResponse(201, {}, b'{"keys": []}'),
        FetchResponse(304, {}),
        FetchResponse(None, {}, reason="timed out"),
        FetchResponse(None, {}),
        FetchResponse(200, {}, b"<html>not json"),
        FetchResponse(200, {}, b"\xff\xfe"),
        FetchResponse(200, {}, b"[" * 100_000),
        FetchResponse(200, {}, b'[{"keys": []}]'),
        FetchResponse(200, {}, b'"keys"'),
        FetchResponse(200, {}, b"{}"),
        FetchResponse(200, {}, b'{"keys": {"kty": "RSA"}}'),
        FetchResponse(200, {}, b'{"keys": null}'),
    ],
    ids=[
        "500",
        "404",
        "302",
        "201",
        "304-cold",
        "timeout",
        "no-reason",
        "not-json",
        "not-utf8",
        "too-deep",
        "json-list",
        "json-string",
        "no-keys",
        "keys-object",
        "keys-null",
    ],
)
def test_anything_but_200_with_a_keys_list_is_a_failure(
    cache: JWKSCache, clock: FakeClock, response: FetchResponse
) -> None:
    """Non-200, non-JSON, non-object and keys-less answers are failures with a cooldown."""
    cache.apply(response)
    assert cache.keys is None
    assert cache.generation == 1
    assert cache.lookup(UNKNOWN_KID, "RS256") == (None, Need.NOTHING)
    error = cache.missing_key_error()
    assert isinstance(error, KeysUnavailableError)
    assert error.retry_after == 30


def test_failures_are_logged_without_raising(
    cache: JWKSCache, good: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A failure logs its reason, and whether cached keys still serve."""
    cache.apply(FetchResponse(503, {}))
    cache.apply(ok(good))
    cache.apply(failure("timed out"))
    failures = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "HTTP 503; no usable keys" in failures[0]
    assert "timed out; serving cached keys" in failures[1]


# -- single flight --------------------------------------------------------------------


def test_should_fetch_is_false_once_another_fetch_completed(
    cache: JWKSCache, clock: FakeClock, good: dict[str, Any]
) -> None:
    """A caller that saw an older generation skips its fetch, even after the cooldown."""
    seen = cache.generation
    assert cache.should_fetch(seen)
    cache.apply(ok(good))
    assert cache.generation == seen + 1
    assert not cache.should_fetch(seen)
    clock.advance(3600)
    assert not cache.should_fetch(seen)
    assert cache.should_fetch(cache.generation)


def test_every_fetch_attempt_advances_the_generation(cache: JWKSCache, clock: FakeClock) -> None:
    """Failures count as completed attempts too, so waiters do not retry them."""
    for expected in (1, 2, 3):
        cache.apply(failure())
        assert cache.generation == expected
        clock.advance(30)


# -- which error for a missing key ------------------------------------------------------


def test_missing_key_is_401_when_fresh_keys_lack_it(cache: JWKSCache, good: dict[str, Any]) -> None:
    """Keys fetched successfully and the kid is not among them: the token is at fault."""
    cache.apply(ok(good))
    assert isinstance(cache.missing_key_error(), UnknownKeyError)


def test_missing_key_is_503_when_the_last_refresh_failed(
    cache: JWKSCache, clock: FakeClock, good: dict[str, Any]
) -> None:
    """The kid may be a freshly rotated key that could not be fetched: 503, not 401."""
    cache.apply(ok(good))
    clock.advance(40)
    cache.apply(failure())
    clock.advance(10)
    error = cache.missing_key_error()
    assert isinstance(error, KeysUnavailableError)
    assert error.retry_after == 20
    assert error.status_code == 503


def test_missing_key_is_503_at_cold_start_with_retry_after_of_the_cooldown(
    cache: JWKSCache, clock: FakeClock
) -> None:
    """No keys ever fetched: 503; Retry-After is the cooldown left, at least one second."""
    error = cache.missing_key_error()
    assert isinstance(error, KeysUnavailableError)
    assert error.retry_after == 1  # never attempted: try again right away
    cache.apply(failure())
    assert unavailable(cache).response_headers()["retry-after"] == "30"
    clock.advance(29.5)
    assert unavailable(cache).response_headers()["retry-after"] == "1"


# -- warm-up and static keys ---------------------------------------------------------


def test_warm_up_request_only_when_keys_are_not_fresh(
    cache: JWKSCache, clock: FakeClock, good: dict[str, Any]
) -> None:
    """Warm-up fetches at cold start and for stale keys, waiting; never when fresh."""
    cold = cache.warm_up_request()
    assert cold is not None
    assert (cold.cache, cold.generation, cold.wait) == (cache, 0, True)
    cache.apply(ok(good, {"cache-control": "max-age=300"}))
    assert cache.warm_up_request() is None
    clock.advance(299)  # off cooldown, still fresh
    assert cache.warm_up_request() is None
    clock.advance(1)
    stale = cache.warm_up_request()
    assert stale is not None
    assert stale.generation == 1


def test_static_keys_never_ask_for_a_fetch(clock: FakeClock, rsa_key: SigningKey) -> None:
    """A cache of static keys is always fresh and never fetches, even for unknown kids."""
    keys = KeySet.from_jwks(jwks_of(rsa_key))
    cache = JWKSCache(None, policy=POLICY, clock=clock, static_keys=keys)
    clock.advance(10**9)
    assert cache.has_usable_keys()
    assert find(cache, rsa_key.kid) is not None
    assert cache.lookup(UNKNOWN_KID, "RS256") == (None, Need.NOTHING)
    assert not cache.should_fetch(cache.generation)
    assert cache.warm_up_request() is None
    assert isinstance(cache.missing_key_error(), UnknownKeyError)


# -- discovery -----------------------------------------------------------------------


@pytest.fixture
def discovering(clock: FakeClock) -> JWKSCache:
    return JWKSCache(
        None, policy=POLICY, clock=clock, discover_from=ISSUER_URL, metadata_urls=(OIDC, RFC8414)
    )


def metadata(issuer: str = ISSUER_URL, jwks_uri: str = URL) -> FetchResponse:
    return ok({"issuer": issuer, "jwks_uri": jwks_uri})


def test_discovery_reads_jwks_uri_then_fetches_the_keys(
    discovering: JWKSCache, rsa_key: SigningKey, good: dict[str, Any]
) -> None:
    """The OIDC document names the JWKS URL, fetched in the same refresh and kept."""
    asked = drive(discovering, metadata(), ok(good))
    assert [get.url for get in asked] == [OIDC, URL]
    assert discovering.url == URL
    assert find(discovering, rsa_key.kid) is not None


def test_discovery_falls_back_to_rfc8414_only_on_404(
    discovering: JWKSCache, good: dict[str, Any]
) -> None:
    """A 404 for the OIDC document tries RFC 8414's; other failures do not."""
    asked = drive(discovering, FetchResponse(404, {}), metadata(), ok(good))
    assert [get.url for get in asked] == [OIDC, RFC8414, URL]


def test_discovery_failure_starts_the_cooldown(
    discovering: JWKSCache, clock: FakeClock, good: dict[str, Any]
) -> None:
    """A metadata outage is a failed fetch: cooldown, 503, and the next refresh tries again."""
    asked = drive(discovering, FetchResponse(500, {}))
    assert [get.url for get in asked] == [OIDC]
    assert discovering.url is None
    assert need(discovering, None) is Need.NOTHING
    assert isinstance(discovering.missing_key_error(), KeysUnavailableError)
    clock.advance(30)
    asked = drive(discovering, FetchResponse(404, {}), FetchResponse(404, {}))
    assert [get.url for get in asked] == [OIDC, RFC8414]
    assert discovering.generation == 2


@pytest.mark.parametrize(
    "answer",
    [
        metadata(issuer="http://127.0.0.1:9/other"),
        metadata(jwks_uri="ftp://127.0.0.1/jwks"),
        metadata(jwks_uri="http://[::1/jwks"),
        ok(["not", "an", "object"]),
        FetchResponse(200, {}, b"not json"),
    ],
    ids=["foreign-issuer", "bad-scheme", "unparsable-uri", "not-object", "not-json"],
)
def test_unusable_metadata_is_a_failure_and_names_no_jwks_url(
    discovering: JWKSCache, answer: FetchResponse
) -> None:
    """Metadata of another issuer, or without a usable jwks_uri, is never followed."""
    asked = drive(discovering, answer)
    assert [get.url for get in asked] == [OIDC]
    assert discovering.url is None
    assert discovering.generation == 1
    assert isinstance(discovering.missing_key_error(), KeysUnavailableError)


# -- policy and reader -------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"default_max_age": 0},
        {"min_max_age": -1},
        {"max_max_age": 0},
        {"cooldown": 0},
        {"timeout": 0},
        {"timeout": float("nan")},
        {"stale_if_error": -1},
        {"max_bytes": 0},
        {"min_max_age": 700},  # above the default 600
        {"max_max_age": 500},  # below the default 600
        {"cooldown": 61},  # longer than min_max_age
    ],
)
def test_invalid_jwks_policy_is_refused(settings: dict[str, Any]) -> None:
    """JWKSPolicy rejects non-positive numbers, inverted bounds and a cooldown over min max-age."""
    with pytest.raises(ConfigurationError, match="jwks"):
        JWKSPolicy(**settings)


def test_zero_stale_if_error_and_equal_bounds_are_valid() -> None:
    """Edge values that make sense are accepted."""
    policy = JWKSPolicy(
        stale_if_error=0, min_max_age=60, default_max_age=60, max_max_age=60, cooldown=60
    )
    assert policy.stale_if_error == 0


def test_reader_refuses_a_declared_length_over_the_cap() -> None:
    """A Content-Length over the cap fails before any body is read."""
    reader = ResponseReader(100)
    done = reader.start(200, {"content-length": "101"})
    assert done == FetchResponse(None, {}, reason="response body over the size cap")


def test_reader_refuses_a_streamed_body_over_the_cap() -> None:
    """A body without (or lying about) its length fails as soon as it passes the cap."""
    reader = ResponseReader(100)
    assert reader.start(200, {"content-length": "10"}) is None
    assert reader.feed(b"x" * 60) is None
    assert reader.feed(b"x" * 40) is None
    done = reader.feed(b"x")
    assert done is not None
    assert done.status is None


def test_reader_collects_a_body_up_to_the_cap() -> None:
    """A body of exactly max_bytes is read whole, with its status and headers."""
    reader = ResponseReader(100)
    headers = {"content-length": "100", "etag": '"v1"'}
    assert reader.start(200, headers) is None
    assert reader.feed(b"a" * 50) is None
    assert reader.feed(b"b" * 50) is None
    assert reader.finish() == FetchResponse(200, headers, b"a" * 50 + b"b" * 50)


def test_reader_wants_no_body_for_non_200() -> None:
    """Any other status is the outcome already; its body is never read."""
    done = ResponseReader(100).start(304, {"etag": '"v1"'})
    assert done == FetchResponse(304, {"etag": '"v1"'})


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate", "GZIP"])
def test_reader_refuses_compressed_bodies(encoding: str) -> None:
    """A compressed body is refused rather than inflated (decompression bombs)."""
    done = ResponseReader(100).start(200, {"content-encoding": encoding})
    assert done is not None
    assert done.status is None


def test_reader_ignores_a_non_numeric_length() -> None:
    """A garbled Content-Length is not trusted; the streamed size still counts."""
    reader = ResponseReader(100)
    assert reader.start(200, {"content-length": "lots", "content-encoding": "identity"}) is None
    assert reader.feed(b"x" * 101) is not None
