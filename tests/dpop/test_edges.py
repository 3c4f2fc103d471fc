"""Edges of the DPoP caller and the issuer's proof check: failures stay clear and bounded."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ed448

from m2m_guard._http import httpx
from m2m_guard._sansio.errors import ConfigurationError
from m2m_guard.client import ClientCredentialsAuth, DPoPKey, TokenRequestError
from m2m_guard.issuer import _dpop as issuer_dpop
from m2m_guard.issuer._dpop import ProofChecker
from m2m_guard.issuer._errors import OAuthError

TOKEN_URL = "https://issuer.invalid/token"


def _auth(handler: object) -> ClientCredentialsAuth:
    transport = httpx.MockTransport(handler)  # type: ignore[arg-type]
    return ClientCredentialsAuth(
        TOKEN_URL, "c", "s", dpop=True, http_client=httpx.Client(transport=transport)
    )


def test_an_unreachable_token_endpoint_is_a_token_request_error() -> None:
    """No answer at all: TokenRequestError, no retry."""
    calls: list[httpx.Request] = []

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(TokenRequestError, match="ConnectError"):
        _auth(down).get_token()
    assert len(calls) == 1


def test_a_400_without_a_json_use_dpop_nonce_is_not_retried() -> None:
    """A nonce header on a plain 400 (not use_dpop_nonce): one request, the error surfaces."""
    calls: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(400, content=b"<html>", headers={"DPoP-Nonce": "n"})

    with pytest.raises(TokenRequestError, match="HTTP 400"):
        _auth(refuse).get_token()
    assert len(calls) == 1


def test_a_use_dpop_nonce_without_a_nonce_is_not_retried() -> None:
    """use_dpop_nonce but no DPoP-Nonce header: nothing to retry with."""
    calls: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(400, json={"error": "use_dpop_nonce"})

    with pytest.raises(TokenRequestError, match="use_dpop_nonce"):
        _auth(refuse).get_token()
    assert len(calls) == 1


@pytest.mark.parametrize(
    "private",
    [
        lambda: dsa.generate_private_key(2048),
        lambda: ed448.Ed448PrivateKey.generate(),
    ],
)
def test_unsupported_key_types_are_refused(private: object) -> None:
    """DSA and Ed448 keys: ConfigurationError, from an object or from PEM."""
    key = private()  # type: ignore[operator]
    with pytest.raises(ConfigurationError, match="DPoP key must be"):
        DPoPKey(key)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ConfigurationError, match="DPoP key must be"):
        DPoPKey.from_pem(pem)


def test_a_full_replay_memory_refuses_rather_than_forgets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When every remembered jti is still live, a new proof is refused (never an early forget)."""
    monkeypatch.setattr(issuer_dpop, "_MAX_REMEMBERED", 2)
    now = [time.time()]
    checker = ProofChecker(clock=lambda: now[0])
    key = DPoPKey.generate()
    for _ in range(2):
        assert checker.check([key.proof("POST", TOKEN_URL)], TOKEN_URL) == key.thumbprint
    with pytest.raises(OAuthError, match="used before"):
        checker.check([key.proof("POST", TOKEN_URL)], TOKEN_URL)
    now[0] += 1000  # the remembered ones have expired: room again
    assert checker.check([key.proof("POST", TOKEN_URL, clock=lambda: now[0])], TOKEN_URL)
