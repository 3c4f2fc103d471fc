"""Harnesses for the Django integration (see _harness.py): one through Django's
ASGI handler, one through its WSGI handler (werkzeug's test client, which
joins repeated headers with ", " as WSGI servers do)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.support.django_project import DjangoApp, configure

configure()

from django.http import HttpRequest, JsonResponse  # noqa: E402 - after configure()
from django.urls import path  # noqa: E402

from m2m_guard import Verifier  # noqa: E402
from m2m_guard.django import get_claims, require_scopes  # noqa: E402
from tests.integrations._harness import Reply  # noqa: E402
from tests.integrations._harness_asgi import identity, reply, request  # noqa: E402
from tests.integrations._harness_wsgi import call  # noqa: E402

MIDDLEWARE = "m2m_guard.django.M2MGuardMiddleware"


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


class DjangoMiddlewareHarness:
    """ASGI: ``M2MGuardMiddleware`` (``/health`` excluded, ``OPTIONAL``) and an
    async view with ``require_scopes``, which reuses the middleware's claims."""

    name = "django-middleware-asgi"

    def build(
        self, verifier: Verifier, *, required_scopes: Sequence[str] = (), optional: bool = False
    ) -> None:
        @require_scopes(*required_scopes, optional=optional)
        async def whoami(request: HttpRequest) -> JsonResponse:
            return JsonResponse(identity(get_claims(request)))

        app = DjangoApp(
            [path("health", health), path("whoami", whoami)],
            middleware=[MIDDLEWARE],
            m2m_guard={"VERIFIER": verifier, "EXCLUDE_PATHS": ["/health"], "OPTIONAL": optional},
        )
        self.app = app
        self.handler = app.asgi()

    def request(self, path: str, headers: Sequence[tuple[str, str]] = ()) -> Reply:
        with self.app.active():
            return reply(request(self.handler, path, headers))


class DjangoDecoratorHarness:
    """WSGI, no middleware: a sync view with ``require_scopes`` verifies by itself."""

    name = "django-decorator-wsgi"

    def build(
        self, verifier: Verifier, *, required_scopes: Sequence[str] = (), optional: bool = False
    ) -> None:
        @require_scopes(*required_scopes, optional=optional)
        def whoami(request: HttpRequest) -> JsonResponse:
            body: dict[str, Any] = identity(request.m2m)  # type: ignore[attr-defined]
            return JsonResponse(body)

        app = DjangoApp(
            [path("health", health), path("whoami", whoami)], m2m_guard={"VERIFIER": verifier}
        )
        self.app = app
        self.handler = app.wsgi()

    def request(self, path: str, headers: Sequence[tuple[str, str]] = ()) -> Reply:
        with self.app.active():
            return call(self.handler, path, headers)
