"""Settings of the Django example: a JSON API for machine clients, no database.

The verifier's keys come from the ``M2M_GUARD_*`` environment variables
(``M2M_GUARD_STYTCH_PROJECT_ID`` …) because ``M2M_GUARD`` below names none;
put them here instead (``"STYTCH_PROJECT_ID": "project-test-…"``, the same
names without the prefix) to configure it in settings.
"""

from __future__ import annotations

SECRET_KEY = "example-only-not-secret"  # noqa: S105 - signs nothing here (no sessions)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "django_app.urls"
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, object] = {}
USE_TZ = True

MIDDLEWARE = [
    # every request needs a valid M2M token, except EXCLUDE_PATHS
    "m2m_guard.django.M2MGuardMiddleware",
]
M2M_GUARD = {
    "EXCLUDE_PATHS": ["/health"],
}
