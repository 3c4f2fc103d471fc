"""Two or more uvicorn replicas of ``tests/fleet/app.py`` sharing one real redis-server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.keys import SigningKey, jwks_of
from tests.support.redis_server import RedisServer, free_port, running_redis

ROOT = Path(__file__).resolve().parents[2]

#: the max_stale of every replica (seconds): the stale-if-error window
MAX_STALE = 3.0


class Replica:
    """One uvicorn process."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.fleet.app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**env, "FLEET_NAME": name},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_ready(self, patience: float = 30.0) -> None:
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                assert self.process.stderr is not None
                raise RuntimeError(f"{self.name} exited: {self.process.stderr.read().decode()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).json()["ready"]:
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not become ready")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck replica
            self.process.kill()
            self.process.wait(10)
        if self.process.stderr is not None:
            self.process.stderr.close()


class Fleet:
    """A redis-server and the replicas that share it."""

    def __init__(self, redis: RedisServer, replicas: list[Replica], key: SigningKey) -> None:
        self.redis = redis
        self.replicas = replicas
        self.key = key


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Redis plus three replicas, each its own uvicorn process."""
    key = SigningKey("RS256", kid="fleet-key")
    jwks = tmp_path_factory.mktemp("fleet") / "jwks.json"
    jwks.write_text(json.dumps(jwks_of(key)))
    with running_redis() as redis:
        env = {
            **os.environ,
            "FLEET_JWKS": str(jwks),
            "FLEET_REDIS": redis.url,
            "FLEET_MAX_STALE": str(MAX_STALE),
        }
        env.pop("COVERAGE_PROCESS_START", None)
        replicas = [Replica(name, env) for name in ("a", "b", "c")]
        try:
            for replica in replicas:
                replica.wait_ready()
            yield Fleet(redis, replicas, key)
        finally:
            for replica in replicas:
                replica.stop()
