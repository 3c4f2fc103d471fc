"""Fixtures for the local issuer tests: a fast in-memory issuer and its HTTP app."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from m2m_guard.issuer import LocalIssuer, create_app, generate_rsa_key
from tests.issuer._helpers import FAST, asgi_client
from tests.support.clock import FakeClock


@pytest.fixture(scope="session")
def rsa_pool() -> list[rsa.RSAPrivateKey]:
    """Three RSA keys generated once: key generation is the slowest thing here."""
    return [generate_rsa_key() for _ in range(3)]


@pytest.fixture
def key_factory(rsa_pool: list[rsa.RSAPrivateKey]) -> Callable[[], rsa.RSAPrivateKey]:
    """Hands out the pooled keys in turn, so consecutive keys always differ."""
    keys = itertools.cycle(rsa_pool)
    return lambda: next(keys)


@pytest.fixture
def issuer(clock: FakeClock, key_factory: Callable[[], rsa.RSAPrivateKey]) -> Iterator[LocalIssuer]:
    """An in-memory issuer with cheap scrypt, pooled keys and a fake clock."""
    with LocalIssuer(scrypt=FAST, clock=clock, key_factory=key_factory) as local:
        yield local


@pytest.fixture
def auth(issuer: LocalIssuer) -> tuple[str, str]:
    """The project's HTTP Basic credentials."""
    return issuer.project_id, issuer.project_secret


@pytest.fixture
def http(issuer: LocalIssuer) -> Iterator[httpx.Client]:
    """An HTTP client for the issuer's ASGI app (no network)."""
    with asgi_client(create_app(issuer=issuer)) as client:
        yield client
