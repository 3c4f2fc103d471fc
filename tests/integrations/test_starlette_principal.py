"""``request.auth`` and ``request.user``: built once per verified token, read-only.

Every request carrying one token gets the same two objects, so they must not
be writable: a handler that could change them would change what the next
request with that token sees.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.authentication import requires as starlette_requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from m2m_guard import Verifier
from m2m_guard.asgi import M2MGuardMiddleware
from m2m_guard.starlette import M2MCredentials, M2MUser
from tests.integrations._harness_asgi import bearer, request
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, SigningKey, stytch_claims


def test_requests_of_one_token_share_read_only_auth_and_user(
    verifier: Verifier, rsa_key: SigningKey, clock: FakeClock
) -> None:
    seen: list[tuple[Any, Any]] = []
    attempts: list[str] = []

    async def endpoint(request: Request) -> JSONResponse:
        seen.append((request.auth, request.user))
        for target, name, value in (
            (request.auth, "scopes", ["admin:all"]),
            (request.user, "claims", None),
        ):
            try:
                setattr(target, name, value)
            except AttributeError:
                attempts.append(f"{type(target).__name__}.{name} refused")
        with pytest.raises(AttributeError):
            del request.user.claims
        return JSONResponse({"scopes": list(request.auth.scopes)})

    app = Starlette(
        routes=[Route("/", endpoint)],
        middleware=[Middleware(M2MGuardMiddleware, verifier=verifier)],
    )
    token = rsa_key.sign(stytch_claims(clock(), scope="read:users"))
    first = request(app, "/", bearer(token))
    second = request(app, "/", bearer(token))
    assert first.json() == second.json() == {"scopes": ["read:users"]}
    assert attempts == ["M2MCredentials.scopes refused", "M2MUser.claims refused"] * 2
    (auth_1, user_1), (auth_2, user_2) = seen
    assert auth_1 is auth_2
    assert user_1 is user_2
    assert isinstance(auth_1, M2MCredentials)
    assert isinstance(user_1, M2MUser)
    assert auth_1.scopes == ("read:users",)
    assert user_1.client_id == CLIENT_ID
    assert user_1.is_authenticated
    assert "read:users" in repr(auth_1)
    assert CLIENT_ID in repr(user_1)

    other = rsa_key.sign(stytch_claims(clock(), scope="write:users"))
    assert request(app, "/", bearer(other)).json() == {"scopes": ["write:users"]}
    assert seen[2][0] is not auth_1


def test_starlettes_own_requires_reads_the_tuple_of_scopes(
    verifier: Verifier, rsa_key: SigningKey, clock: FakeClock
) -> None:
    @starlette_requires("read:users")
    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[Route("/", endpoint)],
        middleware=[Middleware(M2MGuardMiddleware, verifier=verifier)],
    )
    granted = rsa_key.sign(stytch_claims(clock(), scope="read:users"))
    refused = rsa_key.sign(stytch_claims(clock(), scope="write:users"))
    assert request(app, "/", bearer(granted)).status_code == 200
    assert request(app, "/", bearer(refused)).status_code == 403
