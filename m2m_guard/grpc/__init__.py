"""gRPC integration: server interceptors, ``get_claims`` and call credentials.

    import grpc
    from m2m_guard.grpc import M2MServerInterceptor, get_claims

    server = grpc.server(
        executor,
        interceptors=[
            M2MServerInterceptor(
                verifier,
                methods={"/orders.Orders/Create": "write:orders",
                         "/orders.Orders/*": "read:orders"},
                public_methods=["/grpc.health.v1.Health/*"],
            )
        ],
    )

    def Get(self, request, context):
        client_id = get_claims(context).client_id

``AsyncM2MServerInterceptor`` does the same on a ``grpc.aio`` server.
Refusals: ``UNAUTHENTICATED`` (no, malformed or invalid token; details and a
``www-authenticate`` trailer), ``PERMISSION_DENIED`` (a scope missing) and
``UNAVAILABLE`` (keys unavailable; ``retry-after`` and
``grpc-retry-pushback-ms`` trailers), never ``UNKNOWN`` or ``INTERNAL``.
On the caller side, ``call_credentials(auth)`` sends the tokens of a
``ClientCredentialsAuth``.
"""

from __future__ import annotations

from m2m_guard._extras import missing_extra

try:
    import grpc
    import grpc.aio  # noqa: F401
except ImportError as _error:
    raise missing_extra("m2m_guard.grpc", "grpc", _error) from _error

from ._client import M2MAuthMetadataPlugin, call_credentials
from ._methods import MethodScopes
from ._server import AsyncM2MServerInterceptor, M2MServerInterceptor, get_claims

__all__ = [
    "AsyncM2MServerInterceptor",
    "M2MAuthMetadataPlugin",
    "M2MServerInterceptor",
    "MethodScopes",
    "call_credentials",
    "get_claims",
]
