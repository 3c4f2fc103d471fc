"""A token request ends within its timeout, also on the caller's own keep-alive client.

The token endpoint here answers the first request at once (leaving the
connection in the client's pool) and trickles the second, on that reused
connection, a byte every 0.2 s for 20 s: every per-read timeout is
satisfied, so only a deadline on the whole request stops it.
"""

from __future__ import annotations

import time
from types import ModuleType

import anyio
import pytest

from m2m_guard.client import ClientCredentialsAuth, TokenRequestError
from tests.support.clock import FakeClock
from tests.support.keep_alive_server import TIMEOUT, TRICKLE_SECONDS, KeepAliveServer

TOKEN = {"access_token": "tok-1", "token_type": "bearer", "expires_in": 120}
#: generous for a noisy 2-core machine, far below the trickle's 20 s
BOUND = 4 * TIMEOUT


@pytest.mark.parametrize("part", ["headers", "body"])
@pytest.mark.parametrize("own_client", [False, True], ids=["auth-client", "callers-client"])
def test_a_trickled_sync_token_request_is_cut_at_the_timeout(
    part: str, own_client: bool, package: ModuleType, clock: FakeClock
) -> None:
    """get_token raises TokenRequestError after about one timeout, not after 20 s.

    The caller's client may be of either package (``package``).
    """
    with KeepAliveServer(TOKEN, part) as server, package.Client() as client:
        auth = ClientCredentialsAuth(
            server.url,
            "client",
            "secret-1234",
            timeout=TIMEOUT,
            clock=clock,
            http_client=client if own_client else None,
        )
        assert auth.get_token() == "tok-1"
        clock.advance(120)
        started = time.monotonic()
        with pytest.raises(TokenRequestError, match=r"deadline|timed out|Timeout"):
            auth.get_token()
        took = time.monotonic() - started
        auth.close()
    assert took < BOUND < TRICKLE_SECONDS
    if own_client:
        assert server.connections == 1  # the second request reused the pooled connection


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_trickled_async_token_request_is_cut_at_the_timeout(
    part: str, package: ModuleType, clock: FakeClock
) -> None:
    """aget_token on the caller's AsyncClient: the same bound."""

    async def scenario() -> float:
        async with package.AsyncClient() as client:
            auth = ClientCredentialsAuth(
                server.url,
                "client",
                "secret-1234",
                timeout=TIMEOUT,
                clock=clock,
                async_http_client=client,
            )
            assert await auth.aget_token() == "tok-1"
            clock.advance(120)
            started = time.monotonic()
            with pytest.raises(TokenRequestError):
                await auth.aget_token()
            return time.monotonic() - started

    with KeepAliveServer(TOKEN, part) as server:
        took = anyio.run(scenario)
        assert server.connections == 1
    assert took < BOUND


def test_a_prompt_answer_on_the_callers_client_keeps_its_connection(
    package: ModuleType, clock: FakeClock
) -> None:
    """The watchdog never cuts a connection that answered in time: it goes back to the pool."""
    with KeepAliveServer(TOKEN, "headers", trickled=0) as server, package.Client() as client:
        auth = ClientCredentialsAuth(
            server.url, "client", "secret-1234", timeout=TIMEOUT, clock=clock, http_client=client
        )
        for _ in range(3):
            assert auth.get_token() == "tok-1"
            clock.advance(120)
        time.sleep(TIMEOUT * 1.5)  # past any watchdog's deadline: a real-time wait is the point
        assert auth.get_token() == "tok-1"
        assert server.connections == 1
