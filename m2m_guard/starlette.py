"""Starlette integration: a per-route decorator, and ``request.user`` / ``request.auth``.

    @require_scopes("read:settings")
    async def settings(request: Request) -> JSONResponse:
        claims = get_claims(request)  # or request.state.m2m, request.user.claims

``require_scopes`` works on sync and async endpoint functions, on
``HTTPEndpoint`` methods and on websocket endpoints (refused before accept).
It verifies with the first verifier it finds:

1. ``verifier=`` given to the decorator;
2. the middleware's (``M2MGuardMiddleware`` records it on every request);
3. ``request.app.state.m2m_verifier`` (set it when you build the app).

Claims already verified in this request (by the middleware, or another
guard) are reused, and only the scopes checked, when they were produced by
that same verifier object. Otherwise the token is verified again with the
route's verifier, so its audience, issuer, ``max_token_age``, strict mode …
hold behind any middleware: a token the middleware accepted but the route's
verifier refuses gets the route's 401/403, and a token it accepts replaces
the request's principal (``request.state.m2m``, ``request.user``) with the
route's claims. The verifier's token cache keeps the second check cheap;
with one shared verifier a request is still verified once.

Starlette's own ``@requires`` compares scopes exactly and answers a
missing scope with a plain-text 403 (``Forbidden``, no challenge);
``require_scopes`` follows Stytch's rule (a granted ``read:*`` covers
``read:users``) and answers per RFC 6750. ``requires`` is the drop-in for
Starlette's decorator, with its call shapes and this module's answers.

``lifespan(verifier)`` is a lifespan for ``Starlette(lifespan=...)`` and
``FastAPI(lifespan=...)``: it warms the verifier's keys at start-up and
closes its HTTP client at shutdown.

``M2MGuardMiddleware`` and ``get_claims`` are re-exported from ``m2m_guard.asgi``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

from ._extras import missing_extra

try:
    import starlette  # noqa: F401 - first, so that a missing extra is named plainly
    from starlette.requests import HTTPConnection, Request
    from starlette.responses import Response
    from starlette.websockets import WebSocket
except ImportError as _error:
    raise missing_extra("m2m_guard.starlette", "starlette", _error) from _error

from ._asgi_state import VERIFIER_KEY, get_claims, verified_by
from ._guard import VERIFIED_BY_KEY, Guard, error_response
from ._sansio.checks import Check, as_checks
from ._sansio.claims import M2MClaims
from ._sansio.errors import ConfigurationError, M2MGuardError
from ._sansio.request import RequestContext
from ._sansio.scopes import normalize_scopes
from ._settings.environment import read_bool
from ._starlette_auth import M2MCredentials, M2MUser, attach_claims
from ._types import Scope, TokenVerifier
from .asgi import M2MGuardMiddleware, authorization_values, send_error

__all__ = [
    "M2MCredentials",
    "M2MGuardMiddleware",
    "M2MUser",
    "attach_claims",
    "authenticate",
    "get_claims",
    "lifespan",
    "require_scopes",
    "requires",
]

_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])
_CONNECTIONS = (Request, WebSocket)


def _reuse_verified(scope: Scope, guard: Guard) -> M2MClaims | None:
    """The claims attached to ``scope`` earlier in this request, scopes checked,
    when ``guard``'s own verifier produced them (``Guard.reuse``); else ``None``."""
    state = scope.get("state")
    if type(state) is not dict:  # not as Starlette and the middleware make it
        return guard.reuse(get_claims(scope), verified_by(scope))
    claims = state.get("m2m")
    if not isinstance(claims, M2MClaims):
        return None
    return guard.reuse(claims, state.get(VERIFIED_BY_KEY))


async def authenticate(conn: HTTPConnection, guard: Guard) -> M2MClaims | None:
    """The claims of ``conn`` under ``guard``: reused when ``guard``'s verifier
    already produced them in this request (see the module docstring), else
    verified now with it and attached.

    Raises:
        M2MGuardError: render it with ``Guard.error_response``.
    """
    scope = conn.scope
    claims = _reuse_verified(scope, guard)
    if claims is None:
        claims = await _verify_now(scope, guard)
    return claims


