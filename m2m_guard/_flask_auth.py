"""One Flask request checked by one guard: the claims on ``flask.g`` (with
the verifier that produced them), the refusal as ``M2MGuardHTTPException``,
and ``current_client`` (re-exported by ``m2m_guard.flask``)."""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context, request
from werkzeug.exceptions import HTTPException
from werkzeug.local import LocalProxy
from werkzeug.wrappers import Response

from ._guard import VERIFIED_BY_KEY, ErrorResponse, Guard
from ._sansio.claims import M2MClaims
from ._sansio.errors import M2MGuardError
from ._sansio.request import RequestContext
from .wsgi import ENVIRON_KEY, get_claims

__all__ = ["M2MGuardHTTPException", "authenticate", "current_client", "get_current_client"]

_G_NAME = "_m2m_guard_client"
#: On ``flask.g`` beside the claims: the verifier that produced them.
_G_VERIFIER = "_m2m_guard_verified_by"


class M2MGuardHTTPException(HTTPException):
    """A rejected request, answered with ``response`` exactly as built.

    Attributes:
        error: the ``M2MGuardError`` that caused the rejection.
    """

    def __init__(self, error: M2MGuardError, reply: ErrorResponse) -> None:
        super().__init__(error.description, Response(reply.body, reply.status, reply.headers))
        self.error = error

    def __str__(self) -> str:
        return f"{self.error.status_code} {type(self.error).__name__}: {self.error.description}"


def authenticate(guard: Guard) -> None:
    """Check the current request with ``guard``; the claims go to ``flask.g``.

    Raises:
        M2MGuardHTTPException: the request is refused (its response built).
    """
    # One proxy lookup each: werkzeug's LocalProxy costs on every access.
    current = request._get_current_object()  # type: ignore[attr-defined]
    path: str = current.path
    exclude = guard.exclude
    if exclude.active and exclude.matches(path):
        return
    environ = current.environ
    stash: dict[str, Any] = g._get_current_object().__dict__
    try:
        # Claims this very verifier produced earlier in the request (a
        # blueprint guard, then the view's; the WSGI middleware): reused.
        earlier = stash.get(_G_NAME)
        if earlier is not None and guard.reuse(earlier, stash.get(_G_VERIFIER)) is not None:
            return
        claims = environ.get(ENVIRON_KEY)
        if claims is not None:
            claims = guard.reuse(get_claims(environ), environ.get(VERIFIED_BY_KEY))
        if claims is None:
            authorization = environ.get("HTTP_AUTHORIZATION")
            context = RequestContext.from_wsgi(environ) if guard.needs_request else None
            values = () if authorization is None else (authorization,)
            claims = guard.check(values, path, context)
    except M2MGuardError as exc:
        raise M2MGuardHTTPException(exc, guard.error_response(exc)) from exc
    stash[_G_NAME] = claims
    stash[_G_VERIFIER] = guard.verifier


def get_current_client() -> M2MClaims | None:
    """The verified caller of the current request, or ``None`` if anonymous.

    The claims of the last guard that checked the request; on a view no
    guard checked, those ``m2m_guard.wsgi.M2MGuardMiddleware`` stored when
    it wraps ``app.wsgi_app``.
    """
    if _G_NAME in g:  # a guard decided, also when it let an anonymous request in
        claims: M2MClaims | None = g.get(_G_NAME)
        return claims
    return get_claims(request.environ) if has_request_context() else None


#: A proxy to ``get_current_client()``. When anonymous it is falsy and
#: ``== None``, but never ``is None`` (it is a proxy): test ``if not current_client``.
current_client: M2MClaims = LocalProxy(get_current_client)  # type: ignore[assignment]
