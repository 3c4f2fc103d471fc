"""Observability: the on_event hook, structured logs and readiness."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import httpx
import pytest

from m2m_guard import ExpiredTokenError, InsufficientScopeError, JWKSPolicy, Verifier
from m2m_guard.events import (
    Event,
    JWKSFetched,
    StaleKeysServed,
    TokenVerified,
    VerificationFailed,
)
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims


class Endpoint:
    """A JWKS endpoint (MockTransport) whose answer tests can switch."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.status = 200
        self.document = document

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            self.status,
            content=json.dumps(self.document).encode(),
            headers={"cache-control": "max-age=600"},
        )


def remote(endpoint: Endpoint, clock: FakeClock, events: list[Event]) -> Verifier:
    return Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks_url="https://issuer.example/jwks",
        http_client=httpx.Client(transport=httpx.MockTransport(endpoint)),
        jwks_policy=JWKSPolicy(cooldown=30),
        clock=clock,
        on_event=events.append,
    )


def test_verifications_are_reported_with_cache_and_reason(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Accepted tokens say whether the cache served them; refusals say why."""
    events: list[Event] = []
    verifier = Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks=jwks_of(rsa_key),
        clock=clock,
        on_event=events.append,
    )
    token = rsa_key.sign(stytch_claims(clock()))
    verifier.verify(token)
    verifier.verify(token)
    with pytest.raises(InsufficientScopeError):
        verifier.verify(token, ["admin:all"])
    with pytest.raises(ExpiredTokenError):
        verifier.verify(rsa_key.sign(stytch_claims(clock() - 7200)))
    assert events == [
        TokenVerified(CLIENT_ID, ISSUER, cached=False),
        TokenVerified(CLIENT_ID, ISSUER, cached=True),
        VerificationFailed("InsufficientScopeError", "insufficient_scope", 403),
        VerificationFailed("ExpiredTokenError", "invalid_token", 401),
    ]


def test_async_verifications_are_reported_too(rsa_key: SigningKey, clock: FakeClock) -> None:
    """verify_async and verify_header_async report the same events."""
    events: list[Event] = []
    verifier = Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks=jwks_of(rsa_key),
        clock=clock,
        on_event=events.append,
    )
    token = rsa_key.sign(stytch_claims(clock()))

    async def main() -> None:
        await verifier.verify_header_async(f"Bearer {token}")
        with pytest.raises(ExpiredTokenError):
            await verifier.verify_async(rsa_key.sign(stytch_claims(clock() - 7200)))

    anyio.run(main)
    assert [type(e).__name__ for e in events] == ["TokenVerified", "VerificationFailed"]


def test_jwks_fetches_are_reported_with_status_and_key_count(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Each fetch attempt reports its URL, status, duration and outcome."""
    events: list[Event] = []
    endpoint = Endpoint(jwks_of(rsa_key))
    verifier = remote(endpoint, clock, events)
    verifier.warm_up()
    endpoint.status = 500
    clock.advance(601)
    verifier.warm_up()
    fetches = [e for e in events if isinstance(e, JWKSFetched)]
    assert [(e.status, e.ok, e.key_count) for e in fetches] == [(200, True, 1), (500, False, 0)]
    assert fetches[0].url == "https://issuer.example/jwks"
    assert fetches[1].reason == "HTTP 500"
    assert all(e.duration >= 0 for e in fetches)


def test_stale_keys_served_during_an_outage_are_reported(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Past max-age with the refresh failing, each use of the stale keys is reported."""
    events: list[Event] = []
    endpoint = Endpoint(jwks_of(rsa_key))
    verifier = remote(endpoint, clock, events)
    token = rsa_key.sign(stytch_claims(clock(), exp=int(clock()) + 7200))
    verifier.verify(token)
    endpoint.status = 503
    clock.advance(650)
    verifier.verify(token)  # stale: one refresh, which fails; the stale key still serves
    verifier.verify(token)  # within the cooldown: served stale from the token cache
    stale = [e for e in events if isinstance(e, StaleKeysServed)]
    assert len(stale) == 2
    assert stale[0].stale_for == pytest.approx(50)


def test_a_failing_hook_never_breaks_verification(
    rsa_key: SigningKey, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A hook that raises is logged; the token is still verified."""

    def broken(event: Event) -> None:
        raise RuntimeError("metrics backend down")

    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock, on_event=broken
    )
    with caplog.at_level(logging.ERROR, logger="m2m_guard.events"):
        assert verifier.verify(rsa_key.sign(stytch_claims(clock()))).client_id == CLIENT_ID
    assert "on_event hook raised" in caplog.text


def test_fetch_logs_carry_structured_fields_and_no_token(
    rsa_key: SigningKey, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Log records carry jwks_url, http_status and duration_ms; never the token."""
    endpoint = Endpoint(jwks_of(rsa_key))
    verifier = remote(endpoint, clock, [])
    token = rsa_key.sign(stytch_claims(clock()))
    with caplog.at_level(logging.DEBUG, logger="m2m_guard"):
        verifier.verify(token)
        with pytest.raises(ExpiredTokenError):
            verifier.verify(rsa_key.sign(stytch_claims(clock() - 7200)))
    fetch = next(r for r in caplog.records if r.name == "m2m_guard.jwks")
    assert fetch.jwks_url == "https://issuer.example/jwks"  # type: ignore[attr-defined]
    assert fetch.http_status == 200  # type: ignore[attr-defined]
    assert fetch.duration_ms >= 0  # type: ignore[attr-defined]
    assert "ExpiredTokenError" in caplog.text
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text


def test_readiness_follows_the_key_cache(rsa_key: SigningKey, clock: FakeClock) -> None:
    """ready is False before keys arrive, True with usable keys, False past the stale bound."""
    endpoint = Endpoint(jwks_of(rsa_key))
    verifier = remote(endpoint, clock, [])
    assert not verifier.ready
    assert verifier.warm_up()
    assert verifier.ready
    endpoint.status = 500
    clock.advance(600 + 3600 + 1)  # past max-age and the one-hour stale-if-error bound
    assert not verifier.warm_up()
    assert not verifier.ready


def test_the_integrations_fast_lane_reports_hits_and_scope_refusals(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Cache hits through cached_bearer are reported, and so is a missing scope there."""
    events: list[Event] = []
    verifier = Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks=jwks_of(rsa_key),
        clock=clock,
        on_event=events.append,
    )
    header = f"Bearer {rsa_key.sign(stytch_claims(clock(), scope='read:x'))}"
    verifier.verify_header(header)
    assert verifier.cached_bearer([header], ("read:x",)) is not None
    with pytest.raises(InsufficientScopeError):
        verifier.cached_bearer([header], ("write:x",))
    assert events[1:] == [
        TokenVerified(CLIENT_ID, ISSUER, cached=True),
        VerificationFailed("InsufficientScopeError", "insufficient_scope", 403),
    ]
