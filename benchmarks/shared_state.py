"""Benchmarks of the shared state: revocations on the hot path, DPoP replay claims, propagation.

    python benchmarks/shared_state.py            # about half a minute; needs redis-server
    python benchmarks/shared_state.py --quick    # a few seconds

One process run, so the ratios are meaningful:

* warm verification (one token, every operation a token-cache hit) with no
  revocations, with ``MemoryRevocations`` and with ``RedisRevocations``
  (both holding 1000 revoked jtis and 100 client cut-offs), through
  ``verify`` and through the integrations' ``verify_authorization``; the
  target is at most 1.1x the warm verification without revocations;
* the cold path (every operation a full RS256 verification) with and without;
* the DPoP replay claim on the request path: ``MemoryReplayStore`` against
  ``RedisReplayStore`` (sync and asyncio) on 127.0.0.1, next to one raw
  ES256 verification (the proof's own signature check) for scale;
* propagation: the time from ``revoke_token`` on one ``RedisRevocations``
  until another one's local copy has it (median and max over many).

The warm and cold cases are timed by the thread's CPU time; the Redis round
trips and the propagation by wall time (they wait on a socket).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from benchmarks._timing import CLOCKS, Batch, Case, Measurement, measure
from benchmarks._world import World, open_world
from m2m_guard import MemoryRevocations
from m2m_guard._replay import MemoryReplayStore
from m2m_guard.redis import RedisReplayStore, RedisRevocations

__all__ = ["Results", "main", "run"]

#: The hot-path target: warm verification with revocations / without.
TARGET = 1.1


@dataclass
class Results:
    """What one run measured."""

    measurements: dict[str, Measurement]
    propagation_ms: list[float]
    command: str

    def us(self, key: str) -> float:
        return self.measurements[key].median_us

    def ratio(self, key: str, base: str) -> float:
        return self.measurements[key].median_ns / self.measurements[base].median_ns

    def text(self) -> str:
        lines = [f"# {self.command}", "", f"{'case':<44}{'µs/op':>10}"]
        lines += [f"{m.label:<44}{m.median_us:>10.3f}" for m in self.measurements.values()]
        lines += ["", "ratios (target: revocations on the warm path <= 1.1x):"]
        for key, base in RATIOS:
            ratio = self.ratio(key, base)
            mark = ""
            if key.startswith("warm"):
                mark = "  ok" if ratio <= TARGET else "  OVER TARGET"
            label = f"{self.measurements[key].label} / {self.measurements[base].label}"
            lines.append(f"  {label:<72}{ratio:>7.2f}x{mark}")
        p = sorted(self.propagation_ms)
        lines += [
            "",
            f"propagation of a revocation to another replica's copy over {len(p)} revocations:",
            f"  median {statistics.median(p):.2f} ms, max {p[-1]:.2f} ms",
        ]
        return "\n".join(lines)

    @property
    def within_target(self) -> bool:
        return all(self.ratio(k, b) <= TARGET for k, b in RATIOS if k.startswith("warm"))


RATIOS = [
    ("warm_verify_memory", "warm_verify_none"),
    ("warm_verify_redis", "warm_verify_none"),
    ("warm_header_memory", "warm_header_none"),
    ("warm_header_redis", "warm_header_none"),
    ("cold_memory", "cold_none"),
    ("claim_redis", "claim_memory"),
    ("claim_redis", "raw_es256"),
    ("claim_redis_async", "raw_es256"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def redis_server() -> Iterator[str]:
    """A ``redis-server`` on a free loopback port, no persistence; its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.kill()
        process.wait(10)


def _repeating(op: Callable[[], object]) -> Callable[[], Batch]:
    def prepare() -> Batch:
        def batch(n: int) -> None:
            for _ in range(n):
                op()

        return batch

    return prepare


def _cycling(items: list[Any], op: Callable[[Any], object]) -> Callable[[], Batch]:
    position = [0]

    def prepare() -> Batch:
        def batch(n: int) -> None:
            i = position[0]
            for _ in range(n):
                op(items[i % len(items)])
                i += 1
            position[0] = i

        return batch

    return prepare


def _fill(revocations: Any, now: float) -> None:
    for i in range(1000):
        revocations.revoke_token(f"revoked-{i}", now + 3600)
    for i in range(100):
        revocations.revoke_client(f"client-{i}", issued_before=now)


