"""Token verification cases: the floors, PyJWT, the Stytch SDK and m2m_guard.

Every RS256 case but "warm" walks the world's pool of distinct tokens, so
each operation parses and checks a different token, as a real cold path
does. "m2m_guard cold" builds a fresh ``Verifier`` before every repeat
(untimed) and gives it tokens it has never seen, so with a token cache each
operation is a miss; "m2m_guard warm" verifies one token over and over with
one verifier, so with a token cache every operation after the first is a hit
(without one, warm costs what cold costs).
"""

from __future__ import annotations

import itertools
import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding

from benchmarks._timing import Batch, Case
from benchmarks._world import World, b64url_decode

__all__ = ["floor_cases", "verify_cases"]


def _cycling(items: list[Any], op: Callable[[Any], object]) -> Callable[[], Batch]:
    """A ``prepare`` whose batches apply ``op`` to ``items`` in turn, endlessly."""
    source = itertools.cycle(items)

    def prepare() -> Batch:
        def batch(n: int) -> None:
            for item in itertools.islice(source, n):
                op(item)

        return batch

    return prepare


def _split(token: str) -> tuple[bytes, bytes]:
    """A compact JWS as (signing input, raw signature)."""
    signing_input, _, signature = token.rpartition(".")
    return signing_input.encode("ascii"), b64url_decode(signature)


def floor_cases(world: World) -> list[Case]:
    """Raw ``cryptography`` verification: no parsing, no claims, just the math.

    And one reference: the RS256 check of each token after a plain
    ``json.loads`` of its payload, the least any verifier does. Interleaving
    even that little Python work with the RSA check slows the check itself
    (caches), so this is the floor a verifier meets in practice.
    """
    rsa_key = world.public_key
    rsa_items = [_split(t) for t in world.tokens]
    with_payloads = [(*_split(t), b64url_decode(t.split(".")[1])) for t in world.tokens]
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    messages = [message for message, _ in rsa_items[:64]]
    ec_private = ec.generate_private_key(ec.SECP256R1())
    ec_public, ecdsa = ec_private.public_key(), ec.ECDSA(hashes.SHA256())
    ec_items = [(m, ec_private.sign(m, ecdsa)) for m in messages]
    ed_private = ed25519.Ed25519PrivateKey.generate()
    ed_public = ed_private.public_key()
    ed_items = [(m, ed_private.sign(m)) for m in messages]

    def rs256(item: tuple[bytes, bytes]) -> None:
        rsa_key.verify(item[1], item[0], pkcs1, sha256)

    def es256(item: tuple[bytes, bytes]) -> None:
        ec_public.verify(item[1], item[0], ecdsa)

    def eddsa(item: tuple[bytes, bytes]) -> None:
        ed_public.verify(item[1], item[0])

    def rs256_after_json(item: tuple[bytes, bytes, bytes]) -> None:
        json.loads(item[2])
        rsa_key.verify(item[1], item[0], pkcs1, sha256)

    return [
        Case("raw_rs256", "raw cryptography RS256 verify", _cycling(rsa_items, rs256)),
        Case(
            "raw_rs256_json",
            "raw RS256 verify after json.loads(payload)",
            _cycling(with_payloads, rs256_after_json),
        ),
        Case("raw_es256", "raw cryptography ES256 verify", _cycling(ec_items, es256)),
        Case("raw_eddsa", "raw cryptography EdDSA verify", _cycling(ed_items, eddsa)),
    ]


def _pyjwt_decode(world: World) -> Callable[[str, Any], object]:
    options: Any = {"require": ["aud", "iss", "exp", "iat", "nbf", "sub"]}
    issuer, audience = world.issuer.issuer, world.project_id

    def decode(token: str, key: Any) -> object:
        return jwt.decode(
            token, key, algorithms=["RS256"], audience=audience, issuer=issuer, options=options
        )

    return decode


@contextmanager
def verify_cases(world: World, *, stytch: bool = True) -> Iterator[tuple[list[Case], list[str]]]:
    """The verification cases, and notes on what was skipped and why."""
    notes: list[str] = []
    decode = _pyjwt_decode(world)
    key = world.public_key
    jwk_client = jwt.PyJWKClient(world.jwks_url)  # noqa: TID251 - the comparison, not our code

    def pyjwk(token: str) -> object:
        return decode(token, jwk_client.get_signing_key_from_jwt(token).key)

    pyjwk(world.tokens[0])  # fetch and cache the JWKS before timing
    cases = [
        Case(
            "pyjwt_decode",
            "PyJWT jwt.decode (prepared key)",
            _cycling(world.tokens, lambda token: decode(token, key)),
        ),
        Case("pyjwt_jwks_client", "PyJWT PyJWKClient + decode", _cycling(world.tokens, pyjwk)),
    ]
    with ExitStack() as stack:
        authenticate = stack.enter_context(_stytch_authenticate(world)) if stytch else None
        if not stytch:
            notes.append("Stytch SDK: skipped (disabled)")
        elif authenticate is None:
            notes.append("Stytch SDK: skipped (the stytch package is not installed)")
        else:
            label = "Stytch SDK m2m.authenticate_token"
            cases.append(Case("stytch_sdk", label, _cycling(world.tokens, authenticate)))
        cases.extend(_m2m_guard_cases(world))
        yield cases, notes


def _m2m_guard_cases(world: World) -> list[Case]:
    tokens = world.tokens
    warm_verifier = world.verifier()
    warm_token = tokens[0]
    warm_verifier.verify(warm_token)

    def prepare_cold() -> Batch:
        verifier = world.verifier()  # built untimed; it has seen none of the tokens

        def batch(n: int) -> None:
            verify = verifier.verify
            for token in tokens[:n]:
                verify(token)

        return batch

    def prepare_warm() -> Batch:
        def batch(n: int) -> None:
            verify = warm_verifier.verify
            for _ in itertools.repeat(None, n):
                verify(warm_token)

        return batch

    return [
        Case("m2m_guard_cold", "m2m_guard cold (never-seen token)", prepare_cold, len(tokens)),
        Case("m2m_guard_warm", "m2m_guard warm (same token again)", prepare_warm),
    ]


@contextmanager
def _stytch_authenticate(world: World) -> Iterator[Callable[[str], object] | None]:
    """``client.m2m.authenticate_token`` against the issuer, or None without the SDK."""
    try:
        import requests
        import stytch
    except ImportError:
        yield None
        return
    with requests.Session() as session, warnings.catch_warnings():
        # stytch.Client builds an aiohttp.BasicAuth, deprecated in recent aiohttp.
        warnings.filterwarnings("ignore", "BasicAuth is deprecated", DeprecationWarning)
        client = stytch.Client(
            project_id=world.project_id,
            secret=world.issuer.project_secret,
            environment=world.base_url,
            sync_session=session,
        )
        m2m = client.m2m

        def authenticate(token: str) -> object:
            return m2m.authenticate_token(access_token=token)

        if authenticate(world.tokens[0]) is None:  # also fetches and caches the JWKS
            raise RuntimeError("the Stytch SDK rejected the issuer's token")
        yield authenticate
