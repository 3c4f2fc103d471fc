"""Real gRPC servers on 127.0.0.1 (``grpc.Server`` and ``grpc.aio.Server``)
behind m2m_guard's interceptors, with generic handlers: no generated code.

Service ``test.Probe``:

* ``Whoami`` (unary): answers the caller's claims as JSON (``get_claims``).
* ``Health`` (unary): the same answer; the harnesses make it public.
* ``Count`` (client streaming): the number of messages it read.
* ``Echo`` (bidirectional): each message back, then the client id.
* ``Ticks`` (server streaming): three messages, then the client id.

Every servicer records that it ran (``Probe.ran``), so a test can prove a
refused call never reached it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc

from m2m_guard import M2MClaims
from m2m_guard.grpc import get_claims

SERVICE = "test.Probe"
WHOAMI = f"/{SERVICE}/Whoami"
HEALTH = f"/{SERVICE}/Health"


def body(claims: M2MClaims | None) -> bytes:
    if claims is None:
        return json.dumps({"client_id": None}).encode()
    return json.dumps(
        {
            "client_id": claims.client_id,
            "scopes": list(claims.scopes),
            "custom_claims": dict(claims.custom_claims),
        }
    ).encode()


@dataclass
class Probe:
    """Which servicer methods ran, and how many request messages they read."""

    ran: list[str] = field(default_factory=list)
    read: int = 0

    def sync_handler(self) -> grpc.GenericRpcHandler:
        def whoami(request: bytes, context: grpc.ServicerContext) -> bytes:
            self.ran.append("Whoami")
            return body(get_claims(context))

        def health(request: bytes, context: grpc.ServicerContext) -> bytes:
            self.ran.append("Health")
            return body(get_claims(context))

        def count(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
            self.ran.append("Count")
            for _ in requests:
                self.read += 1
            return str(self.read).encode()

        def echo(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
            self.ran.append("Echo")
            for message in requests:
                self.read += 1
                yield message
            claims = get_claims(context)
            yield (claims.client_id if claims else "").encode()

        def ticks(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
            self.ran.append("Ticks")
            for tick in range(3):
                yield str(tick).encode()
            claims = get_claims(context)
            yield (claims.client_id if claims else "").encode()

        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Whoami": grpc.unary_unary_rpc_method_handler(whoami),
                "Health": grpc.unary_unary_rpc_method_handler(health),
                "Count": grpc.stream_unary_rpc_method_handler(count),
                "Echo": grpc.stream_stream_rpc_method_handler(echo),
                "Ticks": grpc.unary_stream_rpc_method_handler(ticks),
            },
        )

    def aio_handler(self) -> grpc.GenericRpcHandler:
        async def whoami(request: bytes, context: Any) -> bytes:
            self.ran.append("Whoami")
            return body(get_claims(context))

        async def health(request: bytes, context: Any) -> bytes:
            self.ran.append("Health")
            return body(get_claims(context))

        async def count(requests: AsyncIterator[bytes], context: Any) -> bytes:
            self.ran.append("Count")
            async for _ in requests:
                self.read += 1
            return str(self.read).encode()

        async def echo(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
            self.ran.append("Echo")
            async for message in requests:
                self.read += 1
                yield message
            claims = get_claims(context)
            yield (claims.client_id if claims else "").encode()

        async def ticks(request: bytes, context: Any) -> None:
            # the write() style of grpc.aio
            self.ran.append("Ticks")
            for tick in range(3):
                await context.write(str(tick).encode())
            claims = get_claims(context)
            await context.write((claims.client_id if claims else "").encode())

        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Whoami": grpc.unary_unary_rpc_method_handler(whoami),
                "Health": grpc.unary_unary_rpc_method_handler(health),
                "Count": grpc.stream_unary_rpc_method_handler(count),
                "Echo": grpc.stream_stream_rpc_method_handler(echo),
                "Ticks": grpc.unary_stream_rpc_method_handler(ticks),
            },
        )


class Served:
    """A running server: ``target`` to dial, ``probe`` to inspect, ``stop()``."""

    def __init__(self, target: str, probe: Probe, stop: Callable[[], None]) -> None:
        self.target = target
        self.probe = probe
        self.stop = stop


def serve_sync(
    interceptors: Sequence[Any], probe: Probe | None = None, *, credentials: Any = None
) -> Served:
    probe = probe or Probe()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        handlers=[probe.sync_handler()],
        interceptors=list(interceptors),
    )
    address = "127.0.0.1:0"
    if credentials is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, credentials)
    server.start()
    return Served(f"127.0.0.1:{port}", probe, lambda: server.stop(None))


def serve_aio(
    interceptors: Sequence[Any],
    probe: Probe | None = None,
    *,
    credentials: Any = None,
    sync_servicer: bool = False,
) -> Served:
    """A ``grpc.aio`` server on its own event loop, in a thread; with
    ``sync_servicer``, its servicer's plain functions run in a thread pool."""
    probe = probe or Probe()
    pool = futures.ThreadPoolExecutor(max_workers=2) if sync_servicer else None
    handler = probe.sync_handler() if sync_servicer else probe.aio_handler()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[Any, int]:
        server = grpc.aio.server(
            migration_thread_pool=pool, handlers=[handler], interceptors=list(interceptors)
        )
        address = "127.0.0.1:0"
        if credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
        await server.start()
        return server, port

    server, port = asyncio.run_coroutine_threadsafe(start(), loop).result(10)

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(server.stop(None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        if pool is not None:
            pool.shutdown()

    return Served(f"127.0.0.1:{port}", probe, stop)


SERVERS = {"sync": serve_sync, "aio": serve_aio}


@dataclass(frozen=True)
class Outcome:
    """A finished call: status code, details, trailing metadata, the answer."""

    code: grpc.StatusCode
    details: str | None
    trailing: dict[str, str]
    answer: Any

    @property
    def json(self) -> Any:
        return json.loads(self.answer)


def call(
    target: str,
    method: str,
    metadata: Sequence[tuple[str, str]] = (),
    request: bytes = b"{}",
    timeout: float = 10.0,
) -> Outcome:
    """One unary call over a fresh channel."""
    with grpc.insecure_channel(target) as channel:
        stub = channel.unary_unary(method)
        try:
            answer, state = stub.with_call(request, metadata=tuple(metadata), timeout=timeout)
        except grpc.RpcError as error:
            return outcome_of(error, None)
        return outcome_of(state, answer)


def outcome_of(state: Any, answer: Any) -> Outcome:
    trailing = {item.key: item.value for item in state.trailing_metadata() or ()}
    return Outcome(state.code(), state.details(), trailing, answer)
