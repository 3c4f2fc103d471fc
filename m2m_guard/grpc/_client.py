"""The caller side: gRPC call credentials fed by ``ClientCredentialsAuth``."""

from __future__ import annotations

import logging
from typing import Any

import grpc

from m2m_guard.client import ClientCredentialsAuth

__all__ = ["M2MAuthMetadataPlugin", "call_credentials"]

logger = logging.getLogger("m2m_guard.grpc")


class M2MAuthMetadataPlugin(grpc.AuthMetadataPlugin):  # type: ignore[misc]
    """Adds ``authorization: Bearer <token>`` to every call.

    The token comes from ``auth`` (a ``ClientCredentialsAuth``): fetched on
    the first call, cached, and fetched again ``refresh_margin`` seconds
    before it expires, single-flight across threads. gRPC runs the plugin
    off the event loop, for sync and ``grpc.aio`` channels alike. A failed
    token request fails the call (``UNAVAILABLE``); the secret never
    appears in the error.
    """

    def __init__(self, auth: ClientCredentialsAuth) -> None:
        if not isinstance(auth, ClientCredentialsAuth):
            raise TypeError("auth must be an m2m_guard.client.ClientCredentialsAuth")
        self._auth = auth

    def __call__(self, context: Any, callback: Any) -> None:
        try:
            token = self._auth.get_token()
        except Exception as exc:
            logger.warning("no access token for the gRPC call: %s", exc)
            callback((), exc)
            return
        callback((("authorization", f"Bearer {token}"),), None)


def call_credentials(auth: ClientCredentialsAuth) -> grpc.CallCredentials:
    """``grpc.CallCredentials`` sending ``auth``'s tokens; compose them with
    channel credentials (gRPC sends call credentials over secure channels
    only)::

        credentials = grpc.composite_channel_credentials(
            grpc.ssl_channel_credentials(), call_credentials(auth)
        )
        channel = grpc.secure_channel("orders.internal:443", credentials)
    """
    return grpc.metadata_call_credentials(M2MAuthMetadataPlugin(auth), name="m2m_guard")
