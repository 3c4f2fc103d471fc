"""Starlette idioms: ``requires`` (RFC 6750 answers), the ``lifespan`` warm-up,
``exclude_docs``, ``M2MUser``'s repr and ``get_claims`` on a ``Request``."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.authentication import requires as starlette_requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from m2m_guard import ConfigurationError, KeysUnavailableError, Verifier
from m2m_guard._tools.server import ServerThread
from m2m_guard.asgi import DOCS_URLS, docs_paths
from m2m_guard.starlette import (
    REQUIRE_KEYS_VARIABLE,
    M2MGuardMiddleware,
    M2MUser,
    get_claims,
    lifespan,
    requires,
)
from m2m_guard.testing import LiveIssuer
from tests.integrations._harness_asgi import bearer, request
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, SigningKey, stytch_claims


@pytest.fixture
def sign(rsa_key: SigningKey, clock: FakeClock) -> Any:
    return lambda scope: rsa_key.sign(stytch_claims(clock(), scope=scope))


async def whoami(request: Request) -> JSONResponse:
    claims = get_claims(request)
    return JSONResponse({"client_id": claims.client_id if claims else None})


# -- requires ---------------------------------------------------------------------------


def requires_app(verifier: Verifier, decorator: Any = requires) -> Starlette:
    return Starlette(
        routes=[
            Route("/one", decorator("read:orders")(whoami)),
            Route("/list", decorator(["read:orders", "write:orders"])(whoami)),
            Route("/any", decorator("authenticated")(whoami)),
        ],
        middleware=[Middleware(M2MGuardMiddleware, verifier=verifier, optional=True)],
    )


def test_requires_answers_a_missing_scope_with_the_rfc6750_403(
    verifier: Verifier, sign: Any
) -> None:
    app = requires_app(verifier)
    token = bearer(sign("read:orders"))
    assert request(app, "/one", token).json() == {"client_id": CLIENT_ID}
    refused = request(app, "/list", token)
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    assert refused.json()["error"] == "insufficient_scope"
    assert request(app, "/any", token).status_code == 200
    anonymous = request(app, "/any")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")


def test_starlettes_own_requires_answers_plain_text(verifier: Verifier, sign: Any) -> None:
    """What the README says: Starlette's decorator gives a bare 403, no challenge, no JSON."""
    refused = request(requires_app(verifier, starlette_requires), "/list", bearer(sign("x")))
    assert refused.status_code == 403
    assert "www-authenticate" not in refused.headers
    assert refused.text == "Forbidden"


def test_requires_refuses_what_means_nothing_to_a_machine_client(verifier: Verifier) -> None:
    with pytest.raises(ConfigurationError, match="status_code"):
        requires("read:orders", status_code=404)
    with pytest.raises(ConfigurationError, match="redirect"):
        requires("read:orders", redirect="login")


# -- M2MUser, get_claims ------------------------------------------------------------------


def test_m2m_user_repr_names_the_client_and_scopes_never_the_token(
    verifier: Verifier, sign: Any
) -> None:
    token = sign("read:orders write:orders")
    user = M2MUser(verifier.verify(token))
    assert repr(user) == f"M2MUser(client_id={CLIENT_ID!r}, scopes=('read:orders', 'write:orders'))"
    assert token not in repr(user)
    assert token.split(".")[2] not in repr(user)


# -- exclude_docs -------------------------------------------------------------------------


def test_exclude_docs_lets_fastapis_documentation_through(verifier: Verifier) -> None:
    app = FastAPI()
    app.add_middleware(M2MGuardMiddleware, verifier=verifier, exclude_docs=True)
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
        assert request(app, path).status_code == 200, path
    assert request(app, "/docs/other").status_code == 401
    assert request(app, "/docsx").status_code == 401


