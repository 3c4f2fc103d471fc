"""Where the certificate comes from without a proxy: the ASGI ``tls``
extension (``client_cert_chain``) and the WSGI environ's ``SSL_CLIENT_CERT``,
through the ASGI and WSGI middlewares."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from m2m_guard import Verifier
from m2m_guard.asgi import M2MGuardMiddleware as ASGIGuard
from m2m_guard.wsgi import M2MGuardMiddleware as WSGIGuard
from tests.support.certs import CA
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims

CA_ = CA()
ALICE, MALLORY = CA_.issue("alice"), CA_.issue("mallory")


@pytest.fixture
def bound(rsa_key: SigningKey) -> str:
    return rsa_key.sign(stytch_claims(time.time(), cnf={"x5t#S256": ALICE.thumbprint}))


def verifier(rsa_key: SigningKey) -> Verifier:
    return Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), mtls=True)


async def ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def asgi_status(app: Any, token: str, chain: list[str] | None) -> int:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"api.example.com"), (b"authorization", f"Bearer {token}".encode())],
    }
    if chain is not None:
        scope["extensions"] = {"tls": {"client_cert_chain": chain, "tls_version": 0x0304}}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)
    return int(sent[0]["status"])


@pytest.mark.parametrize(
    ("chain", "status"),
    [([ALICE.cert_pem, CA_.cert_pem], 200), ([MALLORY.cert_pem], 401), ([], 401), (None, 401)],
    ids=["its certificate", "another", "empty chain", "no tls extension"],
)
def test_asgi_tls_extension(
    rsa_key: SigningKey, bound: str, chain: list[str] | None, status: int
) -> None:
    """The first certificate of ``client_cert_chain`` is the caller's."""
    app = ASGIGuard(ok, verifier=verifier(rsa_key))
    assert asgi_status(app, bound, chain) == status


def hello(environ: dict[str, Any], start_response: Any) -> Any:
    return Response("ok")(environ, start_response)


@pytest.mark.parametrize(
    ("cert", "status"),
    [(ALICE.cert_pem, 200), (MALLORY.cert_pem, 401), ("", 401), (None, 401)],
    ids=["its certificate", "another", "empty", "absent"],
)
def test_wsgi_ssl_client_cert(
    rsa_key: SigningKey, bound: str, cert: str | None, status: int
) -> None:
    """``SSL_CLIENT_CERT`` (mod_ssl, mod_wsgi) is the caller's certificate."""
    client = Client(WSGIGuard(hello, verifier=verifier(rsa_key)))
    extra = {} if cert is None else {"SSL_CLIENT_CERT": cert}
    reply = client.get("/", headers={"Authorization": f"Bearer {bound}"}, environ_overrides=extra)
    assert reply.status_code == status
    if status == 401:
        assert json.loads(reply.data)["error"] == "invalid_token"
