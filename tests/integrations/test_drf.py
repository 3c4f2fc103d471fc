"""The DRF integration: DRF's own permissions, composition, objects, subclasses, schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from tests.support.django_project import DjangoApp, configure

configure()

from django.test import override_settings  # noqa: E402 - after configure()
from django.urls import path  # noqa: E402
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated  # noqa: E402
from rest_framework.renderers import JSONRenderer  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from m2m_guard import M2MClaims, Verifier  # noqa: E402
from m2m_guard.django import M2MUser  # noqa: E402
from m2m_guard.drf import HasAnyScope, HasScopes, M2MAuthentication  # noqa: E402
from tests.integrations._harness import Reply  # noqa: E402
from tests.integrations._harness_asgi import bearer  # noqa: E402
from tests.integrations._harness_wsgi import call  # noqa: E402
from tests.support.clock import FakeClock  # noqa: E402
from tests.support.keys import (  # noqa: E402
    CLIENT_ID,
    ISSUER,
    PROJECT_ID,
    SigningKey,
    jwks_of,
    stytch_claims,
)


def view_of(permissions: Sequence[Any], authentication: type = M2MAuthentication) -> Any:
    class Orders(APIView):
        authentication_classes = (authentication,)
        permission_classes = tuple(permissions)
        renderer_classes = (JSONRenderer,)

        def get(self, request: Request) -> Response:
            user = request.user
            if "object" in request.query_params:
                self.check_object_permissions(request, {"order": 1})
            return Response(
                {
                    "user": type(user).__name__,
                    "client_id": getattr(user, "client_id", None),
                    "claims": isinstance(request.auth, M2MClaims),
                }
            )

    return Orders.as_view()


def get(
    verifier: Verifier,
    permissions: Sequence[Any],
    headers: Sequence[tuple[str, str]] = (),
    authentication: type = M2MAuthentication,
) -> Reply:
    app = DjangoApp(
        [path("orders", view_of(permissions, authentication))], m2m_guard={"VERIFIER": verifier}
    )
    with app.active():
        return call(app.wsgi(), "/orders", headers)


@pytest.fixture
def sign(rsa_key: SigningKey, clock: FakeClock) -> Any:
    def sign(scope: str) -> list[tuple[str, str]]:
        return bearer(rsa_key.sign(stytch_claims(clock(), scope=scope)))

    return sign


def test_drfs_is_authenticated_answers_401_with_the_bearer_challenge(verifier: Verifier) -> None:
    """authenticate_header makes DRF's NotAuthenticated a 401, not a 403."""
    reply = get(verifier, [IsAuthenticated])
    assert reply.status == 401
    assert reply.headers["www-authenticate"] == 'Bearer realm="api"'


def test_the_user_is_the_machine_client_and_auth_the_claims(verifier: Verifier, sign: Any) -> None:
    reply = get(verifier, [IsAuthenticated], sign("read:orders"))
    assert reply.status == 200
    assert reply.json == {"user": M2MUser.__name__, "client_id": CLIENT_ID, "claims": True}


@pytest.mark.parametrize(
    ("permissions", "scope", "status"),
    [
        ([HasScopes("read:orders") | HasScopes("admin:orders")], "admin:orders", 200),
        ([HasScopes("read:orders") | HasScopes("admin:orders")], "write:orders", 403),
        ([IsAdminUser | HasScopes("read:orders")], "read:orders", 200),
        ([HasScopes("admin:orders") | IsAuthenticated], "read:orders", 200),
        ([HasScopes("admin:orders") | IsAdminUser], "read:orders", 403),
        ([IsAuthenticated & HasAnyScope("read:orders", "admin:orders")], "read:orders", 200),
        ([HasScopes("read:orders") & HasScopes("admin:orders")], "read:orders", 403),
        ([~HasScopes("admin:orders")], "read:orders", 200),
        ([~HasScopes("read:orders")], "read:orders", 403),
        ([(HasScopes("a:b") | HasScopes("c:d")) | HasScopes("read:orders")], "read:orders", 200),
        ([(HasScopes("a:b") & IsAuthenticated) | HasScopes("read:orders")], "read:orders", 200),
        ([IsAuthenticated & ~HasScopes("a:b") | IsAdminUser], "read:orders", 200),
    ],
)
def test_permissions_compose_with_drfs_operators(
    verifier: Verifier, sign: Any, permissions: list[Any], scope: str, status: int
) -> None:
    """& | ~ mean what DRF says; a refusal on one side of | lets the other side decide,
    and a request let in carries no leftover challenge."""
    reply = get(verifier, permissions, sign(scope))
    assert reply.status == status, reply.json
    if status == 200:
        assert "www-authenticate" not in reply.headers
        assert "cache-control" not in reply.headers


@pytest.mark.parametrize(
    ("scope", "status"), [("admin:orders", 200), ("read:orders", 200), ("x:y", 403)]
)
def test_object_permissions_follow_the_same_or(
    verifier: Verifier, sign: Any, scope: str, status: int
) -> None:
    """check_object_permissions through ours | theirs: the same outcome as the view's."""
    permissions = [HasScopes("admin:orders") | HasScopes("read:orders")]
    app = DjangoApp([path("orders", view_of(permissions))], m2m_guard={"VERIFIER": verifier})
    with app.active():
        reply = call(app.wsgi(), "/orders?object=1", sign(scope))
    assert reply.status == status


