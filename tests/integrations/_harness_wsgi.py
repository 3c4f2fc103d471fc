"""Harnesses for the WSGI middleware and the Flask extension (see harness.py).

Requests go through werkzeug's test client, which builds the environ as a
WSGI server does: repeated headers reach the application joined with ", ".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.test import Client

from m2m_guard import M2MClaims, Verifier
from m2m_guard.flask import M2MGuard, get_current_client
from m2m_guard.wsgi import M2MGuardMiddleware, get_claims
from tests.integrations._harness import Reply

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def whoami(claims: M2MClaims | None) -> dict[str, Any]:
    """The body of ``GET /whoami``."""
    if claims is None:
        return {"client_id": None}
    return {
        "client_id": claims.client_id,
        "scopes": list(claims.scopes),
        "custom_claims": dict(claims.custom_claims),
    }


def plain_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """A WSGI application without a framework: /health and /whoami."""
    path = environ["PATH_INFO"]
    if path == "/health":
        status, body = "200 OK", {"status": "ok"}
    elif path == "/whoami":
        status, body = "200 OK", whoami(get_claims(environ))
    else:
        status, body = "404 Not Found", {"error": "not_found"}
    start_response(status, [("content-type", "application/json")])
    return [json.dumps(body).encode()]


def call(app: WSGIApplication, path: str, headers: Sequence[tuple[str, str]]) -> Reply:
    """``GET path`` through werkzeug's test client (its cookie jar off, so a
    ``Cookie`` header is sent as given)."""
    response = Client(app, use_cookies=False).get(path, headers=list(headers))
    return Reply(
        status=response.status_code,
        headers={name.lower(): value for name, value in response.headers.items()},
        json=response.get_json(force=True, silent=True),
    )


class WSGIMiddlewareHarness:
    """A plain WSGI application wrapped in ``M2MGuardMiddleware``."""

    name = "wsgi-middleware"

    def build(
        self,
        verifier: Verifier,
        *,
        required_scopes: Sequence[str] = (),
        optional: bool = False,
        route: Mapping[str, Any] | None = None,
    ) -> None:
        self.app = M2MGuardMiddleware(
            plain_app,
            verifier=verifier,
            exclude_paths=["/health"],
            required_scopes=required_scopes,
            optional=optional,
            **(route or {}),
        )

    def request(self, path: str, headers: Sequence[tuple[str, str]] = ()) -> Reply:
        return call(self.app, path, headers)


class FlaskExtensionHarness:
    """A Flask application with ``M2MGuard`` and ``require_scopes`` on /whoami."""

    name = "flask-extension"

    def build(
        self,
        verifier: Verifier,
        *,
        required_scopes: Sequence[str] = (),
        optional: bool = False,
        route: Mapping[str, Any] | None = None,
    ) -> None:
        app = Flask(__name__)
        guard = M2MGuard(app, verifier=verifier)

        @app.get("/health")
        def health() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/whoami")
        @guard.require_scopes(*required_scopes, optional=optional, **(route or {}))
        def whoami_view() -> dict[str, Any]:
            return whoami(get_current_client())

        self.app = app

    def request(self, path: str, headers: Sequence[tuple[str, str]] = ()) -> Reply:
        return call(self.app, path, headers)
