"""Excluded paths never open a protected route: one glob semantics
(``PathMatcher``), checked as written and through real servers, where the
server decodes the path (uvicorn: ``scope["path"]``; werkzeug: ``PATH_INFO``)."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from m2m_guard import ConfigurationError, PathMatcher, Verifier
from m2m_guard.wsgi import M2MGuardMiddleware as WSGIMiddleware

#: (request path as sent on the wire, whether excluding /health and /docs/* opens it)
ON_THE_WIRE = [
    ("/health", True),
    ("/docs", True),
    ("/docs/", True),
    ("/docs/index.html", True),
    ("/health/", False),
    ("/healthz", False),
    ("/HEALTH", False),
    ("/docsx", False),
    ("/health/../admin", False),
    ("/docs/../admin", False),
    ("/docs/./x", False),
    ("//health", False),
    ("/docs//x", False),
    ("/health%2F..%2Fadmin", False),
    ("/docs%2F..%2Fadmin", False),
    ("/docs/%2E%2E/admin", False),
    ("/admin", False),
]


def test_the_glob_semantics_as_documented() -> None:
    matcher = PathMatcher(["/health", "/docs/*"])
    assert matcher.matches("/docs")
    assert matcher.matches("/docs/")
    assert matcher.matches("/docs/a")
    assert matcher.matches("/health")
    for path in ("/health/", "/docsx", "/health/../admin", "//health", "/docs/..", "/docs\\x"):
        assert not matcher.matches(path), path
    assert PathMatcher(["/*"]).matches("/")
    assert PathMatcher(["/*"]).matches("/anything")


@pytest.mark.parametrize("pattern", ["/docs*", "/*/admin", "/a*b", "docs/*"])
def test_other_wildcards_are_refused(pattern: str) -> None:
    with pytest.raises(ConfigurationError):
        PathMatcher([pattern])


def _wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    return [environ["PATH_INFO"].encode("latin-1")]


@pytest.fixture
def wsgi_server(verifier: Verifier) -> Iterator[int]:
    app = WSGIMiddleware(_wsgi_app, verifier=verifier, exclude_paths=["/health", "/docs/*"])
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.port
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture
def asgi_server(verifier: Verifier) -> Iterator[int]:
    from starlette.responses import PlainTextResponse

    from m2m_guard._tools.server import ServerThread
    from m2m_guard.asgi import M2MGuardMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse(scope["path"])(scope, receive, send)

    guarded = M2MGuardMiddleware(app, verifier=verifier, exclude_paths=["/health", "/docs/*"])
    with ServerThread(guarded) as server:
        yield server.port


def _status(port: int, path: str) -> int:
    """The status; a request let through must have reached the app as an
    excluded path in normal form (a server may normalise ``//health`` itself)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        seen = response.read().decode()
        if response.status == 200:
            assert PathMatcher(["/health", "/docs/*"]).matches(seen), (path, seen)
        return response.status
    finally:
        connection.close()


#: werkzeug's server reads a target starting with ``//`` as ``/health``: the
#: application routes it as /health too, so letting it through opens nothing.
NORMALISED_BY_WERKZEUG = {"//health"}


@pytest.mark.parametrize(("path", "opens"), ON_THE_WIRE)
def test_through_a_real_wsgi_server(wsgi_server: int, path: str, opens: bool) -> None:
    expected = 200 if opens or path in NORMALISED_BY_WERKZEUG else 401
    assert _status(wsgi_server, path) == expected


@pytest.mark.parametrize(("path", "opens"), ON_THE_WIRE)
def test_through_a_real_asgi_server(asgi_server: int, path: str, opens: bool) -> None:
    assert _status(asgi_server, path) == (200 if opens else 401)


def test_percent_encoding_of_an_excluded_path_is_that_path(
    wsgi_server: int, asgi_server: int
) -> None:
    """Servers decode before routing: /%68ealth is /health to the router too."""
    assert _status(wsgi_server, "/%68ealth") == 200
    assert _status(asgi_server, "/%68ealth") == 200
