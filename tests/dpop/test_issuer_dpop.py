"""The local issuer's token endpoint with DPoP (RFC 9449 §5), over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator

import anyio
import jwt
import pytest

from m2m_guard._http import httpx
from m2m_guard._tools.server import ServerThread
from m2m_guard.client import ClientCredentialsAuth, DPoPKey, TokenRequestError
from m2m_guard.issuer import LocalIssuer, ScryptParams, create_app

pytestmark = pytest.mark.slow


def _claims(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    """One in-memory issuer for the module."""
    with LocalIssuer(":memory:", scrypt=ScryptParams.insecure_fast()) as local:
        yield local


@pytest.fixture(scope="module")
def served(issuer: LocalIssuer) -> Iterator[str]:
    """The issuer served on 127.0.0.1 without nonces."""
    with ServerThread(create_app(issuer=issuer)) as server:
        yield server.base_url


@pytest.fixture(scope="module")
def served_with_nonces(issuer: LocalIssuer) -> Iterator[str]:
    """The same issuer served on 127.0.0.1, requiring DPoP nonces."""
    with ServerThread(create_app(issuer=issuer, dpop_nonces=True)) as server:
        yield server.base_url


def _token_url(issuer: LocalIssuer, base: str) -> str:
    return f"{base}/v1/public/{issuer.project_id}/oauth2/token"


def _auth(issuer: LocalIssuer, base: str, key: DPoPKey | bool = True) -> ClientCredentialsAuth:
    client, secret = issuer.create_client(scopes=["read:things"])
    return ClientCredentialsAuth.for_stytch(
        issuer.project_id, client.client_id, secret, environment=base, dpop=key
    )


def test_a_dpop_token_is_bound_to_the_callers_key(issuer: LocalIssuer, served: str) -> None:
    """The token carries cnf.jkt = the RFC 7638 thumbprint of the caller's key."""
    key = DPoPKey.generate()
    with _auth(issuer, served, key) as auth:
        token = auth.get_token()
    assert _claims(token)["cnf"] == {"jkt": key.thumbprint}


def test_the_answer_says_token_type_dpop(issuer: LocalIssuer, served: str) -> None:
    """RFC 9449 §5: token_type is DPoP when the token is bound."""
    client, secret = issuer.create_client(scopes=["read:things"])
    key = DPoPKey.generate()
    url = _token_url(issuer, served)
    answer = httpx.post(
        url,
        json={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": secret,
        },
        headers={"DPoP": key.proof("POST", url)},
    )
    assert answer.status_code == 200
    assert answer.json()["token_type"] == "DPoP"


def test_without_a_proof_the_token_stays_a_bearer_token(issuer: LocalIssuer, served: str) -> None:
    """No DPoP header: a plain bearer token with no cnf."""
    with ClientCredentialsAuth.for_stytch(
        issuer.project_id, *_credentials(issuer), environment=served
    ) as auth:
        token = auth.get_token()
    assert "cnf" not in _claims(token)


def _credentials(issuer: LocalIssuer, **flags: bool) -> tuple[str, str]:
    client, secret = issuer.create_client(scopes=["read:things"], **flags)
    return client.client_id, secret


def _post(url: str, credentials: tuple[str, str], headers: dict[str, str]) -> httpx.Response:
    body = {
        "grant_type": "client_credentials",
        "client_id": credentials[0],
        "client_secret": credentials[1],
    }
    return httpx.post(url, json=body, headers=headers)


@pytest.mark.parametrize(
    ("what", "proof"),
    [
        ("wrong htm", lambda key, url: key.proof("GET", url)),
        ("wrong htu", lambda key, url: key.proof("POST", url + "x")),
        ("stale iat", lambda key, url: key.proof("POST", url, issued_at=int(time.time()) - 3600)),
        ("future iat", lambda key, url: key.proof("POST", url, issued_at=int(time.time()) + 3600)),
        ("not a JWS", lambda key, url: "not-a-proof"),
    ],
)
def test_a_bad_proof_is_refused(issuer: LocalIssuer, served: str, what: str, proof: object) -> None:
    """Every bad proof is 400 invalid_dpop_proof, and no token is issued."""
    url = _token_url(issuer, served)
    answer = _post(url, _credentials(issuer), {"DPoP": proof(DPoPKey.generate(), url)})  # type: ignore[operator]
    assert answer.status_code == 400, what
    assert answer.json()["error"] == "invalid_dpop_proof"
    assert "access_token" not in answer.json()


