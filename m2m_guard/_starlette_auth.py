"""``request.user`` and ``request.auth`` for verified requests (needs Starlette).

Used by the Starlette and FastAPI guards, and by the pure ASGI middleware
whenever Starlette is installed.
"""

from __future__ import annotations

from ._extras import missing_extra

try:
    import starlette  # noqa: F401 - first, so that a missing extra is named plainly
    from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
except ImportError as _error:
    raise missing_extra("m2m_guard.starlette", "starlette", _error) from _error

from ._asgi_state import attach_state
from ._sansio.claims import M2MClaims
from ._types import Scope, TokenVerifier

__all__ = ["M2MUser", "attach_claims"]


class M2MUser(BaseUser):
    """``request.user`` of a verified request: the calling machine client."""

    def __init__(self, claims: M2MClaims) -> None:
        self.claims = claims

    def __repr__(self) -> str:  # never the token
        claims = self.claims
        return f"M2MUser(client_id={claims.client_id!r}, scopes={claims.scopes!r})"

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.claims.client_id

    @property
    def identity(self) -> str:
        return self.claims.client_id

    @property
    def client_id(self) -> str:
        return self.claims.client_id


def attach_claims(
    scope: Scope, claims: M2MClaims | None, verifier: TokenVerifier | None = None
) -> None:
    """Attach the claims as ``request.state.m2m``, ``request.auth`` and ``request.user``.

    ``verifier`` is the one that produced them: only a guard with that same
    verifier reuses them. Without it, no guard does (each verifies again).
    """
    attach_state(scope, claims, verifier)
    if claims is None:
        scope["auth"], scope["user"] = AuthCredentials(), UnauthenticatedUser()
    else:
        scope["auth"], scope["user"] = AuthCredentials(claims.scopes), M2MUser(claims)
