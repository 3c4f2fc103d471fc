"""Over a real socket: a token endpoint and an API served on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import httpx
import pytest

from m2m_guard.client import ClientCredentialsAuth, TokenRequestError

pytestmark = pytest.mark.slow

CLIENT_ID = "m2m-client-test-wire"
CLIENT_SECRET = "wire-secret-123"
PROJECT_ID = "project-test-wire"


class LocalIssuer(ThreadingHTTPServer):
    """Issues tokens for one client and serves an API that checks them."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.issued: list[str] = []
        self.token_requests = 0
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: LocalIssuer

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def _answer(self, status: int, body: dict[str, object]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["content-length"]))
        if self.headers["content-type"] == "application/json":
            params = json.loads(raw)
        else:
            params = dict(parse_qsl(raw.decode()))
        basic = self.headers.get("authorization", "").removeprefix("Basic ")
        if basic:
            params["client_id"], _, params["client_secret"] = (
                base64.b64decode(basic).decode().partition(":")
            )
        if self.path not in ("/token", f"/v1/public/{PROJECT_ID}/oauth2/token"):
            self._answer(404, {"error": "not_found"})
        elif (params.get("client_id"), params.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            self._answer(401, {"error": "invalid_client", "error_description": "bad credentials"})
        else:
            with self.server.lock:
                self.server.token_requests += 1
                token = f"wire-token-{self.server.token_requests}"
                self.server.issued.append(token)
            self._answer(
                200,
                {
                    "access_token": token,
                    "token_type": "bearer",
                    "expires_in": 3600,
                    "scope": params.get("scope", ""),
                },
            )

    def do_GET(self) -> None:
        token = self.headers.get("authorization", "").removeprefix("Bearer ")
        if token in self.server.issued:
            self._answer(200, {"hello": "machine"})
        else:
            self._answer(401, {"error": "invalid_token"})


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    """A local token endpoint and API on an ephemeral loopback port."""
    server = LocalIssuer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_sync_client_gets_a_token_over_the_wire(issuer: LocalIssuer) -> None:
    """httpx.Client with the auth's own token client works against a real server."""
    with (
        ClientCredentialsAuth(
            f"{issuer.base_url}/token", CLIENT_ID, CLIENT_SECRET, scopes=["read:things"]
        ) as auth,
        httpx.Client(auth=auth) as client,
    ):
        responses = [client.get(f"{issuer.base_url}/api") for _ in range(3)]
    assert [r.json() for r in responses] == [{"hello": "machine"}] * 3
    assert issuer.token_requests == 1


@pytest.mark.anyio
async def test_async_client_gets_a_stytch_token_over_the_wire(issuer: LocalIssuer) -> None:
    """httpx.AsyncClient with for_stytch pointed at a local base URL works end to end."""
    auth = ClientCredentialsAuth.for_stytch(
        PROJECT_ID, CLIENT_ID, CLIENT_SECRET, environment=issuer.base_url
    )
    async with auth, httpx.AsyncClient(auth=auth) as client:
        response = await client.get(f"{issuer.base_url}/api")
        again = await client.get(f"{issuer.base_url}/api")
    assert (response.status_code, again.status_code) == (200, 200)
    assert issuer.token_requests == 1


def test_wrong_secret_is_reported_over_the_wire(issuer: LocalIssuer) -> None:
    """A real 401 from the token endpoint surfaces as TokenRequestError with its details."""
    auth = ClientCredentialsAuth(f"{issuer.base_url}/token", CLIENT_ID, "wrong-secret")
    with auth, pytest.raises(TokenRequestError) as info:
        auth.get_token()
    assert (info.value.http_status, info.value.error) == (401, "invalid_client")


def test_unreachable_endpoint_is_reported_without_status() -> None:
    """A refused connection surfaces as TokenRequestError with no HTTP status."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    auth = ClientCredentialsAuth(f"http://127.0.0.1:{port}/token", CLIENT_ID, CLIENT_SECRET)
    with auth, pytest.raises(TokenRequestError) as info:
        auth.get_token()
    assert info.value.http_status is None
    assert isinstance(info.value.__cause__, httpx.ConnectError)
