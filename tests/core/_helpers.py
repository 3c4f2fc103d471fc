"""Run the same JWKS scenario through the sync driver (threads) or the async one (tasks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio

from m2m_guard import M2MClaims, M2MGuardError, Verifier
from m2m_guard._gate import gate_of
from tests.support.clock import FakeClock
from tests.support.jwks_server import JWKSServer
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of

Outcome = M2MClaims | M2MGuardError

#: how long a helper waits for another thread or task before giving up
PATIENCE = 5.0


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Poll ``predicate`` from a thread until it holds."""
    deadline = time.monotonic() + PATIENCE
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.002)


async def await_until(predicate: Callable[[], bool], what: str) -> None:
    """Poll ``predicate`` from a task until it holds."""
    with anyio.fail_after(PATIENCE):
        while not predicate():
            await anyio.sleep(0.002)


def unused_loopback_url(path: str = "/jwks") -> str:
    """An http URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


@contextmanager
def header_trickling_server(byte_delay: float) -> Iterator[str]:
    """A URL on 127.0.0.1 whose server sends its status line and headers one byte at a time.

    Every read completes within any sane read timeout; only a deadline on the
    whole exchange stops it. About 800 bytes are sent, ``byte_delay`` apart.
    """
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(b"x-pad-%02d: y\r\n" % i for i in range(60))
    done = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(PATIENCE)

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            connection.recv(65536)
            for byte in head:
                if done.wait(byte_delay):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/jwks"
    finally:
        done.set()
        listener.close()
        thread.join(PATIENCE)


class _CountingLock:
    """Wraps a ``threading.Lock``, counting the threads that tried to take it."""

    def __init__(self, lock: Any) -> None:
        self._lock = lock
        self._count_lock = threading.Lock()
        self.attempts = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        with self._count_lock:
            self.attempts += 1
        return bool(self._lock.acquire(blocking, timeout))

    def release(self) -> None:
        self._lock.release()


@dataclass(frozen=True)
class Flavor:
    """One way of calling a verifier: ``sync`` (``verify``) or ``async`` (``verify_async``).

    Tests are written once against these coroutines; the sync flavor simply
    blocks inside them, which is harmless in a test.
    """

    name: str

    def __str__(self) -> str:
        return self.name

    async def verify(self, verifier: Verifier, token: str) -> M2MClaims:
        if self.name == "sync":
            return verifier.verify(token)
        return await verifier.verify_async(token)

    async def outcome(self, verifier: Verifier, token: str) -> Outcome:
        """The claims, or the (only acceptable kind of) error the verifier raised."""
        try:
            return await self.verify(verifier, token)
        except M2MGuardError as exc:
            return exc

    async def warm_up(self, verifier: Verifier) -> bool:
        if self.name == "sync":
            return verifier.warm_up()
        return await verifier.warm_up_async()

    async def verify_together(
        self, verifier: Verifier, tokens: Sequence[str], *, hold: JWKSServer | None = None
    ) -> list[Outcome]:
        """Verify all ``tokens`` at once: one thread or one task each.

        With ``hold`` (a server in ``slow`` mode), the first fetch is held
        until every caller is waiting for it, then released.
        """
        if self.name == "sync":
            return self._in_threads(verifier, tokens, hold)
        return await self._in_tasks(verifier, tokens, hold)

    def _in_threads(
        self, verifier: Verifier, tokens: Sequence[str], hold: JWKSServer | None
    ) -> list[Outcome]:
        results: list[Outcome | None] = [None] * len(tokens)
        barrier = threading.Barrier(len(tokens))
        gate = gate_of(verifier.cache)
        lock = _CountingLock(gate.lock)
        gate.lock = lock  # type: ignore[assignment]

        def run(index: int) -> None:
            barrier.wait(PATIENCE)
            try:
                results[index] = verifier.verify(tokens[index])
            except M2MGuardError as exc:
                results[index] = exc

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(tokens))]
        for thread in threads:
            thread.start()
        if hold is not None:
            wait_until(lambda: lock.attempts == len(tokens), "every thread to wait on the lock")
            hold.release.set()
        for thread in threads:
            thread.join(PATIENCE)
        assert all(r is not None for r in results), "a thread did not finish"
        return [r for r in results if r is not None]

    async def _in_tasks(
        self, verifier: Verifier, tokens: Sequence[str], hold: JWKSServer | None
    ) -> list[Outcome]:
        results: list[Outcome | None] = [None] * len(tokens)

        async def run(index: int) -> None:
            results[index] = await self.outcome(verifier, tokens[index])

        async with anyio.create_task_group() as tasks:
            for index in range(len(tokens)):
                tasks.start_soon(run, index)
            if hold is not None:
                await await_until(lambda: hold.fetches >= 1, "the first fetch")
                await anyio.wait_all_tasks_blocked()
                hold.release.set()
        return [r for r in results if r is not None]


SYNC = Flavor("sync")
ASYNC = Flavor("async")


MakeVerifier = Callable[..., Verifier]


def static_verifier(rsa_key: SigningKey, clock: FakeClock, **kwargs: Any) -> Verifier:
    """A Stytch-shaped verifier of ``rsa_key``'s static JWKS on the fake clock."""
    return Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock, **kwargs
    )
