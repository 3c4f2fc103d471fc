"""Over a real socket: a token endpoint and an API served on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from m2m_guard._http import httpx
from m2m_guard.client import ClientCredentialsAuth, TokenRequestError

from .wire_server import CLIENT_ID, CLIENT_SECRET, PROJECT_ID, LocalIssuer

pytestmark = pytest.mark.slow


def test_sync_client_gets_a_token_over_the_wire(issuer: LocalIssuer) -> None:
    """httpx.Client with the auth's own token client works against a real server."""
    with (
        ClientCredentialsAuth(
            f"{issuer.base_url}/token", CLIENT_ID, CLIENT_SECRET, scopes=["read:things"]
        ) as auth,
        httpx.Client(auth=auth) as client,
    ):
        responses = [client.get(f"{issuer.base_url}/api") for _ in range(3)]
    assert [r.json() for r in responses] == [{"hello": "machine"}] * 3
    assert issuer.token_requests == 1


@pytest.mark.anyio
async def test_async_client_gets_a_stytch_token_over_the_wire(issuer: LocalIssuer) -> None:
    """httpx.AsyncClient with for_stytch pointed at a local base URL works end to end."""
    auth = ClientCredentialsAuth.for_stytch(
        PROJECT_ID, CLIENT_ID, CLIENT_SECRET, environment=issuer.base_url
    )
    async with auth, httpx.AsyncClient(auth=auth) as client:
        response = await client.get(f"{issuer.base_url}/api")
        again = await client.get(f"{issuer.base_url}/api")
    assert (response.status_code, again.status_code) == (200, 200)
    assert issuer.token_requests == 1


def test_wrong_secret_is_reported_over_the_wire(issuer: LocalIssuer) -> None:
    """A real 401 from the token endpoint surfaces as TokenRequestError with its details."""
    auth = ClientCredentialsAuth(f"{issuer.base_url}/token", CLIENT_ID, "wrong-secret")
    with auth, pytest.raises(TokenRequestError) as info:
        auth.get_token()
    assert (info.value.http_status, info.value.upstream_error) == (401, "invalid_client")


def test_unreachable_endpoint_is_reported_without_status() -> None:
    """A refused connection surfaces as TokenRequestError with no HTTP status."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    auth = ClientCredentialsAuth(f"http://127.0.0.1:{port}/token", CLIENT_ID, CLIENT_SECRET)
    with auth, pytest.raises(TokenRequestError) as info:
        auth.get_token()
    assert info.value.http_status is None
    assert isinstance(info.value.__cause__, httpx.ConnectError)
