"""Certificate-bound tokens where the Python server itself terminates mutual
TLS: aiohttp on 127.0.0.1 with an ``ssl.SSLContext`` that asks for client
certificates of a CA made in the test; the verifier reads the certificate
from the connection (no header to trust)."""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path

import httpx
from aiohttp import web
from aiohttp.test_utils import TestServer

from m2m_guard import Verifier
from m2m_guard.aiohttp import get_claims, m2m_middleware
from tests.support.certs import CA, Issued
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims


async def whoami(request: web.Request) -> web.Response:
    claims = get_claims(request)
    assert claims is not None
    return web.json_response({"x5t": claims.cert_thumbprint})


def server_context(ca: CA, tmp_path: Path) -> ssl.SSLContext:
    cert, key = ca.issue("127.0.0.1", server=True).write(tmp_path, "server")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cadata=ca.cert_pem)
    context.load_cert_chain(cert, key)
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


def client_context(ca: CA, tmp_path: Path, client: Issued | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca.cert_pem)
    if client is not None:
        context.load_cert_chain(*client.write(tmp_path, "client"))
    return context


def test_aiohttp_reads_the_client_certificate_of_the_connection(
    tmp_path: Path, rsa_key: SigningKey
) -> None:
    """Over real mutual TLS: the bound token passes with its certificate only."""
    ca = CA()
    alice, mallory = ca.issue("alice"), ca.issue("mallory")
    verifier = Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), mtls=True)
    token = rsa_key.sign(stytch_claims(time.time(), cnf={"x5t#S256": alice.thumbprint}))
    app = web.Application(middlewares=[m2m_middleware(verifier)])
    app.router.add_get("/whoami", whoami)

    async def main() -> list[int]:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server(ssl=server_context(ca, tmp_path))
        statuses = []
        try:
            for client in (alice, mallory, None):
                context = client_context(ca, tmp_path, client)
                async with httpx.AsyncClient(verify=context, timeout=10) as http:
                    reply = await http.get(
                        f"https://127.0.0.1:{server.port}/whoami",
                        headers={"authorization": f"Bearer {token}"},
                    )
                statuses.append(reply.status_code)
                if reply.status_code == 200:
                    assert reply.json() == {"x5t": alice.thumbprint}
        finally:
            await server.close()
        return statuses

    assert asyncio.run(main()) == [200, 401, 401]
