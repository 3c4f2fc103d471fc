"""Call the gRPC service of ``examples/grpc_service.py`` with M2M tokens.

The token comes from the client-credentials grant, through
``ClientCredentialsAuth`` (fetched once, cached, refreshed before it
expires) as gRPC call credentials::

    TOKEN_URL=https://…/oauth2/token CLIENT_ID=… CLIENT_SECRET=… \\
        python examples/grpc_client.py 127.0.0.1:50051 Get

Prints the answer's JSON, or the gRPC status code and details of a refusal.
"""

from __future__ import annotations

import os
import sys

import grpc

from m2m_guard.client import ClientCredentialsAuth
from m2m_guard.grpc import call_credentials


def call(target: str, method: str, auth: ClientCredentialsAuth, request: bytes = b"") -> str:
    """One call of ``/settings.Settings/{method}``; the answer, or ``CODE: details``."""
    credentials = grpc.composite_channel_credentials(
        grpc.local_channel_credentials(),  # loopback; grpc.ssl_channel_credentials() elsewhere
        call_credentials(auth),
    )
    with grpc.secure_channel(target, credentials) as channel:
        stub = channel.unary_unary(f"/settings.Settings/{method}")
        try:
            return stub(request, timeout=10).decode()
        except grpc.RpcError as error:
            return f"{error.code().name}: {error.details()}"


if __name__ == "__main__":
    target, method = sys.argv[1], sys.argv[2]
    scopes = os.environ.get("SCOPES")
    with ClientCredentialsAuth(
        os.environ["TOKEN_URL"], os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"], scopes=scopes
    ) as auth:
        print(call(target, method, auth, sys.argv[3].encode() if len(sys.argv) > 3 else b""))
