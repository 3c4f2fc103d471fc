"""A Django project for in-process tests: settings configured once per process,
URLs and ``settings.M2M_GUARD`` per application, served through Django's own
WSGI and ASGI handlers (werkzeug's test client and httpx's ASGI transport)."""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import django
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings

__all__ = ["DjangoApp", "configure"]


def configure() -> None:
    """Configure Django for the tests (a project without a database), once."""
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="tests-only",
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF="tests.support.django_project",
            MIDDLEWARE=[],
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
            DATABASES={},
            USE_TZ=True,
            LOGGING_CONFIG=None,  # leave the test run's logging alone
            REST_FRAMEWORK={"UNAUTHENTICATED_USER": None},
        )
        django.setup()


urlpatterns: list[Any] = []


class DjangoApp:
    """One application: its URL patterns, middleware and ``M2M_GUARD``.

    Every call runs under ``override_settings`` of those three, so the
    integration reads them as in a project of its own.
    """

    def __init__(
        self,
        patterns: Sequence[Any],
        *,
        middleware: Sequence[str] = (),
        m2m_guard: Mapping[str, Any] | None = None,
    ) -> None:
        configure()
        self.urls = types.ModuleType("django_app_urls")
        self.urls.urlpatterns = list(patterns)  # type: ignore[attr-defined]
        self.overrides: dict[str, Any] = {
            "ROOT_URLCONF": self.urls,
            "MIDDLEWARE": list(middleware),
        }
        if m2m_guard is not None:
            self.overrides["M2M_GUARD"] = dict(m2m_guard)

    @contextmanager
    def active(self) -> Iterator[None]:
        """This application's settings in force."""
        with override_settings(**self.overrides):
            yield

    def wsgi(self) -> WSGIHandler:
        """Django's WSGI handler (its middleware chain built now)."""
        with self.active():
            return WSGIHandler()

    def asgi(self) -> ASGIHandler:
        """Django's ASGI handler (its middleware chain built now)."""
        with self.active():
            return ASGIHandler()
