"""One ClientCredentialsAuth for httpx and httpx2 clients alike, over real loopback sockets.

Whichever package m2m_guard uses (``m2m_guard._http``), the auth must be
accepted as ``auth=`` by the clients of every installed package, and take
clients of either package for its own token requests.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from m2m_guard._http import INSTALLED
from m2m_guard._sansio.errors import ConfigurationError
from m2m_guard.client import ClientCredentialsAuth

from .wire_server import CLIENT_ID, CLIENT_SECRET, LocalIssuer

pytestmark = pytest.mark.slow


def make_auth(issuer: LocalIssuer, **kwargs: Any) -> ClientCredentialsAuth:
    return ClientCredentialsAuth(f"{issuer.base_url}/token", CLIENT_ID, CLIENT_SECRET, **kwargs)


def test_the_auth_derives_from_the_auth_of_every_installed_package() -> None:
    auth = ClientCredentialsAuth("https://issuer.invalid/token", CLIENT_ID, CLIENT_SECRET)
    assert all(isinstance(auth, module.Auth) for module in INSTALLED)


def test_a_sync_client_of_either_package_takes_the_auth(
    package: ModuleType, issuer: LocalIssuer
) -> None:
    """package.Client(auth=auth) sends the bearer token; three calls, one token request."""
    with make_auth(issuer) as auth, package.Client(auth=auth) as client:
        responses = [client.get(f"{issuer.base_url}/api") for _ in range(3)]
    assert [r.status_code for r in responses] == [200] * 3
    assert issuer.token_requests == 1


@pytest.mark.anyio
async def test_an_async_client_of_either_package_takes_the_auth(
    package: ModuleType, issuer: LocalIssuer
) -> None:
    async with make_auth(issuer) as auth, package.AsyncClient(auth=auth) as client:
        first = await client.get(f"{issuer.base_url}/api")
        second = await client.get(f"{issuer.base_url}/api")
    assert (first.status_code, second.status_code) == (200, 200)
    assert issuer.token_requests == 1


def test_clients_of_both_packages_share_one_token(issuer: LocalIssuer) -> None:
    """One auth used by an httpx and an httpx2 client at once keeps one cache."""
    packages = [pytest.importorskip(name) for name in ("httpx", "httpx2")]
    with make_auth(issuer) as auth:
        for module in packages:
            with module.Client(auth=auth) as client:
                assert client.get(f"{issuer.base_url}/api").status_code == 200
    assert issuer.token_requests == 1


def test_token_requests_go_through_a_given_client_of_either_package(
    package: ModuleType, issuer: LocalIssuer
) -> None:
    """http_client of either package: the token request is built with, and sent by, it."""
    sent: list[str] = []
    hooks = {"request": [lambda request: sent.append(type(request).__module__.split(".")[0])]}
    with package.Client(event_hooks=hooks) as token_client:
        auth = make_auth(issuer, http_client=token_client)
        assert auth.get_token() == "wire-token-1"
    assert sent == [package.__name__]


@pytest.mark.anyio
async def test_async_token_requests_go_through_a_given_client_of_either_package(
    package: ModuleType, issuer: LocalIssuer
) -> None:
    sent: list[str] = []

    async def hook(request: Any) -> None:
        sent.append(type(request).__module__.split(".")[0])

    async with package.AsyncClient(event_hooks={"request": [hook]}) as token_client:
        auth = make_auth(issuer, async_http_client=token_client)
        assert await auth.aget_token() == "wire-token-1"
    assert sent == [package.__name__]


def test_a_failing_given_client_of_either_package_is_a_token_request_error(
    package: ModuleType,
) -> None:
    """Either package's transport errors become TokenRequestError, chained to the cause."""
    from m2m_guard.client import TokenRequestError

    def refuse(request: Any) -> Any:
        raise package.ConnectError("connection refused", request=request)

    with package.Client(transport=package.MockTransport(refuse)) as token_client:
        auth = ClientCredentialsAuth(
            "https://issuer.invalid/token", CLIENT_ID, CLIENT_SECRET, http_client=token_client
        )
        with pytest.raises(TokenRequestError) as info:
            auth.get_token()
    assert isinstance(info.value.__cause__, package.ConnectError)


def test_a_timeout_of_either_package_is_accepted(package: ModuleType) -> None:
    """timeout=package.Timeout(...): the whole request is bounded by its largest part."""
    auth = ClientCredentialsAuth(
        "https://issuer.invalid/token", CLIENT_ID, CLIENT_SECRET, timeout=package.Timeout(1, read=3)
    )
    assert auth._shared.state.config.deadline == 3
    assert auth._shared.state.config.timeouts == package.Timeout(1, read=3).as_dict()


def make_auth_for_url(**kwargs: Any) -> ClientCredentialsAuth:
    return ClientCredentialsAuth("https://issuer.invalid/token", CLIENT_ID, CLIENT_SECRET, **kwargs)


@pytest.mark.anyio
async def test_a_client_of_the_wrong_kind_is_refused_at_construction(package: ModuleType) -> None:
    """An AsyncClient given as http_client (or the reverse) fails now, not at the first request."""
    async with package.AsyncClient() as async_client:
        with pytest.raises(ConfigurationError, match=r"^http_client must be an .*\.Client"):
            make_auth_for_url(http_client=async_client)
    with (
        package.Client() as client,
        pytest.raises(ConfigurationError, match=r"async_http_client must be an .*AsyncClient"),
    ):
        make_auth_for_url(async_http_client=client)


@pytest.mark.parametrize("argument", ["http_client", "async_http_client"])
def test_something_that_is_no_client_is_refused_at_construction(argument: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{argument} must be"):
        make_auth_for_url(**{argument: object()})
