"""Values the issuer hands out: clients, search pages, issued tokens, keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = [
    "CreatedClient",
    "IssuedToken",
    "M2MClient",
    "RotatingClient",
    "SearchPage",
    "SigningKeyInfo",
]


@dataclass(frozen=True, slots=True)
class M2MClient:
    """An M2M client as Stytch describes it; secrets are never part of it."""

    client_id: str
    client_name: str
    client_description: str
    status: str
    scopes: tuple[str, ...]
    trusted_metadata: Mapping[str, Any] = field(default_factory=dict)
    client_secret_last_four: str = ""
    next_client_secret_last_four: str | None = None
    #: RFC 9449 §5.2 / RFC 8705 §3.4: every token request must prove possession
    dpop_bound_access_tokens: bool = False
    tls_client_certificate_bound_access_tokens: bool = False

    @property
    def is_active(self) -> bool:
        """Whether the client may obtain tokens."""
        return self.status == "active"

    def to_json(self) -> dict[str, Any]:
        """The wire shape of Stytch's ``M2MClient`` object."""
        return {
            "client_id": self.client_id,
            "client_name": self.client_name,
            "client_description": self.client_description,
            "status": self.status,
            "client_secret_last_four": self.client_secret_last_four,
            "scopes": list(self.scopes),
            "trusted_metadata": dict(self.trusted_metadata),
            "next_client_secret_last_four": self.next_client_secret_last_four,
            "dpop_bound_access_tokens": self.dpop_bound_access_tokens,
            "tls_client_certificate_bound_access_tokens": (
                self.tls_client_certificate_bound_access_tokens
            ),
        }


class CreatedClient(NamedTuple):
    """A new client and its secret, which is shown only this once."""

    client: M2MClient
    client_secret: str

    def to_json(self) -> dict[str, Any]:
        """Stytch's ``M2MClientWithClientSecret``."""
        return {**self.client.to_json(), "client_secret": self.client_secret}


class RotatingClient(NamedTuple):
    """A client in the middle of a secret rotation and its next secret."""

    client: M2MClient
    next_client_secret: str

    def to_json(self) -> dict[str, Any]:
        """Stytch's ``M2MClientWithNextClientSecret``."""
        return {**self.client.to_json(), "next_client_secret": self.next_client_secret}


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of a client search, with the cursor for the next one."""

    clients: tuple[M2MClient, ...]
    total: int
    next_cursor: str | None

    def to_json(self) -> dict[str, Any]:
        """The body of Stytch's search response (without status/request id)."""
        return {
            "m2m_clients": [client.to_json() for client in self.clients],
            "results_metadata": {"total": self.total, "next_cursor": self.next_cursor},
        }


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An access token and the facts a caller may want without decoding it."""

    access_token: str
    expires_in: int
    client_id: str
    scopes: tuple[str, ...]
    token_type: str = "bearer"  # noqa: S105 - RFC 6750 token type, not a secret
    #: the token's ``cnf`` (RFC 7800): ``jkt`` (DPoP) or ``x5t#S256`` (mTLS), if bound
    confirmation: Mapping[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        """The body of Stytch's token response (without status/request id)."""
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }


@dataclass(frozen=True, slots=True)
class SigningKeyInfo:
    """A key in the key ring; ``retire_at`` is None for the signing key."""

    kid: str
    created_at: float
    retire_at: float | None

    @property
    def is_signing(self) -> bool:
        """Whether this key signs new tokens."""
        return self.retire_at is None
