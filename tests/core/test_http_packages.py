"""A verifier fetches keys with the user's client of either HTTP package, over real sockets.

m2m_guard uses one package (``m2m_guard._http``); a client of the other is
driven the same way (the APIs agree on ``stream``, the trace and
``network_stream`` extensions), and its errors count as failed fetches.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import anyio
import pytest

from m2m_guard import KeysUnavailableError, M2MClaims, Verifier
from tests.core._helpers import unused_loopback_url
from tests.support.clock import FakeClock
from tests.support.jwks_server import JWKSServer
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, stytch_claims


@pytest.fixture(params=["httpx", "httpx2"])
def package(request: pytest.FixtureRequest) -> ModuleType:
    """Each HTTP package the user's client may come from, skipped when not installed."""
    module: ModuleType = pytest.importorskip(request.param)
    return module


def verifier_for(url: str, clock: FakeClock, **clients: Any) -> Verifier:
    return Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks_url=url, clock=clock, **clients)


def test_a_sync_client_of_either_package_fetches_the_keys(
    package: ModuleType, jwks_server: JWKSServer, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """The fetch goes through the user's Client (its event hook sees it) and verifies."""
    seen: list[str] = []
    hooks = {"request": [lambda request: seen.append(str(request.url))]}
    token = rsa_key.sign(stytch_claims(clock()))
    with package.Client(event_hooks=hooks) as client:
        verifier = verifier_for(jwks_server.url, clock, http_client=client)
        assert isinstance(verifier.verify(token), M2MClaims)
        verifier.close()
        assert not client.is_closed  # the user's client stays the user's
    assert seen == [jwks_server.url]


def test_an_async_client_of_either_package_fetches_the_keys(
    package: ModuleType, jwks_server: JWKSServer, rsa_key: SigningKey, clock: FakeClock
) -> None:
    seen: list[str] = []

    async def hook(request: Any) -> None:
        seen.append(str(request.url))

    async def main() -> M2MClaims:
        async with package.AsyncClient(event_hooks={"request": [hook]}) as client:
            verifier = verifier_for(jwks_server.url, clock, async_http_client=client)
            return await verifier.verify_async(rsa_key.sign(stytch_claims(clock())))

    assert isinstance(anyio.run(main), M2MClaims)
    assert seen == [jwks_server.url]


def test_a_failing_sync_client_of_either_package_is_a_503(
    package: ModuleType, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Nothing listens: the package's ConnectError is a failed fetch, never an escaped exception."""
    with package.Client() as client:
        verifier = verifier_for(unused_loopback_url(), clock, http_client=client)
        with pytest.raises(KeysUnavailableError):
            verifier.verify(rsa_key.sign(stytch_claims(clock())))


def test_a_failing_async_client_of_either_package_is_a_503(
    package: ModuleType, rsa_key: SigningKey, clock: FakeClock
) -> None:
    async def main() -> None:
        async with package.AsyncClient() as client:
            verifier = verifier_for(unused_loopback_url(), clock, async_http_client=client)
            with pytest.raises(KeysUnavailableError):
                await verifier.verify_async(rsa_key.sign(stytch_claims(clock())))

    anyio.run(main)
