"""pytest fixtures for testing services that m2m_guard protects.

Registered through the ``pytest11`` entry point, so installing m2m_guard is
enough. Fixtures:

``m2m_tokens``
    a ``m2m_guard.testing.TokenFactory``: ``m2m_tokens.token(["read:x"])``,
    ``m2m_tokens.auth_header(["read:x"])``, ``m2m_tokens.jwks``, and tokens
    that must fail: ``expired_token()``, ``future_token()``, ``old_token(age)``.
``m2m_verifier``
    a ``Verifier`` that trusts ``m2m_tokens``' key, offline.
``m2m_env``
    removes every ambient ``M2M_GUARD_*`` variable, then sets those that
    make an application built with ``Verifier.from_env()`` trust
    ``m2m_tokens``; returns the factory. Build the application *after*
    requesting this fixture.
``m2m_issuer``
    a ``m2m_guard.testing.LiveIssuer``: a real local issuer over HTTP on
    127.0.0.1 (``base_url``, ``project_id``, ``project_secret``,
    ``verifier``, ``create_client(scopes)`` → ``client_id``,
    ``client_secret``, ``token()``, ``auth()``). Needs the ``issuer`` extra.

One RSA key is generated per test session (key generation is slow) and
each test gets its own factory around it. The issuer's server starts once
per session (``m2m_issuer_host``); each test gets a fresh issuer behind it,
with its own project, credentials, clients and keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ._verifier import Verifier
from .testing import IssuerHost, LiveIssuer, TokenFactory


@pytest.fixture(scope="session")
def m2m_signing_key() -> rsa.RSAPrivateKey:
    """The RSA private key the session's tokens are signed with."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def m2m_tokens(m2m_signing_key: rsa.RSAPrivateKey) -> TokenFactory:
    """A factory of Stytch-shaped M2M access tokens signed by the session key."""
    return TokenFactory(private_key=m2m_signing_key, kid="jwk-test-pytest")


@pytest.fixture
def m2m_verifier(m2m_tokens: TokenFactory) -> Verifier:
    """A verifier that trusts ``m2m_tokens`` without any network."""
    return m2m_tokens.verifier()


@pytest.fixture
def m2m_env(m2m_tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch) -> TokenFactory:
    """Point ``Verifier.from_env()`` at ``m2m_tokens``' key for this test, and only there."""
    for name in list(os.environ):
        if name.startswith("M2M_GUARD_"):
            monkeypatch.delenv(name)
    for name, value in m2m_tokens.env().items():
        monkeypatch.setenv(name, value)
    return m2m_tokens


@pytest.fixture(scope="session")
def m2m_issuer_host() -> Iterator[IssuerHost]:
    """The loopback server behind ``m2m_issuer``, started once per session."""
    missing = None
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        missing = exc.name
    if missing is not None:
        pytest.fail(
            f"m2m_issuer needs the 'issuer' extra ({missing} is missing): "
            "pip install 'm2m-guard[issuer]'",
            pytrace=False,
        )
    with IssuerHost() as host:
        yield host


@pytest.fixture
def m2m_issuer(m2m_issuer_host: IssuerHost) -> Iterator[LiveIssuer]:
    """A fresh local issuer on 127.0.0.1 for this test (see ``LiveIssuer``)."""
    with m2m_issuer_host.issuer() as issuer:
        yield issuer
