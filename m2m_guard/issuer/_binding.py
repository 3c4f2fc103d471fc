"""Sender-constrained issuance: what a client must prove before it gets a token.

A client with ``dpop_bound_access_tokens`` gets tokens only for a token
request with a valid DPoP proof (RFC 9449 §5.2); one with
``tls_client_certificate_bound_access_tokens`` only over mutual TLS, or
through a trusted proxy that forwards the certificate (RFC 8705 §3.4).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ._errors import OAuthError
from ._models import M2MClient

__all__ = ["check_binding"]

logger = logging.getLogger("m2m_guard.issuer")


def check_binding(client: M2MClient, confirmation: Mapping[str, str]) -> None:
    """Refuse a token the client's settings say must be bound, when it would not be."""
    if client.dpop_bound_access_tokens and "jkt" not in confirmation:
        logger.info("token refused: client %s must send a DPoP proof", client.client_id)
        raise OAuthError(
            "invalid_dpop_proof", "This client must send a DPoP proof with its token requests."
        )
    if client.tls_client_certificate_bound_access_tokens and "x5t#S256" not in confirmation:
        logger.info("token refused: client %s must present a TLS certificate", client.client_id)
        raise OAuthError(
            "invalid_client",
            "This client must present its TLS client certificate (mutual TLS).",
            status_code=401,
        )
