"""Settings of the Django REST framework example (no database).

The verifier's keys come from the ``M2M_GUARD_*`` environment variables,
because ``M2M_GUARD`` names none (see examples/django_app/settings.py).
"""

from __future__ import annotations

SECRET_KEY = "example-only-not-secret"  # noqa: S105 - signs nothing here (no sessions)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "drf_app.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
DATABASES: dict[str, object] = {}
USE_TZ = True
MIDDLEWARE: list[str] = []

M2M_GUARD: dict[str, object] = {}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["m2m_guard.drf.M2MAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
