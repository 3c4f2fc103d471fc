"""RedisRevocations against a real redis-server: propagation, staleness, recovery."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from m2m_guard import (
    ConfigurationError,
    RevocationsUnavailableError,
    TokenRevokedError,
    Verifier,
)
from m2m_guard._sansio.revocation import RevocationEvent, encode_event, redis_keys
from m2m_guard.redis import RedisRevocations
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims
from tests.support.redis_server import RedisServer, free_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

#: the propagation bound the README and SECURITY.md promise on loopback
BOUND = 1.0


def eventually(predicate: Callable[[], bool], within: float = 5.0) -> float:
    """Poll until ``predicate`` holds; the seconds it took."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < within, "condition not reached in time"
        time.sleep(0.005)
    return time.monotonic() - start


@pytest.fixture
def made() -> Iterator[list[RedisRevocations]]:
    backends: list[RedisRevocations] = []
    yield backends
    for backend in backends:
        backend.close()


@pytest.fixture
def make(made: list[RedisRevocations]) -> Callable[..., RedisRevocations]:
    def build(url: str | None = None, **kwargs: object) -> RedisRevocations:
        kwargs.setdefault("heartbeat", 0.1)
        kwargs.setdefault("max_stale", 2.0)
        kwargs.setdefault("timeout", 0.5)
        backend = RedisRevocations(url, **kwargs)  # type: ignore[arg-type]
        made.append(backend)
        return backend

    return build


def verifier_of(rsa_key: SigningKey, clock: Callable[[], float], revocations: object) -> Verifier:
    return Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks=jwks_of(rsa_key),
        clock=clock,
        client_id_claims=("sub",),
        revocations=revocations,  # type: ignore[arg-type]
    )


def test_a_revocation_reaches_another_replica_within_the_bound(
    redis_server: RedisServer, make: Callable[..., RedisRevocations], rsa_key: SigningKey
) -> None:
    """Revoked on one instance, refused by a verifier on another within a second."""
    writer, reader = make(redis_server.url), make(redis_server.url)
    assert writer.warm_up()
    assert reader.warm_up()
    verifier = verifier_of(rsa_key, time.time, reader)
    token = rsa_key.sign(stytch_claims(time.time()))
    assert verifier.verify(token)  # cached now
    writer.revoke_token("jti-1", time.time() + 3600)

    def refused() -> bool:
        try:
            verifier.verify(token)
        except TokenRevokedError:
            return True
        return False

    took = eventually(refused)
    print(f"\npropagation of one revocation: {took * 1000:.1f} ms")
    assert took < BOUND
    assert reader.state.jtis == {"jti-1": pytest.approx(time.time() + 3600, abs=5)}
    assert reader.connected
    assert "connected=True" in repr(reader)


def test_client_and_issuer_cut_offs_travel_through_redis(
    redis_server: RedisServer, make: Callable[..., RedisRevocations]
) -> None:
    """revoke_client / revoke_issuer land in the hashes and in every copy."""
    writer, reader = make(redis_server.url), make(redis_server.url)
    assert reader.warm_up()
    writer.revoke_client(CLIENT_ID, issued_before=1000.0)
    writer.revoke_issuer(ISSUER, issued_before=2000.5)
    eventually(lambda: reader.state.issuers.get(ISSUER) == 2000.5)
    assert reader.state.clients == {CLIENT_ID: 1000.0}
    raw = redis.Redis.from_url(redis_server.url, socket_timeout=1)
    keys = redis_keys("default")
    assert raw.hgetall(keys.clients) == {CLIENT_ID.encode(): b"1000.0"}
    raw.close()


def test_a_new_replica_loads_the_state_written_before_it_started(
    redis_server: RedisServer, make: Callable[..., RedisRevocations]
) -> None:
    """The first resync brings every earlier revocation; expired jtis leave Redis."""
    writer = make(redis_server.url)
    writer.revoke_token("live", time.time() + 600)
    writer.revoke_token("old", time.time() - 1)
    late = make(redis_server.url)
    assert late.warm_up()
    assert set(late.state.jtis) == {"live"}
    raw = redis.Redis.from_url(redis_server.url, socket_timeout=1)
    assert set(raw.hkeys(redis_keys("default").jti)) == {b"live"}
    raw.close()


def test_the_periodic_resync_repairs_a_missed_event(
    redis_server: RedisServer, make: Callable[..., RedisRevocations]
) -> None:
    """A field written without its event (or an event lost) is found at the next resync."""
    reader = make(redis_server.url, resync_interval=0.2)
    assert reader.warm_up()
    raw = redis.Redis.from_url(redis_server.url, socket_timeout=1)
    raw.hset(redis_keys("default").clients, "silent", "5")
    raw.close()
    eventually(lambda: reader.state.clients.get("silent") == 5.0, within=3)


