"""The error tree renders RFC 6750 responses by itself."""

from __future__ import annotations

import pytest

import m2m_guard
from m2m_guard import (
    ConfigurationError,
    ExpiredTokenError,
    InsufficientScopeError,
    InvalidClaimError,
    InvalidRequestError,
    InvalidTokenError,
    KeysUnavailableError,
    M2MGuardError,
    MissingTokenError,
)


def test_every_public_error_derives_from_the_root() -> None:
    """One except clause catches everything m2m_guard raises."""
    errors = [
        getattr(m2m_guard, name)
        for name in m2m_guard.__all__
        if name.endswith("Error") and isinstance(getattr(m2m_guard, name), type)
    ]
    assert len(errors) >= 18
    assert all(issubclass(e, M2MGuardError) for e in errors)


def test_missing_token_challenge_has_no_error_attribute() -> None:
    """RFC 6750 §3.1: a request without credentials gets a bare challenge."""
    exc = MissingTokenError()
    assert exc.status_code == 401
    assert exc.www_authenticate() == 'Bearer realm="api"'
    assert exc.www_authenticate("orders") == 'Bearer realm="orders"'
    assert exc.to_dict()["error"] == "unauthorized"


def test_invalid_token_challenge_carries_code_and_description() -> None:
    """A rejected token names invalid_token and a safe description."""
    exc = ExpiredTokenError()
    assert exc.status_code == 401
    assert exc.www_authenticate() == (
        'Bearer realm="api", error="invalid_token", error_description="The token has expired."'
    )
    assert exc.to_dict() == {
        "error": "invalid_token",
        "error_description": "The token has expired.",
    }
    assert isinstance(exc, InvalidTokenError)


def test_invalid_request_is_400() -> None:
    """Malformed requests are 400 invalid_request."""
    exc = InvalidRequestError()
    assert exc.status_code == 400
    assert 'error="invalid_request"' in (exc.www_authenticate() or "")


def test_insufficient_scope_is_403_with_scope_attribute() -> None:
    """The challenge names the scopes the resource needs (RFC 6750 §3)."""
    exc = InsufficientScopeError(["read:a", "write:b"], ["read:a"])
    assert exc.status_code == 403
    assert exc.required_scopes == ("read:a", "write:b")
    assert exc.granted_scopes == ("read:a",)
    assert exc.www_authenticate() == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="The token lacks the scopes: read:a write:b.", scope="read:a write:b"'
    )
    assert "one of" in InsufficientScopeError(["x"], any_of=True).description


def test_keys_unavailable_is_503_with_retry_after_and_no_challenge() -> None:
    """The caller's token may be fine: 503, Retry-After, no WWW-Authenticate."""
    exc = KeysUnavailableError(retry_after=12.2)
    assert exc.status_code == 503
    assert exc.www_authenticate() is None
    assert exc.response_headers() == {"cache-control": "no-store", "retry-after": "13"}
    assert KeysUnavailableError(retry_after=0).retry_after == 1


def test_challenge_values_are_stripped_of_quote_breaking_characters() -> None:
    """Descriptions and realms cannot inject header syntax."""
    exc = InvalidClaimError("x", 'bad "quote" \\ and \r\n newline \u00e9')
    challenge = exc.www_authenticate('re"alm') or ""
    assert "\\" not in challenge
    assert "\r" not in challenge
    assert "\n" not in challenge
    assert 'realm="realm"' in challenge
    assert 'error_description="bad quote  and  newline "' in challenge


def test_response_headers_include_challenge_and_no_store() -> None:
    """Error responses are never cached and carry the challenge."""
    headers = MissingTokenError().response_headers(resource_metadata="https://r/.well-known/x")
    assert headers["cache-control"] == "no-store"
    assert headers["www-authenticate"] == (
        'Bearer realm="api", resource_metadata="https://r/.well-known/x"'
    )


def test_configuration_error_is_a_value_error_without_challenge() -> None:
    """Configuration errors surface at start-up as ValueErrors."""
    exc = ConfigurationError("bad")
    assert isinstance(exc, ValueError)
    assert exc.www_authenticate() is None


@pytest.mark.parametrize("cls", [InvalidClaimError])
def test_claim_errors_carry_the_claim_name(cls: type[InvalidClaimError]) -> None:
    """Errors carry data: which claim was wrong."""
    assert cls("nbf").claim == "nbf"
    assert "'nbf'" in cls("nbf").description
