"""Nothing that can be built once is built per request.

``M2MBearer`` keeps one ``Guard`` per scope set FastAPI asks for, and
``require_scopes`` without a fixed verifier one per verifier it meets
(the middleware's, ``app.state.m2m_verifier``): both bounded, both rebuilt
when the verifier they were built for is replaced. Every request then goes
through the verifier's fast lane (``verify_authorization``).
"""

# No "from __future__ import annotations": FastAPI reads the route
# annotations below at runtime, and they name local variables.
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Security
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import m2m_guard._guard
import m2m_guard.fastapi
import m2m_guard.starlette
from m2m_guard import M2MClaims, Verifier
from m2m_guard.asgi import M2MGuardMiddleware
from m2m_guard.fastapi import M2MBearer, install
from m2m_guard.starlette import require_scopes
from tests.integrations._harness_asgi import bearer, request
from tests.support.clock import FakeClock
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every Guard the FastAPI and Starlette integrations construct."""
    made: list[Any] = []

    class CountedGuard(m2m_guard._guard.Guard):
        __slots__ = ()

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(m2m_guard.fastapi, "Guard", CountedGuard)
    monkeypatch.setattr(m2m_guard.starlette, "Guard", CountedGuard)
    return made


@pytest.fixture
def token(rsa_key: SigningKey, clock: FakeClock) -> str:
    return rsa_key.sign(stytch_claims(clock(), scope="read:a read:b"))


def fresh(rsa_key: SigningKey, clock: FakeClock) -> Verifier:
    return Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock)


def test_m2m_bearer_builds_one_guard_per_scope_set_not_per_request(
    built: list[Any], verifier: Verifier, token: str
) -> None:
    """Two routes, two scope sets: three guards (one at start-up) for any number of requests."""
    guard = M2MBearer(verifier)
    app = install(FastAPI())

    @app.get("/a")
    async def a(claims: Annotated[M2MClaims, Security(guard, scopes=["read:a"])]) -> Any:
        return {"scopes": list(claims.scopes)}

    @app.get("/b")
    async def b(claims: Annotated[M2MClaims, Security(guard, scopes=["read:b"])]) -> Any:
        return {"scopes": list(claims.scopes)}

    assert len(built) == 1  # the start-up check of the verifier
    for _ in range(5):
        assert request(app, "/a", bearer(token)).status_code == 200
        assert request(app, "/b", bearer(token)).status_code == 200
    assert len(built) == 3
    assert sorted(g.required_scopes for g in built) == [(), ("read:a",), ("read:b",)]


def test_m2m_bearer_rebuilds_its_guards_for_a_replaced_verifier(
    built: list[Any], verifier: Verifier, rsa_key: SigningKey, clock: FakeClock, token: str
) -> None:
    """Assigning another verifier is honoured on the next request, not ignored."""
    guard = M2MBearer(verifier)
    app = install(FastAPI())

    @app.get("/a")
    async def a(claims: Annotated[M2MClaims, Security(guard, scopes=["read:a"])]) -> Any:
        return {}

    assert request(app, "/a", bearer(token)).status_code == 200
    replacement = fresh(rsa_key, clock)
    guard.verifier = replacement
    assert request(app, "/a", bearer(token)).status_code == 200
    assert built[-1].verifier is replacement
    assert len(built) == 3


def test_m2m_bearer_keeps_a_bounded_number_of_guards(verifier: Verifier) -> None:
    """Scope sets beyond the bound start the memo over instead of growing it."""
    guard = M2MBearer(verifier)
    for i in range(m2m_guard.fastapi._MAX_GUARDS * 2 + 3):
        assert guard._guard((f"scope:{i}",)).required_scopes == (f"scope:{i}",)
        assert len(guard._guards) <= m2m_guard.fastapi._MAX_GUARDS


def test_require_scopes_builds_one_guard_per_verifier_not_per_request(
    built: list[Any], verifier: Verifier, rsa_key: SigningKey, clock: FakeClock, token: str
) -> None:
    """One decorated endpoint behind two middlewares (two verifiers): two guards."""

    @require_scopes("read:a")
    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    other = fresh(rsa_key, clock)
    apps = [
        Starlette(
            routes=[Route("/", endpoint)], middleware=[Middleware(M2MGuardMiddleware, verifier=v)]
        )
        for v in (verifier, other)
    ]
    for _ in range(4):
        for app in apps:
            assert request(app, "/", bearer(token)).status_code == 200
    assert [g.verifier for g in built] == [verifier, other]


def test_require_scopes_keeps_a_bounded_number_of_guards(
    rsa_key: SigningKey, clock: FakeClock, token: str
) -> None:
    """More verifiers than the bound: the memo starts over, every request still checked."""

    @require_scopes("read:a")
    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    for _ in range(m2m_guard.starlette._MAX_GUARDS + 2):
        app = Starlette(routes=[Route("/", endpoint)])
        app.state.m2m_verifier = fresh(rsa_key, clock)
        assert request(app, "/", bearer(token)).status_code == 200
        assert request(app, "/").status_code == 401
    memo = _closure_memo(endpoint)
    assert 0 < len(memo) <= m2m_guard.starlette._MAX_GUARDS


def _closure_memo(endpoint: Any) -> dict[int, Any]:
    for cell in endpoint.__closure__ or ():
        if isinstance(cell.cell_contents, dict) and all(
            isinstance(k, int) for k in cell.cell_contents
        ):
            return cell.cell_contents
    raise AssertionError("no guard memo in the wrapper's closure")


def test_authenticate_verifies_once_then_reuses_the_claims_it_attached(
    verifier: Verifier, token: str
) -> None:
    """starlette.authenticate, the public helper for hand-written endpoints."""
    from m2m_guard._guard import Guard
    from m2m_guard.asgi import get_claims
    from m2m_guard.starlette import authenticate

    guard = Guard(verifier, required_scopes="read:a")
    seen: list[Any] = []

    async def endpoint(request: Request) -> PlainTextResponse:
        first = await authenticate(request, guard)
        second = await authenticate(request, guard)  # reused: attached by the first
        seen.extend([first, second, get_claims(request)])
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", endpoint)])
    assert request(app, "/", bearer(token)).status_code == 200
    assert seen[0] is not None
    assert seen[0] is seen[1] is seen[2]
