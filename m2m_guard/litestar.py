"""Litestar integration: a plugin (middleware, refusals, OpenAPI) and route guards.

    from litestar import Litestar, get
    from m2m_guard.litestar import M2MGuardPlugin, require_scopes

    @get("/orders", guards=[require_scopes("read:orders")])
    async def orders(request: Request) -> dict[str, str]:
        return {"client_id": request.user.client_id}        # request.auth: M2MClaims

    app = Litestar([orders], plugins=[M2MGuardPlugin(verifier, exclude_paths=["/health"])])

``M2MGuardPlugin`` adds the pure ASGI middleware of ``m2m_guard.asgi`` (every
request outside ``exclude_paths`` needs a valid token, unless ``optional``),
puts the claims on ``request.auth`` and an ``M2MUser`` on ``request.user``,
registers the handler that answers refusals with the RFC 6750 response as
rendered (Litestar never rewrites the body into ``{"status_code", "detail"}``)
and declares the ``m2m`` security scheme: an OAuth2 ``clientCredentials``
flow when the verifier knows its token URL, else a bearer JWT. The scopes of
each route's ``require_scopes`` guards appear in its OpenAPI ``security``
(for handlers given to the app or to routers).

``require_scopes`` guards reuse the middleware's claims when they have its
verifier, verify by themselves otherwise (``verifier=``, else the
middleware's), and raise ``M2MRefusal``: an ``HTTPException`` with the right
status and headers, rendered exactly by the plugin's handler.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, cast

from ._extras import missing_extra

try:
    from litestar import Request, Response
    from litestar.config.app import AppConfig
    from litestar.connection import ASGIConnection
    from litestar.exceptions import HTTPException
    from litestar.middleware import DefineMiddleware
    from litestar.openapi.spec import Components, OAuthFlow, OAuthFlows, SecurityScheme
    from litestar.plugins import InitPluginProtocol
except ImportError as _error:
    raise missing_extra("m2m_guard.litestar", "litestar", _error) from _error

from ._asgi_state import VERIFIER_KEY, attach_state, get_claims, verified_by
from ._guard import ErrorResponse, Guard
from ._sansio.claims import M2MClaims
from ._sansio.errors import ConfigurationError, M2MGuardError
from ._sansio.request import RequestContext
from ._sansio.scopes import normalize_scopes
from ._types import Scope, TokenVerifier
from ._user import MachineClient
from .asgi import M2MGuardMiddleware, authorization_values

__all__ = ["SCHEME", "M2MGuardPlugin", "M2MRefusal", "M2MUser", "require_scopes"]

#: The name of the OpenAPI security scheme.
SCHEME = "m2m"


class M2MUser(MachineClient):
    """``request.user`` of a verified request: the calling machine client
    (``client_id``, ``scopes``, ``claims``)."""

    __slots__ = ()


def _attach(scope: Scope, claims: M2MClaims | None, verifier: TokenVerifier | None) -> None:
    attach_state(scope, claims, verifier)
    scope["auth"] = claims
    scope["user"] = None if claims is None else M2MUser(claims)


class _Middleware(M2MGuardMiddleware):
    """The ASGI middleware, attaching the claims the Litestar way."""

    def __init__(self, app: Any, **options: Any) -> None:
        super().__init__(app, **options)
        self._attach = _attach


class M2MRefusal(HTTPException):
    """A refused request; ``reply`` is its RFC 6750 response, as rendered."""

    def __init__(self, error: M2MGuardError, reply: ErrorResponse) -> None:
        headers = {k: v for k, v in reply.headers if k not in ("content-type", "content-length")}
        super().__init__(detail=error.description, status_code=reply.status, headers=headers)
        self.error = error
        self.reply = reply


def _render(request: Request[Any, Any, Any], exc: M2MRefusal) -> Response[bytes]:
    reply = exc.reply
    headers = {k: v for k, v in reply.headers if k not in ("content-type", "content-length")}
    media_type = dict(reply.headers).get("content-type", "application/json")
    return Response(reply.body, status_code=reply.status, headers=headers, media_type=media_type)


class _ScopesGuard:
    """One ``require_scopes(...)``: a Litestar guard (``guards=[...]``)."""

    def __init__(
        self,
        required: tuple[str, ...],
        any_of: tuple[str, ...],
        optional: bool,
        verifier: TokenVerifier | None,
        realm: str,
    ) -> None:
        self.scopes = required or any_of
        self._required, self._any_of = required, any_of
        self._optional, self._realm, self._verifier = optional, realm, verifier
        self._guards: dict[int, Guard] = {}

    def _guard(self, verifier: TokenVerifier) -> Guard:
        guard = self._guards.get(id(verifier))
        if guard is None or guard.verifier is not verifier:
            guard = self._guards[id(verifier)] = Guard(
                verifier,
                required_scopes=self._required,
                any_scopes=self._any_of,
                optional=self._optional,
                realm=self._realm,
            )
        return guard

    async def __call__(self, connection: ASGIConnection[Any, Any, Any, Any], _: object) -> None:
        scope: Any = connection.scope
        verifier = self._verifier or scope.get(VERIFIER_KEY)
        if verifier is None:
            raise ConfigurationError(
                "require_scopes has no verifier: pass verifier=, or add M2MGuardPlugin"
            )
        guard = self._guard(verifier)
        try:
            if guard.reuse(get_claims(scope), verified_by(scope)) is not None:
                return  # the middleware's claims, already attached, scopes checked
            values = authorization_values(scope)
            context = RequestContext.from_asgi(scope) if guard.needs_request else None
            claims = await guard.check_async(values, connection.url.path, context)
        except M2MGuardError as exc:
            raise M2MRefusal(exc, guard.error_response(exc)) from None
        _attach(scope, claims, guard.verifier)


def require_scopes(
    *scopes: str,
    any_of: bool = False,
    optional: bool = False,
    verifier: TokenVerifier | None = None,
    realm: str = "api",
) -> Any:
    """A route guard: the token must grant ``scopes`` (one of them with ``any_of``).

    Without scopes, any valid token is enough. With ``optional``, a request
    without a token passes with ``request.auth`` ``None``.
    """
    wanted = normalize_scopes(scopes)
    if any_of:
        return _ScopesGuard((), wanted, optional, verifier, realm)
    return _ScopesGuard(wanted, (), optional, verifier, realm)


class M2MGuardPlugin(InitPluginProtocol):
    """Protects a Litestar application; the arguments are ``m2m_guard.asgi``'s
    ``M2MGuardMiddleware``'s (``exclude_paths``, ``required_scopes``,
    ``any_scopes``, ``optional``, ``realm`` …).

    Args:
        verifier: checks the tokens.
        scopes: descriptions of scopes for the OpenAPI flow (``{"read:orders": "…"}``).
    """

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        scopes: dict[str, str] | None = None,
        exclude_paths: Iterable[str] = ("/schema/*",),
        **options: Any,
    ) -> None:
        self.verifier = verifier
        self.scopes = dict(scopes or {})
        self.options = {"exclude_paths": list(exclude_paths), **options}
        _Middleware(None, verifier=verifier, **self.options)  # bad options fail here

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Add the middleware, the refusal handler and the security scheme."""
        app_config.middleware.insert(
            0, DefineMiddleware(cast(Any, _Middleware), verifier=self.verifier, **self.options)
        )
        app_config.exception_handlers[M2MRefusal] = _render
        openapi = app_config.openapi_config
        if openapi is not None:
            components = openapi.components
            if isinstance(components, list):
                components = components[0] if components else Components()
            schemes = dict(components.security_schemes or {})
            schemes[SCHEME] = self._scheme(app_config.route_handlers)
            components.security_schemes = schemes
            openapi.components = components
        for handler in _handlers(app_config.route_handlers):
            guards = [g for g in handler.guards or () if isinstance(g, _ScopesGuard)]
            requirement = {SCHEME: [scope for g in guards for scope in g.scopes]}
            security = list(handler.security or ())
            if guards and requirement not in security:  # (a handler shared by two apps)
                handler.security = [*security, requirement]
        return app_config

    def _scheme(self, route_handlers: Iterable[Any]) -> SecurityScheme:
        token_url = getattr(self.verifier, "token_url", None)
        if not isinstance(token_url, str):
            return SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
        scopes = dict(self.scopes)
        for handler in _handlers(route_handlers):
            for guard in handler.guards or ():
                if isinstance(guard, _ScopesGuard):
                    for scope in guard.scopes:
                        scopes.setdefault(scope, scope)
        flow = OAuthFlow(token_url=token_url, scopes=scopes)
        return SecurityScheme(type="oauth2", flows=OAuthFlows(client_credentials=flow))


def _handlers(route_handlers: Iterable[Any]) -> Iterator[Any]:
    """The route handlers given to the app, and to its routers, recursively."""
    for handler in route_handlers:
        if hasattr(handler, "routes"):  # a Router: its own copies of the handlers
            for route in handler.routes:
                yield from _handlers(getattr(route, "route_handlers", ()))
        elif hasattr(handler, "guards") and hasattr(handler, "security"):
            yield handler
