"""aiohttp hello world, bare and protected, called in process.

Each call hands a fresh request (a clone of one built by
``aiohttp.test_utils.make_mocked_request``: no socket, no HTTP parsing) to
the application's own ``_handle`` (routing and middlewares), as aiohttp's
server does; bare and
protected apps get the very same request, ``Authorization`` header included.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from benchmarks._apps import HELLO
from benchmarks._timing import Case
from benchmarks._world import SCOPES
from m2m_guard import Verifier
from m2m_guard.aiohttp import m2m_middleware, require_scopes

__all__ = ["aiohttp_cases"]


async def _hello(request: web.Request) -> web.Response:
    return web.Response(body=HELLO)


def aiohttp_app(verifier: Verifier | None = None) -> web.Application:
    """``/``: bare, or behind ``m2m_middleware`` with ``require_scopes(scope)``."""
    if verifier is None:
        app = web.Application()
        app.router.add_get("/", _hello)
    else:
        app = web.Application(middlewares=[m2m_middleware(verifier)])
        app.router.add_get("/", require_scopes(SCOPES[0])(_hello))
    app.freeze()
    return app


def _case(key: str, label: str, app: web.Application, token: str, loop: Any) -> Case:
    headers = {"Authorization": f"Bearer {token}", "Host": "bench.local"}
    # One mocked request (mocks are slow to make); each call handles a fresh
    # clone of it (a new Request with empty storage, as the server makes one).
    template = make_mocked_request("GET", "/", headers=headers, app=app)
    # a clone reads these three from the protocol: plain values, not mock calls
    template._protocol = SimpleNamespace(  # type: ignore[assignment]
        ssl_context=None, peername=("127.0.0.1", 50000), sockname=("127.0.0.1", 8000)
    )

    async def one() -> web.StreamResponse:
        return await app._handle(template.clone())

    async def many(n: int) -> None:
        for _ in range(n):
            await one()

    response = loop.run_until_complete(one())
    if response.status != 200 or getattr(response, "body", None) != HELLO:
        raise RuntimeError(f"{label}: the app did not answer 200 {HELLO!r}")
    return Case(key, label, lambda: lambda n: loop.run_until_complete(many(n)))


def aiohttp_cases(verifier: Verifier, token: str, loop: Any) -> list[Case]:
    """Bare vs protected aiohttp; ``verifier`` should already know ``token``."""
    return [
        _case("aiohttp_bare", "aiohttp hello world, bare", aiohttp_app(), token, loop),
        _case(
            "aiohttp_guarded",
            "aiohttp + m2m_middleware + require_scopes(scope)",
            aiohttp_app(verifier),
            token,
            loop,
        ),
    ]
