"""DPoP proofs (RFC 9449), checked without I/O.

``check_proof`` applies every rule of RFC 9449 §4.3 to one ``DPoP`` header
value: a JWS whose header says ``typ: dpop+jwt``, an allowed asymmetric
``alg`` and a public ``jwk`` (a private key member is refused), signed by
that key, whose claims name the request's method (``htm``) and URL (``htu``,
normalised, see ``htu``), were made within the ``iat`` window, carry a
``jti``, and, with an access token, its hash (``ath``). A server nonce
(``nonce``, §8) is checked when the policy issues them. What it returns
names the key (its RFC 7638 thumbprint, compared with the token's
``cnf.jkt`` by the caller) and the replay key the caller claims once in its
``ReplayStore`` (the only step that may need I/O).

The proof's protected header is the same for every proof of one client, so
what it yields (the loaded key and its thumbprint) is remembered by its
base64url text: a warm proof costs its signature check and little else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from jwt.exceptions import InvalidKeyError

from .dpop_errors import InvalidDPoPProofError, UseDPoPNonceError
from .dpop_nonce import NonceSource
from .errors import ConfigurationError, M2MGuardError
from .htu import normalize_htu
from .jws import _b64decode, _decode_json_object
from .keys import ASYMMETRIC_ALGORITHMS, VerificationKey, key_from_jwk, verify_signature
from .replay import ReplayStore

__all__ = [
    "DEFAULT_DPOP_ALGORITHMS",
    "DPoPPolicy",
    "DPoPProof",
    "access_token_hash",
    "check_proof",
    "jwk_thumbprint",
]

#: The proof algorithms accepted by default, in the order the challenge lists them.
DEFAULT_DPOP_ALGORITHMS = (
    "ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512",
)  # fmt: skip

# RFC 7638 §3.2: the required members of each key type, in lexicographic order.
_THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),
}
# Members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_COMPACT = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")
_MAX_JTI = 256
_MAX_KEYS = 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url), as ``cnf.jkt`` holds it.

    Raises:
        ValueError: not an EC, RSA or OKP public key with its required members.
    """
    kty = jwk.get("kty") if isinstance(jwk, Mapping) else None
    members = _THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None:
        raise ValueError("the JWK is not an EC, RSA or OKP key")
    values = {name: jwk.get(name) for name in members}
    if not all(isinstance(value, str) and value for value in values.values()):
        raise ValueError("the JWK lacks a member its thumbprint needs")
    canonical = json.dumps(values, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return _b64(hashlib.sha256(canonical.encode("utf-8")).digest())


def access_token_hash(token: str) -> str:
    """The ``ath`` of a proof for ``token``: base64url(SHA-256(ASCII token))."""
    return _b64(hashlib.sha256(token.encode("ascii")).digest())


@dataclass(frozen=True, slots=True)
class DPoPPolicy:
    """How DPoP proofs are checked (``Verifier(dpop_policy=...)``).

    Attributes:
        iat_window: how long after its ``iat`` a proof is accepted (seconds).
        leeway: clock skew tolerated on ``iat`` (both ways); ``None``: the
            verifier's ``leeway``.
        algorithms: the proof algorithms accepted; asymmetric only.
        nonce_secret: with a secret (at least 16 bytes, shared by every
            replica), proofs must carry a server nonce (RFC 9449 §8); one
            missing or stale is answered ``use_dpop_nonce`` with a fresh one.
        nonce_lifetime: how long one nonce window lasts; a nonce is accepted
            in its window and the next one.
        replay_store: where proof ``jti`` values are remembered; ``None``:
            a ``MemoryReplayStore`` of the verifier's own (one process).
        public_url: the service's external base URL (``https://api.example.com``)
            that callers sign as ``htu``; the request's path is appended.
            Use it behind a proxy that changes the scheme or host.
        trust_forwarded_headers: take the scheme and host from
            ``X-Forwarded-Proto`` / ``X-Forwarded-Host``. Only behind a proxy
            that sets them and strips them from callers: a caller can send
            them too.
        max_proof_size: longer ``DPoP`` headers are refused unparsed.
    """

    iat_window: float = 300.0
    leeway: float | None = None
    algorithms: tuple[str, ...] = DEFAULT_DPOP_ALGORITHMS
    nonce_secret: bytes | None = None
    nonce_lifetime: float = 300.0
    replay_store: ReplayStore | None = None
    public_url: str | None = None
    trust_forwarded_headers: bool = False
    max_proof_size: int = 4096

    def __post_init__(self) -> None:
        given: object = self.algorithms
        algorithms = (given,) if isinstance(given, str) else tuple(self.algorithms)
        object.__setattr__(self, "algorithms", algorithms)
        if not algorithms or not set(algorithms) <= ASYMMETRIC_ALGORITHMS:
            raise ConfigurationError.of(
                "dpop_policy.algorithms", "must name asymmetric algorithms only (ES256, EdDSA …)"
            )
        for name in ("iat_window", "nonce_lifetime"):
            value = getattr(self, name)
            if not _positive(value):
                raise ConfigurationError.of(f"dpop_policy.{name}", "must be a positive number")
        if self.leeway is not None and not (_positive(self.leeway) or self.leeway == 0):
            raise ConfigurationError.of("dpop_policy.leeway", "must be a number >= 0")
        secret = self.nonce_secret
        if secret is not None and (not isinstance(secret, bytes) or len(secret) < 16):
            raise ConfigurationError.of("dpop_policy.nonce_secret", "must be at least 16 bytes")
        if self.replay_store is not None and not isinstance(self.replay_store, ReplayStore):
            raise ConfigurationError.of(
                "dpop_policy.replay_store", "must have claim(key, expires_at) and claim_async"
            )
        if self.public_url is not None and (
            normalize_htu(self.public_url) is None or self.public_url.rstrip("/").count("/") > 2
        ):
            raise ConfigurationError.of(
                "dpop_policy.public_url",
                "must be an http(s) origin such as https://api.example.com",
            )
        if not isinstance(self.max_proof_size, int) or self.max_proof_size < 256:
            raise ConfigurationError.of("dpop_policy.max_proof_size", "must be an int >= 256")

    @property
    def nonces(self) -> NonceSource | None:
        """The nonce source, when nonces are on."""
        secret = self.nonce_secret
        return None if secret is None else NonceSource(secret, self.nonce_lifetime)


def _positive(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


@dataclass(frozen=True, slots=True)
class DPoPProof:
    """A proof that passed every stateless check.

    Attributes:
        jkt: the RFC 7638 thumbprint of the proof's key.
        jti: the proof's ``jti``.
        issued_at: its ``iat``.
        replay_key: what to claim in the replay store (one use only).
        replay_until: until when to remember it (the end of its window).
        claims: every claim of the proof.
    """

    jkt: str
    jti: str
    issued_at: float
    replay_key: str
    replay_until: float
    claims: Mapping[str, Any]


class _ProofKey(NamedTuple):
    alg: str
    key: VerificationKey
    jkt: str


# Decoded proof headers by their base64url text: bounded, cleared when full.
_KEYS: dict[str, _ProofKey] = {}


def _proof_key(segment: str) -> _ProofKey:
    known = _KEYS.get(segment)
    if known is not None:
        return known
    try:
        header = _decode_json_object(_b64decode(segment), "header")
    except M2MGuardError as exc:
        raise InvalidDPoPProofError("The DPoP proof header is not valid JSON.") from exc
    if header.get("typ") != "dpop+jwt":
        raise InvalidDPoPProofError('The DPoP proof\'s typ must be "dpop+jwt".')
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ASYMMETRIC_ALGORITHMS:
        raise InvalidDPoPProofError("The DPoP proof must be signed with an asymmetric algorithm.")
    if "crit" in header:
        raise InvalidDPoPProofError("The DPoP proof's crit header is not supported.")
    jwk = header.get("jwk")
    if not isinstance(jwk, Mapping):
        raise InvalidDPoPProofError("The DPoP proof header lacks its public jwk.")
    if not _PRIVATE_MEMBERS.isdisjoint(jwk):
        raise InvalidDPoPProofError("The DPoP proof's jwk must be a public key, not a private one.")
    try:
        key = key_from_jwk(jwk)
        jkt = jwk_thumbprint(jwk)
    except (InvalidKeyError, ValueError, TypeError, KeyError) as exc:
        raise InvalidDPoPProofError("The DPoP proof's jwk is not a usable public key.") from exc
    if key is None or alg not in key.algorithms:
        raise InvalidDPoPProofError("The DPoP proof's jwk does not fit its alg.")
    if len(_KEYS) >= _MAX_KEYS:
        _KEYS.clear()
    known = _KEYS[segment] = _ProofKey(alg, key, jkt)
    return known


def check_proof(
    proof: str,
    *,
    method: str,
    url: str,
    access_token: str | None,
    policy: DPoPPolicy,
    now: float,
    leeway: float = 0.0,
) -> DPoPProof:
    """Check one ``DPoP`` header value for a request (RFC 9449 §4.3).

    Args:
        proof: the ``DPoP`` header value (the caller ensured there is one).
        method: the request method.
        url: the request URL as the caller addressed it (query ignored).
        access_token: the token the proof must be bound to (``ath``), or
            ``None`` at a token endpoint.
        policy: the proof rules; ``leeway`` applies unless it sets its own.
        now: the current time (seconds since the epoch).

    Raises:
        InvalidDPoPProofError: a rule is broken.
        UseDPoPNonceError: nonces are on and the proof lacks a current one.
    """
    if not isinstance(proof, str) or len(proof) > policy.max_proof_size:
        raise InvalidDPoPProofError("The DPoP proof is too large.")
    match = _COMPACT.fullmatch(proof.strip(" \t"))
    if match is None:
        raise InvalidDPoPProofError("The DPoP proof is not a signed JWT.")
    header_b64, payload_b64, signature_b64 = match.groups()
    found = _proof_key(header_b64)
    if found.alg not in policy.algorithms:
        raise InvalidDPoPProofError("The DPoP proof's algorithm is not allowed.")
    try:
        claims = _decode_json_object(_b64decode(payload_b64), "payload")
        signature = _b64decode(signature_b64)
    except M2MGuardError as exc:
        raise InvalidDPoPProofError("The DPoP proof payload is not valid JSON.") from exc
    jti, issued_at = _check_claims(claims, method, url, access_token, policy, now, leeway)
    signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
    if not verify_signature(found.key, found.alg, signing_input, signature):
        raise InvalidDPoPProofError("The DPoP proof signature is invalid.")
    skew = policy.leeway if policy.leeway is not None else leeway
    key = f"{found.jkt}:{jti}"
    return DPoPProof(found.jkt, jti, issued_at, key, issued_at + policy.iat_window + skew, claims)


def _check_claims(
    claims: Mapping[str, Any],
    method: str,
    url: str,
    access_token: str | None,
    policy: DPoPPolicy,
    now: float,
    leeway: float,
) -> tuple[str, float]:
    jti, htm, htu, iat = (claims.get(name) for name in ("jti", "htm", "htu", "iat"))
    if not isinstance(jti, str) or not jti or len(jti) > _MAX_JTI:
        raise InvalidDPoPProofError("The DPoP proof lacks a valid jti.")
    if htm != method:
        raise InvalidDPoPProofError("The DPoP proof's htm does not match the request method.")
    expected = normalize_htu(url, strict=False)
    if not isinstance(htu, str) or expected is None or normalize_htu(htu) != expected:
        raise InvalidDPoPProofError("The DPoP proof's htu does not match the request URL.")
    if not isinstance(iat, int | float) or isinstance(iat, bool) or not math.isfinite(iat):
        raise InvalidDPoPProofError("The DPoP proof lacks a valid iat.")
    skew = policy.leeway if policy.leeway is not None else leeway
    if iat > now + skew:
        raise InvalidDPoPProofError("The DPoP proof was issued in the future.")
    if iat < now - policy.iat_window - skew:
        raise InvalidDPoPProofError("The DPoP proof is too old.")
    if access_token is not None:
        ath = claims.get("ath")
        expected_ath = access_token_hash(access_token)
        if not isinstance(ath, str) or not hmac.compare_digest(
            ath.encode("ascii", "replace"), expected_ath.encode("ascii")
        ):
            raise InvalidDPoPProofError("The DPoP proof's ath does not match the access token.")
    nonces = policy.nonces
    if nonces is not None and not nonces.accepts(claims.get("nonce"), now):
        raise UseDPoPNonceError(nonces.current(now))
    return jti, float(iat)
