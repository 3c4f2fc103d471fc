"""Start an example from examples/ as a real server process on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def running_example(name: str, settings: Mapping[str, str], log_path: Path) -> Iterator[str]:
    """Run ``examples/{name}.py`` with ``settings`` (M2M_GUARD_* …); yield its base URL.

    The process gets a free port on 127.0.0.1 and none of the caller's
    M2M_GUARD_* variables. On exit it is sent SIGTERM and must stop cleanly.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("M2M_GUARD_")}
    env.update(settings, HOST="127.0.0.1", PORT=str(port), PYTHONUNBUFFERED="1")
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            [sys.executable, f"examples/{name}.py"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        ) as process,
    ):
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not _accepts(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    pytest.fail(f"{name} did not start:\n{log_path.read_text()}")
                time.sleep(0.05)  # a real process is starting: nothing to fake here
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            returncode = process.wait(timeout=10)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert returncode in (0, -signal.SIGTERM), log_path.read_text()
