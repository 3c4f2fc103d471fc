"""Single flight: concurrent threads or tasks share one token fetch.

Nothing sleeps: the mock endpoint holds its answer until every competitor
is provably waiting (threads: each has read the clock on its way in; tasks:
``anyio.wait_all_tasks_blocked``), so a cache without single flight would
let all of them fetch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest

from m2m_guard._http import httpx
from m2m_guard.client import ClientCredentialsAuth, TokenRequestError

from .conftest import CLIENT_ID, CLIENT_SECRET, TOKEN_URL, Api, FakeClock, TokenEndpoint

MakeAuth = Callable[..., ClientCredentialsAuth]
ApiClient = Callable[[ClientCredentialsAuth], httpx.Client]
URL = "https://api.invalid/things"
N = 20
WAIT = 10  # seconds; only ever reached when the code under test is broken


def hold_until_all_arrived(endpoint: TokenEndpoint, clock: FakeClock) -> None:
    """Make the endpoint answer only once N threads have started asking for a token."""

    def wait() -> None:
        with clock.read:
            arrived = clock.read.wait_for(lambda: len(clock.readers) >= N, timeout=WAIT)
        assert arrived, "the other threads never asked for a token"

    endpoint.before_answer = wait


def test_threads_on_a_cold_cache_cause_one_fetch(
    make_auth: MakeAuth,
    endpoint: TokenEndpoint,
    api: Api,
    api_client: ApiClient,
    clock: FakeClock,
) -> None:
    """20 threads sending at once on a cold cache: one token request, 20 successes."""
    hold_until_all_arrived(endpoint, clock)
    client = api_client(make_auth())
    with ThreadPoolExecutor(N) as pool:
        statuses = list(pool.map(lambda _: client.get(URL).status_code, range(N)))
    assert statuses == [200] * N
    assert endpoint.fetches == 1
    assert api.seen == ["token-1"] * N


def test_threads_waiting_for_a_failing_fetch_share_its_error(
    make_auth: MakeAuth, endpoint: TokenEndpoint, clock: FakeClock
) -> None:
    """When the one fetch fails, the threads queued behind it fail too, without refetching."""
    hold_until_all_arrived(endpoint, clock)
    endpoint.answer = lambda request: httpx.Response(503, json={"error": "temporarily_unavailable"})
    auth = make_auth()

    def attempt(_: int) -> TokenRequestError | None:
        try:
            auth.get_token()
        except TokenRequestError as exc:
            return exc
        return None

    with ThreadPoolExecutor(N) as pool:
        errors = list(pool.map(attempt, range(N)))
    assert endpoint.fetches == 1
    assert all(e is not None and e.upstream_error == "temporarily_unavailable" for e in errors)
    assert len({id(e) for e in errors}) == N  # each thread gets its own exception object


def test_refresh_ahead_of_expiry_does_not_block_other_threads(
    make_auth: MakeAuth, endpoint: TokenEndpoint, api: Api, api_client: ApiClient, clock: FakeClock
) -> None:
    """While one thread refreshes, others keep using the still-valid token at once."""
    client = api_client(make_auth(refresh_margin=60))
    client.get(URL)
    clock.advance(3550)  # inside the refresh margin, before expiry
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        entered.set()
        release.wait(WAIT)

    endpoint.before_answer = hold
    refresher = threading.Thread(target=client.get, args=(URL,))
    refresher.start()
    try:
        assert entered.wait(WAIT)
        assert client.get(URL).status_code == 200  # would wait if it queued for the lock
        assert api.seen == ["token-1", "token-1"]
    finally:
        release.set()
        refresher.join()
    assert api.seen[-1] == "token-2"
    assert endpoint.fetches == 2


class Gate:
    """Holds the async mock endpoint's answers until opened; can be closed again."""

    def __init__(self) -> None:
        self.event = anyio.Event()

    def open(self) -> None:
        self.event.set()

    def close(self) -> None:
        self.event = anyio.Event()


