"""The sync and async drivers' I/O, against httpx.MockTransport (nothing leaves the process)."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from types import SimpleNamespace
from typing import Any

import anyio
import pytest

from m2m_guard import KeysUnavailableError, M2MGuardError, Verifier
from m2m_guard._drivers import AsyncDriver, SyncDriver
from m2m_guard._http import httpx
from m2m_guard._sansio.jwks import JWKSCache, JWKSPolicy, Refresh
from tests.support.clock import FakeClock
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims

URL = "http://127.0.0.1:9/jwks"  # never contacted: every client here has a MockTransport
KINDS = ["sync", "async"]

Handler = Callable[[httpx.Request], Any]


class Recorder(httpx.MockTransport):
    """A MockTransport that keeps every request it answered."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[httpx.Request] = []

        def record(request: httpx.Request) -> Any:
            self.requests.append(request)
            return handler(request)

        super().__init__(record)

    @property
    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def serving(document: dict[str, Any]) -> Recorder:
    """A transport answering every GET with ``document``."""
    body = json.dumps(document).encode()
    return Recorder(lambda request: httpx.Response(200, content=body))


def make_cache(clock: FakeClock, url: str = URL, **policy: Any) -> JWKSCache:
    return JWKSCache(url, policy=JWKSPolicy(**policy), clock=clock)


def refresh_once(
    kind: str, cache: JWKSCache, transport: httpx.MockTransport, *, follow_redirects: bool = False
) -> None:
    """Run one waiting refresh through a driver built on the user's client."""
    request = Refresh(cache, cache.generation, wait=True)
    if kind == "sync":
        with httpx.Client(transport=transport, follow_redirects=follow_redirects) as client:
            SyncDriver(client).refresh(request)
        return

    async def main() -> None:
        async with httpx.AsyncClient(
            transport=transport, follow_redirects=follow_redirects
        ) as client:
            await AsyncDriver(client).refresh(request)

    anyio.run(main)


def verify_once(kind: str, verifier: Verifier, token: str) -> Any:
    """The claims, or the M2MGuardError, of one verification."""
    try:
        if kind == "sync":
            return verifier.verify(token)
        return anyio.run(verifier.verify_async, token)
    except M2MGuardError as exc:
        return exc


# -- whose client ------------------------------------------------------------------------


def test_sync_verifier_uses_the_given_client_and_close_leaves_it_open(
    clock: FakeClock, rsa_key: SigningKey
) -> None:
    """http_client is the one that fetches; Verifier.close() does not close it."""
    transport = serving(jwks_of(rsa_key))
    client = httpx.Client(transport=transport)
    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks_url=URL, http_client=client, clock=clock
    )
    verifier.verify(rsa_key.sign(stytch_claims(clock())))
    assert transport.paths == ["/jwks"]
    verifier.close()
    with verifier:
        pass
    assert not client.is_closed
    client.close()


@pytest.mark.anyio
async def test_async_verifier_uses_the_given_client_and_aclose_leaves_it_open(
    clock: FakeClock, rsa_key: SigningKey
) -> None:
    """async_http_client is the one that fetches; Verifier.aclose() does not close it."""
    transport = serving(jwks_of(rsa_key))
    async with httpx.AsyncClient(transport=transport) as client:
        verifier = Verifier(
            issuer=ISSUER, audience=PROJECT_ID, jwks_url=URL, async_http_client=client, clock=clock
        )
        await verifier.verify_async(rsa_key.sign(stytch_claims(clock())))
        assert transport.paths == ["/jwks"]
        await verifier.aclose()
        async with verifier:
            pass
        assert not client.is_closed


