"""The whole-fetch deadline holds with the user's own keep-alive client.

A server that trickles a byte every 0.2 s satisfies every per-read timeout
httpx has; only a deadline on the whole exchange stops it. These tests hand
the verifier a default ``Client`` / ``AsyncClient`` (keep-alive on) of each
HTTP package, ``httpx`` (whose transport is ``httpcore``) and ``httpx2``
(``httpcore2``), whichever of them m2m_guard itself uses,
let a first fetch leave its connection in the client's pool, and make the
next fetch, on that same reused connection, trickle. The cache's time comes
from a FakeClock; only the deadline itself is real time.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import anyio
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from m2m_guard import KeysUnavailableError, M2MClaims, Verifier, _drivers
from m2m_guard._sansio.jwks import JWKSPolicy
from tests.core._helpers import PATIENCE
from tests.support.clock import FakeClock
from tests.support.keep_alive_server import TIMEOUT, KeepAliveServer
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims


def make_verifier(url: str, clock: FakeClock, **clients: Any) -> Verifier:
    return Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks_url=url,
        clock=clock,
        jwks_policy=JWKSPolicy(timeout=TIMEOUT),
        **clients,
    )


@contextmanager
def timed() -> Iterator[list[float]]:
    """Yields a list that holds the seconds the block took, once it is over."""
    took: list[float] = []
    started = time.monotonic()
    yield took
    took.append(time.monotonic() - started)


def outcome_of(verifier: Verifier, token: str) -> M2MClaims | KeysUnavailableError:
    """The claims, or the 503 of keys that could not be fetched."""
    try:
        return verifier.verify(token)
    except KeysUnavailableError as exc:
        return exc


PARTS = ["headers", "body"]


@pytest.fixture(params=["httpx", "httpx2"])
def package(request: pytest.FixtureRequest) -> ModuleType:
    """Each HTTP package the user's client may come from, skipped when not installed."""
    module: ModuleType = pytest.importorskip(request.param)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("part", PARTS)
