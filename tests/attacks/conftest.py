"""Fixtures of the attack suite: the issuer's JWKS, the attacker's listener, verifiers."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from m2m_guard import Verifier
from m2m_guard._sansio import jws as _jws
from tests.attacks.catalog import HMAC_KID, HMAC_SECRET, PROFILES, Kit
from tests.support.clock import FakeClock
from tests.support.jwks_server import JWKSServer, running_jwks_server
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, b64url, jwks_of

MakeVerifier = Callable[[str], Verifier]


@pytest.fixture(scope="session")
def ec_key() -> SigningKey:
    """The issuer's ES256 key."""
    return SigningKey("ES256", kid="jwk-test-ec")


@pytest.fixture(scope="session")
def issuer_jwks(rsa_key: SigningKey, ec_key: SigningKey) -> Iterator[JWKSServer]:
    """The issuer's real JWKS on 127.0.0.1: RSA and EC keys, and an oct key never to use."""
    with running_jwks_server() as server:
        oct_key = {"kty": "oct", "kid": HMAC_KID, "alg": "HS256", "k": b64url(HMAC_SECRET)}
        server.document = {"keys": [rsa_key.jwk(), ec_key.jwk(), oct_key]}
        yield server


def self_signed_certificate(key: SigningKey) -> x509.Certificate:
    """A certificate for ``key``, as an attacker would put in x5c or behind x5u."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stytch.com")])
    now = datetime.datetime(2027, 1, 1, tzinfo=datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key)
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key.private, hashes.SHA256())
    )


@pytest.fixture(scope="session")
def attacker_certificate(other_rsa_key: SigningKey) -> x509.Certificate:
    """The attacker's self-signed certificate."""
    return self_signed_certificate(other_rsa_key)


@pytest.fixture(scope="session")
def attacker_listener(
    other_rsa_key: SigningKey, attacker_certificate: x509.Certificate
) -> Iterator[JWKSServer]:
    """The attacker's server on 127.0.0.1: its JWKS at /jwks, its certificate at /cert.

    It records every GET; the suite asserts it never receives one.
    """
    with running_jwks_server() as server:
        server.document = jwks_of(other_rsa_key)
        server.extra["/cert"] = attacker_certificate.public_bytes(serialization.Encoding.PEM)
        yield server


@pytest.fixture(scope="session")
def kit(
    rsa_key: SigningKey,
    ec_key: SigningKey,
    other_rsa_key: SigningKey,
    attacker_certificate: x509.Certificate,
    attacker_listener: JWKSServer,
    issuer_jwks: JWKSServer,
) -> Kit:
    """Everything the catalog builds attacks from."""
    return Kit(
        now=FakeClock().now,
        key=rsa_key,
        ec_key=ec_key,
        attacker=other_rsa_key,
        attacker_cert=attacker_certificate.public_bytes(serialization.Encoding.DER),
        listener=attacker_listener.base_url,
        jwks_url=issuer_jwks.url,
    )


@pytest.fixture
def make_verifier(issuer_jwks: JWKSServer) -> Iterator[MakeVerifier]:
    """Builds a fresh verifier (cold key cache) of a catalog profile; closes it afterwards."""
    # Plain-http clients without keep-alive: no TLS context to build for each
    # verifier, and no connection left open in an event loop that has ended.
    options: dict[str, Any] = {
        "verify": False,
        "trust_env": False,
        "limits": httpx.Limits(max_keepalive_connections=0),
    }
    clients: list[httpx.Client] = []

    def make(profile: str) -> Verifier:
        clients.append(httpx.Client(**options))
        settings = dict(PROFILES[profile])
        factory = settings.pop("factory", Verifier)  # another kind of verifier (multi-tenant)
        return factory(  # type: ignore[no-any-return]
            issuer=ISSUER,
            audience=PROJECT_ID,
            jwks_url=issuer_jwks.url,
            clock=FakeClock(),
            http_client=clients[-1],
            async_http_client=httpx.AsyncClient(**options),
            **settings,
        )

    yield make
    for client in clients:
        client.close()


class _Forbidden:
    """Stands in for the parser's pieces: any use fails the test."""

    def __getattr__(self, name: str) -> Any:
        pytest.fail(f"an oversized token reached the parser ({name})")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        pytest.fail("an oversized token reached the parser")


@pytest.fixture
def forbid_parsing(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Make every parsing step of m2m_guard._sansio.jws fail the test when called.

    Proves "rejected before any parsing work" structurally, without timing.
    """

    def forbid() -> None:
        for name in ("_segments", "_b64decode_bytes", "_decode_json_object", "_header"):
            monkeypatch.setattr(_jws, name, _Forbidden())
        monkeypatch.setattr(_jws, "_shape_problem", _Forbidden())
        monkeypatch.setattr(_jws, "_SCAN", _Forbidden())

    return forbid
