"""Closing: the auth closes the clients it created and only those."""

from __future__ import annotations

import pytest

from m2m_guard._http import httpx
from m2m_guard.client import ClientCredentialsAuth

from .conftest import CLIENT_ID, CLIENT_SECRET, TOKEN_URL, FakeClock, TokenEndpoint

# The token clients the auth creates for itself are private; reading them is
# the only way to see that close()/aclose() closed them.


def test_close_closes_the_client_the_auth_created() -> None:
    """close() closes the internal sync token client, and a later fetch gets a new one."""
    auth = ClientCredentialsAuth(TOKEN_URL, CLIENT_ID, CLIENT_SECRET)
    own = auth._sync.client()
    auth.close()
    assert own.is_closed
    assert auth._sync.client() is not own
    auth.close()


def test_own_clients_are_reused_not_recreated() -> None:
    """Every token fetch reuses the one client the auth created (no client per fetch)."""
    auth = ClientCredentialsAuth(TOKEN_URL, CLIENT_ID, CLIENT_SECRET)
    with auth:
        assert auth._sync.client() is auth._sync.client()


@pytest.mark.anyio
async def test_own_async_client_is_reused_within_a_loop() -> None:
    """Within one event loop, token fetches share one async client and one lock."""
    auth = ClientCredentialsAuth(TOKEN_URL, CLIENT_ID, CLIENT_SECRET)
    async with auth:
        state = auth._async.loop_state()
        assert auth._async.loop_state() is state
        assert auth._async.client() is auth._async.client()


def test_close_leaves_a_given_client_open(endpoint: TokenEndpoint, clock: FakeClock) -> None:
    """A client passed in belongs to the caller and stays open."""
    with endpoint.client() as http:
        with ClientCredentialsAuth(
            TOKEN_URL, CLIENT_ID, CLIENT_SECRET, clock=clock, http_client=http
        ) as auth:
            auth.get_token()
        assert not http.is_closed


@pytest.mark.anyio
async def test_aclose_closes_the_clients_the_auth_created() -> None:
    """aclose() closes this event loop's internal async client and the sync one."""
    auth = ClientCredentialsAuth(TOKEN_URL, CLIENT_ID, CLIENT_SECRET)
    own_async = auth._async.client()
    own_sync = auth._sync.client()
    async with auth:
        pass
    assert own_async.is_closed
    assert own_sync.is_closed
    await auth.aclose()  # closing twice is harmless


@pytest.mark.anyio
async def test_aclose_leaves_a_given_async_client_open(
    endpoint: TokenEndpoint, clock: FakeClock
) -> None:
    """An async client passed in belongs to the caller and stays open."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as http:
        async with ClientCredentialsAuth(
            TOKEN_URL, CLIENT_ID, CLIENT_SECRET, clock=clock, async_http_client=http
        ) as auth:
            assert await auth.aget_token() == "token-1"
        assert not http.is_closed
