"""Token location: one custom header or one cookie instead of ``Authorization``."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from m2m_guard import (
    ConfigurationError,
    Guard,
    InvalidRequestError,
    MissingTokenError,
    RequestContext,
    Verifier,
)
from m2m_guard._sansio.location import TokenLocation, token_location
from m2m_guard.events import Event, VerificationFailed
from tests.support.clock import FakeClock
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims


def context(*headers: tuple[str, str], query: str = "") -> RequestContext:
    return RequestContext("GET", "https", "api.example", "/x", "/x", query, headers)


@pytest.mark.parametrize(
    ("header", "cookie", "fragment"),
    [
        ("X-Api-Token", "m2m", "one place only"),
        ("Authorization", None, "token_header"),
        ("cookie", None, "token_header"),
        ("X Api", None, "token_header"),
        (7, None, "token_header"),
        (None, "a;b", "token_cookie"),
        (None, "", "token_cookie"),
    ],
)
def test_bad_locations_are_refused_at_construction(header: Any, cookie: Any, fragment: str) -> None:
    """One place, a real header or cookie name, never Authorization itself."""
    with pytest.raises(ConfigurationError, match=fragment):
        token_location(header, cookie)


def test_a_header_holds_a_bare_or_bearer_token() -> None:
    """Bare tokens become ``Bearer <token>``; a Bearer value is kept as sent."""
    location = TokenLocation(header="x-api-token")
    assert location.credentials((), context(("x-api-token", "abc"))) == ("Bearer abc",)
    assert location.credentials((), context(("x-api-token", "bearer abc"))) == ("bearer abc",)
    assert location.credentials((), context()) == ()
    assert location.credentials(("Bearer abc",), None) == ()


def test_credentials_in_two_places_are_a_malformed_request() -> None:
    """Authorization and the header, the header twice, the cookie twice: 400."""
    header = TokenLocation(header="x-api-token")
    cookie = TokenLocation(cookie="m2m")
    two_places = [
        (header, ("Bearer abc",), context(("x-api-token", "abc"))),
        (header, (), context(("x-api-token", "abc"), ("x-api-token", "abc"))),
        (cookie, (), context(("cookie", "m2m=a"), ("cookie", "m2m=b"))),
        (cookie, (), context(("cookie", "m2m=a; m2m=b"))),
        (cookie, ("Basic dTpw",), context(("cookie", "m2m=a"))),
    ]
    for location, authorization, request in two_places:
        with pytest.raises(InvalidRequestError, match="more than one credential"):
            location.credentials(authorization, request)


def test_a_cookie_is_found_among_others_quoted_or_not() -> None:
    """RFC 6265 pairs; a quoted value is unquoted; similar names do not match."""
    cookie = TokenLocation(cookie="m2m")
    found = cookie.credentials((), context(("cookie", 'm2m_x=1; theme=dark;  m2m="abc"')))
    assert found == ("Bearer abc",)
    assert cookie.credentials((), context(("cookie", "xm2m=abc; m2m"))) == ()


def test_the_query_string_is_never_a_location(
    verifier: Verifier, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """RFC 6750 §2.3 is refused: a token in the URL is a request without a token."""
    token = rsa_key.sign(stytch_claims(clock()))
    guard = Guard(verifier, token_header="X-Api-Token")
    with pytest.raises(MissingTokenError):
        guard.check((), request=context(query=f"access_token={token}"))


def test_a_conflict_is_reported_once_on_both_paths(rsa_key: SigningKey, clock: FakeClock) -> None:
    """The 400 of credentials in two places is a refusal like any other."""
    events: list[Event] = []
    reporting = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), on_event=events.append
    )
    guard = Guard(reporting, token_cookie="m2m")
    request = context(("cookie", "m2m=a; m2m=b"))
    with pytest.raises(InvalidRequestError):
        guard.check((), "/x", request)
    with pytest.raises(InvalidRequestError):
        anyio.run(guard.check_async, (), "/y", request)

    assert [(type(e), e.path) for e in events] == [  # type: ignore[attr-defined]
        (VerificationFailed, "/x"),
        (VerificationFailed, "/y"),
    ]
    assert guard.needs_request is True
