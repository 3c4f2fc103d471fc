"""A token's fingerprint names what the issuer signed, whatever the signature's spelling."""

from __future__ import annotations

import base64
import hashlib

import jwt
import pytest

from m2m_guard import Verifier, token_fingerprint
from tests.support.clock import FakeClock
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, b64url, jwks_of, stytch_claims

# Order of the P-256 group (SEC 2 §2.4.2).
_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _unpad(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def mirrored_es256(token: str) -> str:
    """The same ES256 token with its signature's s replaced by n - s (SEC 1 §4.1.4)."""
    signing_input, _, signature = token.rpartition(".")
    raw = _unpad(signature)
    r, s = raw[:32], int.from_bytes(raw[32:], "big")
    return f"{signing_input}.{b64url(r + (_P256_N - s).to_bytes(32, 'big'))}"


@pytest.fixture
def ec_key() -> SigningKey:
    return SigningKey("ES256", kid="jwk-test-ec")


def test_both_spellings_of_an_es256_signature_verify_and_share_one_fingerprint(
    ec_key: SigningKey, clock: FakeClock
) -> None:
    """ECDSA malleability is accepted (signers emit both) but cannot fork a token's identity."""
    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(ec_key), algorithms=["ES256"], clock=clock
    )
    token = ec_key.sign(stytch_claims(clock.now))
    twin = mirrored_es256(token)

    assert twin != token
    assert verifier.verify(twin).client_id == verifier.verify(token).client_id
    assert token_fingerprint(twin) == token_fingerprint(token)


def test_two_rsa_pss_signatures_of_the_same_claims_share_one_fingerprint(clock: FakeClock) -> None:
    """PSS is randomised: signing the same claims twice gives two tokens, one identity."""
    key = SigningKey("PS256", kid="jwk-test-pss")
    claims = stytch_claims(clock.now)
    first, second = key.sign(claims), key.sign(claims)

    assert first != second
    assert token_fingerprint(first) == token_fingerprint(second)


def test_tokens_with_different_claims_have_different_fingerprints(
    ec_key: SigningKey, clock: FakeClock
) -> None:
    """Any change to the signed header or claims changes the fingerprint."""
    token = ec_key.sign(stytch_claims(clock.now))
    other_claims = ec_key.sign(stytch_claims(clock.now, jti="another"))
    other_header = ec_key.sign(stytch_claims(clock.now), {"typ": "at+jwt"})

    fingerprints = {token_fingerprint(t) for t in (token, other_claims, other_header)}
    assert len(fingerprints) == 3


def test_fingerprint_is_the_sha256_of_the_signing_input(
    ec_key: SigningKey, clock: FakeClock
) -> None:
    """The documented definition: hex SHA-256 over BASE64URL(header) '.' BASE64URL(payload)."""
    token = jwt.encode(stytch_claims(clock.now), ec_key.private, algorithm="ES256")
    signing_input = token.rpartition(".")[0]
    assert token_fingerprint(token) == hashlib.sha256(signing_input.encode()).hexdigest()


@pytest.mark.parametrize("value", ["", "abc", "a.b", "a.b.c.d", "a.b.c.d.e"])
def test_fingerprint_refuses_what_is_not_a_compact_jws(value: str) -> None:
    """A value without exactly three segments has no signing input to name."""
    with pytest.raises(ValueError, match="compact JWS"):
        token_fingerprint(value)
