"""Django integration: a middleware, a view decorator and ``request.m2m``.

    # settings.py
    MIDDLEWARE = [..., "m2m_guard.django.M2MGuardMiddleware"]
    M2M_GUARD = {"STYTCH_PROJECT_ID": "project-test-…", "EXCLUDE_PATHS": ["/health"]}

    # views.py
    @require_scopes("read:orders")          # sync or async views
    def orders(request):
        return JsonResponse({"client_id": request.m2m.client_id})

``M2MGuardMiddleware`` is sync and async capable (Django's
``sync_and_async_middleware``): under ASGI it awaits the verifier and never
blocks the event loop on a key fetch. Every request outside
``EXCLUDE_PATHS`` needs a valid token (unless ``OPTIONAL``), and a refusal
is the RFC 6750 answer of every integration: status, ``WWW-Authenticate``,
JSON body, ``Retry-After`` on a 503. ``require_scopes`` works behind the
middleware (it reuses the claims the middleware verified with the same
verifier) and without it (it verifies by itself). Class-based views take it
through ``method_decorator(require_scopes(...), name="dispatch")``.

The claims are ``request.m2m`` (``None`` when anonymous), and, as the WSGI
middleware keeps them, ``request.META["m2m_guard.claims"]``: claims that
``m2m_guard.wsgi.M2MGuardMiddleware`` around Django's WSGI application
verified are reused as well. The path matched by ``EXCLUDE_PATHS`` is
``request.path_info`` (below the mount point).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from ._extras import missing_extra

try:
    import django  # noqa: F401 - first, so that a missing extra is named plainly
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction
    from django.http import HttpRequest, HttpResponse
    from django.utils.decorators import sync_and_async_middleware
except ImportError as _error:
    raise missing_extra("m2m_guard.django", "django", _error) from _error

from ._django_config import configured, startup
from ._guard import VERIFIED_BY_KEY, ErrorResponse, Guard
from ._sansio.claims import M2MClaims
from ._sansio.errors import M2MGuardError
from ._sansio.request import RequestContext
from ._sansio.scopes import normalize_scopes
from ._types import TokenVerifier
from ._user import MachineClient
from .wsgi import ENVIRON_KEY

__all__ = ["M2MGuardMiddleware", "M2MUser", "get_claims", "require_scopes"]

ViewT = TypeVar("ViewT", bound=Callable[..., Any])
Handler = Callable[[HttpRequest], Any]


class M2MUser(MachineClient):
    """A calling machine client as a Django user (not a model: nothing is stored).

    ``is_authenticated`` is true; it has no permissions, no staff or
    superuser flag. DRF's ``request.user`` of a verified request.
    """

    __slots__ = ()
    is_active = True
    is_anonymous = False
    is_authenticated = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    @property
    def username(self) -> str:
        return self.claims.client_id

    def get_username(self) -> str:
        return self.claims.client_id

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False

    def has_perms(self, perms: object, obj: object = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False

    def __str__(self) -> str:
        return self.claims.client_id


def get_claims(request: HttpRequest) -> M2MClaims | None:
    """The verified caller of ``request`` (``request.m2m``), or ``None``."""
    claims = getattr(request, "m2m", None)
    return claims if isinstance(claims, M2MClaims) else None


def answer(reply: ErrorResponse) -> HttpResponse:
    """The Django response of a ``Guard`` refusal, exactly as rendered."""
    return HttpResponse(reply.body, status=reply.status, headers=dict(reply.headers))


def _earlier(guard: Guard, request: HttpRequest) -> M2MClaims | None:
    meta = request.META
    claims = meta.get(ENVIRON_KEY)
    return None if claims is None else guard.reuse(claims, meta.get(VERIFIED_BY_KEY))


def _keep(guard: Guard, request: HttpRequest, claims: M2MClaims | None) -> None:
    request.m2m = claims
    request.META[ENVIRON_KEY] = claims
    request.META[VERIFIED_BY_KEY] = guard.verifier


def _authorization(request: HttpRequest) -> tuple[str, ...]:
    value = request.META.get("HTTP_AUTHORIZATION")
    return () if value is None else (value,)


def _context(guard: Guard, request: HttpRequest) -> RequestContext | None:
    # Django's META is a WSGI environ under ASGI too (ASGIRequest builds one)
    return RequestContext.from_wsgi(request.META) if guard.needs_request else None


def verify(guard: Guard, request: HttpRequest) -> M2MClaims | None:
    """The claims of ``request`` (``None`` if anonymous), kept on it as ``request.m2m``.

    Raises:
        M2MGuardError: render it with ``guard.error_response``.
    """
    claims = _earlier(guard, request)
    if claims is None:
        claims = guard.check(_authorization(request), request.path_info, _context(guard, request))
    _keep(guard, request, claims)
    return claims


async def verify_async(guard: Guard, request: HttpRequest) -> M2MClaims | None:
    """``verify`` without blocking the event loop on a key fetch."""
    claims = _earlier(guard, request)
    if claims is None:
        claims = await guard.check_async(
            _authorization(request), request.path_info, _context(guard, request)
        )
    _keep(guard, request, claims)
    return claims


def authenticate(guard: Guard, request: HttpRequest) -> HttpResponse | None:
    """Check ``request`` against ``guard``; the refusal to send, else ``None``."""
    try:
        verify(guard, request)
    except M2MGuardError as exc:
        return answer(guard.error_response(exc))
    return None


async def authenticate_async(guard: Guard, request: HttpRequest) -> HttpResponse | None:
    """``authenticate`` without blocking the event loop on a key fetch."""
    try:
        await verify_async(guard, request)
    except M2MGuardError as exc:
        return answer(guard.error_response(exc))
    return None


def _middleware(get_response: Handler) -> Handler:
    """Require a valid token for every request outside ``EXCLUDE_PATHS``.

    Configured by ``settings.M2M_GUARD`` (read here, at start-up: a bad
    setting is a ``ConfigurationError`` before the first request).
    """
    config = configured()
    startup(config)
    guard = config.guard
    exclude = guard.exclude

    if iscoroutinefunction(get_response):

        async def middleware_async(request: HttpRequest) -> Any:
            if exclude.active and exclude.matches(request.path_info):
                return await get_response(request)
            refusal = await authenticate_async(guard, request)
            return refusal if refusal is not None else await get_response(request)

        return markcoroutinefunction(middleware_async)

    def middleware(request: HttpRequest) -> Any:
        if exclude.active and exclude.matches(request.path_info):
            return get_response(request)
        refusal = authenticate(guard, request)
        return refusal if refusal is not None else get_response(request)

    return middleware


#: ``"m2m_guard.django.M2MGuardMiddleware"`` in ``settings.MIDDLEWARE``.
M2MGuardMiddleware: Callable[[Handler], Handler] = sync_and_async_middleware(_middleware)


class RouteGuard:
    """A decorator's ``Guard``, built on the first request from the settings
    (again after ``override_settings``), or from the verifier it was given."""

    __slots__ = ("_built", "_for", "any_of", "optional", "required", "verifier")

    def __init__(
        self,
        required: tuple[str, ...],
        any_of: tuple[str, ...],
        optional: bool,
        verifier: TokenVerifier | None,
    ) -> None:
        self.required, self.any_of, self.optional = required, any_of, optional
        self.verifier = verifier
        self._built: Guard | None = None
        self._for: object = None
        if verifier is not None:
            self._built = Guard(verifier, required_scopes=required, any_scopes=any_of,
                                optional=optional)  # fmt: skip

    def __call__(self) -> Guard:
        if self.verifier is not None:
            return cast(Guard, self._built)
        config = configured()
        if self._for is not config:
            self._built = config.route_guard(self.required, self.any_of, self.optional)
            self._for = config
        return cast(Guard, self._built)


def _dispatches_async(view: object) -> bool:
    """Whether ``view`` is ``method_decorator``'s ``dispatch`` of an async ``View``."""
    bound = getattr(view, "func", None)  # method_decorator hands a partial of the bound method
    return bool(getattr(getattr(bound, "__self__", None), "view_is_async", False))


