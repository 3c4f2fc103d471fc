"""Verification keys: JWK parsing, strict key selection and signature checks.

Key selection follows RFC 7517 and RFC 7518 strictly (as panva/jose does):
a key is a candidate for a token only if its ``kty`` fits the token's
``alg``, its own ``alg`` (when present) equals it, its ``use`` (when present)
is ``sig``, its ``key_ops`` (when present) include ``verify``, and for EC
and OKP keys its ``crv`` fits. Symmetric (``oct``) keys are never loaded, so
HS* can never verify against a public key. RSA keys under 2048 bits are
refused (RFC 7518 §3.3).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from jwt.exceptions import InvalidKeyError

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "KeySet",
    "PublicKey",
    "VerificationKey",
    "key_from_jwk",
    "key_from_pem",
    "verify_signature",
]

logger = logging.getLogger("m2m_guard.keys")

PublicKey: TypeAlias = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)

_RSA_PKCS1 = {"RS256": hashes.SHA256(), "RS384": hashes.SHA384(), "RS512": hashes.SHA512()}
_RSA_PSS = {"PS256": hashes.SHA256(), "PS384": hashes.SHA384(), "PS512": hashes.SHA512()}
# alg -> (curve name, hash, byte length of r and of s)
_ECDSA = {
    "ES256": ("P-256", hashes.SHA256(), 32),
    "ES384": ("P-384", hashes.SHA384(), 48),
    "ES512": ("P-521", hashes.SHA512(), 66),
}
_EDDSA_CURVES = frozenset({"Ed25519", "Ed448"})
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}

#: Every algorithm m2m_guard can verify. ``none`` and HS* are not among them.
ASYMMETRIC_ALGORITHMS = frozenset([*_RSA_PKCS1, *_RSA_PSS, *_ECDSA, "EdDSA"])
_MIN_RSA_BITS = 2048


_PKCS1 = padding.PKCS1v15()  # holds no state: one for every check


def _verify_pkcs1(key: Any, alg: str, message: bytes, signature: bytes) -> None:
    key.verify(signature, message, _PKCS1, _RSA_PKCS1[alg])


def _verify_pss(key: Any, alg: str, message: bytes, signature: bytes) -> None:
    digest = _RSA_PSS[alg]
    # RFC 7518 §3.5: the salt is as long as the hash output.
    pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
    key.verify(signature, message, pss, digest)


def _verify_ecdsa(key: Any, alg: str, message: bytes, signature: bytes) -> None:
    _, digest, size = _ECDSA[alg]
    # RFC 7518 §3.4: the signature is r || s, each exactly `size` bytes;
    # DER or any other length is not a JWS signature.
    if len(signature) != 2 * size:
        raise InvalidSignature
    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    key.verify(encode_dss_signature(r, s), message, ec.ECDSA(digest))


def _verify_eddsa(key: Any, alg: str, message: bytes, signature: bytes) -> None:
    key.verify(signature, message)


_VERIFIERS: dict[str, Callable[[Any, str, bytes, bytes], None]] = {
    **dict.fromkeys(_RSA_PKCS1, _verify_pkcs1),
    **dict.fromkeys(_RSA_PSS, _verify_pss),
    **dict.fromkeys(_ECDSA, _verify_ecdsa),
    "EdDSA": _verify_eddsa,
}


def verify_signature(key: VerificationKey, alg: str, message: bytes, signature: bytes) -> bool:
    """Check a JWS signature; ``alg`` must be one the key was selected for."""
    try:
        _VERIFIERS[alg](key.public_key, alg, message, signature)
    except (InvalidSignature, ValueError):
        # ValueError: e.g. an RSA signature longer than the modulus.
        return False
    return True


@dataclass(frozen=True, slots=True, eq=False)
class VerificationKey:
    """A public key ready to verify, with the algorithms it may verify."""

    kid: str | None
    public_key: PublicKey
    algorithms: frozenset[str]
    #: the JWK it came from, canonically serialised: an unchanged JWK in a
    #: refreshed set keeps its key object (and the tokens it verified)
    fingerprint: str = ""


def _algorithms_for(key: PublicKey) -> frozenset[str]:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _MIN_RSA_BITS:
            raise InvalidKeyError(f"RSA keys must have at least {_MIN_RSA_BITS} bits")
        return frozenset([*_RSA_PKCS1, *_RSA_PSS])
    if isinstance(key, ec.EllipticCurvePublicKey):
        crv = _CURVE_NAMES.get(key.curve.name)
        return frozenset(alg for alg, (name, _, _) in _ECDSA.items() if name == crv)
    return frozenset({"EdDSA"})


def _public(key: Any) -> PublicKey:
    public = key.public_key() if hasattr(key, "public_key") else key
    if not isinstance(
        public,
        rsa.RSAPublicKey
        | ec.EllipticCurvePublicKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey,
    ):
        raise InvalidKeyError("unsupported key type")
    return public


def key_from_jwk(jwk: Mapping[str, Any]) -> VerificationKey | None:
    """Load one JWK; ``None`` when it is not meant for verifying signatures.

    Raises:
        InvalidKeyError: the JWK is malformed.
    """
    if not isinstance(jwk, Mapping):
        raise InvalidKeyError("a JWK must be a JSON object")
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise InvalidKeyError("kid must be a string")
    use = jwk.get("use")
    key_ops = jwk.get("key_ops")
    if use is not None and use != "sig":
        return None
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    kty = jwk.get("kty")
    loaded: Any
    if kty == "RSA":
        loaded = RSAAlgorithm.from_jwk(dict(jwk))
    elif kty == "EC":
        loaded = ECAlgorithm.from_jwk(dict(jwk))
    elif kty == "OKP" and jwk.get("crv") in _EDDSA_CURVES:
        loaded = OKPAlgorithm.from_jwk(dict(jwk))
    else:
        # oct keys (HS*) are never loaded; unknown types are not ours to use.
        return None
    public = _public(loaded)
    algorithms = _algorithms_for(public)
    jwk_alg = jwk.get("alg")
    if jwk_alg is not None:
        algorithms = algorithms & {jwk_alg}
    if not algorithms:
        return None
    return VerificationKey(kid, public, algorithms, _fingerprint(jwk))


def _fingerprint(jwk: Mapping[str, Any]) -> str:
    return json.dumps(jwk, sort_keys=True, separators=(",", ":"), default=str)


def key_from_pem(pem: str | bytes, *, kid: str | None = None) -> VerificationKey:
    """Load a PEM public key (SPKI or PKCS#1) or certificate for offline use."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            from cryptography import x509

            loaded: Any = x509.load_pem_x509_certificate(data).public_key()
        else:
            loaded = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise InvalidKeyError(f"not a PEM public key: {exc}") from exc
    public = _public(loaded)
    return VerificationKey(kid=kid, public_key=public, algorithms=_algorithms_for(public))


@dataclass(frozen=True, slots=True)
class KeySet:
    """An immutable set of verification keys, indexed by ``kid``.

    Replaced as a whole on refresh, so readers never need a lock.
    """

    keys: tuple[VerificationKey, ...] = ()
    #: keys without a kid match any token (static PEM keys configured by hand)
    wildcard: bool = False

    @classmethod
    def from_jwks(cls, document: Mapping[str, Any], previous: KeySet | None = None) -> KeySet:
        """Load every usable key of a JWKS; malformed keys are skipped.

        Keys whose JWK is unchanged from ``previous`` are reused as they are.
        """
        raw_keys = document.get("keys")
        if not isinstance(raw_keys, list):
            raise InvalidKeyError('a JWKS must be an object with a "keys" list')
        known = {k.fingerprint: k for k in previous.keys} if previous else {}
        return cls(keys=tuple(_load_each(raw_keys, known)))

    def select(self, kid: str | None, alg: str) -> VerificationKey | None:
        """The one key that may verify a token with this ``kid`` and ``alg``.

        A token without ``kid`` needs exactly one candidate in the set; with a
        ``kid`` only that key is a candidate (or, in a ``wildcard`` set of
        hand-configured keys, a key that has no kid of its own).
        """
        if kid is None:
            candidates = [k for k in self.keys if alg in k.algorithms]
        else:
            candidates = [k for k in self.keys if k.kid == kid and alg in k.algorithms]
            if not candidates and self.wildcard:
                candidates = [k for k in self.keys if k.kid is None and alg in k.algorithms]
        return candidates[0] if len(candidates) == 1 else None


def _load_each(
    raw_keys: Iterable[Any], known: Mapping[str, VerificationKey]
) -> Iterable[VerificationKey]:
    for index, jwk in enumerate(raw_keys):
        if isinstance(jwk, Mapping):
            reused = known.get(_fingerprint(jwk))
            if reused is not None:
                yield reused
                continue
        try:
            key = key_from_jwk(jwk)
        except (InvalidKeyError, ValueError, TypeError, KeyError) as exc:
            # One bad key must not spoil the set (README, "The JWKS cache").
            kid = jwk.get("kid") if isinstance(jwk, Mapping) else None
            logger.warning("skipping malformed JWK #%d (kid=%r): %r", index, kid, str(exc))
            continue
        if key is not None:
            yield key