def async_endpoint(endpoint: TokenEndpoint, gate: Gate) -> httpx.MockTransport:
    """An async token endpoint that answers once the gate is open."""

    async def handler(request: httpx.Request) -> httpx.Response:
        endpoint.requests.append(request)
        number = endpoint.fetches
        await gate.event.wait()
        return httpx.Response(200, json={"access_token": f"token-{number}", "expires_in": 3600})

    return httpx.MockTransport(handler)


@pytest.mark.anyio
async def test_tasks_on_a_cold_cache_cause_one_fetch(
    endpoint: TokenEndpoint, api: Api, clock: FakeClock
) -> None:
    """20 tasks sending at once on a cold cache: one token request, 20 successes."""
    gate = Gate()
    statuses: list[int] = []
    async with httpx.AsyncClient(transport=async_endpoint(endpoint, gate)) as http:
        auth = ClientCredentialsAuth(
            TOKEN_URL, CLIENT_ID, CLIENT_SECRET, clock=clock, async_http_client=http
        )
        async with httpx.AsyncClient(auth=auth, transport=httpx.MockTransport(api)) as client:

            async def call() -> None:
                statuses.append((await client.get(URL)).status_code)

            async with anyio.create_task_group() as tasks:
                for _ in range(N):
                    tasks.start_soon(call)
                await anyio.wait_all_tasks_blocked()  # one task fetching, 19 queued
                gate.open()
    assert statuses == [200] * N
    assert endpoint.fetches == 1
    assert api.seen == ["token-1"] * N


@pytest.mark.anyio
async def test_tasks_refused_together_cause_one_refetch(
    endpoint: TokenEndpoint, api: Api, clock: FakeClock
) -> None:
    """20 tasks whose token is refused at once share one new token for their retries."""
    gate, api_gate = Gate(), Gate()
    api.refused.add("token-1")

    async def slow_api(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer token-1":
            await api_gate.event.wait()  # hold every first attempt until all are in flight
        return api(request)

    api_transport = httpx.MockTransport(slow_api)
    async with httpx.AsyncClient(transport=async_endpoint(endpoint, gate)) as http:
        auth = ClientCredentialsAuth(
            TOKEN_URL, CLIENT_ID, CLIENT_SECRET, clock=clock, async_http_client=http
        )
        async with (
            httpx.AsyncClient(auth=auth, transport=api_transport) as client,
            anyio.create_task_group() as tasks,
        ):
            for _ in range(N):
                tasks.start_soon(client.get, URL)
            await anyio.wait_all_tasks_blocked()
            gate.open()  # token-1 is issued
            await anyio.wait_all_tasks_blocked()  # all 20 wait at the API with token-1
            gate.close()
            api_gate.open()  # all 20 get their 401 now
            await anyio.wait_all_tasks_blocked()  # one task refetching, 19 queued
            gate.open()
    assert endpoint.fetches == 2
    assert api.seen.count("token-1") == N
    assert api.seen.count("token-2") == N


@pytest.mark.anyio
async def test_refresh_ahead_of_expiry_does_not_block_other_tasks(
    endpoint: TokenEndpoint, clock: FakeClock
) -> None:
    """While one task refreshes, other tasks keep using the still-valid token at once."""
    gate = Gate()
    gate.open()
    async with httpx.AsyncClient(transport=async_endpoint(endpoint, gate)) as http:
        auth = ClientCredentialsAuth(
            TOKEN_URL, CLIENT_ID, CLIENT_SECRET, clock=clock, async_http_client=http
        )
        assert await auth.aget_token() == "token-1"
        clock.advance(3550)  # inside the refresh margin, before expiry
        gate.close()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(auth.aget_token)
            await anyio.wait_all_tasks_blocked()  # the refresher waits at the endpoint
            with anyio.fail_after(WAIT):  # would wait for the refresher if it queued
                assert await auth.aget_token() == "token-1"
            gate.open()
        assert await auth.aget_token() == "token-2"
    assert endpoint.fetches == 2