def test_namespaces_do_not_see_each_other(
    redis_server: RedisServer, make: Callable[..., RedisRevocations]
) -> None:
    """A revocation in one namespace leaves another's state alone."""
    orders, billing = (
        make(redis_server.url, namespace="orders"),
        make(redis_server.url, namespace="billing"),
    )
    assert orders.warm_up()
    assert billing.warm_up()
    orders.revoke_client("c")
    eventually(lambda: "c" in orders.state.clients)
    time.sleep(0.2)  # what a leak would need to arrive
    assert billing.state.clients == {}


def test_malformed_events_are_ignored_and_logged(
    redis_server: RedisServer,
    make: Callable[..., RedisRevocations],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Junk on the channel never reaches the state; good events after it still do."""
    reader = make(redis_server.url)
    assert reader.warm_up()
    raw = redis.Redis.from_url(redis_server.url, socket_timeout=1)
    channel = redis_keys("default").events
    with caplog.at_level(logging.WARNING, "m2m_guard.redis"):
        raw.publish(channel, b"\xff{not json")
        raw.publish(channel, '{"kind":"jti","value":"","until":1}')
        raw.publish(channel, encode_event(RevocationEvent("jti", "good", time.time() + 60)))
        eventually(lambda: "good" in reader.state.jtis)
    raw.close()
    assert set(reader.state.jtis) == {"good"}
    assert caplog.text.count("ignored a malformed event") == 2


async def test_async_twins_write_through_redis(
    redis_server: RedisServer, make: Callable[..., RedisRevocations]
) -> None:
    """revoke_*_async store and publish without blocking the loop (URL and own client)."""
    by_url = make(redis_server.url)
    client = redis.Redis.from_url(redis_server.url, socket_timeout=1)
    by_client = make(client=client)
    assert await by_url.warm_up_async()
    assert await by_client.warm_up_async()
    await by_url.revoke_token_async("a", time.time() + 60)
    await by_client.revoke_client_async("c", issued_before=10)
    await by_url.revoke_issuer_async("i", issued_before=20)
    eventually(
        lambda: (
            "c" in by_url.state.clients
            and "a" in by_client.state.jtis
            and "i" in by_client.state.issuers
        )
    )
    assert by_client.state.issuers == {"i": 20.0}
    await by_client.aclose()
    assert by_client._thread is not None
    assert not by_client._thread.is_alive()
    assert client.ping()  # a client of yours is not closed
    client.close()


def test_until_the_first_resync_every_token_is_a_503(
    make: Callable[..., RedisRevocations], rsa_key: SigningKey
) -> None:
    """Nothing known yet (Redis unreachable from the start): fail closed, quickly."""
    revocations = make(f"redis://127.0.0.1:{free_port()}/0")
    verifier = verifier_of(rsa_key, time.time, revocations)
    started = time.monotonic()
    assert revocations.warm_up(timeout=0.3) is False
    assert verifier.warm_up() is False
    with pytest.raises(RevocationsUnavailableError) as caught:
        verifier.verify(rsa_key.sign(stytch_claims(time.time())))
    assert caught.value.status_code == 503
    assert int(caught.value.response_headers()["retry-after"]) >= 1
    assert time.monotonic() - started < 8
    assert not revocations.connected
    with pytest.raises(RevocationsUnavailableError, match="could not be stored"):
        revocations.revoke_token("j", time.time() + 60)


async def test_an_async_write_to_an_unreachable_redis_is_a_clear_error(
    make: Callable[..., RedisRevocations],
) -> None:
    """The async twin fails within its deadline with RevocationsUnavailableError."""
    revocations = make(f"redis://127.0.0.1:{free_port()}/0", start=False)
    assert await revocations.warm_up_async(timeout=0.05) is False
    with pytest.raises(RevocationsUnavailableError):
        await revocations.revoke_client_async("c")


def test_redis_down_serves_the_last_state_then_503_then_recovers(
    own_redis: RedisServer,
    make: Callable[..., RedisRevocations],
    rsa_key: SigningKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Stale-if-error for max_stale (fake clock), then 503, then fine once Redis is back."""
    clock = FakeClock(FakeClock.real_now())
    revocations = make(own_redis.url, clock=clock, max_stale=30.0)
    assert revocations.warm_up()
    verifier = verifier_of(rsa_key, clock, revocations)
    token = rsa_key.sign(stytch_claims(clock.now))
    revoked = rsa_key.sign(stytch_claims(clock.now, jti="bad"))
    revocations.revoke_token("bad", clock.now + 3600)
    assert verifier.verify(token)
    with caplog.at_level(logging.WARNING, "m2m_guard.redis"):
        own_redis.kill()
        eventually(lambda: not revocations.connected)
        clock.advance(29)
        assert verifier.verify(token)  # the last known state, served
        with pytest.raises(TokenRevokedError):
            verifier.verify(revoked)  # …revocations included
        clock.advance(2)
        with pytest.raises(RevocationsUnavailableError):
            verifier.verify(token)
        own_redis.start()
        took = eventually(lambda: revocations.ready)
        assert took < 5
    assert verifier.verify(token)
    with pytest.raises(TokenRevokedError):
        verifier.verify(revoked)  # Redis lost everything (no persistence); the copy did not
    raw = redis.Redis.from_url(own_redis.url, socket_timeout=1)
    assert raw.hkeys(redis_keys("default").jti) == [b"bad"]  # …and wrote it back
    raw.close()
    assert "Redis unreachable" in caplog.text
    assert "reachable again" in caplog.text


def test_fail_open_serves_the_last_state_however_old(
    own_redis: RedisServer, make: Callable[..., RedisRevocations], rsa_key: SigningKey
) -> None:
    """fail_open=True: Redis down for long, tokens still decided on the last state."""
    clock = FakeClock(FakeClock.real_now())
    revocations = make(own_redis.url, clock=clock, fail_open=True)
    assert revocations.warm_up()
    revocations.revoke_token("bad", clock.now + 3600)
    verifier = verifier_of(rsa_key, clock, revocations)
    own_redis.kill()
    eventually(lambda: not revocations.connected)
    clock.advance(3000)
    assert verifier.verify(rsa_key.sign(stytch_claims(clock.now)))
    with pytest.raises(TokenRevokedError):
        verifier.verify(rsa_key.sign(stytch_claims(clock.now, jti="bad")))
    assert revocations.state.fresh_until == math.inf


def test_a_silent_server_is_detected_by_the_heartbeat(
    make: Callable[..., RedisRevocations], own_redis: RedisServer
) -> None:
    """A server that stops answering (SIGSTOP) is treated as down within the PING bound."""
    import signal

    revocations = make(own_redis.url)
    assert revocations.warm_up()
    assert own_redis.process is not None
    own_redis.process.send_signal(signal.SIGSTOP)
    try:
        eventually(lambda: not revocations.connected, within=5)
    finally:
        own_redis.process.send_signal(signal.SIGCONT)
    eventually(lambda: revocations.connected, within=5)


def test_settings_are_checked_at_construction() -> None:
    """Bad settings fail at once, naming the argument; no thread is started."""
    url = "redis://127.0.0.1:1/0"
    cases: list[tuple[dict[str, object], str]] = [
        ({}, "url"),
        ({"url": url, "client": redis.Redis()}, "url"),
        ({"url": "http://x"}, "url"),
        ({"url": "redis://:notaport/0"}, "url"),
        ({"client": "redis"}, "client"),
        ({"client": redis.Redis(socket_timeout=None)}, "client"),
        ({"url": url, "timeout": 0}, "timeout"),
        ({"url": url, "timeout": True}, "timeout"),
        ({"url": url, "max_stale": -1}, "max_stale"),
        ({"url": url, "max_stale": 0.5, "heartbeat": 0.5}, "max_stale"),
        ({"url": url, "heartbeat": 120}, "heartbeat"),
        ({"url": url, "resync_interval": math.nan}, "resync_interval"),
        ({"url": url, "namespace": "a:b"}, "namespace"),
    ]
    for kwargs, setting in cases:
        with pytest.raises(ConfigurationError, match=setting):
            RedisRevocations(start=False, **kwargs)  # type: ignore[arg-type]


def test_a_forked_child_starts_its_own_thread(
    redis_server: RedisServer, make: Callable[..., RedisRevocations]
) -> None:
    """After fork (simulated) a running backend gets a new thread; a stopped one stays stopped."""
    running = make(redis_server.url)
    assert running.warm_up()
    before = running._thread
    running._after_fork()
    assert running._thread is not before
    assert running._thread is not None
    assert running._thread.is_alive()
    running.start()  # already running: nothing new
    stopped = make(redis_server.url, start=False)
    stopped._after_fork()
    assert stopped._thread is None