def _hot_cases(world: World, url: str, stack: ExitStack) -> list[Case]:
    token, header = world.tokens[0], [f"Bearer {world.tokens[0]}"]
    now = time.time()
    memory = MemoryRevocations()
    _fill(memory, now)
    writer = stack.enter_context(_closing(RedisRevocations(url, namespace="bench", start=False)))
    _fill(writer, now)
    shared = stack.enter_context(_closing(RedisRevocations(url, namespace="bench")))
    if not shared.warm_up(10):
        raise RuntimeError("RedisRevocations did not sync")
    assert len(shared.state.jtis) == 1000, "the Redis copy holds every revocation"
    cases = []
    for name, revocations in (("none", None), ("memory", memory), ("redis", shared)):
        verifier = world.verifier(revocations=revocations)
        verifier.verify(token)  # cached, untimed
        cases += [
            Case(f"warm_verify_{name}", f"warm verify(), revocations: {name}",
                 _repeating(lambda v=verifier: v.verify(token))),
            Case(f"warm_header_{name}", f"warm verify_authorization(), {name}",
                 _repeating(lambda v=verifier: v.verify_authorization(header))),
        ]  # fmt: skip
        if name != "redis":
            cold = world.verifier(revocations=revocations, token_cache_size=0)
            cases.append(
                Case(f"cold_{name}", f"cold verify() (RS256), {name}",
                     _cycling(world.tokens, cold.verify))
            )  # fmt: skip
    return cases


def _claim_cases(url: str, stack: ExitStack, loop: asyncio.AbstractEventLoop) -> list[Case]:
    counter = iter(range(10**12))
    memory = MemoryReplayStore(max_entries=10**7)
    shared = RedisReplayStore(url, namespace="bench")
    _REPLAY_STORES.append(shared)
    private = ec.generate_private_key(ec.SECP256R1())
    message = b"x" * 200
    signature = private.sign(message, ec.ECDSA(hashes.SHA256()))
    public = private.public_key()

    def claim_async() -> Callable[[], Batch]:
        def prepare() -> Batch:
            def batch(n: int) -> None:
                async def claims() -> None:
                    for _ in range(n):
                        await shared.claim_async(f"k{next(counter)}", time.time() + 60)

                loop.run_until_complete(claims())

            return batch

        return prepare

    loop.run_until_complete(shared.claim_async("warm", time.time() + 60))
    return [
        Case("raw_es256", "raw ES256 verify (cryptography)",
             _repeating(lambda: public.verify(signature, message, ec.ECDSA(hashes.SHA256())))),
        Case("claim_memory", "replay claim, MemoryReplayStore",
             _repeating(lambda: memory.claim(f"k{next(counter)}", time.time() + 60))),
        Case("claim_redis", "replay claim, RedisReplayStore (sync)",
             _repeating(lambda: shared.claim(f"k{next(counter)}", time.time() + 60))),
        Case("claim_redis_async", "replay claim, RedisReplayStore (asyncio)", claim_async()),
    ]  # fmt: skip


#: The replay store of the run in progress (closed in the benchmark's loop).
_REPLAY_STORES: list[RedisReplayStore] = []


def _propagation(url: str, count: int) -> list[float]:
    writer = RedisRevocations(url, namespace="propagation", start=False)
    reader = RedisRevocations(url, namespace="propagation")
    try:
        if not reader.warm_up(10):
            raise RuntimeError("RedisRevocations did not sync")
        times = []
        for i in range(count):
            jti = f"p-{i}"
            start = time.perf_counter()
            writer.revoke_token(jti, time.time() + 600)
            while jti not in reader.state.jtis:
                time.sleep(0)
                if time.perf_counter() - start > 5:
                    raise RuntimeError("a revocation did not arrive within 5 s")
            times.append((time.perf_counter() - start) * 1000)
        return times
    finally:
        reader.close()
        writer.close()


@contextmanager
def _closing(resource: Any) -> Iterator[Any]:
    try:
        yield resource
    finally:
        resource.close()


def run(
    quick: bool = False,
    *,
    repeats: int | None = None,
    iterations: int | None = None,
    propagations: int | None = None,
    command: str = "python benchmarks/shared_state.py",
) -> Results:
    """Run every case once (one process, one Redis) and return the results."""
    repeats = repeats or (5 if quick else 15)
    batch_ms = 3 if quick else 20
    loop = asyncio.new_event_loop()
    with open_world(100 if quick else 400) as world, redis_server() as url, ExitStack() as stack:
        hot = measure(
            _hot_cases(world, url, stack), repeats=repeats, target_ns=int(batch_ms * 1e6),
            iterations=iterations, clock=CLOCKS["cpu"],
        )  # fmt: skip
        claims = measure(
            _claim_cases(url, stack, loop), repeats=repeats, target_ns=int(batch_ms * 1e6),
            iterations=iterations, clock=CLOCKS["wall"],
        )  # fmt: skip
        loop.run_until_complete(_REPLAY_STORES.pop().aclose())  # its asyncio client, in its loop
        propagation = _propagation(url, propagations or (20 if quick else 200))
    loop.close()
    return Results({m.key: m for m in [*hot, *claims]}, propagation, command)


def main(argv: list[str] | None = None) -> int:
    """The command line: run and print; ``--check`` fails above the target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (a few seconds)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target fails")
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    results = run(args.quick, command=" ".join(["python benchmarks/shared_state.py", *argv]))
    print(results.text())
    return 1 if args.check and not results.within_target else 0


if __name__ == "__main__":
    raise SystemExit(main())