def test_sync_fetch_on_a_reused_keep_alive_connection_is_cut_at_the_timeout(
    part: str,
    package: ModuleType,
    clock: FakeClock,
    rsa_key: SigningKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A user's keep-alive Client: the trickling refetch fails at the deadline.

    The stale key keeps serving; the cut connection leaves the user's pool,
    and the next fetch (after the cooldown) works on a new one.
    """
    token = rsa_key.sign(stytch_claims(clock(), exp=int(clock()) + 10_000))
    with KeepAliveServer(jwks_of(rsa_key), part) as server, package.Client() as client:
        verifier = make_verifier(server.url, clock, http_client=client)
        assert isinstance(verifier.verify(token), M2MClaims)  # fetch 1; connection pooled
        clock.advance(301)  # stale (max-age=300): a refetch, on the pooled connection
        with timed() as took:
            assert isinstance(verifier.verify(token), M2MClaims)  # the stale key serves
        assert (server.requests, server.connections) == (2, 1)  # the same connection
        assert took[0] < 4 * TIMEOUT, f"the fetch ran {took[0]:.1f} s against a {TIMEOUT} s timeout"
        assert "failed: timed out; serving cached keys" in caplog.text

        clock.advance(30)  # off cooldown: a third fetch, answered at once
        verifier.verify(token)
        assert (server.requests, server.connections) == (3, 2)
        assert not client.is_closed


@pytest.mark.slow
@pytest.mark.parametrize("part", PARTS)
def test_async_fetch_on_a_reused_keep_alive_connection_is_cut_at_the_timeout(
    part: str,
    package: ModuleType,
    clock: FakeClock,
    rsa_key: SigningKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The same with a user's keep-alive AsyncClient (bounded by anyio.fail_after)."""
    token = rsa_key.sign(stytch_claims(clock(), exp=int(clock()) + 10_000))

    async def main(server: KeepAliveServer) -> float:
        async with package.AsyncClient() as client:
            verifier = make_verifier(server.url, clock, async_http_client=client)
            assert isinstance(await verifier.verify_async(token), M2MClaims)
            clock.advance(301)
            with timed() as took:
                assert isinstance(await verifier.verify_async(token), M2MClaims)
            assert (server.requests, server.connections) == (2, 1)
            clock.advance(30)
            await verifier.verify_async(token)
            assert (server.requests, server.connections) == (3, 2)
            return took[0]

    with KeepAliveServer(jwks_of(rsa_key), part) as server:
        took = anyio.run(main, server)
    assert took < 4 * TIMEOUT, f"the fetch ran {took:.1f} s against a {TIMEOUT} s timeout"
    assert "failed: timed out; serving cached keys" in caplog.text


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for 127.0.0.1, and a client trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(cert_pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client


@pytest.mark.slow
@pytest.mark.parametrize("trickled", [1, 2], ids=["new-connection", "reused-connection"])
def test_sync_fetch_over_tls_is_cut_at_the_timeout(
    trickled: int,
    package: ModuleType,
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
    clock: FakeClock,
    rsa_key: SigningKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """https: TLS replaces the TCP socket object, and the deadline still finds the one in use.

    The first fetch (``new-connection``) or the refetch on the pooled
    connection (``reused-connection``) trickles its headers.
    """
    server_tls, client_tls = tls
    token = rsa_key.sign(stytch_claims(clock(), exp=int(clock()) + 10_000))
    with (
        KeepAliveServer(jwks_of(rsa_key), "headers", trickled, tls=server_tls) as server,
        package.Client(verify=client_tls) as client,
    ):
        verifier = make_verifier(server.url, clock, http_client=client)
        if trickled == 2:
            assert isinstance(verifier.verify(token), M2MClaims)  # over TLS, then pooled
            clock.advance(301)
        with timed() as took:
            outcome = outcome_of(verifier, token)
        assert (server.requests, server.connections) == (trickled, 1)
    assert took[0] < 4 * TIMEOUT, f"the fetch ran {took[0]:.1f} s against a {TIMEOUT} s timeout"
    # cold: no keys at all, 503; stale: the cached key serves
    assert isinstance(outcome, KeysUnavailableError if trickled == 1 else M2MClaims), outcome
    assert "failed: timed out" in caplog.text


# -- the watchdog's edges ------------------------------------------------------------------


class Stream:
    """Stands in for an httpcore network stream."""

    def __init__(self, sock: object) -> None:
        self.sock = sock

    def get_extra_info(self, name: str) -> object:
        return self.sock if name == "socket" else None


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected pair of sockets: the watched end and its peer."""
    ours, peer = socket.socketpair()
    peer.settimeout(PATIENCE)
    with ours, peer:
        yield ours, peer


def test_a_socket_learned_after_the_deadline_is_cut_at_once(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """A stream reported after the watchdog fired (headers just in) is shut down right away."""
    ours, peer = pair
    watchdog = _drivers.Watchdog(PATIENCE)
    watchdog._fire()  # the deadline passes before the socket is known
    watchdog.watch(Stream(ours))
    watchdog.cancel()
    assert watchdog.fired
    assert peer.recv(1) == b""  # shut down: the peer sees the end of the stream


def test_after_cancel_the_watchdog_never_cuts(pair: tuple[socket.socket, socket.socket]) -> None:
    """Once cancelled (response done, connection back in the user's pool) no socket is touched."""
    ours, peer = pair
    watchdog = _drivers.Watchdog(PATIENCE)
    watchdog.watch(Stream(ours))
    watchdog.cancel()
    watchdog._fire()  # a timer that went off just as the fetch ended
    watchdog.watch(Stream(ours))
    assert not watchdog.fired
    ours.sendall(b"x")
    assert peer.recv(1) == b"x"


def test_streams_without_a_socket_are_ignored() -> None:
    """Another transport's stream (no socket, or no get_extra_info) is not watched."""
    watchdog = _drivers.Watchdog(PATIENCE)
    for stream in (None, object(), Stream(None), Stream("not a socket")):
        watchdog.watch(stream)
    watchdog.trace("http11.send_request_headers.started", {})  # no httpcore frame above
    watchdog._fire()
    watchdog.cancel()
    assert watchdog.fired


def test_no_stream_is_found_outside_an_httpcore_connection() -> None:
    """Called from anywhere but an httpcore connection, the frame walk finds nothing."""
    found: list[object] = ["unset"]
    thread = threading.Thread(target=lambda: found.__setitem__(0, _drivers._sending_stream()))
    thread.start()
    thread.join(PATIENCE)
    assert found == [None]  # a short stack: the walk reaches its bottom
    assert _drivers._sending_stream() is None  # a deep one: the walk gives up after a few frames
