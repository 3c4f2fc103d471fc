"""One token request at a time per auth, whatever mix of threads and event loops asks.

A cold ``ClientCredentialsAuth`` asked at once from eight event loops (each
in its own thread), or from threads and loops together, makes one request
to the token endpoint; everyone gets its token.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from m2m_guard.client import ClientCredentialsAuth, TokenRequestError
from tests.support.concurrency import all_at_once
from tests.support.token_endpoint import TokenEndpointServer

#: how long the endpoint takes to answer: long enough for every caller to overlap
ANSWER_DELAY = 0.3
TOKEN = json.dumps({"access_token": "tok-1", "expires_in": 3600}).encode()


@pytest.fixture
def endpoint() -> Iterator[TokenEndpointServer]:
    with TokenEndpointServer(200, TOKEN, delay=ANSWER_DELAY) as running:
        yield running


def in_a_loop(auth: ClientCredentialsAuth) -> Callable[[], str]:
    async def fetch() -> str:
        try:
            return await auth.aget_token()
        finally:
            await auth.aclose()

    return lambda: asyncio.run(fetch())


def test_eight_event_loops_on_a_cold_auth_share_one_token_request(
    endpoint: TokenEndpointServer,
) -> None:
    """Before: one request per loop (eight)."""
    auth = ClientCredentialsAuth(endpoint.url, "client", "secret-1234")
    assert all_at_once([in_a_loop(auth) for _ in range(8)]) == ["tok-1"] * 8
    assert endpoint.requests == 1


def test_threads_and_event_loops_together_share_one_token_request(
    endpoint: TokenEndpointServer,
) -> None:
    """Four sync threads and four loops: one request."""
    auth = ClientCredentialsAuth(endpoint.url, "client", "secret-1234")
    callers = [auth.get_token] * 4 + [in_a_loop(auth) for _ in range(4)]
    assert all_at_once(callers) == ["tok-1"] * 8
    assert endpoint.requests == 1
    auth.close()


def test_a_fetch_that_never_finishes_elsewhere_is_waited_for_only_so_long(
    endpoint: TokenEndpointServer,
) -> None:
    """Waiting for another thread's or loop's request is bounded; then it works again."""

    auth = ClientCredentialsAuth(endpoint.url, "client", "secret-1234")
    auth._shared = replace(auth._shared, wait_limit=0.05)  # not the deadline plus a second
    auth._shared.lock.acquire()  # a request elsewhere that never ends
    try:
        with pytest.raises(TokenRequestError, match="did not finish"):
            auth.get_token()
        with pytest.raises(TokenRequestError, match="did not finish"):
            in_a_loop(auth)()
    finally:
        auth._shared.lock.release()
    assert endpoint.requests == 0
    assert in_a_loop(auth)() == "tok-1"  # nothing was left held
    auth.close()
