"""ServerThread: real uvicorn on loopback in a thread, started and stopped cleanly."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import anyio.to_thread
import httpx
import pytest

from m2m_guard._tools import server as _server
from m2m_guard._tools.server import ServerThread, http_url

pytestmark = pytest.mark.slow


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A minimal ASGI app: 200 "hello" on HTTP, accepts lifespan."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


def server_threads() -> list[threading.Thread]:
    """Threads started by ServerThread that are still alive."""
    return [t for t in threading.enumerate() if t.name == "m2m-guard-uvicorn"]


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every test must leave no server thread running."""
    yield
    assert server_threads() == []


def test_it_serves_on_a_free_loopback_port() -> None:
    """Port 0 picks a free port; base_url reports the real one."""
    with ServerThread(hello) as server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.base_url)
        assert server.port > 0
        assert server.running
        assert httpx.get(server.base_url + "/").text == "hello"


def test_stop_joins_the_thread_and_frees_the_port() -> None:
    """After stop the thread is gone and the port accepts a new server."""
    server = ServerThread(hello).start()
    port = server.port
    server.stop()
    assert not server.running
    assert server_threads() == []
    with ServerThread(hello, port=port) as again:
        assert httpx.get(again.base_url).status_code == 200


def test_stop_is_idempotent() -> None:
    """Stopping twice, or never started, is harmless."""
    server = ServerThread(hello)
    server.stop()
    server.start()
    server.stop()
    server.stop()


def test_starting_twice_is_an_error() -> None:
    """A running server cannot be started again."""
    with ServerThread(hello) as server, pytest.raises(RuntimeError, match="already started"):
        server.start()


def test_the_port_is_unknown_until_started() -> None:
    """port and base_url raise before start."""
    with pytest.raises(RuntimeError, match="not running"):
        _ = ServerThread(hello).base_url


def test_wait_reports_whether_the_server_stopped() -> None:
    """wait(timeout) is False while serving, True once stopped."""
    server = ServerThread(hello).start()
    assert server.wait(0.01) is False
    server.stop()
    assert server.wait(0.01) is True


def test_a_failed_app_startup_raises_and_leaves_nothing_running() -> None:
    """An app refusing lifespan startup makes start() raise."""

    async def refuses(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no"})

    with pytest.raises(RuntimeError, match="failed to start"):
        ServerThread(refuses).start()


def test_a_startup_that_never_finishes_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """start() gives up after startup_timeout (measured on an injected clock)."""
    gate = threading.Event()

    async def stuck(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await anyio.to_thread.run_sync(gate.wait)
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})

    ticks = iter([0.0, 100.0])

    def fake_monotonic() -> float:
        now = next(ticks)
        if now >= 100:
            gate.set()  # let the stuck startup finish so stop() can join
        return now

    monkeypatch.setattr(_server, "monotonic", fake_monotonic)
    with pytest.raises(TimeoutError, match="did not start"):
        ServerThread(stuck, startup_timeout=5).start()


def test_a_thread_that_will_not_stop_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """If even force_exit cannot stop uvicorn, stop() says so."""
    release = threading.Event()

    async def hangs(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await anyio.to_thread.run_sync(release.wait)
            await send({"type": "lifespan.shutdown.complete"})

    server = ServerThread(hangs, shutdown_timeout=0.05, log_level="critical").start()
    try:
        with pytest.raises(RuntimeError, match="did not stop"):
            server.stop()
    finally:
        release.set()
        for thread in server_threads():
            thread.join(10)


def test_ipv6_hosts_are_bracketed_in_urls() -> None:
    """RFC 3986 wants IPv6 literals in brackets."""
    assert http_url("::1", 8000) == "http://[::1]:8000"
    assert http_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
