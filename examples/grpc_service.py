"""A gRPC service whose methods are called by other machines with M2M tokens.

Methods (generic handlers: no generated code; JSON bytes in and out):
    /settings.Settings/Whoami   any valid access token
    /settings.Settings/Get      requires the scope read:settings
    /settings.Settings/Put      requires the scope write:settings
    /grpc.health.v1.Health/*    public

The verifier is configured by ``M2M_GUARD_*`` environment variables
(``Verifier.from_env``). Against a Stytch project::

    M2M_GUARD_STYTCH_PROJECT_ID=project-test-... python examples/grpc_service.py

It listens on ``$HOST:$PORT`` (default 127.0.0.1:50051) with gRPC's *local*
credentials: call credentials (tokens) travel only over secure channels, and
local credentials make a loopback connection one. A service reachable from
other hosts serves TLS instead (``grpc.ssl_server_credentials``). Call it
with ``examples/grpc_client.py``.
"""

from __future__ import annotations

import json
import logging
import os
from concurrent import futures
from typing import Any

import grpc

from m2m_guard import Verifier
from m2m_guard.grpc import M2MServerInterceptor, get_claims

STORED: dict[str, Any] = {"theme": "dark"}


def whoami(request: bytes, context: grpc.ServicerContext) -> bytes:
    claims = get_claims(context)
    assert claims is not None  # the interceptor let only verified callers in
    answer = {"client_id": claims.client_id, "scopes": list(claims.scopes)}
    return json.dumps(answer).encode()


def get_settings(request: bytes, context: grpc.ServicerContext) -> bytes:
    return json.dumps(STORED).encode()


def put_settings(request: bytes, context: grpc.ServicerContext) -> bytes:
    STORED.update(json.loads(request or b"{}"))
    return json.dumps(STORED).encode()


def health(request: bytes, context: grpc.ServicerContext) -> bytes:
    return b'{"status": "SERVING"}'


def create_server(verifier: Verifier, address: str) -> grpc.Server:
    """The server, its interceptor and its handlers, bound to ``address``."""
    interceptor = M2MServerInterceptor(
        verifier,
        methods={
            "/settings.Settings/Get": "read:settings",
            "/settings.Settings/Put": "write:settings",
        },
        public_methods=["/grpc.health.v1.Health/*"],
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), interceptors=[interceptor])
    unary = grpc.unary_unary_rpc_method_handler
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "settings.Settings",
                {"Whoami": unary(whoami), "Get": unary(get_settings), "Put": unary(put_settings)},
            ),
            grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": unary(health)}),
        ]
    )
    server.add_secure_port(address, grpc.local_server_credentials())
    return server


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "50051")
    server = create_server(Verifier.from_env(), f"{host}:{port}")
    server.start()
    server.wait_for_termination()
