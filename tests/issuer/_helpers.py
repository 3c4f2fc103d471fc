"""Helpers shared by the issuer tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import anyio.from_thread
import httpx
import jwt
from anyio.from_thread import BlockingPortal

from m2m_guard.issuer import CreatedClient, LocalIssuer, ScryptParams

FAST = ScryptParams.insecure_fast()


def body_for(client: CreatedClient, **extra: Any) -> dict[str, Any]:
    """A client_credentials body with the client's credentials."""
    return {
        "grant_type": "client_credentials",
        "client_id": client.client.client_id,
        "client_secret": client.client_secret,
        **extra,
    }


def decode(token: str, issuer: LocalIssuer) -> dict[str, Any]:
    """Verify a token's signature, iss and aud against the issuer's JWKS.

    Time claims are not checked here: the fake clock is not PyJWT's clock.
    """
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(key for key in issuer.jwks()["keys"] if key["kid"] == kid)
    return jwt.decode(
        token,
        jwt.PyJWK(jwk).key,
        algorithms=["RS256"],
        audience=issuer.project_id,
        issuer=issuer.issuer,
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )


class _AsyncChunks(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


class SyncASGITransport(httpx.BaseTransport):
    """httpx's ASGITransport for a sync client, through an anyio portal.

    Starlette's TestClient warns (deprecated with httpx) under
    ``filterwarnings = error``; this is the few lines we need of it.
    """

    def __init__(self, app: Any, portal: BlockingPortal) -> None:
        self._transport = httpx.ASGITransport(app=app)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):  # a sync generator body
            request.stream = _AsyncChunks(list(request.stream))
        return self._portal.call(self._handle, request)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        response = await self._transport.handle_async_request(request)
        content = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=content)


@contextmanager
def asgi_client(app: Any, base_url: str = "http://issuer.test") -> Iterator[httpx.Client]:
    """A sync httpx client calling an ASGI app in-process (no network)."""
    with anyio.from_thread.start_blocking_portal() as portal:
        transport = SyncASGITransport(app, portal)
        with httpx.Client(transport=transport, base_url=base_url) as client:
            yield client
