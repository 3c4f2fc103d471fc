"""The token cache: reuse, refresh ahead of expiry, and riding out a failed refresh."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from m2m_guard._http import httpx
from m2m_guard.client import ClientCredentialsAuth, TokenRequestError

from .conftest import FakeClock, TokenEndpoint

MakeAuth = Callable[..., ClientCredentialsAuth]


def test_token_is_reused_across_requests(make_auth: MakeAuth, endpoint: TokenEndpoint) -> None:
    """Many requests within the token's lifetime cost one token fetch."""
    auth = make_auth()
    assert [auth.get_token() for _ in range(5)] == ["token-1"] * 5
    assert endpoint.fetches == 1


def test_token_is_refreshed_refresh_margin_before_expiry(
    make_auth: MakeAuth, endpoint: TokenEndpoint, clock: FakeClock
) -> None:
    """A new token is fetched once expires_in - refresh_margin seconds have passed."""
    auth = make_auth(refresh_margin=60)
    auth.get_token()
    clock.advance(3600 - 60 - 0.001)
    assert auth.get_token() == "token-1"
    clock.advance(0.001)
    assert auth.get_token() == "token-2"
    assert endpoint.fetches == 2


def test_refresh_margin_is_capped_at_half_the_lifetime(
    make_auth: MakeAuth, endpoint: TokenEndpoint, clock: FakeClock
) -> None:
    """A short-lived token is reused for half its life, not refetched on every request."""
    endpoint.expires_in = 60
    auth = make_auth(refresh_margin=300)
    auth.get_token()
    clock.advance(29.9)
    assert auth.get_token() == "token-1"
    clock.advance(0.1)
    assert auth.get_token() == "token-2"


def test_lifetime_counts_from_when_the_request_was_sent(
    make_auth: MakeAuth, endpoint: TokenEndpoint, clock: FakeClock
) -> None:
    """A slow token response does not stretch the token's assumed lifetime."""
    endpoint.before_answer = lambda: clock.advance(10)  # the endpoint takes 10 s
    auth = make_auth(refresh_margin=60)
    auth.get_token()  # sent at t=1000, received at t=1010
    endpoint.before_answer = None
    clock.now = 1000 + 3540 - 0.001
    assert auth.get_token() == "token-1"
    clock.now = 1000 + 3540
    assert auth.get_token() == "token-2"


def test_zero_refresh_margin_uses_the_token_until_expiry(
    make_auth: MakeAuth, endpoint: TokenEndpoint, clock: FakeClock
) -> None:
    """refresh_margin=0 keeps the token until the very end of its lifetime."""
    auth = make_auth(refresh_margin=0)
    auth.get_token()
    clock.advance(3599.999)
    assert auth.get_token() == "token-1"
    clock.advance(0.001)
    assert auth.get_token() == "token-2"


def test_expires_in_as_a_digit_string_is_accepted(
    make_auth: MakeAuth, endpoint: TokenEndpoint, clock: FakeClock
) -> None:
    """expires_in sent as a string of digits (Azure AD v1 style) still sets the lifetime."""
    endpoint.expires_in = "120"
    auth = make_auth(refresh_margin=10)
    auth.get_token()
    clock.advance(109)
    assert auth.get_token() == "token-1"
    clock.advance(1)
    assert auth.get_token() == "token-2"


def fail_after_first(endpoint: TokenEndpoint) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if endpoint.fetches == 1:
            return httpx.Response(200, json={"access_token": "token-1", "expires_in": 3600})
        return httpx.Response(503, json={"error": "temporarily_unavailable"})

    endpoint.answer = answer


def test_failed_refresh_keeps_the_valid_token_and_warns(
    make_auth: MakeAuth,
    endpoint: TokenEndpoint,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """When a refresh ahead of expiry fails, the still-valid token keeps being used."""
    fail_after_first(endpoint)
    auth = make_auth(refresh_margin=60)
    auth.get_token()
    clock.advance(3550)
    with caplog.at_level(logging.WARNING, logger="m2m_guard.client"):
        assert auth.get_token() == "token-1"
    assert "token refresh failed" in caplog.text
    assert auth.get_token() == "token-1"
    assert endpoint.fetches == 3  # each later request tries the refresh again


def test_failed_refresh_after_expiry_raises(
    make_auth: MakeAuth, endpoint: TokenEndpoint, clock: FakeClock
) -> None:
    """Once the token has expired, a failed refresh is an error, not a stale token."""
    fail_after_first(endpoint)
    auth = make_auth(refresh_margin=60)
    auth.get_token()
    clock.advance(3600)
    with pytest.raises(TokenRequestError) as info:
        auth.get_token()
    assert info.value.http_status == 503


def test_successful_refresh_after_a_failure_is_used(
    make_auth: MakeAuth, endpoint: TokenEndpoint, clock: FakeClock
) -> None:
    """A failed attempt does not poison the cache: the next success is cached."""
    answers = iter([503, 200])

    def answer(request: httpx.Request) -> httpx.Response:
        if next(answers) == 503:
            return httpx.Response(503)
        return httpx.Response(200, json={"access_token": "fresh", "expires_in": 3600})

    endpoint.answer = answer
    auth = make_auth()
    with pytest.raises(TokenRequestError):
        auth.get_token()
    assert auth.get_token() == "fresh"
    assert auth.get_token() == "fresh"
    assert endpoint.fetches == 2
