"""The Django example's routes.

Routes:
    GET  /health     public (excluded in settings.M2M_GUARD)
    GET  /whoami     any valid access token
    GET  /settings   requires the scope read:settings
    POST /settings   requires the scope write:settings
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils.decorators import method_decorator
from django.views import View

from m2m_guard.django import get_claims, require_scopes

STORED: dict[str, Any] = {"theme": "dark"}


def client_info(request: HttpRequest) -> dict[str, Any]:
    """What the API tells a caller about itself."""
    claims = get_claims(request)
    assert claims is not None  # the middleware let only verified requests in
    return {
        "client_id": claims.client_id,
        "scopes": list(claims.scopes),
        "custom_claims": dict(claims.custom_claims),
    }


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


async def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse(client_info(request))


class Settings(View):
    @method_decorator(require_scopes("read:settings"))
    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({**client_info(request), "settings": STORED})

    @method_decorator(require_scopes("write:settings"))
    def post(self, request: HttpRequest) -> JsonResponse:
        try:
            changes = json.loads(request.body or b"{}")
        except ValueError:
            changes = None
        if isinstance(changes, dict):
            STORED.update(changes)
        return JsonResponse({**client_info(request), "settings": STORED})


urlpatterns = [
    path("health", health),
    path("whoami", whoami),
    path("settings", Settings.as_view()),
]