def test_not_counts_our_refusal_as_not_granted(verifier: Verifier) -> None:
    """~HasScopes(...) lets an anonymous request in, as DRF's NOT of False would."""
    assert get(verifier, [~HasScopes("admin:orders")]).status == 200


def test_a_refused_or_answers_with_the_first_sides_scope(verifier: Verifier, sign: Any) -> None:
    reply = get(verifier, [HasScopes("read:orders") | HasScopes("admin:orders")], sign("x:y"))
    assert reply.json["error"] == "insufficient_scope"
    assert reply.headers["www-authenticate"].endswith('scope="read:orders"')
    assert reply.headers["cache-control"] == "no-store"


def test_anonymous_requests_pass_allow_any_and_are_refused_by_scopes(verifier: Verifier) -> None:
    """No token: anonymous for AllowAny; HasScopes answers the RFC 6750 401."""
    open_reply = get(verifier, [AllowAny])
    assert open_reply.json["user"] == "NoneType"  # the test project's UNAUTHENTICATED_USER
    refused = get(verifier, [HasAnyScope("read:orders")])
    assert refused.status == 401
    assert refused.json["error"] == "unauthorized"
    assert refused.headers["www-authenticate"] == 'Bearer realm="api"'


def test_has_any_scope_needs_a_scope() -> None:
    with pytest.raises(ValueError, match="at least one scope"):
        HasAnyScope()


def test_a_subclass_brings_its_own_verifier_and_realm(
    verifier: Verifier, rsa_key: SigningKey, clock: FakeClock, sign: Any
) -> None:
    """verifier/realm on a subclass replace settings.M2M_GUARD's, for this class only."""

    class Orders(M2MAuthentication):
        verifier = Verifier(
            issuer=ISSUER, audience="orders-api", jwks=jwks_of(rsa_key), clock=clock
        )
        realm = "orders"

    refused = get(verifier, [HasScopes()], sign("read:orders"), authentication=Orders)
    assert refused.status == 401
    assert refused.headers["www-authenticate"].startswith('Bearer realm="orders", error=')
    token = rsa_key.sign(stytch_claims(clock(), scope="read:orders", aud=["orders-api"]))
    accepted = get(verifier, [HasScopes()], bearer(token), authentication=Orders)
    assert accepted.status == 200
    # the settings' verifier (another audience) is untouched by the subclass
    assert get(verifier, [HasScopes()], bearer(token)).status == 401


def schema(verifier: Verifier, permissions: Sequence[Any]) -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator

    rest = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
    app = DjangoApp([path("orders", view_of(permissions))], m2m_guard={"VERIFIER": verifier})
    with app.active(), override_settings(REST_FRAMEWORK=rest):
        generated: dict[str, Any] = SchemaGenerator(patterns=app.urls.urlpatterns).get_schema(
            request=None, public=True
        )
    return generated


def test_drf_spectacular_documents_client_credentials_and_scopes(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """With a token URL: an OAuth2 clientCredentials scheme; each operation lists the
    scopes of its permissions (inside & and | too)."""
    verifier = Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks=jwks_of(rsa_key),
        clock=clock,
        token_url="https://issuer.example/oauth2/token",
    )
    document = schema(verifier, [HasScopes("read:orders") | HasAnyScope("admin:orders")])
    scheme = document["components"]["securitySchemes"]["m2m"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["clientCredentials"]["tokenUrl"] == "https://issuer.example/oauth2/token"
    operation = document["paths"]["/orders"]["get"]
    assert {"m2m": ["read:orders", "admin:orders"]} in operation["security"]


def test_drf_spectacular_without_a_token_url_documents_a_bearer_jwt(verifier: Verifier) -> None:
    document = schema(verifier, [HasScopes("read:orders")])
    scheme = document["components"]["securitySchemes"]["m2m"]
    assert scheme == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert {"m2m": []} in document["paths"]["/orders"]["get"]["security"]


def test_not_of_an_or_at_object_level_counts_our_refusal_as_not_granted(
    verifier: Verifier, sign: Any
) -> None:
    """~(HasScopes(a) | HasScopes(b)): a token with neither passes, objects included."""
    permissions = [~(HasScopes("admin:orders") | HasScopes("read:orders"))]
    app = DjangoApp([path("orders", view_of(permissions))], m2m_guard={"VERIFIER": verifier})
    with app.active():
        handler = app.wsgi()
        assert call(handler, "/orders?object=1", sign("write:orders")).status == 200
        assert call(handler, "/orders?object=1", sign("read:orders")).status == 403


def test_the_schema_scheme_is_a_bearer_jwt_while_settings_configure_no_verifier() -> None:
    """Schema generation never fails on the settings: the scheme falls back to bearer."""
    from m2m_guard.drf import _token_url

    with override_settings(M2M_GUARD={"ISSUR": ISSUER}):
        assert _token_url(M2MAuthentication) is None
