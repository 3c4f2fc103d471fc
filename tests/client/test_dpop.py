"""ClientCredentialsAuth with DPoP (RFC 9449): proofs, nonces, retries, key handling."""

from __future__ import annotations

import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from m2m_guard._http import httpx
from m2m_guard._sansio.dpop import DPoPPolicy, access_token_hash, check_proof
from m2m_guard._sansio.errors import ConfigurationError
from m2m_guard.client import ClientCredentialsAuth, DPoPKey, TokenRequestError
from m2m_guard.client._dpop import DPoPSigner
from m2m_guard.client._dpop_key import htu_of

TOKEN_URL = "https://issuer.invalid/oauth2/token"
API = "https://api.invalid"


def _claims(proof: str) -> dict[str, object]:
    return jwt.decode(proof, options={"verify_signature": False})


@dataclass
class Issuer:
    """A DPoP token endpoint for MockTransport; optionally demands a nonce first."""

    nonce: str | None = None
    proofs: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        proof = request.headers["dpop"]
        with self.lock:
            self.proofs.append(proof)
            number = len(self.proofs)
        policy = DPoPPolicy()
        checked = check_proof(
            proof,
            method="POST",
            url=str(request.url),
            access_token=None,
            policy=policy,
            now=float(_claims(proof)["iat"]),  # type: ignore[arg-type]
        )
        if self.nonce is not None and checked.claims.get("nonce") != self.nonce:
            return httpx.Response(
                400, json={"error": "use_dpop_nonce"}, headers={"DPoP-Nonce": self.nonce}
            )
        return httpx.Response(
            200, json={"access_token": f"token-{number}", "token_type": "DPoP", "expires_in": 600}
        )


@dataclass
class Api:
    """A DPoP resource server for MockTransport; optionally demands a nonce first."""

    nonce: str | None = None
    refused: set[str] = field(default_factory=set)
    seen: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        scheme, _, token = request.headers["authorization"].partition(" ")
        assert scheme == "DPoP"
        proof = request.headers["dpop"]
        with self.lock:
            self.seen.append((token, proof))
        claims = check_proof(
            proof,
            method=request.method,
            url=str(request.url),
            access_token=token,
            policy=DPoPPolicy(),
            now=float(_claims(proof)["iat"]),  # type: ignore[arg-type]
        ).claims
        if self.nonce is not None and claims.get("nonce") != self.nonce:
            return httpx.Response(
                401,
                headers={
                    "WWW-Authenticate": 'DPoP error="use_dpop_nonce"',
                    "DPoP-Nonce": self.nonce,
                },
            )
        if token in self.refused:
            return httpx.Response(401, headers={"WWW-Authenticate": 'DPoP error="invalid_token"'})
        return httpx.Response(200, json={"token": token})


def _auth(issuer: Issuer, key: DPoPKey | bool = True) -> ClientCredentialsAuth:
    return ClientCredentialsAuth(
        TOKEN_URL,
        "client",
        "secret",
        dpop=key,
        http_client=httpx.Client(transport=httpx.MockTransport(issuer)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(issuer)),
    )


def test_token_request_carries_a_proof_for_the_token_endpoint() -> None:
    """htm POST, htu the token URL, no ath, signed by the auth's key."""
    issuer = Issuer()
    key = DPoPKey.generate()
    assert _auth(issuer, key).get_token() == "token-1"
    header = jwt.get_unverified_header(issuer.proofs[0])
    claims = _claims(issuer.proofs[0])
    assert header["typ"] == "dpop+jwt"
    assert header["jwk"] == key.public_jwk
    assert "d" not in header["jwk"]
    assert (claims["htm"], claims["htu"]) == ("POST", TOKEN_URL)
    assert "ath" not in claims


def test_requests_go_with_dpop_authorization_and_a_fresh_proof_each() -> None:
    """Authorization: DPoP <token>; every request a new jti; ath the token's hash."""
    issuer, api = Issuer(), Api()
    with httpx.Client(auth=_auth(issuer), transport=httpx.MockTransport(api)) as client:
        for _ in range(3):
            assert client.get(f"{API}/things?page=2#top").status_code == 200
    jtis = {_claims(proof)["jti"] for _, proof in api.seen}
    assert len(jtis) == 3
    token, proof = api.seen[0]
    assert token == "token-1"
    claims = _claims(proof)
    assert claims["htu"] == f"{API}/things"  # no query, no fragment
    assert claims["htm"] == "GET"
    assert claims["ath"] == access_token_hash("token-1")
    assert len(issuer.proofs) == 1  # the token is cached as usual


