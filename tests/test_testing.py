"""m2m_guard.testing and the pytest plugin, as users' test suites use them."""

from __future__ import annotations

import pytest

from m2m_guard import ExpiredTokenError, InsufficientScopeError, Verifier
from m2m_guard.testing import TokenFactory
from tests.support.clock import FakeClock

pytest_plugins = ["pytester"]


def test_factory_tokens_verify_through_its_verifier(m2m_tokens: TokenFactory) -> None:
    """Minted tokens carry the given client, scopes and custom claims."""
    token = m2m_tokens.token(
        "read:settings write:settings", client_id="m2m-client-x", custom_claims={"tenant": "acme"}
    )
    claims = m2m_tokens.verifier().verify(token, ["read:settings"])
    assert claims.client_id == "m2m-client-x"
    assert claims.scopes == ("read:settings", "write:settings")
    assert dict(claims.custom_claims) == {"tenant": "acme"}
    assert claims.issuer == m2m_tokens.issuer
    assert claims.audience == (m2m_tokens.project_id,)


def test_factory_can_mint_expired_tokens(m2m_signing_key: object) -> None:
    """A negative expires_in mints a token that is already expired."""
    factory = TokenFactory(private_key=m2m_signing_key, clock=FakeClock())  # type: ignore[arg-type]
    with pytest.raises(ExpiredTokenError):
        factory.verifier().verify(factory.token(expires_in=-1))


def test_factory_refuses_reserved_custom_claims(m2m_tokens: TokenFactory) -> None:
    """custom_claims cannot smuggle reserved claims; overrides go through **claims."""
    with pytest.raises(ValueError, match="reserved"):
        m2m_tokens.token(custom_claims={"sub": "x"})
    token = m2m_tokens.token(aud=["other"])
    assert "other" in m2m_tokens.verifier(audience="other").verify(token).audience


def test_auth_header_is_a_bearer_header(m2m_tokens: TokenFactory, m2m_verifier: Verifier) -> None:
    """auth_header() gives a ready Authorization header."""
    header = m2m_tokens.auth_header(["read:x"])["Authorization"]
    assert m2m_verifier.verify_header(header, ["read:x"]).client_id == m2m_tokens.client_id
    with pytest.raises(InsufficientScopeError):
        m2m_verifier.verify_header(header, ["write:x"])


def test_m2m_env_configures_from_env(m2m_env: TokenFactory) -> None:
    """With m2m_env, Verifier.from_env() trusts the factory's key."""
    verifier = Verifier.from_env()
    assert verifier.verify(m2m_env.token("read:x")).client_id == m2m_env.client_id


def test_plugin_is_registered_for_user_suites(pytester: pytest.Pytester) -> None:
    """A user's suite gets the fixtures without importing anything."""
    pytester.makepyfile(
        """
        from m2m_guard import Verifier

        def test_user(m2m_env, m2m_tokens, m2m_verifier):
            token = m2m_tokens.token(["orders:read"])
            assert m2m_verifier.verify(token, ["orders:read"]).client_id
            assert Verifier.from_env().verify(token).client_id == m2m_tokens.client_id
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
