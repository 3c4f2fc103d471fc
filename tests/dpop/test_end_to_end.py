"""DPoP end to end over real HTTP: the local issuer and a ``dpop="required"`` API on 127.0.0.1.

The caller (``ClientCredentialsAuth(dpop=...)``) gets a bound token from the
issuer and calls a Starlette API whose verifier takes DPoP-bound tokens only;
both servers may demand nonces. Nothing is mocked.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import anyio
import pytest

from m2m_guard import DPoPPolicy, Verifier
from m2m_guard._http import httpx
from m2m_guard._tools.demo import protected_app
from m2m_guard._tools.server import ServerThread
from m2m_guard.client import ClientCredentialsAuth, DPoPKey
from m2m_guard.issuer import LocalIssuer, ScryptParams, create_app

pytestmark = pytest.mark.slow


@dataclass
class World:
    issuer: LocalIssuer
    issuer_url: str
    api_url: str

    def auth(self, key: DPoPKey | bool = True) -> ClientCredentialsAuth:
        client, secret = self.issuer.create_client(
            scopes=["read:settings"], dpop_bound_access_tokens=True
        )
        return ClientCredentialsAuth.for_stytch(
            self.issuer.project_id,
            client.client_id,
            secret,
            environment=self.issuer_url,
            dpop=key,
        )


@pytest.fixture(scope="module", params=["plain", "nonces"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    """Issuer and API on 127.0.0.1; with "nonces" both demand server nonces."""
    nonces = request.param == "nonces"
    policy = DPoPPolicy(nonce_secret=b"n" * 32) if nonces else None
    with (
        LocalIssuer(":memory:", scrypt=ScryptParams.insecure_fast()) as issuer,
        ServerThread(create_app(issuer=issuer, dpop_nonces=nonces)) as issuer_server,
    ):
        verifier = Verifier.for_stytch(
            issuer.project_id,
            environment=issuer_server.base_url,
            dpop="required",
            dpop_policy=policy,
        )
        with ServerThread(protected_app(verifier)) as api_server:
            yield World(issuer, issuer_server.base_url, api_server.base_url)
        verifier.close()


def test_a_sync_caller_calls_the_api_with_a_bound_token(world: World) -> None:
    """Token bound to the caller's key; the API accepts it with a fresh proof per request."""
    key = DPoPKey.generate()
    with world.auth(key) as auth, httpx.Client(auth=auth, base_url=world.api_url) as client:
        for _ in range(3):
            answer = client.get("/settings", params={"page": "1"})
            assert answer.status_code == 200, answer.headers.get("www-authenticate")
        assert client.post("/settings").status_code == 403  # scope still enforced


def test_an_async_caller_calls_the_api_with_a_bound_token(world: World) -> None:
    """The same over AsyncClient, with 10 concurrent tasks."""
    auth = world.auth()

    async def main() -> list[int]:
        async with httpx.AsyncClient(auth=auth, base_url=world.api_url) as client:
            statuses: list[int] = []

            async def call() -> None:
                statuses.append((await client.get("/whoami")).status_code)

            async with anyio.create_task_group() as group:
                for _ in range(10):
                    group.start_soon(call)
        await auth.aclose()
        return statuses

    assert anyio.run(main) == [200] * 10


def test_threads_share_one_auth(world: World) -> None:
    """8 threads, one auth: every request accepted (no proof is ever reused)."""
    with world.auth() as auth, httpx.Client(auth=auth, base_url=world.api_url) as client:
        barrier = threading.Barrier(8)

        def call(_: int) -> list[int]:
            barrier.wait()
            return [client.get("/whoami").status_code for _ in range(3)]

        with ThreadPoolExecutor(8) as pool:
            results = [status for batch in pool.map(call, range(8)) for status in batch]
    assert results == [200] * 24


def test_the_bound_token_is_refused_as_bearer_replayed_or_stolen(world: World) -> None:
    """Bearer scheme, a replayed proof, and another key's proof: all 401."""
    with world.auth() as auth, httpx.Client(auth=auth, base_url=world.api_url) as client:
        assert client.get("/whoami").status_code == 200  # learns the API's nonce, if any
        token, key = auth.get_token(), auth.dpop_key
        assert key is not None
        url = f"{world.api_url}/whoami"
        nonce = auth._signer.nonce(url) if auth._signer else None

        def proof(signer: DPoPKey) -> str:
            return signer.proof("GET", url, access_token=token, nonce=nonce)

        as_bearer = httpx.get(url, headers={"authorization": f"Bearer {token}"})
        assert as_bearer.status_code == 401
        assert as_bearer.headers["www-authenticate"].startswith("DPoP ")
        good = {"authorization": f"DPoP {token}", "dpop": proof(key)}
        assert httpx.get(url, headers=good).status_code == 200
        replayed = httpx.get(url, headers=good)
        assert replayed.status_code == 401
        assert 'error="invalid_dpop_proof"' in replayed.headers["www-authenticate"]
        stolen = httpx.get(
            url, headers={"authorization": f"DPoP {token}", "dpop": proof(DPoPKey.generate())}
        )
        assert stolen.status_code == 401
        assert 'error="invalid_dpop_proof"' in stolen.headers["www-authenticate"]


def test_a_bearer_caller_is_refused_by_the_dpop_api(world: World) -> None:
    """A plain bearer token from the same issuer is refused by the DPoP-only API."""
    client, secret = world.issuer.create_client(scopes=["read:settings"])
    with (
        ClientCredentialsAuth.for_stytch(
            world.issuer.project_id, client.client_id, secret, environment=world.issuer_url
        ) as auth,
        httpx.Client(auth=auth, base_url=world.api_url) as api,
    ):
        assert api.get("/whoami").status_code == 401
