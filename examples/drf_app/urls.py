"""The DRF example's routes.

Routes:
    GET  /health     public (AllowAny)
    GET  /whoami     any valid access token (the default IsAuthenticated)
    GET  /settings   requires the scope read:settings
    POST /settings   requires the scope write:settings
"""

from __future__ import annotations

from typing import Any

from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from m2m_guard.drf import HasScopes

STORED: dict[str, Any] = {"theme": "dark"}


def client_info(request: Request) -> dict[str, Any]:
    """What the API tells a caller about itself (``request.auth`` is the claims)."""
    return {
        "client_id": request.user.client_id,
        "scopes": list(request.auth.scopes),
        "custom_claims": dict(request.auth.custom_claims),
    }


@api_view(["GET"])
@permission_classes([AllowAny])
def health(request: Request) -> Response:
    return Response({"status": "ok"})


@api_view(["GET"])
def whoami(request: Request) -> Response:
    return Response(client_info(request))


class Settings(APIView):
    def get_permissions(self) -> list[Any]:
        scope = "read:settings" if self.request.method == "GET" else "write:settings"
        return [HasScopes(scope)()]

    def get(self, request: Request) -> Response:
        return Response({**client_info(request), "settings": STORED})

    def post(self, request: Request) -> Response:
        if isinstance(request.data, dict):
            STORED.update(request.data)
        return Response({**client_info(request), "settings": STORED})


urlpatterns = [
    path("health", health),
    path("whoami", whoami),
    path("settings", Settings.as_view()),
]
