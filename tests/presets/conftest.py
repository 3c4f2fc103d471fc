"""Fixtures for the issuer tests: local issuer endpoints and verifier bookkeeping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

import pytest

from m2m_guard import TokenVerifier
from tests.core._helpers import ASYNC, SYNC, Flavor
from tests.presets.support import IssuerServer, running_issuer_server
from tests.support.keys import SigningKey, jwks_of

V = TypeVar("V", bound=TokenVerifier)
#: Where Entra serves the keys every tenant's tokens are signed with.
COMMON_KEYS = "/common/discovery/v2.0/keys"
Track = Callable[[V], V]


@pytest.fixture(params=[SYNC, ASYNC], ids=str)
def flavor(request: pytest.FixtureRequest) -> Flavor:
    """The sync driver (``verify``) or the async one (``verify_async``)."""
    flavor: Flavor = request.param
    return flavor


@pytest.fixture
def issuer_server(rsa_key: SigningKey) -> Iterator[IssuerServer]:
    """An issuer endpoint on 127.0.0.1; ``/jwks`` serves ``rsa_key``."""
    with running_issuer_server() as server:
        server.document = jwks_of(rsa_key)
        yield server


@pytest.fixture
def other_server(other_rsa_key: SigningKey) -> Iterator[IssuerServer]:
    """A second endpoint (another origin: another port); ``/jwks`` serves ``other_rsa_key``."""
    with running_issuer_server() as server:
        server.document = jwks_of(other_rsa_key)
        yield server


@pytest.fixture
async def track() -> AsyncIterator[Track[TokenVerifier]]:
    """Remembers verifiers; closes their sync and (this loop's) async clients afterwards."""
    made: list[TokenVerifier] = []

    def add(verifier: V) -> V:
        made.append(verifier)
        return verifier

    yield add
    for verifier in made:
        verifier.close()
        await verifier.aclose()


@pytest.fixture
def track_sync() -> Iterator[Track[TokenVerifier]]:
    """Like ``track`` for synchronous tests (the ASGI harness closes its own loops' clients)."""
    made: list[TokenVerifier] = []

    def add(verifier: V) -> V:
        made.append(verifier)
        return verifier

    yield add
    for verifier in made:
        verifier.close()


@pytest.fixture
def login(rsa_key: SigningKey) -> Iterator[IssuerServer]:
    """Entra's login host: the common keys endpoint."""
    with running_issuer_server() as server:
        server.serve_keys(COMMON_KEYS, rsa_key)
        yield server


@pytest.fixture
def tenant_hosts(rsa_key: SigningKey, other_rsa_key: SigningKey) -> Iterator[IssuerServer]:
    """A host with a JWKS per tenant: acme (rsa_key), globex (other_rsa_key)."""
    with running_issuer_server() as server:
        server.serve_keys("/acme/jwks", rsa_key)
        server.serve_keys("/globex/jwks", other_rsa_key)
        server.serve_keys("/initech/jwks", rsa_key)
        yield server
