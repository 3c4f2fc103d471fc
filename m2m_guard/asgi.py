"""Pure ASGI middleware that verifies M2M bearer tokens; Starlette is optional.

    app = M2MGuardMiddleware(app, verifier=Verifier.from_env(), exclude_paths=["/health"])

``http`` and ``websocket`` connections are checked; ``lifespan`` and every
other scope type pass straight through. A verified request carries its
claims as ``scope["state"]["m2m"]`` (``request.state.m2m``, ``get_claims``)
and, when Starlette is installed, ``scope["auth"]`` / ``scope["user"]``, so
``request.auth.scopes``, ``request.user`` and Starlette's ``@requires`` work.
An anonymous request let through by ``optional`` carries ``None``; requests
to ``exclude_paths`` are passed on untouched.

Next to the claims, ``scope["state"]["m2m_guard.verified_by"]`` names the
verifier that produced them. A route guard (``require_scopes``,
``M2MBearer``) reuses the claims only when its verifier is that very object;
a route with another verifier (its own audience, issuer, ``max_token_age``,
strict mode …) verifies the token again, answers with its own 401/403 when
it refuses it, and then exposes its own claims as the request's principal.

A refused websocket is refused before it is accepted: with the HTTP error
response where the server supports the ``websocket.http.response`` extension,
otherwise with a close frame, code 1008 (policy violation), or 1013 (try
again later) when the keys are unavailable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ._asgi_state import VERIFIER_KEY, attach_state, get_claims
from ._guard import ErrorResponse, Guard, error_response
from ._resource import ProtectedResource
from ._sansio.checks import Check
from ._sansio.claims import M2MClaims
from ._sansio.errors import M2MGuardError
from ._sansio.request import RequestContext
from ._types import ASGIApp, Receive, Scope, Send, TokenVerifier

__all__ = ["DOCS_URLS", "M2MGuardMiddleware", "docs_paths", "get_claims", "send_error"]

Attach = Callable[[Scope, "M2MClaims | None", "TokenVerifier | None"], None]

_DENIAL_EXTENSION = "websocket.http.response"
_POLICY_VIOLATION = 1008  # RFC 6455 §7.4.1
_TRY_AGAIN_LATER = 1013  # IANA WebSocket close code registry


class M2MGuardMiddleware:
    """Rejects requests without a valid bearer token (README, "Errors and HTTP responses").

    Args:
        app: the ASGI application to protect.
        verifier: checks the tokens.
        exclude_paths: public paths; ``"/docs/*"`` is a prefix (see ``PathMatcher``).
        required_scopes: every request must carry all of these.
        any_scopes: every request must carry one of these.
        optional: let requests without any token through (a bad token is
            still rejected); the claims are then ``None``.
        realm: the ``realm`` of the ``WWW-Authenticate`` challenge.
        resource_metadata: RFC 9728 metadata to serve at its well-known path
            (unauthenticated) and to name in every challenge.
        exclude_docs: also exclude FastAPI's documentation: ``/docs``,
            ``/docs/oauth2-redirect``, ``/redoc`` and ``/openapi.json``
            (exact paths). When ``app`` is the FastAPI app itself
            (``M2MGuardMiddleware(app, ...)``) its configured URLs are used
            instead; behind ``app.add_middleware`` / ``Middleware(...)`` the
            middleware only sees the inner stack, so the defaults hold: add
            custom documentation URLs to ``exclude_paths``.
        audience, issuer: accept only these (a subset of the verifier's:
            anything else is a ``ConfigurationError`` here).
        max_token_age: refuse tokens older than this (at most the verifier's).
        checks: custom checks ``check(claims, request)`` for these requests
            (README, "Custom checks and per-route rules").
        token_header / token_cookie: read the token from this header (the
            bare token or ``Bearer <token>``) or this cookie instead of
            ``Authorization`` (one place only; never the query string).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: TokenVerifier,
        exclude_paths: Iterable[str] = (),
        required_scopes: str | Iterable[str] = (),
        any_scopes: str | Iterable[str] = (),
        optional: bool = False,
        realm: str = "api",
        resource_metadata: ProtectedResource | None = None,
        exclude_docs: bool = False,
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        max_token_age: float | None = None,
        checks: Iterable[Check] | None = None,
        token_header: str | None = None,
        token_cookie: str | None = None,
    ) -> None:
        self.app = app
        if exclude_docs:
            exclude_paths = [*exclude_paths, *docs_paths(app)]
        self.guard = Guard(
            verifier,
            required_scopes=required_scopes,
            any_scopes=any_scopes,
            exclude_paths=exclude_paths,
            optional=optional,
            realm=realm,
            resource_metadata=resource_metadata,
            audience=audience,
            issuer=issuer,
            max_token_age=max_token_age,
            checks=checks,
            token_header=token_header,
            token_cookie=token_cookie,
        )
        self._attach = _claims_attacher()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        guard = self.guard
        verifier = guard.verifier
        scope[VERIFIER_KEY] = verifier
        if guard.resource is not None and kind == "http":
            metadata = guard.metadata_response(scope["method"], _route_path(scope))
            if metadata is not None:
                await _respond(send, metadata)
                return
        exclude = guard.exclude
        if exclude.active and exclude.matches(_route_path(scope)):
            await self.app(scope, receive, send)
            return
        values = authorization_values(scope)
        path = scope.get("path")
        # A RequestContext only for rules that look at the request.
        request = RequestContext.from_asgi(scope) if guard.needs_request else None
        try:
            # A token verified before needs no coroutine; any other takes the full path.
            claims = guard.cached(values, path, request)
            if claims is None:
                claims = await guard.check_async(values, path, request)
        except M2MGuardError as exc:
            await send_error(scope, send, exc, answer=guard.error_response(exc))
            return
        self._attach(scope, claims, verifier)
        await self.app(scope, receive, send)


