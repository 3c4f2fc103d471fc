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


def drf_whoami(required_scopes: Sequence[str], optional: bool) -> Any:
    """The /whoami ``APIView``: ``M2MAuthentication``, and ``HasScopes`` unless ``optional``."""
    from rest_framework.renderers import JSONRenderer
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from m2m_guard.drf import HasScopes, M2MAuthentication

    class WhoAmI(APIView):
        authentication_classes = (M2MAuthentication,)
        permission_classes = () if optional else (HasScopes(*required_scopes),)
        renderer_classes = (JSONRenderer,)

        def get(self, request: Request) -> Response:
            return Response(identity(request.auth))

    return WhoAmI.as_view()


class DRFHarness:
    """WSGI: a DRF ``APIView`` with ``M2MAuthentication`` and ``HasScopes``."""

    name = "drf-wsgi"

    def build(
        self, verifier: Verifier, *, required_scopes: Sequence[str] = (), optional: bool = False
    ) -> None:
        patterns = [path("health", health), path("whoami", drf_whoami(required_scopes, optional))]
        self.app = DjangoApp(patterns, m2m_guard={"VERIFIER": verifier})
        self.handler = self.app.wsgi()

    def request(self, path: str, headers: Sequence[tuple[str, str]] = ()) -> Reply:
        with self.app.active():
            return call(self.handler, path, headers)


class DRFBehindMiddlewareHarness(DjangoMiddlewareHarness):
    """ASGI: the same ``APIView`` behind ``M2MGuardMiddleware`` (``OPTIONAL``, so the
    permissions decide), which reuses the middleware's claims."""

    name = "drf-middleware-asgi"

    def build(
        self, verifier: Verifier, *, required_scopes: Sequence[str] = (), optional: bool = False
    ) -> None:
        patterns = [path("health", health), path("whoami", drf_whoami(required_scopes, optional))]
        self.app = DjangoApp(
            patterns,
            middleware=[MIDDLEWARE],
            m2m_guard={"VERIFIER": verifier, "EXCLUDE_PATHS": ["/health"], "OPTIONAL": True},
        )
        self.handler = self.app.asgi()