async def _verify_now(scope: Scope, guard: Guard) -> M2MClaims | None:
    # A RequestContext only for rules that look at the request.
    request = RequestContext.from_asgi(scope) if guard.needs_request else None
    claims = await guard.check_async(authorization_values(scope), scope.get("path"), request)
    attach_claims(scope, claims, guard.verifier)
    return claims


def _authenticate_sync(conn: HTTPConnection, guard: Guard) -> None:
    scope = conn.scope
    if _reuse_verified(scope, guard) is None:
        request = RequestContext.from_asgi(scope) if guard.needs_request else None
        claims = guard.check(authorization_values(scope), scope.get("path"), request)
        attach_claims(scope, claims, guard.verifier)


#: How many verifiers' guards one decorated endpoint remembers.
_MAX_GUARDS = 16


def _guard_for(conn: HTTPConnection, options: dict[str, Any], guards: dict[int, Guard]) -> Guard:
    """The endpoint's guard for the verifier this request names (see the
    module docstring), built once per verifier."""
    scope = conn.scope
    verifier = scope.get(VERIFIER_KEY)
    last = guards.get(0)  # the guard of the previous request: usually this one's
    if last is not None and last.verifier is verifier:
        return last
    if verifier is None:
        app_state = getattr(scope.get("app"), "state", None)
        verifier = getattr(app_state, "m2m_verifier", None)
        if verifier is None:
            raise ConfigurationError(
                "require_scopes found no verifier: pass verifier=, add M2MGuardMiddleware "
                "or set app.state.m2m_verifier"
            )
    # By identity: the guard keeps its verifier alive, so the id stays its own.
    guard = guards.get(id(verifier))
    if guard is None or guard.verifier is not verifier:
        guard = Guard(verifier, **options)
        if len(guards) >= _MAX_GUARDS:
            guards.clear()
        guards[id(verifier)] = guard
    guards[0] = guard  # (no object has id 0)
    return guard


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
    audience: str | Iterable[str] | None = None,
    issuer: str | Iterable[str] | None = None,
    max_token_age: float | None = None,
    checks: Iterable[Check] | None = None,
    token_header: str | None = None,
    token_cookie: str | None = None,
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
        audience, issuer: accept only these on this route (a subset of the
            verifier's, else a ``ConfigurationError`` when the guard is built:
            at decoration with ``verifier=``, else on the first request).
        max_token_age: refuse tokens older than this (at most the verifier's).
        checks: custom checks ``check(claims, request)`` for this route; an
            ``async def`` check needs an ``async def`` endpoint.
        token_header / token_cookie: read the token from this header (the
            bare token or ``Bearer <token>``) or this cookie instead of
            ``Authorization`` (one place only; never the query string).
    """
    scope_key = "any_scopes" if any_of else "required_scopes"
    options: dict[str, Any] = {
        scope_key: normalize_scopes(scopes),
        "optional": optional,
        "realm": realm,
        "audience": audience,
        "issuer": issuer,
        "max_token_age": max_token_age,
        "checks": as_checks(checks),  # checked now: the guard may be built later
        "token_header": token_header,
        "token_cookie": token_cookie,
    }
    fixed = None if verifier is None else Guard(verifier, **options)
    guards: dict[int, Guard] = {}  # without a fixed verifier: one guard per verifier met

    def decorate(endpoint: _Endpoint) -> _Endpoint:
        if not inspect.iscoroutinefunction(endpoint):
            if fixed is not None:
                fixed.require_sync(f"the sync endpoint {endpoint.__qualname__}")

            @functools.wraps(endpoint)
            def sync_endpoint(*args: Any, **kwargs: Any) -> Any:
                conn = _connection(args, kwargs)  # (a thread pool's hop dwarfs the search)
                # Outside the try: a missing verifier is a server bug, not a 401.
                guard = fixed or _guard_for(conn, options, guards)
                guard.require_sync(f"the sync endpoint {endpoint.__qualname__}")
                try:
                    _authenticate_sync(conn, guard)
                except M2MGuardError as exc:
                    return _response(exc, realm)
                return endpoint(*args, **kwargs)

            return cast(_Endpoint, sync_endpoint)

        @functools.wraps(endpoint)
        async def async_endpoint(*args: Any, **kwargs: Any) -> Any:
            # Usually a plain Request as the only argument (no ABC check then).
            conn = args[0] if args and type(args[0]) in _CONNECTIONS else _connection(args, kwargs)
            guard = fixed or _guard_for(conn, options, guards)
            scope = conn.scope
            try:
                # Claims the guard's own verifier produced need no coroutine.
                if _reuse_verified(scope, guard) is None:
                    await _verify_now(scope, guard)
            except M2MGuardError as exc:
                if isinstance(conn, WebSocket):
                    await send_error(conn.scope, conn.send, exc, realm)
                    return None
                return _response(exc, realm)
            return await endpoint(*args, **kwargs)

        return cast(_Endpoint, async_endpoint)

    return decorate


#: Starlette's name for "any authenticated user": here, any valid token.
_AUTHENTICATED = "authenticated"


def requires(
    scopes: str | Sequence[str],
    status_code: int = 403,
    redirect: str | None = None,
    *,
    verifier: TokenVerifier | None = None,
    realm: str = "api",
) -> Callable[[_Endpoint], _Endpoint]:
    """A drop-in for ``starlette.authentication.requires`` answering per RFC 6750.

    The same call shapes (``@requires("read:x")``, ``@requires(["a", "b"])``,
    ``status_code=403``), and it is ``require_scopes(*scopes)``: the token is
    verified (reusing the middleware's claims when its verifier is the
    route's), a missing token is a 401 with its challenge, a missing scope the
    403 with ``error="insufficient_scope"`` and the JSON body, a websocket is
    refused before it is accepted. Starlette's own ``@requires`` answers a
    plain-text 403 without a challenge. ``"authenticated"``, Starlette's name
    for any logged-in user, means any valid token here.

    Only ``status_code=403`` is accepted (RFC 6750's answer), and no
    ``redirect`` (a log-in page means nothing to a machine client): either
    is a ``ConfigurationError``, raised when the endpoint is decorated.
    """
    if status_code != 403:
        raise ConfigurationError.of("status_code", "must be 403, RFC 6750's insufficient_scope")
    if redirect is not None:
        raise ConfigurationError.of("redirect", "is for browser log-ins; machine clients get 401")
    wanted = [scopes] if isinstance(scopes, str) else list(scopes)
    return require_scopes(
        *(scope for scope in wanted if scope != _AUTHENTICATED), verifier=verifier, realm=realm
    )


#: Set it to true in production so that a wrong JWKS URL fails the deploy.
REQUIRE_KEYS_VARIABLE = "M2M_GUARD_REQUIRE_KEYS_AT_STARTUP"

_Lifespan = Callable[[Any], contextlib.AbstractAsyncContextManager[Any]]


def lifespan(
    verifier: TokenVerifier,
    *,
    require_keys: bool | None = None,
    app_lifespan: _Lifespan | None = None,
    environ: Mapping[str, str] | None = None,
) -> _Lifespan:
    """A lifespan that warms ``verifier``'s keys at start-up and closes it at shutdown.

    ``app = Starlette(lifespan=lifespan(verifier))`` (or ``FastAPI(...)``).

    Args:
        verifier: ``await verifier.warm_up_async(strict=require_keys)`` at
            start-up; ``await verifier.aclose()`` at shutdown.
        require_keys: no usable keys at start-up fails the start-up with a
            ``KeysUnavailableError`` saying why (the server then exits), so
            a wrong JWKS URL fails the deploy instead of every request.
            ``None`` (the default) reads ``M2M_GUARD_REQUIRE_KEYS_AT_STARTUP``
            (true/false; unset: false, the keys are then fetched on first use).
        app_lifespan: the application's own lifespan, entered after the
            warm-up and left before the verifier is closed; what it yields
            (the lifespan state) is yielded on.
        environ: where the variable is read (default ``os.environ``).
    """
    if require_keys is None:
        value = (os.environ if environ is None else environ).get(REQUIRE_KEYS_VARIABLE, "")
        require_keys = read_bool(REQUIRE_KEYS_VARIABLE, value)
    strict = require_keys

    @contextlib.asynccontextmanager
    async def run(app: Any) -> AsyncIterator[Any]:
        try:
            await verifier.warm_up_async(strict=strict)
            if app_lifespan is None:
                yield None
            else:
                async with app_lifespan(app) as state:
                    yield state
        finally:
            await verifier.aclose()

    return run
