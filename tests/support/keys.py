"""Signing keys and token factories for tests."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

PROJECT_ID = "project-test-11111111-2222-3333-4444-555555555555"
ISSUER = f"stytch.com/{PROJECT_ID}"
CLIENT_ID = "m2m-client-test-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


@dataclass
class SigningKey:
    """A private key with its kid and JWS algorithm."""

    alg: str = "RS256"
    kid: str = "jwk-test-1"
    private: Any = None
    jwk_extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.private is None:
            if self.alg.startswith(("RS", "PS")):
                self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            elif self.alg == "ES256":
                self.private = ec.generate_private_key(ec.SECP256R1())
            elif self.alg == "ES384":
                self.private = ec.generate_private_key(ec.SECP384R1())
            elif self.alg == "ES512":
                self.private = ec.generate_private_key(ec.SECP521R1())
            elif self.alg == "EdDSA":
                self.private = ed25519.Ed25519PrivateKey.generate()
            else:  # pragma: no cover
                raise ValueError(self.alg)

    @property
    def public_key(self) -> Any:
        return self.private.public_key()

    def jwk(self) -> dict[str, Any]:
        """The public JWK, Stytch-shaped (use, key_ops, alg, kid)."""
        if self.alg.startswith(("RS", "PS")):
            jwk = RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        elif self.alg.startswith("ES"):
            jwk = ECAlgorithm.to_jwk(self.public_key, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(self.public_key, as_dict=True)
        jwk.update({"use": "sig", "key_ops": ["verify"], "alg": self.alg, "kid": self.kid})
        jwk.update(self.jwk_extra)
        return jwk

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        """A compact JWS over ``claims``; header alg, kid, typ JWT, updated by ``headers``.

        A header value of ``...`` removes that member. Nothing is validated,
        so tests can sign whatever an attacker could.
        """
        header = {"alg": self.alg, "kid": self.kid, "typ": "JWT", **(headers or {})}
        header = {k: v for k, v in header.items() if v is not ...}
        signing_input = f"{b64json(header)}.{b64json(claims)}"
        signature = jwt.get_algorithm_by_name(self.alg).sign(signing_input.encode(), self.private)
        return f"{signing_input}.{b64url(signature)}"


def jwks_of(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [k.jwk() for k in keys]}


def stytch_claims(now: float, **overrides: Any) -> dict[str, Any]:
    """Claims shaped like a Stytch M2M access token issued at ``now``."""
    claims: dict[str, Any] = {
        "sub": CLIENT_ID,
        "iss": ISSUER,
        "aud": [PROJECT_ID],
        "scope": "read:users write:users",
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now) + 3600,
        "jti": "jti-1",
        "tenant": "acme",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not ...}


def forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"sig") -> str:
    """A token with arbitrary header and claims and a chosen signature."""
    return f"{b64json(header)}.{b64json(claims)}.{b64url(signature)}"


def resign(token: str, key: SigningKey, header: dict[str, Any] | None = None) -> str:
    """Decode ``token`` without checks and sign its claims again with ``key``."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return key.sign(claims, header)