async def _awaitable(response: HttpResponse) -> HttpResponse:
    return response


def require_scopes(
    *scopes: str,
    any_of: bool = False,
    optional: bool = False,
    verifier: TokenVerifier | None = None,
) -> Callable[[ViewT], ViewT]:
    """Decorate a view (sync or async) to require a token with ``scopes``.

    Without scopes, any valid token is enough; with ``any_of``, one of them
    is. With ``optional``, a request without a token reaches the view with
    ``request.m2m`` ``None``; a token that is sent must pass. ``verifier``
    replaces the one of ``settings.M2M_GUARD`` for this view.
    """
    if scopes and callable(scopes[0]):
        raise TypeError("use @require_scopes() with parentheses")
    wanted = normalize_scopes(scopes)
    route = (
        RouteGuard((), wanted, optional, verifier)
        if any_of
        else RouteGuard(wanted, (), optional, verifier)
    )

    def decorator(view: ViewT) -> ViewT:
        if iscoroutinefunction(view):  # decided once, not per request

            @functools.wraps(view)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                refusal = await authenticate_async(route(), request)
                if refusal is not None:
                    return refusal
                return await cast(Callable[..., Awaitable[Any]], view)(request, *args, **kwargs)

            return cast(ViewT, async_wrapper)

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            refusal = authenticate(route(), request)
            if refusal is None:
                return view(request, *args, **kwargs)
            # dispatch() of an async class view is sync but its result is awaited
            return _awaitable(refusal) if _dispatches_async(view) else refusal

        return cast(ViewT, wrapper)

    return decorator
