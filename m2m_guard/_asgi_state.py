"""Where an ASGI request carries its claims: ``scope["state"]``.

Shared by the pure ASGI middleware and the Starlette and FastAPI guards,
without either importing the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._guard import VERIFIED_BY_KEY
from ._sansio.claims import M2MClaims
from ._types import Scope, TokenVerifier

__all__ = ["VERIFIER_KEY", "attach_state", "get_claims", "verified_by"]

#: Where the middleware leaves its verifier, for ``require_scopes`` on excluded paths.
VERIFIER_KEY = "m2m_guard.verifier"


def _state(connection: Mapping[str, Any]) -> Mapping[str, Any] | None:
    state = connection.get("state")
    # A dict in practice; the ABC check (slow) only for anything else.
    return state if type(state) is dict or isinstance(state, Mapping) else None


def get_claims(connection: Mapping[str, Any]) -> M2MClaims | None:
    """The verified claims of a request, or ``None`` when it was not authenticated
    (no token under ``optional``, an excluded path, no guard at all).

    ``connection`` is the ASGI scope or a Starlette/FastAPI ``Request`` or
    ``WebSocket`` (an ``HTTPConnection`` is a ``Mapping`` of its scope), so
    ``get_claims(request)`` type-checks as it is::

        async def whoami(request: Request) -> JSONResponse:
            claims = get_claims(request)
            return JSONResponse({"client_id": claims.client_id if claims else None})
    """
    state = _state(connection)
    claims = None if state is None else state.get("m2m")
    return claims if isinstance(claims, M2MClaims) else None


def verified_by(connection: Mapping[str, Any]) -> object:
    """The verifier that produced ``get_claims(connection)``, as recorded when
    they were attached; ``None`` when unknown (then nothing may reuse them).

    Only ever compared by identity (``Guard.reuse``), so it is not type-checked.
    """
    state = _state(connection)
    return None if state is None else state.get(VERIFIED_BY_KEY)


def attach_state(
    scope: Scope, claims: M2MClaims | None, verifier: TokenVerifier | None = None
) -> None:
    """Store the claims where ``request.state.m2m`` and ``get_claims`` find them,
    with the ``verifier`` that produced them (``None``: claims nobody may reuse)."""
    state = scope.get("state")
    if state is None:
        state = scope["state"] = {}
    state["m2m"] = claims
    state[VERIFIED_BY_KEY] = verifier
