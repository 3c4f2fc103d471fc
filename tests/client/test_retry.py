"""A 401 from the protected API: drop the token, fetch a new one, retry once."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from m2m_guard._http import httpx
from m2m_guard.client import ClientCredentialsAuth, TokenRequestError

from .conftest import CLIENT_ID, CLIENT_SECRET, TOKEN_URL, Api, FakeClock, TokenEndpoint

MakeAuth = Callable[..., ClientCredentialsAuth]
ApiClient = Callable[[ClientCredentialsAuth], httpx.Client]
URL = "https://api.invalid/things"


def test_401_fetches_a_new_token_and_retries(
    make_auth: MakeAuth, endpoint: TokenEndpoint, api: Api, api_client: ApiClient
) -> None:
    """A token the API refuses is replaced and the request succeeds on the retry."""
    api.refused.add("token-1")
    response = api_client(make_auth()).get(URL)
    assert response.status_code == 200
    assert api.seen == ["token-1", "token-2"]
    assert endpoint.fetches == 2


def test_401_is_retried_only_once(
    make_auth: MakeAuth, endpoint: TokenEndpoint, api: Api, api_client: ApiClient
) -> None:
    """When the new token is refused too, the 401 is returned; no second retry."""
    api.refuse_all = True
    response = api_client(make_auth()).get(URL)
    assert response.status_code == 401
    assert api.seen == ["token-1", "token-2"]
    assert endpoint.fetches == 2


@pytest.mark.parametrize("status", [200, 403, 500])
def test_other_statuses_are_not_retried(
    make_auth: MakeAuth, endpoint: TokenEndpoint, status: int
) -> None:
    """Only a 401 triggers a new token; a 403 or 500 is returned as is."""
    auth = make_auth()
    with httpx.Client(
        auth=auth, transport=httpx.MockTransport(lambda r: httpx.Response(status))
    ) as c:
        assert c.get(URL).status_code == status
    assert endpoint.fetches == 1


def test_retry_resends_the_same_body(make_auth: MakeAuth, api: Api, api_client: ApiClient) -> None:
    """The retried request carries the original body, even a streamed one."""
    api.refused.add("token-1")

    def stream() -> Iterator[bytes]:
        yield b"part one, "
        yield b"part two"

    response = api_client(make_auth()).post(URL, content=stream())
    assert response.status_code == 200
    assert api.bodies == [b"part one, part two"] * 2


def test_later_requests_use_the_replacement_token(
    make_auth: MakeAuth, endpoint: TokenEndpoint, api: Api, api_client: ApiClient
) -> None:
    """After a 401 the replacement token is cached for the following requests."""
    api.refused.add("token-1")
    client = api_client(make_auth())
    client.get(URL)
    client.get(URL)
    assert api.seen == ["token-1", "token-2", "token-2"]
    assert endpoint.fetches == 2


def test_refused_token_is_dropped_even_when_the_refetch_fails(
    make_auth: MakeAuth, endpoint: TokenEndpoint, api: Api, api_client: ApiClient
) -> None:
    """A token the API refused is never sent again, even if no new one could be had."""
    answers = iter([200, 503, 200])

    def answer(request: httpx.Request) -> httpx.Response:
        if next(answers) == 503:
            return httpx.Response(503)
        return httpx.Response(
            200, json={"access_token": f"token-{endpoint.fetches}", "expires_in": 3600}
        )

    endpoint.answer = answer
    api.refused.add("token-1")
    client = api_client(make_auth())
    with pytest.raises(TokenRequestError):
        client.get(URL)
    assert client.get(URL).status_code == 200
    assert api.seen == ["token-1", "token-3"]


@pytest.mark.anyio
async def test_async_401_is_retried_exactly_once(
    endpoint: TokenEndpoint, api: Api, clock: FakeClock
) -> None:
    """The async path follows the same rule: one new token, one retry."""
    api.refuse_all = True
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as http:
        auth = ClientCredentialsAuth(
            TOKEN_URL, CLIENT_ID, CLIENT_SECRET, clock=clock, async_http_client=http
        )
        async with httpx.AsyncClient(auth=auth, transport=httpx.MockTransport(api)) as client:
            response = await client.post(URL, content=b"payload")
    assert response.status_code == 401
    assert api.seen == ["token-1", "token-2"]
    assert api.bodies == [b"payload"] * 2
    assert endpoint.fetches == 2
