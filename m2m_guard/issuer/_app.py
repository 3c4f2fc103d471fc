"""The issuer's ASGI application factory."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ._dpop import ProofChecker
from ._errors import IssuerConfigError, IssuerError
from ._http import error_response
from ._local import LocalIssuer
from ._oauth import PublicRoutes
from ._routes import ManagementRoutes
from ._secrets import ScryptParams
from ._validate import issuer_url_value

__all__ = ["DEFAULT_JWKS_MAX_AGE", "DEFAULT_MAX_BODY_BYTES", "create_app"]

DEFAULT_JWKS_MAX_AGE = 300
DEFAULT_MAX_BODY_BYTES = 64 * 1024

_HTTP_ERROR_TYPES = {404: "route_not_found", 405: "method_not_allowed"}


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Routing errors (404, 405) in Stytch's error shape."""
    assert isinstance(exc, HTTPException)
    error = IssuerError(
        exc.detail, error_type=_HTTP_ERROR_TYPES.get(exc.status_code, "bad_request")
    )
    error.status_code = exc.status_code
    # OAuth clients read RFC 6749's error fields on the token route, whatever failed.
    response = error_response(error, oauth=request.url.path.endswith("/oauth2/token"))
    response.headers.update(exc.headers or {})
    return response


class _OneTrailingSlash:
    """Serve ``/path/`` as ``/path``: Stytch's routes answer both.

    Starlette would otherwise answer a 307 redirect with an empty body, which
    SDKs do not follow for POST and which drops the body on the way.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = dict(scope)
            scope["path"] = path[:-1]
            raw: Any = scope.get("raw_path")
            if isinstance(raw, bytes) and raw.endswith(b"/"):
                scope["raw_path"] = raw[:-1]
        await self.app(scope, receive, send)


def create_app(
    *,
    db_path: str | os.PathLike[str] = ":memory:",
    project_id: str | None = None,
    project_secret: str | None = None,
    base_url: str | None = None,
    issuer: LocalIssuer | None = None,
    scrypt: ScryptParams | None = None,
    clock: Callable[[], float] = time.time,
    jwks_max_age: int = DEFAULT_JWKS_MAX_AGE,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    dpop_nonces: bool = False,
    mtls_cert_header: str | None = None,
) -> Starlette:
    """A Starlette app serving Stytch's M2M API for one project.

    Pass ``issuer`` to serve an existing :class:`LocalIssuer` (which then
    stays open after the app shuts down), or the storage arguments to have
    the app open its own, closed at lifespan shutdown. ``base_url`` is the
    public URL of the discovery documents' endpoints; by default the issuer's
    ``issuer_url``, or else the address the server is bound to (never the
    request's ``Host`` header). The issuer is ``app.state.issuer``.

    The token endpoint honours DPoP proofs (RFC 9449 §5); ``dpop_nonces``
    makes it require nonces it hands out (§8). Tokens are bound to the
    caller's TLS client certificate (RFC 8705) when the server passes it in
    the ASGI ``tls`` extension, or, with ``mtls_cert_header`` (e.g.
    ``"X-Forwarded-Client-Cert"``), from that header: only behind a proxy
    that terminates mutual TLS and strips the header from clients.
    """
    if jwks_max_age < 0 or max_body_bytes < 1:
        raise IssuerConfigError("jwks_max_age must be >= 0 and max_body_bytes >= 1")
    if base_url is not None:
        base_url = issuer_url_value(base_url)
    owned = issuer is None
    if issuer is None:
        issuer = LocalIssuer(
            db_path,
            project_id=project_id,
            project_secret=project_secret,
            scrypt=scrypt,
            clock=clock,
        )
    elif (project_id, project_secret, scrypt) != (None, None, None) or db_path != ":memory:":
        raise IssuerConfigError("pass either an issuer or its storage settings, not both")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if owned:
            issuer.close()

    public = PublicRoutes(
        issuer,
        base_url=base_url,
        jwks_max_age=jwks_max_age,
        max_body_bytes=max_body_bytes,
        proofs=ProofChecker(clock=issuer.clock, nonces=dpop_nonces),
        mtls_cert_header=mtls_cert_header,
    )
    management = ManagementRoutes(issuer, max_body_bytes=max_body_bytes)
    app = Starlette(
        routes=[*public.routes(), *management.routes()],
        exception_handlers={HTTPException: _http_exception},
        middleware=[Middleware(_OneTrailingSlash)],
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.state.issuer = issuer
    return app