def test_the_token_endpoint_nonce_costs_one_retry() -> None:
    """400 use_dpop_nonce with DPoP-Nonce: the proof is signed again with it, once."""
    issuer = Issuer(nonce="n-1")
    assert _auth(issuer).get_token() == "token-2"
    assert "nonce" not in _claims(issuer.proofs[0])
    assert _claims(issuer.proofs[1])["nonce"] == "n-1"
    assert len(issuer.proofs) == 2


def test_a_token_endpoint_that_keeps_asking_for_nonces_fails_cleanly() -> None:
    """A second use_dpop_nonce is not retried: the error reaches the caller."""

    def always(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "use_dpop_nonce"}, headers={"DPoP-Nonce": "x"})

    auth = ClientCredentialsAuth(
        TOKEN_URL,
        "c",
        "s",
        dpop=True,
        http_client=httpx.Client(transport=httpx.MockTransport(always)),
    )
    with pytest.raises(TokenRequestError, match="use_dpop_nonce"):
        auth.get_token()


def test_the_resource_server_nonce_costs_one_retry_and_is_remembered() -> None:
    """401 use_dpop_nonce: same token, new proof with the nonce; later requests carry it."""
    issuer, api = Issuer(), Api(nonce="api-nonce")
    with httpx.Client(auth=_auth(issuer), transport=httpx.MockTransport(api)) as client:
        assert client.get(f"{API}/a").status_code == 200
        assert client.get(f"{API}/b").status_code == 200
    assert [token for token, _ in api.seen] == ["token-1"] * 3
    nonces = [_claims(proof).get("nonce") for _, proof in api.seen]
    assert nonces == [None, "api-nonce", "api-nonce"]
    assert len(issuer.proofs) == 1


def test_nonces_are_kept_per_origin() -> None:
    """The API's nonce never goes to the token endpoint, nor to another origin."""
    signer = DPoPSigner(DPoPKey.generate())
    assert signer.observe(f"{API}/x", {"dpop-nonce": "api"})
    assert signer.nonce("https://API.invalid/other") == "api"
    assert signer.nonce(TOKEN_URL) is None
    assert signer.nonce("https://api.invalid:8443/x") is None


@pytest.mark.parametrize("bad", ["", "a b", 'quo"te', "x" * 600, "caf\u00e9"])
def test_a_malformed_nonce_is_ignored(bad: str) -> None:
    """Only RFC 9449 §8.1 NQCHAR nonces, bounded, are remembered and sent."""
    signer = DPoPSigner(DPoPKey.generate())
    assert not signer.observe(API, {"dpop-nonce": bad})
    assert signer.nonce(API) is None


def test_a_refused_token_is_replaced_once() -> None:
    """A 401 other than use_dpop_nonce: a new token, a new proof, one retry."""
    issuer, api = Issuer(), Api(refused={"token-1"})
    with httpx.Client(auth=_auth(issuer), transport=httpx.MockTransport(api)) as client:
        assert client.get(f"{API}/x").json() == {"token": "token-2"}
    assert [token for token, _ in api.seen] == ["token-1", "token-2"]


def test_a_bearer_answer_is_refused_when_dpop_was_asked() -> None:
    """token_type must be DPoP: an unbound token would be sent as if it were bound."""

    def bearer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"access_token": "t", "token_type": "Bearer", "expires_in": 60}
        )

    auth = ClientCredentialsAuth(
        TOKEN_URL,
        "c",
        "s",
        dpop=True,
        http_client=httpx.Client(transport=httpx.MockTransport(bearer)),
    )
    with pytest.raises(TokenRequestError, match="not a dpop token"):
        auth.get_token()


def test_threads_share_one_token_and_sign_their_own_proofs() -> None:
    """16 threads on a cold cache: one token request, 16 distinct proofs."""
    issuer, api = Issuer(), Api()
    auth = _auth(issuer)
    with httpx.Client(auth=auth, transport=httpx.MockTransport(api)) as client:
        barrier = threading.Barrier(16)

        def call(_: int) -> int:
            barrier.wait()
            return client.get(f"{API}/x").status_code

        with ThreadPoolExecutor(16) as pool:
            assert list(pool.map(call, range(16))) == [200] * 16
    assert len(issuer.proofs) == 1
    assert len({_claims(proof)["jti"] for _, proof in api.seen}) == 16


