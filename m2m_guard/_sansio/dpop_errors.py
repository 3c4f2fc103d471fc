"""The errors of DPoP proofs (RFC 9449 §7.1, §8, §9), next to the tree of
``errors`` (they render the ``DPoP`` challenge and the ``DPoP-Nonce`` header)."""

from __future__ import annotations

from .errors import KeysUnavailableError, M2MGuardError

__all__ = ["InvalidDPoPProofError", "ReplayStoreUnavailableError", "UseDPoPNonceError"]


class InvalidDPoPProofError(M2MGuardError):
    """The request's DPoP proof is missing, malformed or does not fit the
    request or the token (RFC 9449 §4.3, §7.1)."""

    status_code = 401
    error = "invalid_dpop_proof"
    default_description = "The DPoP proof is invalid."
    #: A DPoP error is answered with a DPoP challenge even where no verifier
    #: set one (an issuer's token endpoint).
    dpop_challenge: tuple[str, str, str | None] | None = ("required", "", "DPoP")


class UseDPoPNonceError(InvalidDPoPProofError):
    """The proof lacks the server's current nonce (RFC 9449 §8, §9): retry
    with the nonce of the ``DPoP-Nonce`` header.

    Attributes:
        nonce: the nonce the caller must put in its next proof.
    """

    error = "use_dpop_nonce"
    default_description = "Resubmit with the DPoP nonce of the DPoP-Nonce header."

    def __init__(self, nonce: str, description: str | None = None) -> None:
        self.nonce = nonce
        super().__init__(description)

    def response_headers(
        self, realm: str = "api", *, resource_metadata: str | None = None
    ) -> dict[str, str]:
        headers = super().response_headers(realm, resource_metadata=resource_metadata)
        headers["dpop-nonce"] = self.nonce
        return headers


class ReplayStoreUnavailableError(KeysUnavailableError):
    """The replay store could not answer (a shared store unreachable): the
    proof may be fine, so 503 with ``Retry-After``, never an acceptance."""

    default_description = "The DPoP proof cannot be checked right now; try again later."
