"""FastAPI integration: a security dependency that returns the caller's claims.

    guard = M2MBearer(Verifier.from_env())
    app = install(FastAPI())

    @app.get("/settings")
    async def settings(claims: M2MClaims = Security(guard, scopes=["read:settings"])): ...

The scopes given to ``Security`` (merged along the dependency chain) are
required, and they appear with the ``M2MBearer`` HTTP bearer (JWT) scheme in
the OpenAPI document. ``M2MBearer(verifier, optional=True)`` lets requests
without a token through as ``None``.

Behind ``M2MGuardMiddleware`` (or another ``M2MBearer``) the claims already
verified in the request are reused, and only the scopes checked, when they
were produced by this dependency's own verifier object. With another
verifier the token is verified again by this one, so its audience, issuer,
``max_token_age``, strict mode … always hold: a token the middleware
accepted but this verifier refuses is answered with this dependency's
401/403, and the claims it returns (and attaches to the request) are its
own. The verifier's token cache keeps that second check cheap; with one
shared verifier a request is verified once.

Why ``install(app)``: a dependency can only refuse a request by raising, and
FastAPI renders an ``HTTPException`` as ``{"detail": …}``, not as RFC 6750's
``{"error", "error_description"}``. ``install`` registers the handler that
renders ``M2MHTTPException`` like every other integration. Without it the
status, ``WWW-Authenticate`` and ``Retry-After`` are still right (the
exception is an ``HTTPException``, so nothing is ever let through or turned
into a 500), only the body has FastAPI's shape; a ``RuntimeWarning`` says so.
"""

# No "from __future__ import annotations": FastAPI reads the annotations of
# M2MBearer.__call__ at runtime, and older versions cannot resolve strings there.
import warnings
from typing import TypeVar

from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.websockets import WebSocket

from ._guard import Guard, error_response
from ._sansio.claims import M2MClaims
from ._sansio.errors import M2MGuardError
from ._starlette_auth import attach_claims
from ._types import TokenVerifier
from .asgi import authorization_values, send_error
from .starlette import _reuse_verified

__all__ = ["M2MBearer", "M2MHTTPException", "install", "m2m_exception_handler"]

_App = TypeVar("_App", bound=Starlette)
#: How many scope sets one ``M2MBearer`` remembers a Guard for.
_MAX_GUARDS = 256


class M2MHTTPException(HTTPException):
    """A refused request; ``install``'s handler renders it per RFC 6750.

    Attributes:
        error: the ``M2MGuardError`` behind it.
        realm: the ``realm`` of the challenge.
    """

    def __init__(self, error: M2MGuardError, realm: str = "api") -> None:
        self.error = error
        self.realm = realm
        super().__init__(error.status_code, error.description, error.response_headers(realm))


async def m2m_exception_handler(conn: HTTPConnection, exc: Exception) -> Response | None:
    """Render an ``M2MHTTPException``: a JSON response, or a refused websocket."""
    if not isinstance(exc, M2MHTTPException):  # pragma: no cover - registered for it only
        raise exc
    if isinstance(conn, WebSocket):
        await send_error(conn.scope, conn.send, exc.error, exc.realm)
        return None
    answer = error_response(exc.error, exc.realm)
    return Response(answer.body, answer.status, headers=dict(answer.headers))


def install(app: _App) -> _App:
    """Register ``m2m_exception_handler`` on ``app`` (before it serves); returns ``app``."""
    # One handler for both connection kinds; Starlette's stubs want one per kind.
    app.add_exception_handler(M2MHTTPException, m2m_exception_handler)  # type: ignore[arg-type]
    return app


class M2MBearer(SecurityBase):
    """A FastAPI security dependency verifying ``Authorization: Bearer <jwt>``.

    Args:
        verifier: checks the tokens; claims a middleware verified with
            another verifier are checked again with this one.
        optional: answer ``None`` for requests without a token (a bad token
            is still rejected).
        realm: the ``realm`` of the ``WWW-Authenticate`` challenge.
        scheme_name: the security scheme's name in OpenAPI.
        description: the security scheme's description in OpenAPI.
    """

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        optional: bool = False,
        realm: str = "api",
        scheme_name: str | None = None,
        description: str | None = None,
    ) -> None:
        self.verifier = verifier
        self.optional = optional
        self.realm = realm
        self.model = HTTPBearerModel(bearerFormat="JWT", description=description)
        self.scheme_name = scheme_name or type(self).__name__
        #: One Guard per scope set asked for (``Security(..., scopes=...)``
        #: merged along the dependency chain), built on first use, never per request.
        self._guards: dict[tuple[str, ...], Guard] = {}
        self._guard(())  # fail at start-up, not per request, on a wrong verifier

    def _guard(self, scopes: tuple[str, ...]) -> Guard:
        guard = self._guards.get(scopes)
        if guard is None or guard.verifier is not self.verifier:
            guard = Guard(
                self.verifier, required_scopes=scopes, optional=self.optional, realm=self.realm
            )
            if len(self._guards) >= _MAX_GUARDS:
                self._guards.clear()  # more scope sets than routes: start over
            self._guards[scopes] = guard
        return guard

    async def __call__(
        self, security_scopes: SecurityScopes, connection: HTTPConnection
    ) -> M2MClaims | None:
        guard = self._guard(tuple(security_scopes.scopes))
        scope = connection.scope
        try:
            # starlette.authenticate, spelled out: one coroutine less per request.
            claims = _reuse_verified(scope, guard)
            if claims is None:
                claims = await guard.check_async(authorization_values(scope), scope.get("path"))
                attach_claims(scope, claims, guard.verifier)
            return claims
        except M2MGuardError as exc:
            _warn_unless_installed(connection)
            raise M2MHTTPException(exc, self.realm) from exc


def _warn_unless_installed(connection: HTTPConnection) -> None:
    handlers = getattr(connection.scope.get("app"), "exception_handlers", {})
    if M2MHTTPException not in handlers:
        warnings.warn(
            "m2m_guard.fastapi.install(app) was not called: errors are rendered as "
            'FastAPI\'s {"detail": ...} instead of RFC 6750 JSON',
            RuntimeWarning,
            stacklevel=2,
        )
