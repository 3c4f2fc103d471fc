"""DPoP (RFC 9449) on the warm path: what a fresh proof per request costs.

"DPoP proof check" is ``check_proof`` alone on a fresh proof (the proof's
key already seen: its header is cached); "raw ES256 verify of the proof" is
one ``cryptography`` P-256 verify of the same bytes, the floor the proof
check is held to (<= 1.5x). "guard warm, DPoP" is a whole request through a
``Guard``: its ``RequestContext`` built from an ASGI scope as the
integrations do, the token-cache hit, the proof, the replay store (a fresh
``jti`` each time); "guard warm, bearer" is the same for a plain bearer
token on a verifier without DPoP, and "guard warm, bearer (DPoP allowed)"
on one that takes DPoP (which must build the request context).
"""

from __future__ import annotations

import base64
import itertools
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from benchmarks._timing import Batch, Case
from m2m_guard import (
    DPoPPolicy,
    Guard,
    MemoryReplayStore,
    RequestContext,
    Verifier,
    access_token_hash,
    jwk_thumbprint,
)
from m2m_guard._sansio.dpop import check_proof

__all__ = ["DPOP_KEYS", "dpop_cases"]

#: every item this module measures, in table order
DPOP_KEYS = (
    "dpop_raw_es256",
    "dpop_proof_check",
    "guard_warm_bearer",
    "guard_warm_bearer_dpop_allowed",
    "guard_warm_dpop",
)
_URL = "https://api.example.com/orders"
_POOL = 3000
_ISSUER, _AUDIENCE = "https://issuer.example.com", "https://api.example.com"


class _ResettableStore:
    """A ``MemoryReplayStore`` emptied before each batch, so a pool of proofs
    can be replayed batch after batch (every claim within a batch is new)."""

    def __init__(self) -> None:
        self.store = MemoryReplayStore(_POOL + 1)

    def reset(self) -> None:
        self.store = MemoryReplayStore(_POOL + 1)

    def claim(self, key: str, expires_at: float) -> bool:
        return self.store.claim(key, expires_at)

    async def claim_async(self, key: str, expires_at: float) -> bool:
        return self.store.claim(key, expires_at)


def _scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "scheme": "https",
        "path": "/orders",
        "raw_path": b"/orders",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"api.example.com"), *headers],
        "server": ("127.0.0.1", 443),
    }


def _requests(guard: Guard, scopes: list[dict[str, Any]], reset: Any = None) -> Any:
    """A ``prepare`` running ``scopes`` through ``guard`` as an ASGI adapter would."""
    from_asgi = RequestContext.from_asgi

    def prepare() -> Batch:
        if reset is not None:
            reset()

        def batch(n: int) -> None:
            check = guard.check
            for scope in itertools.islice(scopes, n):
                context = from_asgi(scope) if guard.needs_request else None
                values = [v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"]
                if check(values, "/orders", context) is None:
                    raise AssertionError("refused")

        return batch

    return prepare


def dpop_cases(pool: int = _POOL) -> list[Case]:
    """The DPoP items (see the module docstring)."""
    signing = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer_jwk = json.loads(RSAAlgorithm.to_jwk(signing.public_key()))
    dpop_key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(ECAlgorithm.to_jwk(dpop_key.public_key()))
    now = time.time()
    bound = _token(signing, now, cnf={"jkt": jwk_thumbprint(jwk)})
    plain = _token(signing, now)
    store = _ResettableStore()
    jwks = {"keys": [{**issuer_jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}
    options: dict[str, Any] = {"issuer": _ISSUER, "audience": _AUDIENCE, "jwks": jwks}
    bearer_only = Verifier(**options)
    allowed = Verifier(**options, dpop="allowed", dpop_policy=DPoPPolicy(replay_store=store))
    proofs = [_proof(dpop_key, jwk, bound, now) for _ in range(pool + 1)]
    first, proofs = proofs[0], proofs[1:]
    policy = DPoPPolicy()

    public, ecdsa = dpop_key.public_key(), ec.ECDSA(hashes.SHA256())
    raw = []
    for proof in proofs[:64]:
        head, payload, signature = proof.split(".")
        sig = _b64decode(signature)
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        raw.append((f"{head}.{payload}".encode(), der))

    def raw_prepare() -> Batch:
        source = itertools.cycle(raw)

        def batch(n: int) -> None:
            for message, der in itertools.islice(source, n):
                public.verify(der, message, ecdsa)

        return batch

    def proof_prepare() -> Batch:
        source = itertools.cycle(proofs)

        def batch(n: int) -> None:
            for proof in itertools.islice(source, n):
                check_proof(
                    proof, method="GET", url=_URL, access_token=bound, policy=policy, now=now
                )

        return batch

    dpop_scopes = [
        _scope([(b"authorization", f"DPoP {bound}".encode()), (b"dpop", p.encode())])
        for p in proofs
    ]
    bearer_scopes = [_scope([(b"authorization", f"Bearer {plain}".encode())])] * pool
    guards = {name: Guard(v) for name, v in (("plain", bearer_only), ("dpop", allowed))}
    for guard in guards.values():  # warm: every timed request is a token-cache hit
        guard.check([f"Bearer {plain}"], "/orders", RequestContext.from_asgi(bearer_scopes[0]))
    warm = _scope([(b"authorization", f"DPoP {bound}".encode()), (b"dpop", first.encode())])
    guards["dpop"].check([f"DPoP {bound}"], "/orders", RequestContext.from_asgi(warm))
    return [
        Case("dpop_raw_es256", "raw cryptography ES256 verify of a proof", raw_prepare),
        Case("dpop_proof_check", "DPoP proof check (fresh proof, known key)", proof_prepare),
        Case(
            "guard_warm_bearer",
            "guard warm, bearer (no DPoP)",
            _requests(guards["plain"], bearer_scopes),
            max_number=pool,
        ),
        Case(
            "guard_warm_bearer_dpop_allowed",
            "guard warm, bearer (DPoP allowed)",
            _requests(guards["dpop"], bearer_scopes),
            max_number=pool,
        ),
        Case(
            "guard_warm_dpop",
            "guard warm, DPoP token + fresh proof",
            _requests(guards["dpop"], dpop_scopes, store.reset),
            max_number=pool,
        ),
    ]


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _token(private: Any, now: float, **claims: Any) -> str:
    body = {"iss": _ISSUER, "aud": _AUDIENCE, "sub": "client-1", "iat": int(now)}
    body.update(exp=int(now) + 3600, scope="read:orders", **claims)
    return jwt.encode(body, private, algorithm="RS256", headers={"kid": "k1"})


def _proof(private: Any, jwk: dict[str, Any], token: str, now: float) -> str:
    claims = {"jti": str(uuid.uuid4()), "htm": "GET", "htu": _URL, "iat": int(now)}
    claims["ath"] = access_token_hash(token)
    headers = {"typ": "dpop+jwt", "jwk": jwk}
    return jwt.encode(claims, private, algorithm="ES256", headers=headers)
