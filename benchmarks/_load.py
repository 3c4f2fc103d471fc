"""A short load run over 127.0.0.1: bare vs protected Starlette under uvicorn.

Each app runs in its own uvicorn process (so the load generator does not
share its interpreter, and the two share a 2-core machine one core each).
The load comes from ``wrk`` when it is installed, otherwise from a small
asyncio HTTP/1.1 keep-alive client here. Every run is bounded: by a duration,
by a request budget (the asyncio client) and by a hard timeout. The two
servers are driven in alternation for several rounds; the median is kept.
Nothing but 127.0.0.1 is ever addressed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks._apps import PROTECTED_VARIABLE
from benchmarks._world import LOOPBACK, World

__all__ = ["LoadResult", "LoadSettings", "load_run"]

ROOT = Path(__file__).resolve().parent.parent
_STARTUP_SECONDS = 30.0


@dataclass(frozen=True)
class LoadSettings:
    """How long and how hard to push each server."""

    seconds: float = 3.0
    requests: int = 100_000
    rounds: int = 3
    concurrency: int = 16
    tool: str = "auto"  # "auto", "wrk" or "asyncio"


@dataclass
class LoadResult:
    """Requests per second of one server over the rounds."""

    key: str
    label: str
    tool: str
    samples_rps: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def rps(self) -> float:
        """The median requests per second."""
        return statistics.median(self.samples_rps)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {"key": self.key, "label": self.label, "tool": self.tool, "rps": self.rps,
                "samples_rps": self.samples_rps, "errors": self.errors}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _ready(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.5):
        return True
    return False


@contextlib.contextmanager
def uvicorn_server(world: World, *, protected: bool) -> Iterator[int]:
    """Serve the (bare or protected) hello world in a uvicorn process; yield its port."""
    port = _free_port()
    env = {
        **os.environ,
        PROTECTED_VARIABLE: "1" if protected else "0",
        "M2M_GUARD_ISSUER": world.issuer.issuer,
        "M2M_GUARD_AUDIENCE": world.project_id,
        "M2M_GUARD_JWKS": json.dumps(world.jwks),
        "M2M_GUARD_CLIENT_ID_CLAIMS": "sub",
    }
    argv = [sys.executable, "-m", "uvicorn", "benchmarks._apps:load_app", "--factory",
            "--app-dir", str(ROOT), "--host", LOOPBACK, "--port", str(port),
            "--log-level", "warning", "--no-access-log"]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + _STARTUP_SECONDS
            while not _ready(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"uvicorn did not start: {log.read().decode()[-2000:]}")
                time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _content_length(head: bytes) -> int:
    match = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.IGNORECASE)
    if match is None:
        raise RuntimeError("a response without Content-Length")
    return int(match.group(1))


async def _drive(
    port: int, request: bytes, budget: int, seconds: float, concurrency: int
) -> tuple[int, int, float]:
    """Send up to ``budget`` requests for at most ``seconds``; (ok, errors, elapsed)."""
    remaining = [budget]
    deadline = time.perf_counter() + seconds

    async def connection() -> tuple[int, int]:
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        ok = bad = 0
        try:
            while remaining[0] > 0 and time.perf_counter() < deadline:
                remaining[0] -= 1
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(_content_length(head))
                if head.startswith(b"HTTP/1.1 200 "):
                    ok += 1
                else:
                    bad += 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return ok, bad

    start = time.perf_counter()
    counts = await asyncio.wait_for(
        asyncio.gather(*(connection() for _ in range(concurrency))), seconds + 30
    )
    elapsed = time.perf_counter() - start
    return sum(c[0] for c in counts), sum(c[1] for c in counts), elapsed


def _asyncio_rps(
    port: int, token: str, settings: LoadSettings, seconds: float
) -> tuple[float, int]:
    request = (
        f"GET / HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode("ascii")
    ok, bad, elapsed = asyncio.run(
        _drive(port, request, settings.requests, seconds, settings.concurrency)
    )
    return (ok + bad) / elapsed, bad


def _wrk_rps(port: int, token: str, settings: LoadSettings, seconds: float) -> tuple[float, int]:
    duration = max(1, round(seconds))
    argv = ["wrk", "-t1", f"-c{settings.concurrency}", f"-d{duration}s",
            "-H", f"Authorization: Bearer {token}", f"http://{LOOPBACK}:{port}/"]  # fmt: skip
    output = subprocess.run(
        argv, capture_output=True, text=True, timeout=duration + 30, check=True
    ).stdout
    rate = re.search(r"Requests/sec:\s*([\d.]+)", output)
    if rate is None:
        raise RuntimeError(f"unexpected wrk output: {output}")
    errors = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    return float(rate.group(1)), int(errors.group(1)) if errors else 0


def load_run(world: World, token: str, settings: LoadSettings) -> list[LoadResult]:
    """Bare vs protected Starlette under uvicorn, requests per second each."""
    tool = settings.tool
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "asyncio"
    drive = _wrk_rps if tool == "wrk" else _asyncio_rps
    results = [
        LoadResult("load_bare", "uvicorn + Starlette hello world, bare", tool),
        LoadResult("load_guarded", "uvicorn + Starlette + ASGI M2MGuardMiddleware", tool),
    ]
    with (
        uvicorn_server(world, protected=False) as bare_port,
        uvicorn_server(world, protected=True) as guarded_port,
    ):
        ports = [bare_port, guarded_port]
        for port in ports:  # warm-up: imports, first requests, the token cache
            _asyncio_rps(port, token, LoadSettings(requests=200, concurrency=4), 1.0)
        for round_ in range(settings.rounds):
            order = [0, 1] if round_ % 2 == 0 else [1, 0]
            for index in order:
                rps, errors = drive(ports[index], token, settings, settings.seconds)
                results[index].samples_rps.append(rps)
                results[index].errors += errors
    return results