#: FastAPI's documentation URLs by default (its attribute for each).
DOCS_URLS = {
    "openapi_url": "/openapi.json",
    "docs_url": "/docs",
    "swagger_ui_oauth2_redirect_url": "/docs/oauth2-redirect",
    "redoc_url": "/redoc",
}


def docs_paths(app: object) -> list[str]:
    """FastAPI's documentation paths: ``app``'s own when it has them, else the defaults."""
    if not all(hasattr(app, name) for name in DOCS_URLS):
        return list(DOCS_URLS.values())
    paths = [getattr(app, name) for name in DOCS_URLS]
    return [path for path in paths if isinstance(path, str) and path.startswith("/")]


def authorization_values(scope: Scope) -> list[str]:
    """Every ``Authorization`` value of the request: two of them are an error."""
    # Servers send lower-case names (ASGI spec); tolerate others, cheaply.
    return [
        value.decode("latin-1")
        for name, value in scope.get("headers") or ()
        if name == b"authorization" or (len(name) == 13 and name.lower() == b"authorization")
    ]


async def send_error(
    scope: Scope,
    send: Send,
    exc: M2MGuardError,
    realm: str = "api",
    *,
    answer: ErrorResponse | None = None,
) -> None:
    """Answer ``exc`` with raw ASGI messages (on a websocket: before accepting it).

    ``answer`` is the rendered response when the caller has one (a guard's,
    with its RFC 9728 pointer); otherwise it is rendered for ``realm``.
    """
    answer = answer or error_response(exc, realm)
    if scope["type"] == "websocket":
        if _DENIAL_EXTENSION not in (scope.get("extensions") or {}):
            code = _TRY_AGAIN_LATER if exc.status_code == 503 else _POLICY_VIOLATION
            await send({"type": "websocket.close", "code": code, "reason": exc.error or ""})
            return
        await _respond(send, answer, "websocket.")
        return
    await _respond(send, answer)


async def _respond(send: Send, answer: ErrorResponse, prefix: str = "") -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers]
    await send(
        {"type": f"{prefix}http.response.start", "status": answer.status, "headers": headers}
    )
    await send({"type": f"{prefix}http.response.body", "body": answer.body})


def _claims_attacher() -> Attach:
    try:
        from ._starlette_auth import attach_claims
    except ImportError:  # no Starlette: scope["auth"] and scope["user"] would mean nothing
        return attach_state
    return attach_claims


def _route_path(scope: Scope) -> str:
    # Match the path the router matches: below root_path (ASGI spec, 2.0 vs 3.0 servers).
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root + "/") else path