def test_tasks_share_one_token_and_retry_for_the_nonce() -> None:
    """Async: 20 tasks, one token request, each request proven; nonce retry works."""
    issuer, api = Issuer(nonce="t-n"), Api(nonce="a-n")
    auth = _auth(issuer)

    async def main() -> list[int]:
        statuses: list[int] = []
        async with httpx.AsyncClient(auth=auth, transport=httpx.MockTransport(api)) as client:

            async def call() -> None:
                statuses.append((await client.get(f"{API}/x")).status_code)

            async with anyio.create_task_group() as group:
                for _ in range(20):
                    group.start_soon(call)
        await auth.aclose()
        return statuses

    assert anyio.run(main) == [200] * 20
    assert len(issuer.proofs) == 2  # one nonce retry, then the token
    assert all(token == "token-2" for token, _ in api.seen)


def test_dpop_key_is_exposed_and_bearer_auth_has_none() -> None:
    """auth.dpop_key signs proofs for non-httpx callers; a bearer auth has no key."""
    key = DPoPKey.generate()
    assert _auth(Issuer(), key).dpop_key is key
    assert ClientCredentialsAuth(TOKEN_URL, "c", "s").dpop_key is None


def test_dpop_must_be_a_flag_or_a_key() -> None:
    """Anything else is a configuration error, not a silent bearer auth."""
    with pytest.raises(ConfigurationError, match="dpop"):
        ClientCredentialsAuth(TOKEN_URL, "c", "s", dpop="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithm", ["ES256", "ES384", "ES512", "EdDSA", "PS256"])
def test_every_supported_algorithm_makes_proofs_the_core_accepts(algorithm: str) -> None:
    """Each generated key signs a proof that passes the core's proof check."""
    key = DPoPKey.generate(algorithm)
    proof = key.proof("GET", f"{API}/x", access_token="tok", issued_at=1000)
    checked = check_proof(
        proof, method="GET", url=f"{API}/x", access_token="tok", policy=DPoPPolicy(), now=1000.0
    )
    assert checked.jkt == key.thumbprint
    assert jwt.get_unverified_header(proof)["alg"] == algorithm


def test_unsupported_keys_and_algorithms_are_refused() -> None:
    """Small RSA keys, unknown algorithms and mismatches are configuration errors."""
    with pytest.raises(ConfigurationError):
        DPoPKey.generate("HS256")
    with pytest.raises(ConfigurationError, match="2048"):
        DPoPKey(rsa.generate_private_key(65537, 1024))  # noqa: S505 - the point of the test
    with pytest.raises(ConfigurationError, match="not ES384"):
        DPoPKey(ec.generate_private_key(ec.SECP256R1()), algorithm="ES384")
    with pytest.raises(ConfigurationError, match="Unsupported DPoP algorithm"):
        DPoPKey(ec.generate_private_key(ec.SECP256R1()), algorithm="HS256")
    with pytest.raises(ConfigurationError, match="Unsupported DPoP curve"):
        DPoPKey(ec.generate_private_key(ec.SECP256K1()))
    with pytest.raises(ConfigurationError, match="PEM"):
        DPoPKey.from_pem("not a key")


def test_key_files_are_created_owner_only_and_loaded_back(tmp_path: Path) -> None:
    """load(create=True) writes a 0600 PKCS#8 file; loading it again gives the same key."""
    path = tmp_path / "dpop.pem"
    with pytest.raises(ConfigurationError, match="No DPoP key file"):
        DPoPKey.load(path)
    created = DPoPKey.load(path, create=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert DPoPKey.load(path).thumbprint == created.thumbprint
    assert DPoPKey.from_pem(created.to_pem().decode()).thumbprint == created.thumbprint
    assert created.thumbprint in repr(created)
    assert "PRIVATE" not in repr(created)


def test_an_unreadable_key_file_is_a_clear_error(tmp_path: Path) -> None:
    """A directory where the key should be: ConfigurationError, not a traceback."""
    with pytest.raises(ConfigurationError, match="Cannot read"):
        DPoPKey.load(tmp_path)
    with pytest.raises(ConfigurationError, match="Cannot create"):
        DPoPKey.load(tmp_path / "missing-dir" / "k.pem", create=True)


@pytest.mark.parametrize(
    ("url", "htu"),
    [
        ("https://API.invalid/a/b?q=1#f", "https://api.invalid/a/b"),
        ("https://api.invalid", "https://api.invalid/"),
        ("http://127.0.0.1:8080/x?y", "http://127.0.0.1:8080/x"),
    ],
)
def test_htu_drops_query_and_fragment(url: str, htu: str) -> None:
    """RFC 9449 §4.2: htu is the URI without query and fragment."""
    assert htu_of(url) == htu
