"""``warm_up(strict=True)``: a wrong but well-formed key source fails the deploy.

The default stays lenient (start without keys, answer 503 + Retry-After);
with ``strict`` every way of having no usable keys is a
``KeysUnavailableError`` whose message says why, against a real JWKS
endpoint on 127.0.0.1.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

import httpx
import pytest

from m2m_guard import KeysUnavailableError, Verifier
from m2m_guard._drivers import failure_reason
from tests.core._helpers import MakeVerifier
from tests.support.jwks_server import JWKSServer


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def warm(verifier: Verifier, how: str, **options: Any) -> bool:
    if how == "sync":
        return verifier.warm_up(**options)
    return await verifier.warm_up_async(**options)


def serve(server: JWKSServer, case: str) -> None:
    if case == "status":
        server.mode, server.status_code = "status", 404
    elif case == "garbage":
        server.mode = "garbage"
    elif case == "no-usable-key":
        server.document = {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}]}
    elif case == "empty":
        server.document = {"keys": []}


@pytest.mark.anyio
@pytest.mark.parametrize("how", ["sync", "async"])
@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("status", "HTTP 404"),
        ("garbage", "body is not JSON"),
        ("no-usable-key", "no usable key in the set"),
        ("empty", "the key set holds no keys"),
    ],
)
async def test_strict_warm_up_says_why_there_are_no_keys(
    jwks_server: JWKSServer, make_verifier: MakeVerifier, how: str, case: str, reason: str
) -> None:
    serve(jwks_server, case)
    verifier = make_verifier(jwks_server.url)
    with pytest.raises(KeysUnavailableError) as caught:
        await warm(verifier, how, strict=True)
    assert str(caught.value) == f"no usable keys from {jwks_server.url}: {reason}"
    assert caught.value.status_code == 503


@pytest.mark.anyio
@pytest.mark.parametrize("how", ["sync", "async"])
async def test_strict_warm_up_names_a_refused_connection(
    make_verifier: MakeVerifier, how: str
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/jwks"
    with pytest.raises(KeysUnavailableError, match=r"connection refused \(ConnectError\)"):
        await warm(make_verifier(url), how, strict=True)


@pytest.mark.anyio
@pytest.mark.parametrize("how", ["sync", "async"])
async def test_lenient_warm_up_returns_false_and_strict_one_true_when_keys_come(
    jwks_server: JWKSServer, make_verifier: MakeVerifier, how: str
) -> None:
    jwks_server.mode = "garbage"
    assert await warm(make_verifier(jwks_server.url), how) is False
    jwks_server.mode = "ok"
    assert await warm(make_verifier(jwks_server.url), how, strict=True) is True


@pytest.mark.anyio
@pytest.mark.parametrize("how", ["sync", "async"])
async def test_strict_warm_up_in_the_cooldown_reports_the_last_failure(
    jwks_server: JWKSServer, make_verifier: MakeVerifier, how: str
) -> None:
    """A second strict warm-up right after a failed one fetches nothing and still says why."""
    jwks_server.mode = "garbage"
    verifier = make_verifier(jwks_server.url)
    assert await warm(verifier, how) is False
    fetches = jwks_server.fetches
    with pytest.raises(KeysUnavailableError, match="body is not JSON"):
        await warm(verifier, how, strict=True)
    assert jwks_server.fetches == fetches


def test_static_keys_are_ready_for_a_strict_warm_up(verifier: Verifier) -> None:
    assert verifier.warm_up(strict=True) is True


def chained(outer: Exception, inner: BaseException) -> Exception:
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            chained(httpx.ConnectError("x"), socket.gaierror(-2, "Name unknown")),
            "DNS lookup failed",
        ),
        (chained(httpx.ConnectError("x"), ConnectionRefusedError(111, "no")), "connection refused"),
        (chained(httpx.ConnectError("x"), ssl.SSLError(1, "bad cert")), "TLS failed"),
        (httpx.ReadTimeout("x"), "ReadTimeout"),
    ],
)
def test_failure_reasons_name_the_cause_not_the_message(error: Exception, reason: str) -> None:
    """The reason never carries the message (it may hold a URL with credentials)."""
    error.args = ("https://user:secret@issuer.example/jwks",)
    found = failure_reason(error)
    assert found.startswith(reason)
    assert "secret" not in found


def test_a_reason_found_through_the_context_chain() -> None:
    """An exception raised while handling another (no ``from``) is followed too."""
    error = httpx.ConnectError("x")
    error.__context__ = ConnectionRefusedError(111, "no")
    assert failure_reason(error) == "connection refused (ConnectError)"
