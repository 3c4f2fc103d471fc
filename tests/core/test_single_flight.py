"""One verifier makes one JWKS fetch at a time, whatever mix of threads and event loops asks.

Each scenario runs against a real endpoint on 127.0.0.1 that counts the
requests reaching ``/jwks``; the cache's own time comes from a FakeClock.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

from m2m_guard import KeysUnavailableError, M2MClaims, M2MGuardError, Verifier
from m2m_guard._gate import gate_of
from m2m_guard._sansio.jwks import JWKSPolicy
from tests.core._helpers import PATIENCE
from tests.support.clock import FakeClock
from tests.support.concurrency import all_at_once, outcome_of
from tests.support.jwks_server import JWKSServer, running_jwks_server
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims

Outcome = M2MClaims | M2MGuardError | BaseException


@pytest.fixture
def slow_server(rsa_key: SigningKey) -> Iterator[JWKSServer]:
    """A JWKS endpoint that takes 0.3 s to answer, so that concurrent askers overlap."""
    with running_jwks_server() as server:
        server.document = jwks_of(rsa_key)
        server.mode, server.slow_for = "slow", 0.3
        yield server


@pytest.fixture
def make_verifier(clock: FakeClock) -> Iterator[Callable[..., Verifier]]:
    """Verifiers on the fake clock; their own HTTP clients are closed afterwards."""
    made: list[Verifier] = []

    def make(url: str, **kwargs: Any) -> Verifier:
        verifier = Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks_url=url, clock=clock, **kwargs)
        made.append(verifier)
        return verifier

    yield make
    for verifier in made:
        verifier.close()


def in_event_loop(verifier: Verifier, token: str) -> Callable[[], M2MClaims]:
    """A fresh event loop of its own (``asyncio.run``) verifying ``token``."""
    return lambda: asyncio.run(verifier.verify_async(token))


def in_thread(verifier: Verifier, token: str) -> Callable[[], M2MClaims]:
    """A plain thread verifying ``token`` through the sync driver."""
    return lambda: verifier.verify(token)


def token_for(key: SigningKey, clock: FakeClock, index: int) -> str:
    return key.sign(stytch_claims(clock(), jti=f"jti-{index}"))


def test_eight_event_loops_on_a_cold_cache_share_one_fetch(
    slow_server: JWKSServer,
    make_verifier: Callable[..., Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """Eight threads, each with its own event loop, verify at once: one fetch serves all."""
    verifier = make_verifier(slow_server.url)
    calls = [in_event_loop(verifier, token_for(rsa_key, clock, i)) for i in range(8)]
    outcomes = all_at_once(calls)
    assert all(isinstance(outcome, M2MClaims) for outcome in outcomes), outcomes
    assert slow_server.fetches == 1


def test_threads_and_event_loops_together_share_one_fetch(
    slow_server: JWKSServer,
    make_verifier: Callable[..., Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """Four sync threads and four event loops verify at once: one fetch serves all."""
    verifier = make_verifier(slow_server.url)
    calls = [
        (in_thread if i % 2 else in_event_loop)(verifier, token_for(rsa_key, clock, i))
        for i in range(8)
    ]
    outcomes = all_at_once(calls)
    assert all(isinstance(outcome, M2MClaims) for outcome in outcomes), outcomes
    assert slow_server.fetches == 1


def test_event_loops_with_many_tasks_and_threads_share_one_fetch(
    slow_server: JWKSServer,
    make_verifier: Callable[..., Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """Two loops of five tasks each and two threads: still one fetch."""
    verifier = make_verifier(slow_server.url)

    def loop_of_tasks(offset: int) -> Callable[[], M2MClaims]:
        async def tasks() -> M2MClaims:
            claims: list[M2MClaims] = []

            async def one(index: int) -> None:
                claims.append(await verifier.verify_async(token_for(rsa_key, clock, index)))

            async with anyio.create_task_group() as group:
                for index in range(offset, offset + 5):
                    group.start_soon(one, index)
            assert len(claims) == 5
            return claims[0]

        return lambda: anyio.run(tasks)

    calls = [loop_of_tasks(0), loop_of_tasks(5)]
    calls += [in_thread(verifier, token_for(rsa_key, clock, 10 + i)) for i in range(2)]
    outcomes = all_at_once(calls)
    assert all(isinstance(outcome, M2MClaims) for outcome in outcomes), outcomes
    assert slow_server.fetches == 1


def test_after_the_shared_fetch_failed_nobody_fetches_again_inside_the_cooldown(
    jwks_server: JWKSServer,
    make_verifier: Callable[..., Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """A failed fetch is shared too: every caller gets a 503 and the endpoint one request."""
    jwks_server.mode, jwks_server.slow_for = "slow", 0.3
    jwks_server.document = {"keys": []}  # reachable, but no key: 503 for all
    verifier = make_verifier(jwks_server.url)
    calls = [
        (in_thread if i % 2 else in_event_loop)(verifier, token_for(rsa_key, clock, i))
        for i in range(8)
    ]
    outcomes = all_at_once(calls)
    assert all(isinstance(outcome, KeysUnavailableError) for outcome in outcomes), outcomes
    assert jwks_server.fetches == 1


# -- never a hang, never a deadlock ----------------------------------------------------------


class HeldClaim:
    """Claims a cache's refresh from a thread of its own and holds it until released."""

    def __init__(self, verifier: Verifier) -> None:
        self.cache = verifier.cache
        self.claimed = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        gate = gate_of(self.cache)
        assert gate.claim(False, self.cache.refresh_budget())
        self.claimed.set()
        self.release.wait(PATIENCE)
        gate.release()

    def __enter__(self) -> HeldClaim:
        self.thread.start()
        assert self.claimed.wait(PATIENCE)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(PATIENCE)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_waiter_gives_up_at_the_deadline_of_a_refresh_that_never_ends(
    kind: str,
    jwks_server: JWKSServer,
    make_verifier: Callable[..., Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """A refresh stuck past its budget holds a waiter no longer than that budget: 503, no fetch."""
    verifier = make_verifier(jwks_server.url, jwks_policy=JWKSPolicy(timeout=0.1))
    budget = verifier.cache.refresh_budget()
    assert budget == pytest.approx(0.2)  # one timeout for the JWKS, one as grace
    token = token_for(rsa_key, clock, 0)
    with HeldClaim(verifier):
        started = time.monotonic()
        call = in_thread if kind == "sync" else in_event_loop
        outcome = outcome_of(call(verifier, token))
        waited = time.monotonic() - started
    assert isinstance(outcome, KeysUnavailableError), outcome
    assert 0.8 * budget <= waited < budget + 1.5
    assert jwks_server.fetches == 0
    gate = gate_of(verifier.cache)
    assert gate.claim(False, budget)  # nothing was left claimed (a real fetch here
    gate.release()  # would have to finish within the 0.1 s timeout, under any load)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_non_waiting_refresh_returns_at_once_while_another_thread_refreshes(
    kind: str,
    jwks_server: JWKSServer,
    make_verifier: Callable[..., Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """Stale but usable keys: a refresh in flight elsewhere is not waited for; the keys serve."""
    verifier = make_verifier(jwks_server.url)
    token = rsa_key.sign(stytch_claims(clock(), exp=int(clock()) + 10_000))
    verifier.verify(token)
    clock.advance(301)  # past max-age=300, off cooldown: an opportunistic refresh
    with HeldClaim(verifier):
        call = in_thread if kind == "sync" else in_event_loop
        started = time.monotonic()
        assert isinstance(outcome_of(call(verifier, token)), M2MClaims)
        assert time.monotonic() - started < 0.5 * verifier.cache.refresh_budget()
    assert jwks_server.fetches == 1


@pytest.mark.anyio
async def test_sync_verify_inside_the_loop_running_the_fetch_does_not_wait_for_it(
    jwks_server: JWKSServer,
    make_verifier: Callable[..., Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """A blocking verify() called on the thread whose loop is fetching answers 503 at once.

    Waiting would stall the very loop that has to finish the fetch; the
    fetch itself then completes normally.
    """
    jwks_server.mode = "slow"  # held until released
    verifier = make_verifier(jwks_server.url, jwks_policy=JWKSPolicy(timeout=2.0))
    token = token_for(rsa_key, clock, 0)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(verifier.verify_async, token)
        with anyio.fail_after(PATIENCE):
            while jwks_server.fetches == 0:
                await anyio.sleep(0.002)
        started = time.monotonic()
        outcome = outcome_of(in_thread(verifier, token))
        assert time.monotonic() - started < 0.5
        assert isinstance(outcome, KeysUnavailableError), outcome
        jwks_server.release.set()
    assert verifier.ready
    assert jwks_server.fetches == 1


@pytest.mark.anyio
async def test_a_cancelled_fetch_or_wait_leaves_no_claim_behind(
    jwks_server: JWKSServer,
    make_verifier: Callable[..., Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """Cancelling the task that fetches, or a task that waits, releases what it held."""
    jwks_server.mode = "slow"
    verifier = make_verifier(jwks_server.url, jwks_policy=JWKSPolicy(timeout=2.0))
    cache, token = verifier.cache, token_for(rsa_key, clock, 0)
    with anyio.move_on_after(0.2) as fetching:
        await verifier.verify_async(token)  # cancelled while the server holds the answer
    assert fetching.cancelled_caught
    assert gate_of(cache).claim(
        False, cache.refresh_budget()
    )  # the cancelled fetch released its claim
    gate_of(cache).release()

    with HeldClaim(verifier):
        with anyio.move_on_after(0.05) as waiting:
            await verifier.verify_async(token)  # cancelled while polling for the claim
        assert waiting.cancelled_caught
    jwks_server.release.set()
    jwks_server.mode = "ok"
    assert isinstance(await verifier.verify_async(token), M2MClaims)
    assert jwks_server.fetches == 2
