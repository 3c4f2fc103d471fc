"""The calling machine client as a framework's user object (no framework import)."""

from __future__ import annotations

from ._sansio.claims import M2MClaims

__all__ = ["MachineClient"]


class MachineClient:
    """A verified request's caller: its claims, client id and scopes; its ``repr``
    names the client, never the token. Framework adapters derive their
    ``request.user`` from it (Django/DRF's, Litestar's)."""

    __slots__ = ("claims",)

    def __init__(self, claims: M2MClaims) -> None:
        self.claims = claims

    @property
    def client_id(self) -> str:
        return self.claims.client_id

    @property
    def scopes(self) -> tuple[str, ...]:
        return self.claims.scopes

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r}, scopes={self.scopes!r})"
