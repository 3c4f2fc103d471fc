"""Strict key selection (kty, alg, use, key_ops, crv) and static keys."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from m2m_guard import ConfigurationError, UnknownKeyError, Verifier
from m2m_guard._sansio.keys import KeySet
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims


def verifier_for(jwks: dict[str, Any], clock: FakeClock, algorithms: Any = ("RS256",)) -> Verifier:
    return Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks, algorithms=algorithms, clock=clock
    )


@pytest.mark.parametrize(
    ("jwk_change", "why"),
    [
        ({"alg": "RS384"}, "JWK alg differs from the token's"),
        ({"use": "enc"}, "key meant for encryption"),
        ({"key_ops": ["encrypt"]}, "key_ops without verify"),
        ({"key_ops": "verify"}, "key_ops not a list"),
        ({"kid": "another"}, "kid differs"),
    ],
)
def test_key_that_does_not_fit_the_token_is_never_used(
    rsa_key: SigningKey, clock: FakeClock, jwk_change: dict[str, Any], why: str
) -> None:
    """A key is a candidate only if kid, alg, use and key_ops all fit."""
    jwk = {**rsa_key.jwk(), **jwk_change}
    verifier = Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks={"keys": [jwk, SigningKey("ES256", kid="ec").jwk()]},
        clock=clock,
    )
    with pytest.raises(UnknownKeyError):
        verifier.verify(rsa_key.sign(stytch_claims(clock())))


def test_kty_must_fit_the_algorithm(clock: FakeClock) -> None:
    """An RS256 token naming an EC key's kid does not select that key."""
    ec_key = SigningKey("ES256", kid="shared")
    rsa_key = SigningKey("RS256", kid="shared", private=rsa.generate_private_key(65537, 2048))
    verifier = verifier_for(jwks_of(ec_key), clock, algorithms=["RS256", "ES256"])
    with pytest.raises(UnknownKeyError):
        verifier.verify(rsa_key.sign(stytch_claims(clock())))


def test_curve_must_fit_the_algorithm(clock: FakeClock) -> None:
    """An ES256 token never verifies against a P-384 key, even one labelled ES256."""
    mislabelled = {**SigningKey("ES384", kid="ec").jwk(), "alg": "ES256"}
    other = SigningKey("ES384", kid="other").jwk()
    verifier = verifier_for({"keys": [mislabelled, other]}, clock, algorithms=["ES256", "ES384"])
    token = SigningKey("ES256", kid="ec").sign(stytch_claims(clock()))
    with pytest.raises(UnknownKeyError):
        verifier.verify(token)
    assert [k.kid for k in verifier.cache.keys.keys] == ["other"]  # type: ignore[union-attr]


def test_token_without_kid_needs_exactly_one_candidate(clock: FakeClock) -> None:
    """Without kid one fitting key is used; with two candidates the token is refused."""
    first, second = SigningKey("RS256", kid="a"), SigningKey("RS256", kid="b")
    token = first.sign(stytch_claims(clock()), {"kid": ...})
    assert verifier_for(jwks_of(first, SigningKey("ES256", kid="c")), clock).verify(token)
    with pytest.raises(UnknownKeyError):
        verifier_for(jwks_of(first, second), clock).verify(token)


def test_malformed_keys_are_skipped_and_the_rest_load(
    rsa_key: SigningKey, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """One bad key does not spoil the set; it is logged by kid."""
    keys = [
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        {"kty": "EC", "kid": "no-coords", "crv": "P-256"},
        {"kty": "RSA", "kid": 5, "n": "AQAB", "e": "AQAB"},
        "not an object",
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        {"kty": "OKP", "crv": "X25519", "kid": "ecdh", "x": "AAAA"},
        {"kty": "WAT", "kid": "alien"},
        rsa_key.jwk(),
    ]
    with caplog.at_level(logging.WARNING, logger="m2m_guard.keys"):
        verifier = verifier_for({"keys": keys}, clock)
    assert verifier.verify(rsa_key.sign(stytch_claims(clock()))).client_id == CLIENT_ID
    assert "broken" in caplog.text
    assert "no-coords" in caplog.text
    assert [k.kid for k in verifier.cache.keys.keys] == [rsa_key.kid]  # type: ignore[union-attr]


def test_small_rsa_keys_are_refused(clock: FakeClock) -> None:
    """RSA keys under 2048 bits are not loaded (RFC 7518 §3.3)."""
    weak = SigningKey("RS256", kid="weak", private=rsa.generate_private_key(65537, 1024))  # noqa: S505 - the point of the test
    with pytest.raises(ConfigurationError):
        verifier_for(jwks_of(weak), clock)
    verifier = verifier_for(jwks_of(weak, SigningKey("RS256", kid="ok")), clock)
    with pytest.raises(UnknownKeyError):
        verifier.verify(weak.sign(stytch_claims(clock())))


def test_private_jwk_is_reduced_to_its_public_key(rsa_key: SigningKey, clock: FakeClock) -> None:
    """A JWKS that leaks private parameters still only verifies."""
    from jwt.algorithms import RSAAlgorithm

    jwk = {**RSAAlgorithm.to_jwk(rsa_key.private, as_dict=True), "kid": rsa_key.kid}
    del jwk["key_ops"]  # PyJWT marks private JWKs as ["sign"], which is rightly skipped
    keys = KeySet.from_jwks({"keys": [jwk]})
    assert isinstance(keys.keys[0].public_key, rsa.RSAPublicKey)
    assert verifier_for({"keys": [jwk]}, clock).verify(rsa_key.sign(stytch_claims(clock())))


@pytest.mark.parametrize("encoding", ["spki", "pkcs1", "certificate"])
def test_pem_public_key_verifies_tokens_of_any_kid(
    rsa_key: SigningKey, clock: FakeClock, encoding: str
) -> None:
    """A hand-configured PEM key (SPKI, PKCS#1 or certificate) is used for any kid."""
    pem = _pem(rsa_key, encoding)
    verifier = Verifier(issuer=ISSUER, audience=PROJECT_ID, public_key=pem, clock=clock)
    for kid in (rsa_key.kid, "whatever", ...):
        assert verifier.verify(rsa_key.sign(stytch_claims(clock()), {"kid": kid}))


def _pem(key: SigningKey, encoding: str) -> bytes:
    if encoding == "spki":
        return key.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    if encoding == "pkcs1":
        return key.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        )
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key)
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key.private, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(
    "pem", ["not a pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]
)
def test_bad_pem_is_a_configuration_error(pem: str | bytes) -> None:
    """Unreadable PEM fails at construction."""
    with pytest.raises(ConfigurationError):
        Verifier(issuer=ISSUER, audience=PROJECT_ID, public_key=pem)


def test_symmetric_or_private_only_pem_is_refused() -> None:
    """Only public asymmetric keys are accepted as static keys."""
    from cryptography.hazmat.primitives.asymmetric import x25519

    pem = (
        x25519.X25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ConfigurationError):
        Verifier(issuer=ISSUER, audience=PROJECT_ID, public_key=pem)
