"""DPoP (RFC 9449) through every integration: one table of requests and the
answers each adapter must give (status, error, challenge, ``DPoP-Nonce``),
including the attack table (replays, wrong method or URL, stale proofs,
foreign keys, private keys, ``alg: none`` …)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest

from m2m_guard import DPoPPolicy, Verifier
from m2m_guard._sansio.dpop_nonce import NonceSource
from tests.integrations._harness import Harness
from tests.integrations.test_cases import harness  # noqa: F401 - the fixture
from tests.support.clock import FakeClock
from tests.support.dpop import DPoPKey
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims

#: Every harness sees the request under its own host; the public URL makes
#: the ``htu`` one and the same for all of them.
PUBLIC = "https://api.example.com"
URL = f"{PUBLIC}/whoami"
SECRET = b"n" * 32
ALGS = "ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"


@dataclass
class World:
    """The tokens, keys and time a case builds its request from."""

    now: float
    key: DPoPKey
    other: DPoPKey
    bound: str  # cnf.jkt = key's thumbprint
    bearer: str  # no cnf
    other_bound: str  # another token bound to the same key

    def proof(self, token: str | None = None, **kwargs: object) -> str:
        return self.key.proof("GET", URL, now=self.now, token=token or self.bound, **kwargs)  # type: ignore[arg-type]

    def dpop(self, proof: str | None = None, token: str | None = None) -> list[tuple[str, str]]:
        return [
            ("authorization", f"DPoP {token or self.bound}"),
            ("dpop", proof if proof is not None else self.proof()),
        ]


Headers = Callable[[World], Sequence[tuple[str, str]]]


@dataclass(frozen=True)
class Case:
    id: str
    headers: Headers
    status: int
    error: str | None = None
    mode: str = "allowed"
    nonces: bool = False
    #: send the same request twice; the second answer is the one checked
    twice: bool = False


def _nonce(world: World, windows_ago: int = 0) -> str:
    return NonceSource(SECRET, 300.0).current(world.now - 300.0 * windows_ago)


INVALID = "invalid_dpop_proof"
CASES = [
    Case("dpop-bound token with its proof", lambda w: w.dpop(), 200),
    Case("dpop required: bound token with its proof", lambda w: w.dpop(), 200, mode="required"),
    Case("allowed: plain bearer token", lambda w: [("authorization", f"Bearer {w.bearer}")], 200),
    Case(
        "required: plain bearer token",
        lambda w: [("authorization", f"Bearer {w.bearer}")],
        401,
        "invalid_token",
        mode="required",
    ),
    Case(
        "bound token sent as bearer",
        lambda w: [("authorization", f"Bearer {w.bound}"), ("dpop", w.proof())],
        401,
        "invalid_token",
    ),
    Case(
        "plain token sent as dpop",
        lambda w: w.dpop(w.proof(w.bearer), w.bearer),
        401,
        "invalid_token",
    ),
    Case("no token", lambda w: [], 401),
    Case("no proof", lambda w: [("authorization", f"DPoP {w.bound}")], 401, INVALID),
    Case("replayed proof", lambda w: w.dpop(w.proof(jti="once")), 401, INVALID, twice=True),
    Case("wrong htm", lambda w: w.dpop(w.proof(htm="POST")), 401, INVALID),
    Case(
        "wrong htu",
        lambda w: w.dpop(w.key.proof("GET", f"{PUBLIC}/other", now=w.now, token=w.bound)),
        401,
        INVALID,
    ),
    Case(
        "wrong host in htu",
        lambda w: w.dpop(w.proof(htu="https://evil.example/whoami")),
        401,
        INVALID,
    ),
    Case("query in htu", lambda w: w.dpop(w.proof(htu=f"{URL}?all=1")), 401, INVALID),
    Case("stale iat", lambda w: w.dpop(w.proof(iat=int(w.now) - 301)), 401, INVALID),
    Case("future iat", lambda w: w.dpop(w.proof(iat=int(w.now) + 60)), 401, INVALID),
    Case("wrong ath", lambda w: w.dpop(w.proof(w.other_bound)), 401, INVALID),
    Case("no ath", lambda w: w.dpop(w.proof(ath=...)), 401, INVALID),
    Case(
        "proof by a key the token is not bound to",
        lambda w: w.dpop(w.other.proof("GET", URL, now=w.now, token=w.bound)),
        401,
        INVALID,
    ),
    Case(
        "proof signed by another key than its jwk",
        lambda w: w.dpop(w.proof(signer=w.other)),
        401,
        INVALID,
    ),
    Case(
        "private jwk in the proof",
        lambda w: w.dpop(w.proof(header={"jwk": {**w.key.jwk(), "d": "AAAA"}})),
        401,
        INVALID,
    ),
    Case("alg none", lambda w: w.dpop(w.proof(header={"alg": "none"})), 401, INVALID),
    Case("alg HS256", lambda w: w.dpop(w.proof(header={"alg": "HS256"})), 401, INVALID),
    Case("typ JWT", lambda w: w.dpop(w.proof(header={"typ": "JWT"})), 401, INVALID),
    Case(
        "two DPoP headers",
        lambda w: [*w.dpop(), ("dpop", w.proof())],
        401,
        INVALID,
    ),
    Case("garbage proof", lambda w: w.dpop("not-a-jwt"), 401, INVALID),
    Case("nonce required, none sent", lambda w: w.dpop(), 401, "use_dpop_nonce", nonces=True),
    Case("current nonce", lambda w: w.dpop(w.proof(nonce=_nonce(w))), 200, nonces=True),
    Case(
        "previous window's nonce", lambda w: w.dpop(w.proof(nonce=_nonce(w, 1))), 200, nonces=True
    ),
    Case(
        "nonce from two windows ago",
        lambda w: w.dpop(w.proof(nonce=_nonce(w, 2))),
        401,
        "use_dpop_nonce",
        nonces=True,
    ),
]


@pytest.fixture
def world(rsa_key: SigningKey, clock: FakeClock) -> World:
    key, other = DPoPKey(), DPoPKey()
    now = clock()
    scope = "read:settings"
    return World(
        now=now,
        key=key,
        other=other,
        bound=rsa_key.sign(stytch_claims(now, scope=scope, cnf={"jkt": key.jkt})),
        bearer=rsa_key.sign(stytch_claims(now, scope=scope)),
        other_bound=rsa_key.sign(stytch_claims(now, scope=scope, jti="2", cnf={"jkt": key.jkt})),
    )


def dpop_verifier(rsa_key: SigningKey, clock: FakeClock, mode: str, nonces: bool) -> Verifier:
    policy = DPoPPolicy(public_url=PUBLIC, nonce_secret=SECRET if nonces else None)
    return Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks=jwks_of(rsa_key),
        clock=clock,
        dpop=mode,
        dpop_policy=policy,
    )


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_integration_answers_dpop_case_as_specified(
    harness: Harness,  # noqa: F811 - the shared fixture
    case: Case,
    world: World,
    rsa_key: SigningKey,
    clock: FakeClock,
) -> None:
    """Every integration answers each DPoP request with the RFC 9449 status,
    error, challenge and ``DPoP-Nonce``."""
    harness.build(dpop_verifier(rsa_key, clock, case.mode, case.nonces))
    headers = case.headers(world)
    reply = harness.request("/whoami", headers)
    if case.twice:
        assert reply.status == 200, reply
        reply = harness.request("/whoami", headers)
    assert reply.status == case.status, reply
    challenge = reply.headers.get("www-authenticate")
    if case.status == 200:
        assert challenge is None
        assert reply.json["client_id"] == "m2m-client-test-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
        return
    assert challenge is not None
    dpop = f'DPoP realm="api", algs="{ALGS}"'
    if case.mode == "required":
        assert challenge.startswith(dpop), challenge
        assert "Bearer" not in challenge
    else:
        assert challenge.startswith('Bearer realm="api"'), challenge
        assert dpop in challenge
    if case.error is None:
        assert "error=" not in challenge
        return
    assert reply.json["error"] == case.error
    assert f'error="{case.error}"' in challenge
    if case.error in (INVALID, "use_dpop_nonce"):  # the proof's errors go with DPoP
        assert challenge.index("DPoP ") < challenge.index("error=")
    if case.error == "use_dpop_nonce":
        assert reply.headers["dpop-nonce"] == _nonce(world)
    else:
        assert "dpop-nonce" not in reply.headers


def test_a_cached_bound_token_still_needs_a_fresh_proof_each_time(
    harness: Harness,  # noqa: F811 - the shared fixture
    world: World,
    rsa_key: SigningKey,
    clock: FakeClock,
) -> None:
    """A token-cache hit does not spare the proof: each request brings a new one."""
    harness.build(dpop_verifier(rsa_key, clock, "allowed", False))
    for _ in range(3):
        assert harness.request("/whoami", world.dpop()).status == 200
    assert harness.request("/whoami", [("authorization", f"DPoP {world.bound}")]).status == 401
    assert harness.request("/whoami", [("authorization", f"Bearer {world.bound}")]).status == 401
