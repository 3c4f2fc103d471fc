"""ClientCredentialsAuth against the local Stytch-compatible issuer over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from m2m_guard import Verifier
from m2m_guard._http import httpx
from m2m_guard._tools.server import ServerThread
from m2m_guard.client import ClientCredentialsAuth, TokenRequestError
from m2m_guard.issuer import LocalIssuer, ScryptParams, create_app
from m2m_guard.starlette import M2MGuardMiddleware, require_scopes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[LocalIssuer, str, str]]:
    """The issuer and an API that trusts it, both served on 127.0.0.1."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    @require_scopes("read:settings")
    async def settings(request: Request) -> JSONResponse:
        claims = request.state.m2m
        return JSONResponse({"client_id": claims.client_id, "scopes": list(claims.scopes)})

    with (
        LocalIssuer(":memory:", scrypt=ScryptParams.insecure_fast()) as issuer,
        ServerThread(create_app(issuer=issuer)) as issuer_server,
    ):
        verifier = Verifier.for_stytch(issuer.project_id, environment=issuer_server.base_url)
        api = Starlette(
            routes=[Route("/settings", settings)],
            middleware=[Middleware(M2MGuardMiddleware, verifier=verifier)],
        )
        with ServerThread(api) as api_server:
            yield issuer, issuer_server.base_url, api_server.base_url
        verifier.close()


@pytest.mark.parametrize(
    ("auth_method", "body_format"),
    [
        ("client_secret_basic", "form"),
        ("client_secret_post", "json"),
        ("client_secret_post", "form"),
    ],
)
def test_sync_client_calls_the_api_with_issuer_tokens(
    world: tuple[LocalIssuer, str, str], auth_method: str, body_format: str
) -> None:
    """Basic or body credentials, form or JSON: the issuer grants, the API accepts."""
    issuer, issuer_url, api_url = world
    client, secret = issuer.create_client(scopes=["read:settings", "write:settings"])
    token_url = f"{issuer_url}/v1/public/{issuer.project_id}/oauth2/token"
    auth = ClientCredentialsAuth(
        token_url,
        client.client_id,
        secret,
        scopes=["read:settings"],
        auth_method=auth_method,  # type: ignore[arg-type]
        body_format=body_format,  # type: ignore[arg-type]
    )
    with auth, httpx.Client(auth=auth, base_url=api_url, timeout=10) as http:
        first = http.get("/settings")
        second = http.get("/settings")
    assert first.status_code == second.status_code == 200
    assert first.json() == {"client_id": client.client_id, "scopes": ["read:settings"]}


@pytest.mark.anyio
async def test_async_client_uses_the_stytch_preset(world: tuple[LocalIssuer, str, str]) -> None:
    """for_stytch derives the token URL from the project and environment."""
    issuer, issuer_url, api_url = world
    client, secret = issuer.create_client(scopes=["read:settings"])
    auth = ClientCredentialsAuth.for_stytch(
        issuer.project_id, client.client_id, secret, environment=issuer_url
    )
    async with auth, httpx.AsyncClient(auth=auth, base_url=api_url, timeout=10) as http:
        response = await http.get("/settings")
    assert response.status_code == 200
    assert response.json()["client_id"] == client.client_id


def test_refused_credentials_raise_token_request_error(world: tuple[LocalIssuer, str, str]) -> None:
    """A wrong secret is an OAuth2 error from the issuer, raised before the API is called."""
    issuer, issuer_url, api_url = world
    client, _ = issuer.create_client(scopes=["read:settings"])
    auth = ClientCredentialsAuth.for_stytch(
        issuer.project_id, client.client_id, "wrong-secret-value", environment=issuer_url
    )
    with (
        auth,
        httpx.Client(auth=auth, base_url=api_url, timeout=10) as http,
        pytest.raises(TokenRequestError) as info,
    ):
        http.get("/settings")
    assert info.value.upstream_error == "invalid_client"
