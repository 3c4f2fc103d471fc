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

__all__ = ["M2MCredentials", "M2MUser", "attach_claims"]


class M2MUser(BaseUser):
    """``request.user`` of a verified request: the calling machine client.

    Read-only: one is built per verified token and every request carrying
    that token gets the same object.
    """

    __slots__ = ("claims",)
    claims: M2MClaims

    def __init__(self, claims: M2MClaims) -> None:
        object.__setattr__(self, "claims", claims)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("M2MUser is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("M2MUser is read-only")

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


class M2MCredentials(AuthCredentials):
    """``request.auth`` of a verified request: its granted scopes, as a tuple.

    Read-only, and shared like ``M2MUser`` by every request of one token.
    Starlette's ``@requires`` and ``has_required_scope`` read ``scopes``
    as they read a list.
    """

    __slots__ = ()
    scopes: tuple[str, ...]  # type: ignore[assignment]  # a list in Starlette's base

    def __init__(self, scopes: tuple[str, ...]) -> None:
        object.__setattr__(self, "scopes", scopes)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("M2MCredentials is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("M2MCredentials is read-only")

    def __repr__(self) -> str:
        return f"M2MCredentials(scopes={self.scopes!r})"


def _principal(claims: M2MClaims) -> tuple[M2MCredentials, M2MUser]:
    adapted: tuple[M2MCredentials, M2MUser] | None = claims._adapted
    if type(adapted) is not tuple:  # built once per verified token
        adapted = (M2MCredentials(claims.scopes), M2MUser(claims))
        object.__setattr__(claims, "_adapted", adapted)
    return adapted


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
        scope["auth"], scope["user"] = _principal(claims)