def test_a_replayed_proof_is_refused(issuer: LocalIssuer, served: str) -> None:
    """The same proof twice: the second token request is refused."""
    url = _token_url(issuer, served)
    proof = DPoPKey.generate().proof("POST", url)
    credentials = _credentials(issuer)
    assert _post(url, credentials, {"DPoP": proof}).status_code == 200
    again = _post(url, credentials, {"DPoP": proof})
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_dpop_proof"


def test_two_dpop_headers_are_refused(issuer: LocalIssuer, served: str) -> None:
    """RFC 9449 §4.3: exactly one DPoP header."""
    url = _token_url(issuer, served)
    key = DPoPKey.generate()
    body = json.dumps({"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"})
    answer = httpx.post(
        url,
        content=body,
        headers=[
            ("content-type", "application/json"),
            ("dpop", key.proof("POST", url)),
            ("dpop", key.proof("POST", url)),
        ],
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_dpop_proof"


def test_a_dpop_bound_client_must_send_a_proof(issuer: LocalIssuer, served: str) -> None:
    """dpop_bound_access_tokens: a token request without a proof gets no token."""
    credentials = _credentials(issuer, dpop_bound_access_tokens=True)
    refused = _post(_token_url(issuer, served), credentials, {})
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_dpop_proof"
    with ClientCredentialsAuth.for_stytch(
        issuer.project_id, *credentials, environment=served, dpop=True
    ) as auth:
        assert "jkt" in _claims(auth.get_token())["cnf"]  # type: ignore[operator]


def test_the_caller_retries_once_with_the_issuers_nonce(
    issuer: LocalIssuer, served_with_nonces: str
) -> None:
    """use_dpop_nonce: the first request learns the nonce, the second carries it."""
    url = _token_url(issuer, served_with_nonces)
    first = _post(url, _credentials(issuer), {"DPoP": DPoPKey.generate().proof("POST", url)})
    assert first.status_code == 400
    assert first.json()["error"] == "use_dpop_nonce"
    assert first.headers["DPoP-Nonce"]
    with _auth(issuer, served_with_nonces) as auth:
        assert "jkt" in _claims(auth.get_token())["cnf"]  # type: ignore[operator]


def test_async_callers_get_bound_tokens_too(issuer: LocalIssuer, served_with_nonces: str) -> None:
    """The async path: proof, nonce retry, bound token."""
    key = DPoPKey.generate()

    async def main() -> str:
        async with _auth(issuer, served_with_nonces, key) as auth:
            return await auth.aget_token()

    token = anyio.run(main)
    assert _claims(token)["cnf"] == {"jkt": key.thumbprint}


def test_a_bearer_token_from_the_endpoint_is_refused_by_a_dpop_caller(
    issuer: LocalIssuer, served: str
) -> None:
    """A caller that asked for DPoP never uses an unbound token (token_type must be DPoP)."""

    def bearer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"access_token": "a.b.c", "token_type": "bearer", "expires_in": 60}
        )

    with (
        ClientCredentialsAuth(
            "https://issuer.invalid/token",
            "id",
            "secret",
            dpop=True,
            http_client=httpx.Client(transport=httpx.MockTransport(bearer)),
        ) as auth,
        pytest.raises(TokenRequestError, match="not a dpop token"),
    ):
        auth.get_token()


def test_metadata_lists_the_proof_algorithms(issuer: LocalIssuer, served: str) -> None:
    """RFC 9449 §5.1: dpop_signing_alg_values_supported, asymmetric only."""
    document = httpx.get(f"{served}/.well-known/oauth-authorization-server").json()
    assert "ES256" in document["dpop_signing_alg_values_supported"]
    assert not any(alg.startswith("HS") for alg in document["dpop_signing_alg_values_supported"])


def test_rfc7638_thumbprint_of_the_generated_key() -> None:
    """The key's thumbprint is SHA-256 over its required members, in order."""
    key = DPoPKey.generate()
    jwk = key.public_jwk
    canonical = json.dumps({m: jwk[m] for m in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    digest = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=")
    assert key.thumbprint == digest.decode()
