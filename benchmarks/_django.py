"""Django and DRF hello worlds, bare and protected, called through Django's
WSGI handler in process (see ``_apps``: the same request for both).

- ``/bare``: a plain Django view, no middleware; against ``/scoped`` behind
  ``M2MGuardMiddleware`` with ``require_scopes(scope)`` (the claims reused).
- ``/drf_open``: an ``APIView`` with ``AllowAny`` and no authentication;
  against ``/drf_scoped`` with ``M2MAuthentication`` and ``HasScopes(scope)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.test import override_settings
from django.urls import path

from benchmarks._apps import HELLO, _wsgi_case
from benchmarks._timing import Case
from benchmarks._world import SCOPES
from m2m_guard import Verifier

__all__ = ["django_cases"]

MIDDLEWARE = "m2m_guard.django.M2MGuardMiddleware"


def _hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse(HELLO)


def _patterns() -> list[Any]:
    from rest_framework.permissions import AllowAny
    from rest_framework.views import APIView

    from m2m_guard.django import require_scopes
    from m2m_guard.drf import HasScopes, M2MAuthentication

    class Open(APIView):
        authentication_classes = ()
        permission_classes = (AllowAny,)

        def get(self, request: Any) -> HttpResponse:
            return HttpResponse(HELLO)

    class Scoped(Open):
        authentication_classes = (M2MAuthentication,)
        permission_classes = (HasScopes(SCOPES[0]),)

    return [
        path("bare", _hello),
        path("scoped", require_scopes(SCOPES[0])(_hello)),
        path("drf_open", Open.as_view()),
        path("drf_scoped", Scoped.as_view()),
    ]


urlpatterns: list[Any] = []


@contextmanager
def django_cases(verifier: Verifier, token: str) -> Iterator[list[Case]]:
    """The Django and DRF cases; ``verifier`` should already know ``token``."""
    if not settings.configured:
        settings.configure(
            SECRET_KEY="benchmarks-only",  # noqa: S106 - signs nothing
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
            DATABASES={},
            LOGGING_CONFIG=None,
        )
        django.setup()
    urlpatterns[:] = _patterns()
    project = {
        "ROOT_URLCONF": __name__,
        "DEBUG": False,
        "ALLOWED_HOSTS": ["*"],
        "MIDDLEWARE": [],
        "M2M_GUARD": {"VERIFIER": verifier},
        "REST_FRAMEWORK": {"UNAUTHENTICATED_USER": None},
    }
    with override_settings(**project):
        bare = WSGIHandler()
        with override_settings(MIDDLEWARE=[MIDDLEWARE]):
            guarded = WSGIHandler()
        yield [
            _wsgi_case("django_bare", "Django view, bare", bare, token, "/bare"),
            _wsgi_case(
                "django_scoped",
                "Django + M2MGuardMiddleware + require_scopes(scope)",
                guarded,
                token,
                "/scoped",
            ),
            _wsgi_case("drf_open", "DRF APIView, AllowAny", bare, token, "/drf_open"),
            _wsgi_case(
                "drf_scoped",
                "DRF APIView, M2MAuthentication + HasScopes(scope)",
                bare,
                token,
                "/drf_scoped",
            ),
        ]