@pytest.fixture
def owned_clients(
    monkeypatch: pytest.MonkeyPatch, rsa_key: SigningKey
) -> list[httpx.Client | httpx.AsyncClient]:
    """Every client a driver creates for itself, each given a MockTransport serving rsa_key."""
    made: list[httpx.Client | httpx.AsyncClient] = []
    transport = serving(jwks_of(rsa_key))
    real_client, real_async_client = httpx.Client, httpx.AsyncClient

    def client(**kwargs: Any) -> httpx.Client:
        # no redirects; no keep-alive, so every fetch's socket is one the watchdog sees
        assert kwargs.pop("follow_redirects") is False
        assert kwargs.pop("limits").max_keepalive_connections == 0
        assert kwargs == {}
        made.append(real_client(transport=transport, follow_redirects=False))
        return made[-1]  # type: ignore[return-value]

    def async_client(**kwargs: Any) -> httpx.AsyncClient:
        assert kwargs == {"follow_redirects": False}
        made.append(real_async_client(transport=transport, **kwargs))
        return made[-1]  # type: ignore[return-value]

    monkeypatch.setattr(httpx, "Client", client)
    monkeypatch.setattr(httpx, "AsyncClient", async_client)
    return made


def test_sync_driver_closes_the_client_it_created(
    owned_clients: list[Any], clock: FakeClock
) -> None:
    """Without a user client the driver makes one lazily, reuses it and close() closes it."""
    cache, driver = make_cache(clock), SyncDriver()
    driver.close()  # nothing to close yet
    assert owned_clients == []
    driver.refresh(Refresh(cache, cache.generation, wait=True))
    clock.advance(30)
    driver.refresh(Refresh(cache, cache.generation, wait=True))
    assert cache.generation == 2
    (client,) = owned_clients
    driver.close()
    assert client.is_closed
    clock.advance(30)
    driver.refresh(Refresh(cache, cache.generation, wait=True))  # a new one after close
    assert len(owned_clients) == 2
    driver.close()
    assert owned_clients[1].is_closed


def test_async_driver_closes_the_client_it_created_in_each_event_loop(
    owned_clients: list[Any], clock: FakeClock
) -> None:
    """The async driver owns one client per event loop, reused within it, closed by aclose()."""
    cache, driver = make_cache(clock), AsyncDriver()

    async def two_refreshes_then_aclose() -> None:
        await driver.aclose()  # nothing to close yet
        for _ in range(2):
            await driver.refresh(Refresh(cache, cache.generation, wait=True))
            clock.advance(30)
        await driver.aclose()

    anyio.run(two_refreshes_then_aclose)
    assert cache.generation == 2
    assert len(owned_clients) == 1
    anyio.run(two_refreshes_then_aclose)
    assert cache.generation == 4
    assert len(owned_clients) == 2
    assert all(client.is_closed for client in owned_clients)


def test_async_driver_never_closes_a_user_client(clock: FakeClock, rsa_key: SigningKey) -> None:
    """aclose() leaves a client the user passed in open, in any loop."""
    transport = serving(jwks_of(rsa_key))
    client = httpx.AsyncClient(transport=transport)
    driver = AsyncDriver(client)

    async def main() -> None:
        await driver.refresh(Refresh(make_cache(clock), 0, wait=True))
        await driver.aclose()
        assert not client.is_closed
        await client.aclose()

    anyio.run(main)
    assert transport.paths == ["/jwks"]


# -- what is sent, what is accepted ---------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_redirects_are_never_followed_even_by_a_client_that_follows_them(
    kind: str, clock: FakeClock, rsa_key: SigningKey
) -> None:
    """A 302 from the JWKS URL is a failure; its Location is never requested."""
    body = json.dumps(jwks_of(rsa_key)).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/moved":
            return httpx.Response(200, content=body)
        return httpx.Response(302, headers={"location": "http://127.0.0.1:9/moved"})

    transport, cache = Recorder(handler), make_cache(clock)
    refresh_once(kind, cache, transport, follow_redirects=True)
    assert transport.paths == ["/jwks"]
    assert cache.keys is None
    assert cache.generation == 1


@pytest.mark.parametrize("kind", KINDS)
def test_identity_encoding_and_json_are_requested(
    kind: str, clock: FakeClock, rsa_key: SigningKey
) -> None:
    """Every fetch sends Accept-Encoding: identity and Accept: application/json."""
    transport, cache = serving(jwks_of(rsa_key)), make_cache(clock)
    refresh_once(kind, cache, transport)
    (request,) = transport.requests
    assert request.headers["accept-encoding"] == "identity"
    assert request.headers["accept"] == "application/json"
    assert cache.keys is not None


