"""pytest fixtures for testing services that m2m_guard protects.

Registered through the ``pytest11`` entry point, so installing m2m_guard is
enough. Fixtures:

``m2m_tokens``
    a ``m2m_guard.testing.TokenFactory``: ``m2m_tokens.token(["read:x"])``,
    ``m2m_tokens.auth_header(["read:x"])``, ``m2m_tokens.jwks``.
``m2m_verifier``
    a ``Verifier`` that trusts ``m2m_tokens``' key, offline.
``m2m_env``
    sets the ``M2M_GUARD_*`` environment variables so that an application
    built with ``Verifier.from_env()`` trusts ``m2m_tokens``; returns the
    factory. Build the application *after* requesting this fixture.

One RSA key is generated per test session (key generation is slow) and
each test gets its own factory around it.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ._verifier import Verifier
from .testing import TokenFactory


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
    """Point ``Verifier.from_env()`` at ``m2m_tokens``' key for this test."""
    for name in ("STYTCH_PROJECT_ID", "JWKS_URL", "DISCOVERY_URL"):
        monkeypatch.delenv(f"M2M_GUARD_{name}", raising=False)
    for name, value in m2m_tokens.env().items():
        monkeypatch.setenv(name, value)
    return m2m_tokens
