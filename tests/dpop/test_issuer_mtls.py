"""Certificate-bound issuance (RFC 8705 §3) end to end, with a real TLS client certificate.

Debian's nginx terminates mutual TLS with a CA made in the test, in front of
both the local issuer and an API (real uvicorn servers on 127.0.0.1); it
passes the verified certificate on in one header (``$ssl_client_escaped_cert``)
that both trust. The caller gets a token over mutual TLS (``cnf["x5t#S256"]``)
and uses it over mutual TLS; with another certificate it is refused.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import jwt
import pytest

from m2m_guard import Verifier
from m2m_guard._tools.demo import protected_app
from m2m_guard._tools.server import ServerThread
from m2m_guard.issuer import LocalIssuer, ScryptParams, create_app
from m2m_guard.issuer._certs import certificate_thumbprint
from m2m_guard.issuer._errors import OAuthError
from tests.support.certs import CA, Issued

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
HEADER = "X-Client-Cert"

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
        # Replaces whatever a caller sent under this name.
        proxy_set_header X-Client-Cert $ssl_client_escaped_cert;
        location /v1/ {{ proxy_pass {issuer}; }}
        location / {{ proxy_pass {api}; }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class World:
    issuer: LocalIssuer
    url: str  # nginx: /v1/... to the issuer, the rest to the API
    ca: CA
    tmp: Path

    def http(self, client: Issued | None) -> httpx.Client:
        context = ssl.create_default_context(cadata=self.ca.cert_pem)
        if client is not None:
            cert, key = client.write(self.tmp, f"client-{id(client)}")
            context.load_cert_chain(cert, key)
        return httpx.Client(verify=context, timeout=10, base_url=self.url)

    def token(self, http: httpx.Client, client_id: str, secret: str) -> httpx.Response:
        body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        return http.post(f"/v1/public/{self.issuer.project_id}/oauth2/token", json=body)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """nginx (mutual TLS) in front of the issuer and an mTLS-checking API."""
    if NGINX is None:
        pytest.skip("needs Debian's nginx package")
    tmp = tmp_path_factory.mktemp("mtls")
    ca = CA()
    ca.issue("127.0.0.1", server=True).write(tmp, "server")
    (tmp / "ca.crt").write_text(ca.cert_pem)
    with (
        LocalIssuer(":memory:", scrypt=ScryptParams.insecure_fast()) as issuer,
        ServerThread(create_app(issuer=issuer, mtls_cert_header=HEADER)) as issuer_server,
    ):
        verifier = Verifier.for_stytch(
            issuer.project_id, environment=issuer_server.base_url, mtls_cert_header=HEADER
        )
        with ServerThread(protected_app(verifier)) as api_server:
            port = _free_port()
            conf = tmp / "nginx.conf"
            conf.write_text(
                NGINX_CONF.format(
                    dir=tmp, port=port, issuer=issuer_server.base_url, api=api_server.base_url
                )
            )
            process = subprocess.Popen(
                [NGINX, "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"],
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
                        assert process.poll() is None, (tmp / "error.log").read_text()
                        assert time.monotonic() < deadline, "nginx did not start"
                        time.sleep(0.02)
                yield World(issuer, f"https://127.0.0.1:{port}", ca, tmp)
            finally:
                process.terminate()
                process.wait(10)
        verifier.close()


@pytest.mark.slow
def test_a_token_got_over_mutual_tls_is_bound_to_the_certificate(world: World) -> None:
    """cnf["x5t#S256"] is the certificate's thumbprint; the API takes it with that one only."""
    alice, mallory = world.ca.issue("alice"), world.ca.issue("mallory")
    client, secret = world.issuer.create_client(
        scopes=["read:settings"], tls_client_certificate_bound_access_tokens=True
    )
    with world.http(alice) as http:
        answer = world.token(http, client.client_id, secret)
        assert answer.status_code == 200, answer.text
        token = answer.json()["access_token"]
        assert answer.json()["token_type"] == "bearer"  # RFC 8705: still a Bearer token
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["cnf"] == {"x5t#S256": alice.thumbprint}
        ok = http.get("/whoami", headers={"authorization": f"Bearer {token}"})
        assert ok.status_code == 200, ok.text
    with world.http(mallory) as http:
        stolen = http.get("/whoami", headers={"authorization": f"Bearer {token}"})
        assert stolen.status_code == 401


@pytest.mark.slow
def test_a_bound_client_gets_no_token_without_a_certificate(world: World) -> None:
    """No certificate, or one only claimed in the header by the caller: 401 invalid_client."""
    alice = world.ca.issue("alice")
    client, secret = world.issuer.create_client(
        scopes=["read:settings"], tls_client_certificate_bound_access_tokens=True
    )
    with world.http(None) as http:
        refused = world.token(http, client.client_id, secret)
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_client"
        http.headers[HEADER] = quote(alice.cert_pem)  # the proxy replaces it
        assert world.token(http, client.client_id, secret).status_code == 401


@pytest.mark.slow
def test_an_unbound_client_without_a_certificate_gets_a_plain_token(world: World) -> None:
    """No certificate, no binding: an ordinary bearer token, no cnf."""
    client, secret = world.issuer.create_client(scopes=["read:settings"])
    with world.http(None) as http:
        answer = world.token(http, client.client_id, secret)
    assert answer.status_code == 200
    assert "cnf" not in jwt.decode(
        answer.json()["access_token"], options={"verify_signature": False}
    )


# -- where the certificate comes from (unit) ----------------------------------


def test_the_asgi_tls_extension_is_read_first() -> None:
    """A server that passes the chain in the ASGI tls extension: its first certificate."""
    alice = CA().issue("alice")
    scope = {"extensions": {"tls": {"client_cert_chain": [alice.cert_pem]}}}
    assert certificate_thumbprint(scope, [], None) == alice.thumbprint


@pytest.mark.parametrize("form", ["nginx", "envoy"])
def test_a_trusted_header_is_read_only_when_named(form: str) -> None:
    """nginx's escaped PEM or Envoy's Cert="…": read only when the header is configured."""
    alice = CA().issue("alice")
    value = quote(alice.cert_pem)
    if form == "envoy":
        value = f'Hash=abc;Cert="{value}";Subject="CN=alice"'
    headers = [("x-client-cert", value)]
    assert certificate_thumbprint({}, headers, HEADER) == alice.thumbprint
    assert certificate_thumbprint({}, headers, None) is None
    assert certificate_thumbprint({}, [], HEADER) is None


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ([("x-client-cert", "a"), ("x-client-cert", "b")], "exactly one"),
        ([("x-client-cert", "not a certificate")], "not PEM"),
        ([("x-client-cert", "x" * 20000)], "too large"),
    ],
)
def test_a_bad_certificate_header_is_refused(headers: list[tuple[str, str]], message: str) -> None:
    """Two headers, junk, or a huge one: 400 invalid_request, never ignored."""
    with pytest.raises(OAuthError, match=message) as caught:
        certificate_thumbprint({}, headers, HEADER)
    assert caught.value.status_code == 400
