"""Custom checks: ``Verifier(checks=[...])`` and ``pure_check``."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from m2m_guard import (
    CheckFailedError,
    ConfigurationError,
    InsufficientScopeError,
    InvalidTokenError,
    M2MClaims,
    RequestContext,
    Verifier,
    pure_check,
)
from m2m_guard.events import Event, TokenVerified, VerificationFailed
from tests.support.clock import FakeClock
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims

CONTEXT = RequestContext("GET", "https", "api.example", "/orders", "/orders")


def make(rsa_key: SigningKey, clock: FakeClock, checks: Any, **kwargs: Any) -> Verifier:
    return Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks=jwks_of(rsa_key),
        clock=clock,
        checks=checks,
        **kwargs,
    )


class Recorder:
    """A check that records its calls and refuses with ``refuse`` when set."""

    def __init__(self, refuse: Exception | None = None) -> None:
        self.calls: list[tuple[str, RequestContext | None]] = []
        self.refuse = refuse
        self.__qualname__ = "Recorder"

    def __call__(self, claims: M2MClaims, request: RequestContext | None) -> None:
        self.calls.append((claims.client_id, request))
        if self.refuse is not None:
            raise self.refuse


class TenantMismatch(InsufficientScopeError):
    """A 403 of the application's own."""

    def __init__(self) -> None:
        super().__init__(("tenant:acme",), ())


def bearer(token: str) -> list[str]:
    return [f"Bearer {token}"]