@pytest.mark.parametrize("kind", KINDS)
def test_a_compressed_body_is_refused_not_inflated(
    kind: str, clock: FakeClock, rsa_key: SigningKey
) -> None:
    """A server that gzips anyway gets a failure: bodies are never decompressed."""
    body = gzip.compress(json.dumps(jwks_of(rsa_key)).encode())
    transport = Recorder(
        lambda request: httpx.Response(200, content=body, headers={"content-encoding": "gzip"})
    )
    cache = make_cache(clock)
    refresh_once(kind, cache, transport)
    assert cache.keys is None
    assert cache.generation == 1


class Trickle(httpx.SyncByteStream, httpx.AsyncByteStream):
    """``body`` in ``pieces`` chunks, after ``tick()`` (sync) or a ``delay`` (async) each."""

    def __init__(
        self, body: bytes, pieces: int, tick: Callable[[], None] = lambda: None, delay: float = 0
    ) -> None:
        step = -(-len(body) // pieces)
        self.chunks = [body[i : i + step] for i in range(0, len(body), step)]
        self.tick = tick
        self.delay = delay
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.tick()
            self.sent += 1
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            await anyio.sleep(self.delay)
            self.sent += 1
            yield chunk


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_a_body_over_the_size_cap_is_a_failure(kind: str, declared: bool, clock: FakeClock) -> None:
    """Over max_bytes is a failure, by Content-Length before reading, or while streaming."""
    body = json.dumps({"keys": [], "pad": "x" * 5000}).encode()
    stream = Trickle(body, 50)
    headers = {"content-length": str(len(body))} if declared else {}
    transport = Recorder(lambda request: httpx.Response(200, stream=stream, headers=headers))
    cache = make_cache(clock, max_bytes=1000)
    refresh_once(kind, cache, transport)
    assert cache.keys is None
    assert cache.generation == 1
    assert stream.sent == (0 if declared else 10)  # reading stops right at the cap


def test_sync_driver_bounds_the_whole_fetch_by_the_timeout(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock, rsa_key: SigningKey
) -> None:
    """A body that trickles in (each chunk in time) is cut off at the total deadline."""
    now = [0.0]
    monkeypatch.setattr("m2m_guard._drivers.time", SimpleNamespace(monotonic=lambda: now[0]))

    def tick() -> None:
        now[0] += 0.25

    body = json.dumps(jwks_of(rsa_key)).encode()
    stream = Trickle(body, 40, tick)  # 10 s in all, against a 1 s timeout
    transport = Recorder(lambda request: httpx.Response(200, stream=stream))
    cache = make_cache(clock, timeout=1.0)
    refresh_once("sync", cache, transport)
    assert cache.keys is None
    assert stream.sent == 5  # the chunk that crossed the deadline is the last one read


def test_async_driver_bounds_the_whole_fetch_by_the_timeout(
    clock: FakeClock, rsa_key: SigningKey
) -> None:
    """A body that trickles in is cut off at the total deadline (0.2 s here)."""
    body = json.dumps(jwks_of(rsa_key)).encode()
    stream = Trickle(body, 40, delay=0.02)  # 40 x 20 ms = 0.8 s in all
    transport = Recorder(lambda request: httpx.Response(200, stream=stream))
    cache = make_cache(clock, timeout=0.2)
    refresh_once("async", cache, transport)
    assert cache.keys is None
    assert cache.generation == 1
    assert stream.sent < 20


# -- failures stay inside ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("refused, https://user:secret@idp.example"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.ReadTimeout("read timed out"),
        httpx.ReadError("connection reset"),
        httpx.RemoteProtocolError("server disconnected"),
        httpx.InvalidURL("invalid port"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_transport_errors_become_failures_without_leaking(
    kind: str,
    error: Exception,
    clock: FakeClock,
    rsa_key: SigningKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception from the transport is a failed fetch: 503, cooldown, no message in logs."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    transport = Recorder(handler)
    client: Any = httpx.Client(transport=transport)
    async_client = httpx.AsyncClient(transport=transport)
    verifier = Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks_url=URL,
        http_client=client,
        async_http_client=async_client,
        clock=clock,
    )
    token = rsa_key.sign(stytch_claims(clock()))
    for _ in range(3):
        outcome = verify_once(kind, verifier, token)
        assert isinstance(outcome, KeysUnavailableError)
        assert outcome.retry_after == 30
    assert len(transport.requests) == 1  # the failure started the cooldown
    assert type(error).__name__ in caplog.text
    assert "secret" not in caplog.text
    client.close()
    anyio.run(async_client.aclose)


@pytest.mark.parametrize("kind", KINDS)
def test_a_url_httpx_refuses_is_a_failure_not_an_exception(kind: str, clock: FakeClock) -> None:
    """httpx.InvalidURL (not an HTTPError) raised while building the request is a failure too."""
    transport = Recorder(lambda request: httpx.Response(500))
    cache = make_cache(clock, url="http://127.0.0.1:abc/jwks")
    refresh_once(kind, cache, transport)
    assert transport.requests == []
    assert cache.generation == 1
    assert isinstance(cache.missing_key_error(), KeysUnavailableError)


# -- single flight at the driver ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_refresh_is_skipped_when_another_fetch_completed_since_the_lookup(
    kind: str, clock: FakeClock, rsa_key: SigningKey
) -> None:
    """A waiter holding an older generation does not fetch again."""
    transport, cache = serving(jwks_of(rsa_key)), make_cache(clock)
    refresh_once(kind, cache, transport)
    clock.advance(3600)
    stale = Refresh(cache, 0, wait=True)
    if kind == "sync":
        with httpx.Client(transport=transport) as client:
            SyncDriver(client).refresh(stale)
    else:

        async def main() -> None:
            async with httpx.AsyncClient(transport=transport) as client:
                await AsyncDriver(client).refresh(stale)

        anyio.run(main)
    assert len(transport.requests) == 1


class Gate:
    """A JWKS handler that holds its response until opened."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.body = json.dumps(document).encode()
        self.entered = threading.Event()
        self.opened = threading.Event()

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.entered.set()
        assert self.opened.wait(5)
        return httpx.Response(200, content=self.body)

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        self.entered.set()
        with anyio.fail_after(5):
            while not self.opened.is_set():
                await anyio.sleep(0.002)
        return httpx.Response(200, content=self.body)


def test_sync_non_blocking_refresh_is_skipped_while_another_thread_fetches(
    clock: FakeClock, rsa_key: SigningKey
) -> None:
    """An opportunistic refresh returns at once if a fetch is running; a waiting one waits."""
    gate = Gate(jwks_of(rsa_key))
    transport, cache = Recorder(gate.handler), make_cache(clock)
    client = httpx.Client(transport=transport)
    driver = SyncDriver(client)
    fetcher = threading.Thread(target=driver.refresh, args=(Refresh(cache, 0, wait=True),))
    waiter = threading.Thread(target=driver.refresh, args=(Refresh(cache, 0, wait=True),))
    fetcher.start()
    assert gate.entered.wait(5)
    waiter.start()
    driver.refresh(Refresh(cache, 0, wait=False))  # returns while the fetch is held
    assert waiter.is_alive()
    assert cache.generation == 0
    gate.opened.set()
    fetcher.join(5)
    waiter.join(5)
    assert len(transport.requests) == 1
    assert cache.generation == 1
    client.close()


@pytest.mark.anyio
async def test_async_non_blocking_refresh_is_skipped_while_another_task_fetches(
    clock: FakeClock, rsa_key: SigningKey
) -> None:
    """An opportunistic refresh returns at once if a fetch is running; a waiting one waits."""
    gate = Gate(jwks_of(rsa_key))
    transport, cache = Recorder(gate.async_handler), make_cache(clock)
    waited = anyio.Event()

    async def wait_then_note(driver: AsyncDriver) -> None:
        await driver.refresh(Refresh(cache, 0, wait=True))
        waited.set()

    async with httpx.AsyncClient(transport=transport) as client:
        driver = AsyncDriver(client)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(driver.refresh, Refresh(cache, 0, wait=True))
            await anyio.to_thread.run_sync(gate.entered.wait, 5)
            tasks.start_soon(wait_then_note, driver)
            await anyio.wait_all_tasks_blocked()
            await driver.refresh(Refresh(cache, 0, wait=False))  # returns while the fetch is held
            assert not waited.is_set()
            assert cache.generation == 0
            gate.opened.set()
    assert waited.is_set()
    assert len(transport.requests) == 1
    assert cache.generation == 1
