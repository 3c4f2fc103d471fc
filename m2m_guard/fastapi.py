"""FastAPI integration: a security dependency that returns the caller's claims.

    guard = M2MBearer(Verifier.from_env())
    app = install(FastAPI())

    @app.get("/settings")
    async def settings(claims: M2MClaims = Security(guard, scopes=["read:settings"])): ...

The scopes given to ``Security`` (merged along the dependency chain) are
required. ``M2MBearer(verifier, optional=True)`` lets requests without a
token through as ``None``.

OpenAPI: when a token URL is known (``token_url=``, else the verifier's
``token_url``: every preset but Cognito's names one, discovery reads the
metadata's ``token_endpoint``), the scheme is an OAuth2 ``clientCredentials``
flow, so Swagger UI's *Authorize* dialog can fetch a token; without one it
is a plain HTTP bearer (JWT) scheme. ``scopes={"read:orders": "Read
orders"}`` describes scopes; ``install(app)`` adds every scope the app's
operations require (described by its name when not given) and documents
each protected operation's 401, 403 and 503 answers (the RFC 6750 body,
``WWW-Authenticate`` and ``Retry-After``), leaving responses the app
declared alone. The token URL is read when the document is generated (on
the first request for ``/openapi.json``; FastAPI keeps it), so warm a
discovering verifier up at start-up (``m2m_guard.starlette.lifespan``) to
have its ``token_endpoint`` in the document. A combined verifier
(``Verifier.combine``) names no token URL: give one to ``M2MBearer``.

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
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from ._extras import missing_extra

try:
    import fastapi  # noqa: F401 - first, so that a missing extra is named plainly
    from fastapi.openapi.models import APIKey as APIKeyModel
    from fastapi.openapi.models import APIKeyIn, OAuthFlowClientCredentials, OAuthFlows
    from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
    from fastapi.openapi.models import OAuth2 as OAuth2Model
    from fastapi.openapi.models import SecurityBase as SecurityBaseModel
    from fastapi.security import SecurityScopes
    from fastapi.security.base import SecurityBase
except ImportError as _error:
    raise missing_extra("m2m_guard.fastapi", "fastapi", _error) from _error

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.websockets import WebSocket

from ._fastapi_openapi import calls, complete
from ._guard import Guard, error_response
from ._sansio.checks import Check, as_checks
from ._sansio.claims import M2MClaims
from ._sansio.errors import ConfigurationError, M2MGuardError
from ._sansio.request import RequestContext
from ._settings.conversions import token_url_of
from ._starlette_auth import attach_claims
from ._types import TokenVerifier
from .asgi import authorization_values, send_error
from .starlette import _reuse_verified

__all__ = ["M2MBearer", "M2MHTTPException", "M2MPrincipal", "install", "m2m_exception_handler"]

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
    """Register ``m2m_exception_handler`` on ``app`` (before it serves); returns ``app``.

    On a FastAPI app it also completes the OpenAPI document (see the module
    docstring): each ``M2MBearer`` scheme's flow lists every scope the
    operations require, and each protected operation documents its 401, 403
    and 503 answers.
    """
    # One handler for both connection kinds; Starlette's stubs want one per kind.
    app.add_exception_handler(M2MHTTPException, m2m_exception_handler)  # type: ignore[arg-type]
    generate = getattr(app, "openapi", None)
    if callable(generate) and not getattr(generate, "_m2m_guard", False):
        app.openapi = _completing(app, generate)  # type: ignore[attr-defined]
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
        scopes: descriptions of scopes for the OpenAPI flow (``install``
            adds the scopes the operations use).
        token_url: where clients get tokens, for the OpenAPI
            ``clientCredentials`` flow; default: the verifier's ``token_url``.
        audience, issuer: accept only these (a subset of the verifier's:
            anything else is a ``ConfigurationError`` here), for the routes that
            depend on this ``M2MBearer``.
        max_token_age: refuse tokens older than this (at most the verifier's).
        checks: custom checks ``check(claims, request)`` for these requests
            (README, "Custom checks and per-route rules").
        token_header / token_cookie: read the token from this header (the
            bare token or ``Bearer <token>``) or this cookie instead of
            ``Authorization`` (one place only; never the query string).
    """

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        optional: bool = False,
        realm: str = "api",
        scheme_name: str | None = None,
        description: str | None = None,
        scopes: Mapping[str, str] | None = None,
        token_url: str | None = None,
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        max_token_age: float | None = None,
        checks: Iterable[Check] | None = None,
        token_header: str | None = None,
        token_cookie: str | None = None,
    ) -> None:
        self.verifier = verifier
        self._rules: dict[str, Any] = {
            "audience": audience,
            "issuer": issuer,
            "max_token_age": max_token_age,
            # Kept as a tuple: every Guard (one per scope set) reads it again.
            "checks": as_checks(checks),
            "token_header": token_header,
            "token_cookie": token_cookie,
        }
        self.optional = optional
        self.realm = realm
        self.description = description
        self.scopes = _descriptions(scopes)
        self.token_url = token_url_of(token_url)
        self._model: SecurityBaseModel | None = None
        self.scheme_name = scheme_name or type(self).__name__
        #: One Guard per scope set asked for (``Security(..., scopes=...)``
        #: merged along the dependency chain), built on first use, never per request.
        self._guards: dict[tuple[str, ...], Guard] = {}
        self._guard(())  # fail at start-up, not per request, on a wrong verifier

    @property
    def model(self) -> SecurityBaseModel:
        """The OpenAPI security scheme, built when FastAPI generates the document
        (so a token endpoint discovered meanwhile is in it); one set by hand wins."""
        if self._model is not None:
            return self._model
        header, cookie = self._rules["token_header"], self._rules["token_cookie"]
        if header is not None or cookie is not None:  # an API key in OpenAPI's words
            where = APIKeyIn.header if header is not None else APIKeyIn.cookie
            fields: dict[str, Any] = {"in": where, "name": header or cookie}
            return APIKeyModel(**fields, description=self.description)
        token_url = self.token_url or getattr(self.verifier, "token_url", None)
        if not isinstance(token_url, str) or not token_url:
            return HTTPBearerModel(bearerFormat="JWT", description=self.description)
        flow = OAuthFlowClientCredentials(tokenUrl=token_url, scopes=dict(self.scopes))
        return OAuth2Model(flows=OAuthFlows(clientCredentials=flow), description=self.description)

    @model.setter
    def model(self, model: SecurityBaseModel) -> None:
        self._model = model

    def _guard(self, scopes: tuple[str, ...]) -> Guard:
        guard = self._guards.get(scopes)
        if guard is None or guard.verifier is not self.verifier:
            guard = Guard(
                self.verifier,
                required_scopes=scopes,
                optional=self.optional,
                realm=self.realm,
                **self._rules,
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
                request = RequestContext.from_asgi(scope) if guard.needs_request else None
                claims = await guard.check_async(
                    authorization_values(scope), scope.get("path"), request
                )
                attach_claims(scope, claims, guard.verifier)
            return claims
        except M2MGuardError as exc:
            _warn_unless_installed(connection)
            raise M2MHTTPException(exc, self.realm) from exc


_P = TypeVar("_P")


class M2MPrincipal(M2MBearer, Generic[_P]):
    """Like ``M2MBearer``, returning the caller's typed principal (``claims.principal``).

        verifier = Verifier.from_env(principal=Caller)
        caller = M2MPrincipal(verifier, Caller)

        @app.get("/orders")
        async def orders(who: Annotated[Caller, Security(caller, scopes=["orders:read"])]): ...

    ``principal`` must be what the verifier's ``principal=`` names (checked
    here, at start-up); the verifier builds it once per token.
    """

    def __init__(
        self, verifier: TokenVerifier, principal: type[_P] | Callable[..., _P], **options: Any
    ) -> None:
        super().__init__(verifier, **options)
        built = getattr(verifier, "principal_target", None)
        if built is None or built is not principal:
            raise ConfigurationError.of(
                "principal",
                f"{principal!r} is not what the verifier builds ({built!r}): "
                "give the verifier principal= with it",
            )

    async def __call__(  # type: ignore[override]
        self, security_scopes: SecurityScopes, connection: HTTPConnection
    ) -> _P | None:
        claims = await super().__call__(security_scopes, connection)
        return None if claims is None else claims.principal


def _warn_unless_installed(connection: HTTPConnection) -> None:
    handlers = getattr(connection.scope.get("app"), "exception_handlers", {})
    if M2MHTTPException not in handlers:
        warnings.warn(
            "m2m_guard.fastapi.install(app) was not called: errors are rendered as "
            'FastAPI\'s {"detail": ...} instead of RFC 6750 JSON',
            RuntimeWarning,
            stacklevel=2,
        )


def _descriptions(scopes: Mapping[str, str] | None) -> dict[str, str]:
    if scopes is None:
        return {}
    if not isinstance(scopes, Mapping) or not all(
        isinstance(k, str) and k and " " not in k and isinstance(v, str) for k, v in scopes.items()
    ):
        raise ConfigurationError.of("scopes", "must map scope names to descriptions")
    return dict(scopes)


def _completing(app: Any, generate: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    done: list[dict[str, Any]] = []  # the document completed last (FastAPI keeps it)

    def openapi() -> dict[str, Any]:
        document = generate()
        if not done or done[0] is not document:
            complete(document, _bearers(app))
            done[:] = [document]
        return document

    openapi._m2m_guard = True  # type: ignore[attr-defined]
    return openapi


def _bearers(app: Any) -> dict[str, M2MBearer]:
    """The app's ``M2MBearer`` dependencies by scheme name."""
    found: dict[str, M2MBearer] = {}
    for route in getattr(app, "routes", ()):
        dependant = getattr(route, "dependant", None)
        if dependant is not None:
            for call in calls(dependant):
                if isinstance(call, M2MBearer):
                    found.setdefault(call.scheme_name, call)
    return found
