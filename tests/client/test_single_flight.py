"""One token request at a time per auth, whatever mix of threads and event loops asks.

A cold ``ClientCredentialsAuth`` asked at once from eight event loops (each
in its own thread), or from threads and loops together, makes one request
to the token endpoint; everyone gets its token.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from m2m_guard.client import ClientCredentialsAuth, TokenRequestError
from tests.core.helpers import PATIENCE

#: how long the endpoint takes to answer: long enough for every caller to overlap
ANSWER_DELAY = 0.3


class SlowTokenEndpoint:
    """A token endpoint on 127.0.0.1 that answers after ANSWER_DELAY and counts requests."""

    def __init__(self) -> None:
        self.requests = 0
        lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                with lock:
                    outer.requests += 1
                time.sleep(ANSWER_DELAY)  # the server's pace, not the test's clock
                body = json.dumps({"access_token": "tok-1", "expires_in": 3600}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SlowTokenEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(PATIENCE)


@pytest.fixture
def endpoint() -> Iterator[SlowTokenEndpoint]:
    with SlowTokenEndpoint() as running:
        yield running


def together(callers: list[Callable[[], str]]) -> list[str]:
    """Run every caller in its own thread, released at once by a barrier."""
    barrier = threading.Barrier(len(callers))
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(call: Callable[[], str]) -> None:
        barrier.wait(PATIENCE)
        try:
            value = call()
        except BaseException as exc:  # reported below
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(value)

    threads = [threading.Thread(target=run, args=(call,)) for call in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
    assert not errors, errors
    return results


def in_a_loop(auth: ClientCredentialsAuth) -> Callable[[], str]:
    async def fetch() -> str:
        try:
            return await auth.aget_token()
        finally:
            await auth.aclose()

    return lambda: asyncio.run(fetch())


def test_eight_event_loops_on_a_cold_auth_share_one_token_request(
    endpoint: SlowTokenEndpoint,
) -> None:
    """Before: one request per loop (eight)."""
    auth = ClientCredentialsAuth(endpoint.url, "client", "secret-1234")
    assert together([in_a_loop(auth) for _ in range(8)]) == ["tok-1"] * 8
    assert endpoint.requests == 1


def test_threads_and_event_loops_together_share_one_token_request(
    endpoint: SlowTokenEndpoint,
) -> None:
    """Four sync threads and four loops: one request."""
    auth = ClientCredentialsAuth(endpoint.url, "client", "secret-1234")
    callers = [auth.get_token] * 4 + [in_a_loop(auth) for _ in range(4)]
    assert together(callers) == ["tok-1"] * 8
    assert endpoint.requests == 1
    auth.close()


def test_a_fetch_that_never_finishes_elsewhere_is_waited_for_only_so_long(
    endpoint: SlowTokenEndpoint,
) -> None:
    """Waiting for another thread's or loop's request is bounded; then it works again."""

    auth = ClientCredentialsAuth(endpoint.url, "client", "secret-1234")
    auth._wait_limit = 0.05  # instead of the deadline plus a second
    auth._thread_lock.acquire()  # a request elsewhere that never ends
    try:
        with pytest.raises(TokenRequestError, match="did not finish"):
            auth.get_token()
        with pytest.raises(TokenRequestError, match="did not finish"):
            in_a_loop(auth)()
    finally:
        auth._thread_lock.release()
    assert endpoint.requests == 0
    assert in_a_loop(auth)() == "tok-1"  # nothing was left held
    auth.close()
