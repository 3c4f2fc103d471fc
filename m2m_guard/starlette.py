"""Starlette integration: a per-route decorator, and ``request.user`` / ``request.auth``.

    @require_scopes("read:settings")
    async def settings(request: Request) -> JSONResponse:
        claims = get_claims(request)  # or request.state.m2m, request.user.claims

``require_scopes`` works on sync and async endpoint functions, on
``HTTPEndpoint`` methods and on websocket endpoints (refused before accept).
Behind ``M2MGuardMiddleware`` it reuses the middleware's verified claims and
only checks its scopes; otherwise it verifies the token itself, with the
first verifier it finds:

1. ``verifier=`` given to the decorator;
2. the middleware's, where it let the request pass unverified
   (``exclude_paths``, ``optional``);
3. ``request.app.state.m2m_verifier`` (set it when you build the app).

Starlette's own ``@requires`` compares scopes exactly; ``require_scopes``
follows Stytch's rule (a granted ``read:*`` covers ``read:users``).
``M2MGuardMiddleware`` and ``get_claims`` are re-exported from ``m2m_guard.asgi``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.websockets import WebSocket

from ._claims import M2MClaims
from ._engine import check_scopes
from ._errors import ConfigurationError, M2MGuardError
from ._guard import Guard, error_response
from ._multi import TokenVerifier
from ._scopes import normalize_scopes
from .asgi import VERIFIER_KEY, M2MGuardMiddleware, Scope, attach_state, get_claims, send_error

__all__ = [
    "M2MGuardMiddleware",
    "M2MUser",
    "attach_claims",
    "authenticate",
    "get_claims",
    "require_scopes",
]

_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


class M2MUser(BaseUser):
    """``request.user`` of a verified request: the calling machine client."""

    def __init__(self, claims: M2MClaims) -> None:
        self.claims = claims

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


def attach_claims(scope: Scope, claims: M2MClaims | None) -> None:
    """Attach the claims as ``request.state.m2m``, ``request.auth`` and ``request.user``."""
    attach_state(scope, claims)
    if claims is None:
        scope["auth"], scope["user"] = AuthCredentials(), UnauthenticatedUser()
    else:
        scope["auth"], scope["user"] = AuthCredentials(claims.scopes), M2MUser(claims)


def _pre_verified(conn: HTTPConnection, guard: Guard) -> M2MClaims | None:
    claims = get_claims(conn)
    if claims is not None:  # the middleware verified the token: only scopes are left
        check_scopes(claims, guard.required_scopes, guard.any_scopes)
    return claims


async def authenticate(conn: HTTPConnection, guard: Guard) -> M2MClaims | None:
    """The claims of ``conn`` under ``guard``: the middleware's, or verified now.

    Raises:
        M2MGuardError: render it with ``Guard.error_response``.
    """
    claims = _pre_verified(conn, guard)
    if claims is None:
        claims = await guard.check_async(conn.headers.getlist("authorization"))
        attach_claims(conn.scope, claims)
    return claims


def _authenticate_sync(conn: HTTPConnection, guard: Guard) -> None:
    if _pre_verified(conn, guard) is None:
        attach_claims(conn.scope, guard.check(conn.headers.getlist("authorization")))


def _guard_for(conn: HTTPConnection, options: dict[str, Any]) -> Guard:
    app_state = getattr(conn.scope.get("app"), "state", None)
    verifier = conn.scope.get(VERIFIER_KEY) or getattr(app_state, "m2m_verifier", None)
    if verifier is None:
        raise ConfigurationError(
            "require_scopes found no verifier: pass verifier=, add M2MGuardMiddleware "
            "or set app.state.m2m_verifier"
        )
    return Guard(verifier, **options)


def _response(exc: M2MGuardError, realm: str) -> Response:
    answer = error_response(exc, realm)
    return Response(answer.body, answer.status, headers=dict(answer.headers))


def _connection(args: tuple[Any, ...], kwargs: dict[str, Any]) -> HTTPConnection:
    for value in (*args, *kwargs.values()):
        if isinstance(value, HTTPConnection):
            return value
    raise TypeError("require_scopes: the endpoint takes no Request or WebSocket argument")


def require_scopes(
    *scopes: str,
    any_of: bool = False,
    verifier: TokenVerifier | None = None,
    optional: bool = False,
    realm: str = "api",
) -> Callable[[_Endpoint], _Endpoint]:
    """Protect an endpoint: a valid token granting ``scopes`` is required.

    Args:
        scopes: required scopes (each may hold several, space-separated);
            none means any valid token.
        any_of: one of ``scopes`` is enough instead of all of them.
        verifier: verify with this one (see the module docstring otherwise).
        optional: let requests without a token through (``get_claims`` is
            then ``None``); a bad token is still rejected.
        realm: the ``realm`` of the ``WWW-Authenticate`` challenge.
    """
    scope_key = "any_scopes" if any_of else "required_scopes"
    options: dict[str, Any] = {
        scope_key: normalize_scopes(scopes),
        "optional": optional,
        "realm": realm,
    }
    fixed = None if verifier is None else Guard(verifier, **options)

    def decorate(endpoint: _Endpoint) -> _Endpoint:
        if not inspect.iscoroutinefunction(endpoint):

            @functools.wraps(endpoint)
            def sync_endpoint(*args: Any, **kwargs: Any) -> Any:
                conn = _connection(args, kwargs)
                # Outside the try: a missing verifier is a server bug, not a 401.
                guard = fixed or _guard_for(conn, options)
                try:
                    _authenticate_sync(conn, guard)
                except M2MGuardError as exc:
                    return _response(exc, realm)
                return endpoint(*args, **kwargs)

            return cast(_Endpoint, sync_endpoint)

        @functools.wraps(endpoint)
        async def async_endpoint(*args: Any, **kwargs: Any) -> Any:
            conn = _connection(args, kwargs)
            guard = fixed or _guard_for(conn, options)
            try:
                await authenticate(conn, guard)
            except M2MGuardError as exc:
                if isinstance(conn, WebSocket):
                    await send_error(conn.scope, conn.send, exc, realm)
                    return None
                return _response(exc, realm)
            return await endpoint(*args, **kwargs)

        return cast(_Endpoint, async_endpoint)

    return decorate
