"""``DPoPKey``: the caller's proof-of-possession key and the proofs it signs (RFC 9449 §4).

A DPoP proof is a JWS with ``typ: dpop+jwt`` and the public key in its
header, over the request's method (``htm``) and URI without query and
fragment (``htu``), a unique ``jti``, the time (``iat``), the server's
nonce when it gave one, and, towards a resource server, ``ath``: the
hash of the access token it accompanies. The thumbprint of the public key
(RFC 7638) is what an issuer binds the token to (``cnf.jkt``); both hashes
come from the core (``m2m_guard._sansio.dpop``), written once for every
side of the flow.

Key files are PKCS#8 PEM; ``DPoPKey.load(path, create=True)`` writes a new
one owner-only (0600), so the private key never sits world-readable.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from m2m_guard._sansio.dpop import access_token_hash, jwk_thumbprint
from m2m_guard._sansio.errors import ConfigurationError

__all__ = ["DPoPKey", "htu_of"]

logger = logging.getLogger("m2m_guard.client")

PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey

#: the JWS algorithm for each supported curve (RFC 7518 §3.4, RFC 8037)
_CURVES: dict[str, tuple[type[ec.EllipticCurve], str]] = {
    "ES256": (ec.SECP256R1, "secp256r1"),
    "ES384": (ec.SECP384R1, "secp384r1"),
    "ES512": (ec.SECP521R1, "secp521r1"),
}
_ALGORITHMS = (*_CURVES, "EdDSA", "PS256", "RS256")
_MIN_RSA_BITS = 2048
_PUBLIC_MEMBERS = frozenset({"kty", "crv", "x", "y", "n", "e"})


def htu_of(url: str) -> str:
    """The ``htu`` of a request to ``url``: the URI without query and fragment (§4.2)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", "", ""))


def _algorithm_for(key: PrivateKey, wanted: str | None) -> str:
    """The JWS algorithm a key signs with; ``wanted`` picks one for RSA."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        for name, (_curve, curve_name) in _CURVES.items():
            if key.curve.name == curve_name:
                found = name
                break
        else:
            raise ConfigurationError(f"Unsupported DPoP curve {key.curve.name}.")
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        found = "EdDSA"
    elif isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < _MIN_RSA_BITS:
            raise ConfigurationError(f"A DPoP RSA key needs at least {_MIN_RSA_BITS} bits.")
        found = wanted if wanted in ("PS256", "RS256") else "PS256"
    else:
        raise ConfigurationError(
            "A DPoP key must be an EC (P-256, P-384, P-521), Ed25519 or RSA private key."
        )
    if wanted is not None and wanted != found:
        raise ConfigurationError(f"This key signs {found}, not {wanted}.")
    return found


def _public_jwk(key: PrivateKey) -> dict[str, Any]:
    """The public JWK: only the members a public key has (a proof never carries ``d``)."""
    public = key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        jwk: dict[str, Any] = ECAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ed25519.Ed25519PublicKey):
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    return {name: value for name, value in jwk.items() if name in _PUBLIC_MEMBERS}


class DPoPKey:
    """A DPoP key pair: signs proofs, names itself by its RFC 7638 thumbprint.

    Build one with :meth:`generate` (EC P-256, ``ES256``, by default),
    :meth:`from_pem`, :meth:`load` or from a ``cryptography`` private key.
    Immutable and safe to share between threads and tasks.
    """

    __slots__ = ("_key", "algorithm", "public_jwk", "thumbprint")

    def __init__(self, private_key: PrivateKey, *, algorithm: str | None = None) -> None:
        if algorithm is not None and algorithm not in _ALGORITHMS:
            raise ConfigurationError(
                f"Unsupported DPoP algorithm {algorithm!r}; use one of {', '.join(_ALGORITHMS)}."
            )
        self.algorithm = _algorithm_for(private_key, algorithm)
        self._key = private_key
        self.public_jwk = _public_jwk(private_key)
        self.thumbprint = jwk_thumbprint(self.public_jwk)

    @classmethod
    def generate(cls, algorithm: str = "ES256") -> DPoPKey:
        """A new key for ``algorithm`` (``ES256``, ``ES384``, ``ES512``, ``EdDSA``, ``PS256``)."""
        if algorithm in _CURVES:
            return cls(ec.generate_private_key(_CURVES[algorithm][0]()))
        if algorithm == "EdDSA":
            return cls(ed25519.Ed25519PrivateKey.generate())
        if algorithm in ("PS256", "RS256"):
            return cls(rsa.generate_private_key(65537, 3072), algorithm=algorithm)
        raise ConfigurationError(
            f"Unsupported DPoP algorithm {algorithm!r}; use one of {', '.join(_ALGORITHMS)}."
        )

    @classmethod
    def from_pem(cls, data: bytes | str, password: bytes | None = None) -> DPoPKey:
        """A key from a PEM private key (PKCS#8, SEC1 or PKCS#1)."""
        raw = data.encode("ascii") if isinstance(data, str) else data
        try:
            key = serialization.load_pem_private_key(raw, password=password)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"Not a usable PEM private key: {exc}") from exc
        if not isinstance(key, PrivateKey):
            raise ConfigurationError("A DPoP key must be an EC, Ed25519 or RSA private key.")
        return cls(key)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, create: bool = False) -> DPoPKey:
        """The key in the PEM file ``path``; with ``create``, a new ES256 key written there.

        A new file is created owner-only (0600) and never overwrites one.
        """
        try:
            with open(path, "rb") as handle:
                return cls.from_pem(handle.read())
        except FileNotFoundError:
            if not create:
                raise ConfigurationError(f"No DPoP key file {os.fspath(path)!r}.") from None
        except OSError as exc:
            raise ConfigurationError(f"Cannot read {os.fspath(path)!r}: {exc.strerror}") from exc
        key = cls.generate()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise ConfigurationError(f"Cannot create {os.fspath(path)!r}: {exc.strerror}") from exc
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.to_pem())
        logger.info("created DPoP key %s in %s", key.thumbprint, os.fspath(path))
        return key

    def to_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (keep it owner-only)."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        issued_at: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> str:
        """A fresh proof for ``method url``: a new ``jti`` every time (§4.2).

        ``access_token`` adds ``ath`` (towards a resource server), ``nonce``
        the server's latest ``DPoP-Nonce``.
        """
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method.upper(),
            "htu": htu_of(url),
            "iat": int(clock()) if issued_at is None else issued_at,
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        if nonce is not None:
            claims["nonce"] = nonce
        headers = {"typ": "dpop+jwt", "jwk": self.public_jwk}
        return jwt.encode(claims, self._key, algorithm=self.algorithm, headers=headers)

    def __repr__(self) -> str:
        return f"DPoPKey(algorithm={self.algorithm!r}, thumbprint={self.thumbprint!r})"