def test_exclude_docs_reads_the_urls_of_the_app_it_wraps(verifier: Verifier) -> None:
    app = FastAPI(docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None)
    assert docs_paths(app) == ["/api/openapi.json", "/api/docs", "/docs/oauth2-redirect"]
    assert docs_paths(object()) == list(DOCS_URLS.values())
    guarded = M2MGuardMiddleware(app, verifier=verifier, exclude_docs=True)
    assert request(guarded, "/api/docs").status_code == 200
    assert request(guarded, "/docs").status_code == 401
    unguarded = M2MGuardMiddleware(app, verifier=verifier)
    assert request(unguarded, "/api/docs").status_code == 401


# -- lifespan -----------------------------------------------------------------------------


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A loopback port bound but not listening: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/jwks"


def dead_verifier(url: str) -> Verifier:
    return Verifier(issuer="i", audience="a", jwks_url=url)


@pytest.mark.slow
def test_a_dead_jwks_url_fails_the_start_up_when_keys_are_required(
    dead_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = Starlette(lifespan=lifespan(dead_verifier(dead_url), require_keys=True))
    with caplog.at_level(logging.ERROR), pytest.raises(RuntimeError, match="failed to start"):
        ServerThread(app).start()
    assert f"no usable keys from {dead_url}" in caplog.text


@pytest.mark.slow
def test_the_variable_decides_and_false_starts_anyway(
    dead_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REQUIRE_KEYS_VARIABLE, "false")
    app = Starlette(lifespan=lifespan(dead_verifier(dead_url)))
    with ServerThread(app) as server:
        assert httpx.get(f"{server.base_url}/nothing").status_code == 404
    monkeypatch.setenv(REQUIRE_KEYS_VARIABLE, "true")
    with pytest.raises(RuntimeError, match="failed to start"):
        ServerThread(Starlette(lifespan=lifespan(dead_verifier(dead_url)))).start()
    monkeypatch.setenv(REQUIRE_KEYS_VARIABLE, "maybe")
    with pytest.raises(ConfigurationError, match=REQUIRE_KEYS_VARIABLE):
        lifespan(dead_verifier(dead_url))


@pytest.mark.slow
def test_the_lifespan_warms_up_composes_and_closes(m2m_issuer: LiveIssuer) -> None:
    """Keys are fetched before the first request; the app's own lifespan runs inside."""
    verifier = m2m_issuer.new_verifier(http_client=None)
    seen: list[str] = []

    @contextlib.asynccontextmanager
    async def own(app: Any) -> AsyncIterator[dict[str, str]]:
        seen.append(f"start ready={verifier.ready}")
        yield {"greeting": "hello"}
        seen.append("stop")

    async def greet(request: Request) -> JSONResponse:
        return JSONResponse({"greeting": request.state.greeting})

    app = Starlette(
        routes=[Route("/", greet)], lifespan=lifespan(verifier, require_keys=True, app_lifespan=own)
    )
    with ServerThread(app) as server:
        assert httpx.get(server.base_url).json() == {"greeting": "hello"}
    assert seen == ["start ready=True", "stop"]


def test_a_combined_verifier_warms_every_member_and_names_the_first_failure(
    dead_url: str, m2m_issuer: LiveIssuer
) -> None:
    alive = m2m_issuer.new_verifier()
    dead = dead_verifier(dead_url)
    combined = Verifier.combine(dead, alive)
    try:
        assert combined.warm_up() is False
        with pytest.raises(KeysUnavailableError, match=r"no usable keys from http://127\.0\.0\.1"):
            Verifier.combine(dead_verifier(dead_url), alive).warm_up(strict=True)
        assert alive.ready
        assert Verifier.combine(alive).warm_up(strict=True) is True

        async def warm() -> None:
            with pytest.raises(KeysUnavailableError):
                await Verifier.combine(dead_verifier(dead_url)).warm_up_async(strict=True)
            assert await Verifier.combine(alive).warm_up_async(strict=True) is True

        anyio.run(warm)
    finally:
        dead.close()
