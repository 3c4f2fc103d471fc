"""Typed principals in real apps: FastAPI's ``M2MPrincipal``, Flask, ASGI.

No ``from __future__ import annotations`` here: FastAPI reads the routes'
``Annotated[...]`` parameters at runtime, and those name local dependencies.
"""

from collections.abc import Callable
from typing import Annotated, Any

import anyio
import pytest
from fastapi import FastAPI, Security

from m2m_guard import ConfigurationError, Verifier
from m2m_guard.fastapi import M2MPrincipal, install
from tests.core.test_principal import Caller, PydanticCaller, make
from tests.integrations._harness_asgi import call
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, SigningKey, stytch_claims


def test_fastapi_principal_dependency_is_typed_and_cached(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """M2MPrincipal hands the route the principal object itself; errors stay RFC 6750."""
    verifier = make(rsa_key, clock, PydanticCaller)
    caller = M2MPrincipal(verifier, PydanticCaller)
    optional = M2MPrincipal(verifier, PydanticCaller, optional=True)
    seen: list[PydanticCaller] = []
    app = install(FastAPI())

    @app.get("/whoami")
    async def whoami(
        who: Annotated[PydanticCaller, Security(caller, scopes=["read:users"])],
    ) -> dict[str, Any]:
        seen.append(who)
        return {"client_id": who.client_id, "tenant": who.tenant_id}

    @app.get("/maybe")
    async def maybe(who: Annotated[PydanticCaller | None, Security(optional)]) -> dict[str, Any]:
        return {"anonymous": who is None}

    token = rsa_key.sign(stytch_claims(clock()))
    headers = [("authorization", f"Bearer {token}")]
    for _ in range(2):
        response = anyio.run(call, app, "GET", "/whoami", headers)
        assert response.status_code == 200
        assert response.json() == {"client_id": CLIENT_ID, "tenant": "acme"}
    assert seen[0] is seen[1]
    narrow = rsa_key.sign(stytch_claims(clock(), scope="read:other"))
    response = anyio.run(call, app, "GET", "/whoami", [("authorization", f"Bearer {narrow}")])
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    misfit = rsa_key.sign(stytch_claims(clock(), tenant=...))
    response = anyio.run(call, app, "GET", "/whoami", [("authorization", f"Bearer {misfit}")])
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert anyio.run(call, app, "GET", "/maybe").json() == {"anonymous": True}


@pytest.mark.parametrize(
    "build",
    [
        lambda key, clock: make(key, clock, None),
        lambda key, clock: make(key, clock, Caller),
    ],
    ids=["no-principal", "another-principal"],
)
def test_fastapi_principal_must_be_what_the_verifier_builds(
    rsa_key: SigningKey, clock: FakeClock, build: Callable[[SigningKey, FakeClock], Verifier]
) -> None:
    """A dependency typed with a model the verifier does not build fails at start-up."""
    with pytest.raises(ConfigurationError, match="principal"):
        M2MPrincipal(build(rsa_key, clock), PydanticCaller)


def test_flask_and_starlette_requests_carry_the_principal(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """current_client.principal (Flask) and request.state.m2m.principal (ASGI) are the object."""
    from flask import Flask
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from m2m_guard.asgi import M2MGuardMiddleware
    from m2m_guard.flask import M2MGuard, current_client

    verifier = make(rsa_key, clock, Caller)
    token = rsa_key.sign(stytch_claims(clock()))
    flask_app = Flask(__name__)
    guard = M2MGuard(flask_app, verifier=verifier)

    @flask_app.get("/tenant")
    @guard.require_scopes("read:users")
    def tenant() -> dict[str, Any]:
        return {"tenant": current_client.principal.tenant}

    reply = flask_app.test_client().get("/tenant", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200
    assert reply.json == {"tenant": "acme"}

    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"tenant": request.state.m2m.principal.tenant})

    asgi_app = M2MGuardMiddleware(Starlette(routes=[Route("/tenant", whoami)]), verifier=verifier)
    response = anyio.run(call, asgi_app, "GET", "/tenant", [("authorization", f"Bearer {token}")])
    assert response.status_code == 200
    assert response.json() == {"tenant": "acme"}
