"""RequestContext: what an integration tells the verifier about a request."""

from __future__ import annotations

from m2m_guard._sansio.request import RequestContext


def test_from_asgi_reads_method_url_headers_and_routed_path() -> None:
    scope = {
        "type": "http",
        "method": "post",
        "scheme": "https",
        "server": ("10.0.0.1", 8443),
        "root_path": "/api",
        "path": "/api/orders/a b",
        "raw_path": b"/api/orders/a%20b",
        "query_string": b"x=1",
        "headers": [(b"Host", b"api.example"), (b"dpop", b"one"), (b"DPoP", b"two")],
    }
    ctx = RequestContext.from_asgi(scope)
    assert (ctx.method, ctx.scheme, ctx.host) == ("POST", "https", "api.example")
    assert (ctx.path, ctx.raw_path, ctx.query) == ("/orders/a b", "/api/orders/a%20b", "x=1")
    assert ctx.url == "https://api.example/api/orders/a%20b"
    assert ctx.header("DPOP") == "one"
    assert ctx.header_values("dpop") == ("one", "two")
    assert ctx.header("missing") is None
    assert ctx.client_cert is None


def test_from_asgi_without_host_or_raw_path_uses_server_and_quotes_the_path() -> None:
    scope = {"type": "websocket", "scheme": "wss", "server": ("h", 443), "path": "/a b"}
    ctx = RequestContext.from_asgi(scope)
    assert ctx.url == "https://h/a%20b"
    assert ctx.method == "GET"


def test_from_asgi_reads_the_tls_extension_client_certificate() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    scope = {"path": "/", "extensions": {"tls": {"client_cert_chain": [pem]}}}
    assert RequestContext.from_asgi(scope).client_cert == pem
    assert RequestContext.from_asgi({"path": "/", "extensions": {"tls": {}}}).client_cert is None


def test_from_wsgi_reads_environ_headers_and_certificate() -> None:
    environ = {
        "REQUEST_METHOD": "GET",
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8000",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/caf\u00c3\u00a9",  # "café" as PEP 3333 latin-1 text
        "QUERY_STRING": "q=1",
        "HTTP_X_TRACE": "t",
        "CONTENT_TYPE": "application/json",
        "SSL_CLIENT_CERT": "PEM",
    }
    ctx = RequestContext.from_wsgi(environ)
    assert ctx.host == "localhost:8000"
    assert ctx.path == "/caf\u00e9"
    assert ctx.raw_path == "/caf%C3%A9"
    assert ctx.header("x-trace") == "t"
    assert ctx.header("content-type") == "application/json"
    assert ctx.client_cert == "PEM"


def test_from_wsgi_prefers_the_request_uri_as_sent() -> None:
    environ = {"PATH_INFO": "/a/b", "REQUEST_URI": "/a%2Fb?x", "HTTP_HOST": "h:80"}
    ctx = RequestContext.from_wsgi(environ)
    assert ctx.raw_path == "/a%2Fb"
    assert ctx.url == "http://h:80/a%2Fb"
