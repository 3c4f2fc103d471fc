"""Shared test doubles for the caller side: a fake clock and fake endpoints."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl

import pytest

from m2m_guard._http import httpx
from m2m_guard.client import ClientCredentialsAuth
from tests.support import clock as support_clock

from .wire_server import LocalIssuer, serving

# RFC 6761: .invalid never resolves, so nothing here can leave the machine.
TOKEN_URL = "https://issuer.invalid/oauth2/token"
API_URL = "https://api.invalid/things"
CLIENT_ID = "m2m-client-test-1234"
CLIENT_SECRET = "s3cret-value-never-logged"


class FakeClock(support_clock.FakeClock):
    """The suite's fake clock, which also records which threads read it."""

    def __init__(self, now: float = 1000.0) -> None:
        super().__init__(now)
        self.readers: set[int] = set()
        self.read = threading.Condition()

    def __call__(self) -> float:
        with self.read:
            self.readers.add(threading.get_ident())
            self.read.notify_all()
        return self.now


@dataclass
class TokenEndpoint:
    """A token endpoint for ``httpx.MockTransport``: issues token-1, token-2, ..."""

    expires_in: Any = 3600
    answer: Callable[[httpx.Request], httpx.Response] | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    before_answer: Callable[[], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def fetches(self) -> int:
        return len(self.requests)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            number = len(self.requests)
        if self.before_answer is not None:
            self.before_answer()
        if self.answer is not None:
            return self.answer(request)
        return httpx.Response(
            200,
            json={
                "access_token": f"token-{number}",
                "token_type": "bearer",
                "expires_in": self.expires_in,
            },
        )

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


@dataclass
class Api:
    """A protected API for ``httpx.MockTransport``: 401 for refused tokens."""

    refused: set[str] = field(default_factory=set)
    refuse_all: bool = False
    seen: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        self.seen.append(token)
        self.bodies.append(request.content)
        if self.refuse_all or token in self.refused:
            return httpx.Response(401, headers={"www-authenticate": 'Bearer error="invalid_token"'})
        return httpx.Response(200, json={"ok": True})


def body_of(request: httpx.Request) -> dict[str, str]:
    """The parameters of a token request, form or JSON alike."""
    if request.headers["content-type"] == "application/json":
        parsed: dict[str, str] = json.loads(request.content)
        return parsed
    return dict(parse_qsl(request.content.decode()))


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock starting at t=1000."""
    return FakeClock()


@pytest.fixture
def endpoint() -> TokenEndpoint:
    """A well-behaved mock token endpoint."""
    return TokenEndpoint()


@pytest.fixture
def api() -> Api:
    """A mock protected API that accepts every token unless told otherwise."""
    return Api()


@pytest.fixture
def make_auth(
    endpoint: TokenEndpoint, clock: FakeClock
) -> Iterator[Callable[..., ClientCredentialsAuth]]:
    """Build an auth whose token requests go to the mock endpoint."""
    clients: list[httpx.Client] = []

    def make(**kwargs: Any) -> ClientCredentialsAuth:
        token_client = endpoint.client()
        clients.append(token_client)
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("http_client", token_client)
        return ClientCredentialsAuth(TOKEN_URL, CLIENT_ID, CLIENT_SECRET, **kwargs)

    yield make
    for token_client in clients:
        token_client.close()


@pytest.fixture
def api_client(api: Api) -> Iterator[Callable[[ClientCredentialsAuth], httpx.Client]]:
    """Build an ``httpx.Client`` for the mock API with the given auth."""
    clients: list[httpx.Client] = []

    def make(auth: ClientCredentialsAuth) -> httpx.Client:
        client = httpx.Client(auth=auth, transport=httpx.MockTransport(api))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    """A token endpoint and an API over real sockets, on an ephemeral loopback port."""
    with serving() as server:
        yield server


@pytest.fixture(params=["httpx", "httpx2"])
def package(request: pytest.FixtureRequest) -> ModuleType:
    """Each HTTP package a user's client may come from, skipped when not installed."""
    module: ModuleType = pytest.importorskip(request.param)
    return module
