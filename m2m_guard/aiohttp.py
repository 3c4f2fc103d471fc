"""aiohttp integration: a middleware, a handler decorator and ``request[M2M]``.

    from aiohttp import web
    from m2m_guard.aiohttp import m2m_middleware, require_scopes

    @require_scopes("read:orders")
    async def orders(request):
        return web.json_response({"client_id": request[M2M].client_id})

    app = web.Application(middlewares=[m2m_middleware(verifier, exclude_paths=["/health"])])

Async-native: the verifier is awaited (``check_async``), never run in a
thread. ``m2m_middleware`` requires a valid token for every request outside
``exclude_paths`` (matched against ``request.path``, decoded, with the
shared glob rule); ``require_scopes`` works behind it (it reuses the claims
the middleware verified with the same verifier) and alone, with
``verifier=``, the middleware's, or the application's ``app[VERIFIER]``. Refusals are the
RFC 6750 answers of every integration (status, ``WWW-Authenticate``, JSON
body, ``Retry-After`` on a 503). Each ``Authorization`` header is passed on
as it came, so two of them are a 400 as under ASGI.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar, cast

from ._extras import missing_extra

try:
    from aiohttp import hdrs, web
except ImportError as _error:
    raise missing_extra("m2m_guard.aiohttp", "aiohttp", _error) from _error

from ._guard import VERIFIED_BY_KEY, ErrorResponse, Guard
from ._sansio.claims import M2MClaims
from ._sansio.errors import ConfigurationError, M2MGuardError
from ._sansio.request import RequestContext
from ._sansio.scopes import normalize_scopes
from ._types import TokenVerifier

__all__ = ["M2M", "VERIFIER", "get_claims", "m2m_middleware", "require_scopes"]

_RequestKey: Any = getattr(web, "RequestKey", None)  # aiohttp 3.14+; before, plain strings

#: ``request[M2M]``: the caller's ``M2MClaims`` (``None`` when anonymous). A
#: ``web.RequestKey`` named ``"m2m"`` (the string ``"m2m"`` before aiohttp 3.14).
M2M: Any = "m2m" if _RequestKey is None else _RequestKey("m2m", object)
_VERIFIED_BY: Any = VERIFIED_BY_KEY if _RequestKey is None else _RequestKey(VERIFIED_BY_KEY, object)
#: ``app[VERIFIER] = verifier``: the verifier of ``require_scopes`` without ``verifier=``.
VERIFIER = web.AppKey("m2m_guard.verifier", TokenVerifier)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HandlerT = TypeVar("HandlerT", bound=Callable[..., Awaitable[Any]])


def get_claims(request: web.Request) -> M2MClaims | None:
    """The verified caller of ``request`` (``request[M2M]``), or ``None``."""
    claims = request.get(M2M)
    return claims if isinstance(claims, M2MClaims) else None


def _answer(reply: ErrorResponse) -> web.Response:
    # aiohttp sets Content-Length itself
    headers = [(name, value) for name, value in reply.headers if name != "content-length"]
    return web.Response(body=reply.body, status=reply.status, headers=headers)


def _context(request: web.Request) -> RequestContext:
    """The ``RequestContext`` of an aiohttp request (for checks that look at it)."""
    raw_path, _, query = request.raw_path.partition("?")
    headers = tuple(
        (name.decode("latin-1").lower(), value.decode("latin-1"))
        for name, value in request.raw_headers
    )
    return RequestContext(
        method=request.method.upper(),
        scheme=request.scheme,
        host=request.host,
        path=request.path,
        raw_path=raw_path,
        query=query,
        headers=headers,
        client_cert=_client_cert(request),
    )


def _client_cert(request: web.Request) -> str | None:
    """The TLS client certificate (PEM) when aiohttp terminated TLS and got one."""
    transport = request.transport
    ssl_object = None if transport is None else transport.get_extra_info("ssl_object")
    der = None if ssl_object is None else ssl_object.getpeercert(binary_form=True)
    return ssl.DER_cert_to_PEM_cert(der) if der else None


async def _authenticate(
    guard: Guard, request: web.Request, verified_by: object = None
) -> web.Response | None:
    """Check ``request`` against ``guard``, keeping the claims; the refusal, else ``None``.

    ``verified_by``: the verifier of the claims already stored (behind the
    middleware), reused only when it is this guard's.
    """
    try:
        if verified_by is guard.verifier and guard.reuse(request[M2M], verified_by) is not None:
            return None  # the middleware's claims, stored already, scopes checked
        authorization = request.headers.getall(hdrs.AUTHORIZATION, ())
        context = _context(request) if guard.needs_request else None
        claims = await guard.check_async(authorization, request.path, context)
    except M2MGuardError as exc:
        return _answer(guard.error_response(exc))
    request[M2M] = claims
    request[_VERIFIED_BY] = guard.verifier
    return None


def m2m_middleware(
    verifier: TokenVerifier,
    *,
    exclude_paths: Iterable[str] = (),
    required_scopes: str | Iterable[str] = (),
    any_scopes: str | Iterable[str] = (),
    optional: bool = False,
    realm: str = "api",
) -> Any:
    """An aiohttp middleware requiring a valid token outside ``exclude_paths``.

    ``optional`` lets requests without a token through (``request[M2M]``
    ``None``); a token that is sent must still be valid.

    Raises:
        ConfigurationError: an invalid verifier or ``exclude_paths`` entry.
    """
    guard = Guard(
        verifier,
        required_scopes=required_scopes,
        any_scopes=any_scopes,
        exclude_paths=exclude_paths,
        optional=optional,
        realm=realm,
    )
    exclude = guard.exclude

    @web.middleware
    async def m2m_guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not (exclude.active and exclude.matches(request.path)):
            refusal = await _authenticate(guard, request)
            if refusal is not None:
                return refusal
        return await handler(request)

    return m2m_guard_middleware


def require_scopes(
    *scopes: str,
    any_of: bool = False,
    optional: bool = False,
    verifier: TokenVerifier | None = None,
    realm: str = "api",
) -> Callable[[HandlerT], HandlerT]:
    """Decorate a handler (or a ``web.View`` method) to require a token with ``scopes``.

    Without scopes, any valid token is enough; with ``any_of``, one of them
    is. With ``optional``, a request without a token reaches the handler
    with ``request[M2M]`` ``None``. The verifier is ``verifier``, else the
    one ``m2m_middleware`` used, else the application's ``app[VERIFIER]``.
    """
    if scopes and callable(scopes[0]):
        raise TypeError("use @require_scopes() with parentheses")
    wanted = normalize_scopes(scopes)
    required, any_scopes = ((), wanted) if any_of else (wanted, ())
    guards: dict[int, Guard] = {}  # one per verifier, built on its first request
    if verifier is not None:
        guards[id(verifier)] = Guard(
            verifier,
            required_scopes=required,
            any_scopes=any_scopes,
            optional=optional,
            realm=realm,
        )

    def guard_of(request: web.Request, stored: TokenVerifier | None) -> Guard:
        chosen = verifier if verifier is not None else stored
        if chosen is None:
            chosen = request.app.get(VERIFIER)
        if chosen is None:
            raise ConfigurationError(
                "require_scopes has no verifier: pass verifier=, set app[VERIFIER], "
                "or put m2m_middleware in front"
            )
        guard = guards.get(id(chosen))
        if guard is None or guard.verifier is not chosen:
            guard = guards[id(chosen)] = Guard(
                chosen,
                required_scopes=required,
                any_scopes=any_scopes,
                optional=optional,
                realm=realm,
            )
        return guard

    def decorator(handler: HandlerT) -> HandlerT:
        @functools.wraps(handler)
        async def wrapper(target: Any, *args: Any, **kwargs: Any) -> Any:
            # a plain handler gets the request; a web.View method, the view
            request: web.Request = target if isinstance(target, web.Request) else target.request
            stored = request.get(_VERIFIED_BY)  # the middleware's, when it ran
            refusal = await _authenticate(guard_of(request, stored), request, stored)
            if refusal is not None:
                return refusal
            return await handler(target, *args, **kwargs)

        return cast(HandlerT, wrapper)

    return decorator
