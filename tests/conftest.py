"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from m2m_guard import Verifier
from tests.support.clock import FakeClock
from tests.support.jwks_server import JWKSServer, running_jwks_server
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of

# Loaded here rather than through its entry point (disabled in pyproject.toml)
# so that coverage measures the package from its first import.
pytest_plugins = ["m2m_guard.pytest_plugin"]


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    """One RSA-2048 key for the session (generating keys is slow)."""
    return SigningKey("RS256", kid="jwk-test-primary")


@pytest.fixture(scope="session")
def other_rsa_key() -> SigningKey:
    """A second RSA key, e.g. the attacker's or the next rotation's."""
    return SigningKey("RS256", kid="jwk-test-secondary")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def verifier(rsa_key: SigningKey, clock: FakeClock) -> Verifier:
    """A Stytch-shaped verifier over static keys and a fake clock."""
    return Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks=jwks_of(rsa_key),
        clock=clock,
        client_id_claims=("sub",),
        required_claims=("aud", "iss", "exp", "iat", "nbf", "sub"),
    )


@pytest.fixture
def jwks_server(rsa_key: SigningKey) -> Iterator[JWKSServer]:
    """A real JWKS endpoint on 127.0.0.1 serving ``rsa_key``."""
    with running_jwks_server() as server:
        server.document = jwks_of(rsa_key)
        yield server


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
