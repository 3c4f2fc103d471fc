"""Certificate-bound tokens (RFC 8705) end to end, with a real TLS client
certificate: Debian's nginx terminates mutual TLS with a CA made in the test
and passes the verified certificate (``$ssl_client_escaped_cert``) to the
app, served by uvicorn, whose verifier trusts that one header."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from m2m_guard import Verifier
from m2m_guard.asgi import M2MGuardMiddleware, get_claims
from tests.support.certs import CA, Issued
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="needs Debian's nginx package")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def whoami(request: Request) -> JSONResponse:
    claims = get_claims(request.scope)
    assert claims is not None
    return JSONResponse({"client_id": claims.client_id, "x5t": claims.cert_thumbprint})


def app_for(verifier: Verifier) -> M2MGuardMiddleware:
    return M2MGuardMiddleware(Starlette(routes=[Route("/whoami", whoami)]), verifier=verifier)


@pytest.fixture
def upstream(rsa_key: SigningKey) -> Iterator[int]:
    """uvicorn on 127.0.0.1, behind the proxy."""
    verifier = Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks=jwks_of(rsa_key),
        mtls_cert_header="X-Client-Cert",
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app_for(verifier), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield port
    server.should_exit = True
    thread.join(10)


NGINX_CONF = """
worker_processes 1;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {dir}/server.crt;
        ssl_certificate_key {dir}/server.key;
        ssl_client_certificate {dir}/ca.crt;
        ssl_verify_client optional;
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            # Replaces whatever a caller sent under this name.
            proxy_set_header X-Client-Cert $ssl_client_escaped_cert;
        }}
    }}
}}
"""


@pytest.fixture
def ca() -> CA:
    return CA()


@pytest.fixture
def proxy(tmp_path: Path, upstream: int, ca: CA) -> Iterator[str]:
    """nginx terminating mutual TLS on 127.0.0.1; yields its https URL."""
    ca.issue("127.0.0.1", server=True).write(tmp_path, "server")
    (tmp_path / "ca.crt").write_text(ca.cert_pem)
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=tmp_path, port=port, upstream=upstream))
    assert NGINX is not None
    process = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "error.log").read_text()
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.02)
        yield f"https://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def get(
    url: str, ca: CA, tmp_path: Path, token: str, client: Issued | None, **headers: str
) -> httpx.Response:
    context = ssl.create_default_context(cadata=ca.cert_pem)
    if client is not None:
        cert, key = client.write(tmp_path, "client")
        context.load_cert_chain(cert, key)
    with httpx.Client(verify=context, timeout=10) as http:
        return http.get(f"{url}/whoami", headers={"authorization": f"Bearer {token}", **headers})


def test_certificate_bound_token_through_mutual_tls(
    proxy: str, ca: CA, tmp_path: Path, rsa_key: SigningKey
) -> None:
    """The token works only over a TLS connection made with its certificate;
    another certificate, none, or a forged header get 401 invalid_token."""
    alice, mallory = ca.issue("alice"), ca.issue("mallory")
    token = rsa_key.sign(stytch_claims(time.time(), cnf={"x5t#S256": alice.thumbprint}))

    ok = get(proxy, ca, tmp_path, token, alice)
    assert ok.status_code == 200, ok.text
    assert ok.json()["x5t"] == alice.thumbprint

    for client in (mallory, None):
        refused = get(proxy, ca, tmp_path, token, client)
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_token"
        assert "certificate" in refused.json()["error_description"]

    # A caller naming alice's certificate in the header itself: the proxy overwrites it.
    spoofed = get(proxy, ca, tmp_path, token, mallory, **{"x-client-cert": quote(alice.cert_pem)})
    assert spoofed.status_code == 401

    plain = rsa_key.sign(stytch_claims(time.time()))
    assert get(proxy, ca, tmp_path, plain, None).status_code == 200
