"""WSGI middleware: guard any WSGI application (Flask, Django, Falcon …).

    from m2m_guard.wsgi import M2MGuardMiddleware, get_claims

    app = M2MGuardMiddleware(app, verifier=Verifier.from_env(), exclude_paths=["/health"])

    def whoami(environ, start_response):
        claims = get_claims(environ)        # M2MClaims, or None when anonymous

A request outside ``exclude_paths`` must carry a valid bearer token; a
rejected request never reaches the application and is answered with the
``Guard``'s RFC 6750 response. The verified claims are kept in the environ
under ``"m2m_guard.claims"``, as werkzeug's ``ProxyFix`` keeps its data, and
the verifier that produced them under ``"m2m_guard.verified_by"``. A route
guard behind the middleware (``m2m_guard.flask``) reuses those claims only
when its verifier is that same object; with a verifier of its own it
verifies the token again and answers with its own 401/403.
``exclude_paths`` are matched against ``PATH_INFO``: the path below the
application's mount point (``SCRIPT_NAME``). Apache's mod_wsgi passes the
``Authorization`` header on only with ``WSGIPassAuthorization On``.

WSGI hands the application one ``HTTP_AUTHORIZATION`` string. Servers join
repeated headers with a comma (werkzeug's server with ``","``, its test
client and waitress with ``", "``), so two bearer credentials arrive as
``"Bearer a, Bearer b"`` and are answered 400 ``invalid_request``
(RFC 6750 §3.1) like everywhere else. Only a non-Bearer credential sent
first (``Basic …`` then ``Bearer …``) reads differently than under ASGI: as
a request without a bearer token (401, or anonymous when ``optional``),
because a joined value cannot be told from one header.
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING

from ._guard import VERIFIED_BY_KEY, ErrorResponse, Guard
from ._resource import ProtectedResource
from ._sansio.checks import Check
from ._sansio.claims import M2MClaims
from ._sansio.errors import M2MGuardError
from ._sansio.request import RequestContext
from ._types import TokenVerifier

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["ENVIRON_KEY", "M2MGuardMiddleware", "get_claims"]

#: Where the middleware stores the caller's ``M2MClaims`` (``None`` if anonymous).
ENVIRON_KEY = "m2m_guard.claims"


def get_claims(environ: WSGIEnvironment) -> M2MClaims | None:
    """The verified caller of this request, or ``None``.

    ``None`` on an excluded path, for an anonymous request in ``optional``
    mode, and for a request that did not pass through the middleware.
    """
    claims = environ.get(ENVIRON_KEY)
    return claims if isinstance(claims, M2MClaims) else None


class M2MGuardMiddleware:
    """Requires a valid M2M access token for every request to ``app``.

    Args:
        app: the WSGI application to protect.
        verifier: checks the tokens; one per application (it holds the cache).
        exclude_paths: public paths; ``"/public/*"`` is a prefix, any other
            entry an exact path.
        required_scopes: every one of these must be granted.
        any_scopes: at least one of these must be granted.
        optional: let requests without a token through (``get_claims`` is
            ``None``); a token that is sent must still be valid.
        realm: the ``realm`` of the ``WWW-Authenticate`` challenge.
        resource_metadata: RFC 9728 metadata to serve at its well-known path
            (unauthenticated) and to name in every challenge.
        audience, issuer: accept only these (a subset of the verifier's:
            anything else is a ``ConfigurationError`` here).
        max_token_age: refuse tokens older than this (at most the verifier's).
        checks: custom checks ``check(claims, request)`` for these requests
            (README, "Custom checks and per-route rules").
        token_header / token_cookie: read the token from this header (the
            bare token or ``Bearer <token>``) or this cookie instead of
            ``Authorization`` (one place only; never the query string).

    Raises:
        ConfigurationError: an invalid verifier or ``exclude_paths`` entry, a
            rule wider than the verifier's, an ``async def`` check.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        verifier: TokenVerifier,
        exclude_paths: Iterable[str] = (),
        required_scopes: str | Iterable[str] = (),
        any_scopes: str | Iterable[str] = (),
        optional: bool = False,
        realm: str = "api",
        resource_metadata: ProtectedResource | None = None,
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        max_token_age: float | None = None,
        checks: Iterable[Check] | None = None,
        token_header: str | None = None,
        token_cookie: str | None = None,
    ) -> None:
        self.app = app
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
        self.guard.require_sync("the WSGI M2MGuardMiddleware")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        guard = self.guard
        if guard.resource is not None:
            metadata = guard.metadata_response(environ["REQUEST_METHOD"], _path(environ))
            if metadata is not None:
                return _respond(start_response, metadata)
        path = _path(environ)
        exclude = guard.exclude
        if exclude.active and exclude.matches(path):
            return self.app(environ, start_response)
        authorization = environ.get("HTTP_AUTHORIZATION")
        # A RequestContext only for rules that look at the request.
        request = RequestContext.from_wsgi(environ) if guard.needs_request else None
        try:
            claims = guard.check(() if authorization is None else (authorization,), path, request)
        except M2MGuardError as exc:
            return _respond(start_response, guard.error_response(exc))
        environ[ENVIRON_KEY] = claims
        environ[VERIFIED_BY_KEY] = guard.verifier
        return self.app(environ, start_response)


def _respond(start_response: StartResponse, answer: ErrorResponse) -> list[bytes]:
    start_response(f"{answer.status} {HTTPStatus(answer.status).phrase}", list(answer.headers))
    return [answer.body]


def _path(environ: WSGIEnvironment) -> str:
    # PEP 3333 carries the percent-decoded path as latin-1 text; decode it as
    # UTF-8 the way werkzeug's ``request.path`` does, never failing on odd bytes.
    # An ASCII path (nearly all) is already its own text: no copy made.
    raw: str = environ.get("PATH_INFO") or ""
    return raw if raw.isascii() else raw.encode("latin-1", "replace").decode("utf-8", "replace")
