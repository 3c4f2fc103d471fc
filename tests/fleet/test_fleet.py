"""A fleet on one Redis: revocations reach every replica, proofs are used once, Redis may die.

Three uvicorn processes (``tests/fleet/app.py``) share a real
``redis-server``. The times printed (``-s``) are the figures SECURITY.md
and BENCHMARKS.md quote: propagation of a revocation, and the request
counts of a run in which Redis is killed and brought back.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from m2m_guard.redis import RedisRevocations
from tests.fleet.conftest import MAX_STALE, Fleet, Replica
from tests.support.keys import SigningKey, stytch_claims

pytestmark = pytest.mark.slow

logger = logging.getLogger("tests.fleet")

#: the propagation bound promised on loopback (README, SECURITY.md)
BOUND = 1.0


def token_for(key: SigningKey, **claims: Any) -> str:
    return key.sign(stytch_claims(time.time(), **claims))


def status_of(replica: Replica, token: str, path: str = "/whoami") -> int:
    return httpx.get(
        replica.url + path, headers={"authorization": f"Bearer {token}"}, timeout=5
    ).status_code


def until_refused(
    replicas: list[Replica], token: str, revoke: Callable[[], object] = lambda: None
) -> dict[str, float]:
    """Call ``revoke``, then the seconds until each replica (polled in parallel,
    over connections opened beforehand) answers 401 revoked."""
    took: dict[str, float] = {}
    ready = threading.Barrier(len(replicas) + 1)
    go = threading.Event()
    origin: list[float] = []
    headers = {"authorization": f"Bearer {token}"}

    def poll(replica: Replica) -> None:
        with httpx.Client(timeout=5) as client:
            client.get(f"{replica.url}/health")  # the connection, opened
            ready.wait()
            go.wait(10)
            while time.monotonic() - origin[0] < 5:
                answer = client.get(f"{replica.url}/whoami", headers=headers)
                if answer.status_code == 401:
                    assert answer.json()["error_description"] == "The token has been revoked."
                    took[replica.name] = time.monotonic() - origin[0]
                    return
                assert answer.status_code == 200

    threads = [threading.Thread(target=poll, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    ready.wait()
    origin.append(time.monotonic())  # from the start of the revocation call
    go.set()
    revoke()
    for thread in threads:
        thread.join(10)
    return took


def show(what: str, took: dict[str, float]) -> None:
    print(f"\n{what} (ms): {', '.join(f'{k}={v * 1000:.1f}' for k, v in sorted(took.items()))}")


def test_a_revoked_token_is_refused_by_every_replica_within_the_bound(fleet: Fleet) -> None:
    """An operator revokes a jti in Redis: all three replicas refuse it in under a second."""
    token = token_for(fleet.key, jti="fleet-revoked")
    assert [status_of(r, token) for r in fleet.replicas] == [200, 200, 200]  # cached everywhere
    operator = RedisRevocations(fleet.redis.url, namespace="fleet", start=False)
    try:
        took = until_refused(
            fleet.replicas,
            token,
            lambda: operator.revoke_token("fleet-revoked", time.time() + 3600),
        )
    finally:
        operator.close()
    show("revoke_token in Redis -> refused by each replica", took)
    assert set(took) == {"a", "b", "c"}
    assert max(took.values()) < BOUND


def test_a_client_revoked_on_one_replica_is_refused_by_the_others(fleet: Fleet) -> None:
    """POST on replica a revokes a client; b and c refuse its tokens within the bound."""
    token = token_for(fleet.key, sub="fleet-victim", jti="victim-1")
    bystander = token_for(fleet.key, sub="fleet-bystander", jti="bystander-1")
    assert [status_of(r, token) for r in fleet.replicas] == [200, 200, 200]
    answers: list[int] = []
    admin = httpx.Client(timeout=5)
    admin.get(f"{fleet.replicas[0].url}/health")  # the connection, opened

    def revoke() -> None:
        answer = admin.post(
            f"{fleet.replicas[0].url}/admin/revoke-client", params={"client_id": "fleet-victim"}
        )
        answers.append(answer.status_code)

    try:
        took = until_refused(fleet.replicas[1:], token, revoke)
    finally:
        admin.close()
    assert answers == [200]
    show("revoke_client answered by a -> refused by b, c", took)
    assert set(took) == {"b", "c"}
    assert max(took.values()) < BOUND
    assert status_of(fleet.replicas[0], token) == 401
    assert [status_of(r, bystander) for r in fleet.replicas] == [200, 200, 200]


# -- DPoP --------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class ProofKey:
    """An ES256 key that signs DPoP proofs."""

    def __init__(self) -> None:
        self.signer = SigningKey("ES256", kid="dpop")
        numbers = self.signer.public_key.public_numbers()
        self.jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64(numbers.x.to_bytes(32, "big")),
            "y": b64(numbers.y.to_bytes(32, "big")),
        }
        canonical = json.dumps(
            {k: self.jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":")
        )
        self.jkt = b64(hashlib.sha256(canonical.encode()).digest())
        assert isinstance(self.signer.private, ec.EllipticCurvePrivateKey)

    def proof(self, token: str, htu: str = "http://fleet.example/dpop") -> str:
        claims = {
            "jti": str(uuid.uuid4()),
            "htm": "GET",
            "htu": htu,
            "iat": int(time.time()),
            "ath": b64(hashlib.sha256(token.encode()).digest()),
        }
        return self.signer.sign(claims, {"typ": "dpop+jwt", "jwk": self.jwk, "kid": ...})


def dpop_status(replica: Replica, token: str, proof: str) -> httpx.Response:
    return httpx.get(
        f"{replica.url}/dpop",
        headers={"authorization": f"DPoP {token}", "dpop": proof, "host": "fleet.example"},
        timeout=5,
    )


def test_a_dpop_proof_used_on_one_replica_is_refused_on_another(fleet: Fleet) -> None:
    """Shared replay store: a proof accepted by a is refused by b and c; a fresh one passes."""
    key = ProofKey()
    token = token_for(fleet.key, jti="dpop-token", cnf={"jkt": key.jkt})
    proof = key.proof(token)
    a, b, c = fleet.replicas
    assert dpop_status(a, token, proof).status_code == 200
    for replica in (b, c, a):
        replayed = dpop_status(replica, token, proof)
        assert replayed.status_code == 401
        assert replayed.json() == {
            "error": "invalid_dpop_proof",
            "error_description": "The DPoP proof was used before (its jti is not new).",
        }
    assert dpop_status(b, token, key.proof(token)).status_code == 200


def race(replicas: list[Replica], token: str, proof: str) -> list[int]:
    """Send one proof to every replica at the same instant; the statuses."""
    barrier = threading.Barrier(len(replicas))
    codes: list[int] = []

    def send(replica: Replica) -> None:
        barrier.wait()
        codes.append(dpop_status(replica, token, proof).status_code)

    threads = [threading.Thread(target=send, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return sorted(codes)


def test_one_proof_raced_to_every_replica_at_once_is_accepted_once(fleet: Fleet) -> None:
    """Three replicas, one proof, the same instant: exactly one 200."""
    key = ProofKey()
    token = token_for(fleet.key, jti="dpop-race", cnf={"jkt": key.jkt})
    for _ in range(5):
        assert race(fleet.replicas, token, key.proof(token)) == [200, 401, 401]


# -- Redis killed mid-run -------------------------------------------------------


class Load:
    """Requests from one thread per replica and token, each answer recorded."""

    def __init__(self, fleet: Fleet, tokens: dict[str, str]) -> None:
        self.fleet = fleet
        self.tokens = tokens
        self.records: list[tuple[float, str, str, int, float, str | None]] = []
        self.stop = threading.Event()
        self.origin = time.monotonic()
        self.threads = [
            threading.Thread(target=self._run, args=(replica, kind), daemon=True)
            for replica in fleet.replicas
            for kind in tokens
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _run(self, replica: Replica, kind: str) -> None:
        headers = {"authorization": f"Bearer {self.tokens[kind]}"}
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set():
                sent = time.monotonic()
                try:
                    answer = client.get(f"{replica.url}/whoami", headers=headers)
                    status, retry = answer.status_code, answer.headers.get("retry-after")
                except httpx.HTTPError:
                    status, retry = -1, None
                done = time.monotonic()
                self.records.append(
                    (sent - self.origin, replica.name, kind, status, done - sent, retry)
                )
                time.sleep(0.02)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)

    def between(self, start: float, end: float, kind: str) -> list[int]:
        return [r[3] for r in self.records if start <= r[0] < end and r[2] == kind]


def wait_for(predicate: Callable[[], bool], within: float) -> float:
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < within
        time.sleep(0.02)
    return time.monotonic() - start


def test_redis_killed_mid_run_stale_then_503_then_recovery_and_never_a_500(fleet: Fleet) -> None:
    """Kill Redis under load: last state served for max_stale, then 503 + Retry-After,
    then 200 again once Redis is back; revoked tokens never pass; zero 500s, no hang."""
    revoked = token_for(fleet.key, jti="kill-revoked")
    operator = RedisRevocations(fleet.redis.url, namespace="fleet", start=False)
    took = until_refused(
        fleet.replicas, revoked, lambda: operator.revoke_token("kill-revoked", time.time() + 3600)
    )
    operator.close()
    assert max(took.values()) < BOUND
    load = Load(fleet, {"valid": token_for(fleet.key, jti="kill-valid"), "revoked": revoked})
    load.start()
    time.sleep(1.0)
    killed = time.monotonic() - load.origin
    fleet.redis.kill()
    time.sleep(MAX_STALE + 1.5)
    restarted = time.monotonic() - load.origin
    fleet.redis.start()

    def all_healthy() -> bool:
        return all(httpx.get(f"{r.url}/health", timeout=5).json()["ready"] for r in fleet.replicas)

    recovery = wait_for(all_healthy, within=10)
    time.sleep(1.0)
    recovered = time.monotonic() - load.origin
    load.finish()

    phases = {
        "before": (0.0, killed),
        "stale": (killed, killed + MAX_STALE),
        "closed": (killed + MAX_STALE, restarted),
        "recovering": (restarted, restarted + recovery),
        "after": (restarted + recovery, recovered + 1),
    }
    counts = {
        (phase, kind): Counter(load.between(start, end, kind))
        for phase, (start, end) in phases.items()
        for kind in ("valid", "revoked")
    }
    for (phase, kind), counter in counts.items():
        logger.warning("redis-kill run: %-10s %-7s %s", phase, kind, dict(counter))
    print("\nRedis killed mid-run (3 replicas, request counts by status):")
    for (phase, kind), counter in counts.items():
        print(f"  {phase:<10} {kind:<7} {dict(sorted(counter.items()))}")
    print(f"  recovery after Redis restart: {recovery * 1000:.0f} ms")
    statuses = Counter(r[3] for r in load.records)
    print(f"  total {len(load.records)} requests: {dict(sorted(statuses.items()))}")
    slowest = max(r[4] for r in load.records)
    print(f"  slowest answer: {slowest * 1000:.0f} ms")

    assert set(statuses) <= {200, 401, 503}, statuses  # never a 500, never a dropped connection
    assert slowest < 2.0  # never a hang
    assert 200 not in Counter(s for r in load.records if r[2] == "revoked" for s in [r[3]])
    margin = 0.75  # a loaded machine: sending and answering are not the same instant
    assert set(load.between(0, killed, "valid")) == {200}
    assert set(load.between(killed + margin, killed + MAX_STALE - margin, "valid")) == {200}
    assert set(load.between(killed + margin, killed + MAX_STALE - margin, "revoked")) == {401}
    closed = [r for r in load.records if killed + MAX_STALE + margin <= r[0] < restarted - 0.2]
    assert closed
    assert {r[3] for r in closed} == {503}
    assert all(r[5] is not None and int(r[5]) >= 1 for r in closed)
    assert set(load.between(restarted + recovery + 0.2, recovered, "valid")) == {200}
    assert set(load.between(restarted + recovery + 0.2, recovered, "revoked")) == {401}