def test_a_check_sees_the_claims_and_the_request_on_every_call(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """A check not marked pure runs on the full path and on every cache hit."""
    check = Recorder()
    verifier = make(rsa_key, clock, [check])
    token = rsa_key.sign(stytch_claims(clock()))

    for _ in range(3):
        verifier.verify_authorization(bearer(token), request=CONTEXT)
    verifier.verify(token)

    assert [request for _, request in check.calls] == [CONTEXT, CONTEXT, CONTEXT, None]
    assert verifier.needs_request is True


def test_a_refusing_check_answers_with_its_own_error(rsa_key: SigningKey, clock: FakeClock) -> None:
    """401 and 403 refusals come out as the check raised them, cold and cached."""
    token = rsa_key.sign(stytch_claims(clock()))
    for error, kind in (
        (InvalidTokenError("Revoked client."), InvalidTokenError),
        (TenantMismatch(), TenantMismatch),
    ):
        check = Recorder()
        verifier = make(rsa_key, clock, [check])
        verifier.verify(token)  # cached now
        check.refuse = error
        for _ in range(2):
            with pytest.raises(kind) as caught:
                verifier.verify_authorization(bearer(token))
            assert caught.value.status_code in (401, 403)


def test_checks_run_after_the_claims_and_before_the_scopes(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """An expired token never reaches a check; a check refuses before scopes do."""
    check = Recorder(InvalidTokenError("no"))
    verifier = make(rsa_key, clock, [check])
    expired = rsa_key.sign(stytch_claims(clock() - 7200))
    with pytest.raises(InvalidTokenError, match="expired"):
        verifier.verify(expired)
    assert check.calls == []

    token = rsa_key.sign(stytch_claims(clock()))
    with pytest.raises(InvalidTokenError, match="no"):
        verifier.verify(token, ["admin:everything"])


def test_a_pure_check_runs_once_per_token(rsa_key: SigningKey, clock: FakeClock) -> None:
    """Marked pure, a check's verdict is cached with the token (request None)."""
    calls: list[RequestContext | None] = []

    @pure_check
    def known_client(claims: M2MClaims, request: RequestContext | None) -> None:
        calls.append(request)

    verifier = make(rsa_key, clock, [known_client])
    token = rsa_key.sign(stytch_claims(clock()))
    for _ in range(3):
        verifier.verify_authorization(bearer(token), request=CONTEXT)

    assert calls == [None]
    assert verifier.needs_request is False


def test_a_token_a_pure_check_refuses_never_enters_the_cache(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Refused by a pure check, the token is checked (and refused) every time."""
    calls: list[str] = []

    @pure_check
    def refuse(claims: M2MClaims, request: RequestContext | None) -> None:
        calls.append(claims.client_id)
        raise InvalidTokenError("This client is blocked.")

    verifier = make(rsa_key, clock, [refuse])
    token = rsa_key.sign(stytch_claims(clock()))
    for _ in range(2):
        with pytest.raises(InvalidTokenError, match="blocked"):
            verifier.verify_authorization(bearer(token))
    assert len(calls) == 2


def test_async_checks_are_awaited_on_the_async_path(rsa_key: SigningKey, clock: FakeClock) -> None:
    """An ``async def`` check runs on ``verify_async`` and the async fast lane."""
    seen: list[RequestContext | None] = []

    async def lookup(claims: M2MClaims, request: RequestContext | None) -> None:
        await anyio.sleep(0)
        seen.append(request)
        if request is not None and request.path == "/blocked":
            raise InvalidTokenError("Blocked here.")

    verifier = make(rsa_key, clock, [lookup])
    token = rsa_key.sign(stytch_claims(clock()))
    blocked = RequestContext("GET", "https", "api.example", "/blocked", "/blocked")

    async def main() -> None:
        await verifier.verify_async(token)
        await verifier.verify_authorization_async(bearer(token), request=CONTEXT)
        with pytest.raises(InvalidTokenError, match="Blocked"):
            await verifier.verify_authorization_async(bearer(token), request=blocked)
        combined = Verifier.combine(verifier)
        await combined.verify_authorization_async(bearer(token), request=CONTEXT)
        await verifier.verify_header_async(f"Bearer {token}")  # a cache hit too
        await verifier.verify_async(token)

    anyio.run(main)
    assert seen == [None, CONTEXT, blocked, CONTEXT, None, None]


def test_an_async_check_on_the_sync_path_is_a_configuration_error(
    rsa_key: SigningKey, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The coroutine is never left un-awaited; the error names the check."""

    async def lookup(claims: M2MClaims, request: RequestContext | None) -> None:
        raise AssertionError("never run")  # pragma: no cover

    verifier = make(rsa_key, clock, [lookup])
    token = rsa_key.sign(stytch_claims(clock()))
    with pytest.raises(ConfigurationError, match="lookup is async"):
        verifier.verify(token)
    with pytest.raises(ConfigurationError, match="lookup is async"):
        verifier.verify_authorization(bearer(token))
    assert token not in caplog.text


def test_a_check_that_crashes_is_a_503_logged_without_the_token(
    rsa_key: SigningKey, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Anything but an M2MGuardError: 503 with Retry-After, a clear log line."""

    def flaky(claims: M2MClaims, request: RequestContext | None) -> None:
        raise ConnectionError("database down")

    async def flaky_async(claims: M2MClaims, request: RequestContext | None) -> None:
        raise KeyError("tenant")

    token = rsa_key.sign(stytch_claims(clock()))
    with caplog.at_level(logging.ERROR, logger="m2m_guard"):
        with pytest.raises(CheckFailedError) as caught:
            make(rsa_key, clock, [flaky]).verify(token)
        with pytest.raises(CheckFailedError):
            anyio.run(make(rsa_key, clock, [flaky_async]).verify_async, token)

    assert caught.value.status_code == 503
    assert caught.value.response_headers()["retry-after"]
    assert "custom check" in caplog.text
    assert "flaky" in caplog.text
    assert "ConnectionError" in caplog.text
    assert "KeyError" in caplog.text
    assert token not in caplog.text


def test_a_check_that_returns_a_verdict_is_a_configuration_error(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Returning ``False`` does not refuse silently nor accept: it is a bug, said so."""

    def says_no(claims: M2MClaims, request: RequestContext | None) -> bool:
        return False

    async def says_no_async(claims: M2MClaims, request: RequestContext | None) -> bool:
        return False

    class Awaits:
        def __call__(self, claims: M2MClaims, request: RequestContext | None) -> int:
            return 1

    token = rsa_key.sign(stytch_claims(clock()))
    with pytest.raises(ConfigurationError, match="returned bool"):
        make(rsa_key, clock, [says_no]).verify(token)
    with pytest.raises(ConfigurationError, match="returned bool"):
        anyio.run(make(rsa_key, clock, [says_no_async]).verify_async, token)
    with pytest.raises(ConfigurationError, match="returned int"):
        anyio.run(make(rsa_key, clock, [Awaits(), says_no_async]).verify_async, token)


def test_refusals_by_checks_are_reported_once(rsa_key: SigningKey, clock: FakeClock) -> None:
    """One event per call, cold or cached, sync or async."""
    events: list[Event] = []
    check = Recorder()
    verifier = make(rsa_key, clock, [check], on_event=events.append)
    token = rsa_key.sign(stytch_claims(clock()))
    verifier.verify_authorization(bearer(token), path="/a")
    check.refuse = InvalidTokenError("no")
    with pytest.raises(InvalidTokenError):
        verifier.verify_authorization(bearer(token), path="/b")
    with pytest.raises(InvalidTokenError):
        anyio.run(lambda: verifier.verify_authorization_async(bearer(token), path="/c"))

    assert [type(e) for e in events] == [TokenVerified, VerificationFailed, VerificationFailed]
    assert [e.path for e in events] == ["/a", "/b", "/c"]  # type: ignore[attr-defined]


def test_bad_checks_are_refused_at_construction(rsa_key: SigningKey, clock: FakeClock) -> None:
    """Not a list of functions, or an async function marked pure."""
    for bad in ("check", lambda c, r: None, [1], 3):
        with pytest.raises(ConfigurationError, match="checks"):
            make(rsa_key, clock, bad)

    async def lookup(claims: M2MClaims, request: RequestContext | None) -> None:
        """Never run."""

    with pytest.raises(ConfigurationError, match="pure_check"):
        pure_check(lookup)
    assert make(rsa_key, clock, []).needs_request is False


def test_a_combined_verifier_runs_the_deciding_members_checks(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """The member that decides runs its own checks; the combination needs the request."""
    check = Recorder()
    member = make(rsa_key, clock, [check])
    combined = Verifier.combine(member)
    token = rsa_key.sign(stytch_claims(clock()))
    combined.verify_authorization(bearer(token), request=CONTEXT)
    combined.verify_authorization(bearer(token), request=CONTEXT)
    combined.verify(token)

    assert combined.needs_request is True
    assert [request for _, request in check.calls] == [CONTEXT, CONTEXT, None]
