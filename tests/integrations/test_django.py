"""The Django integration: settings.M2M_GUARD, class-based views, reuse, start-up keys."""

from __future__ import annotations

import os

import pytest

from tests.support.django_project import DjangoApp, configure

configure()

from django.http import HttpRequest, JsonResponse  # noqa: E402 - after configure()
from django.test import override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils.decorators import method_decorator  # noqa: E402
from django.views import View  # noqa: E402

from m2m_guard import (  # noqa: E402
    ConfigurationError,
    KeysUnavailableError,
    MultiTenantVerifier,
    Verifier,
    events,
)
from m2m_guard._django_config import configured  # noqa: E402
from m2m_guard.django import M2MUser, get_claims, require_scopes  # noqa: E402
from m2m_guard.wsgi import M2MGuardMiddleware as WSGIGuard  # noqa: E402
from tests.integrations._harness_asgi import bearer, request  # noqa: E402
from tests.integrations._harness_django import MIDDLEWARE, health  # noqa: E402
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

#: a verifier for the VERIFIER-by-dotted-path test (set by the test)
DOTTED: Verifier | None = None


@pytest.fixture
def token(rsa_key: SigningKey, clock: FakeClock) -> str:
    return rsa_key.sign(stytch_claims(clock(), scope="read:orders"))


def who(request: HttpRequest) -> JsonResponse:
    claims = get_claims(request)
    return JsonResponse({"client_id": claims and claims.client_id})


def settings_error(value: object) -> str:
    with override_settings(M2M_GUARD=value), pytest.raises(ConfigurationError) as caught:
        configured()
    return caught.value.description


def test_an_unknown_key_is_refused_with_a_did_you_mean() -> None:
    """A typo in settings.M2M_GUARD fails at start-up, naming the closest key."""
    message = settings_error({"ISSUR": ISSUER, "AUDIENCE": PROJECT_ID})
    assert message == "settings.M2M_GUARD: unknown setting ISSUR; did you mean ISSUER?"
    message = settings_error({"STYTCH_PROJECT_ID": PROJECT_ID, "EXCLUDE_PATH": ["/health"]})
    assert message.endswith("did you mean EXCLUDE_PATHS?")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"ISSUER": ISSUER}, "ISSUER is set but AUDIENCE is missing"),
        ({"STYTCH_PROJECT_ID": PROJECT_ID, "JWKS_URL": "http://127.0.0.1:9/"}, "unset JWKS_URL"),
        ({"ISSUER": ISSUER, "AUDIENCE": PROJECT_ID, "LEEWAY": "soon"}, "LEEWAY must be a number"),
        ({"VERIFIER": 42}, 'settings.M2M_GUARD["VERIFIER"] must be an m2m_guard.Verifier'),
        ({"VERIFIER": "tests.nowhere.verifier"}, '["VERIFIER"] cannot be imported'),
        ({"STYTCH_PROJECT_ID": PROJECT_ID, "REALM": 3}, '["REALM"] must be a string'),
        ({"STYTCH_PROJECT_ID": PROJECT_ID, "OPTIONAL": "maybe"}, "must be true or false"),
        ({"STYTCH_PROJECT_ID": PROJECT_ID, "EXCLUDE_PATHS": ["/docs*"]}, "trailing '/*'"),
        (["ISSUER"], "settings.M2M_GUARD must be a dict"),
    ],
)
def test_invalid_settings_are_refused_naming_the_key(value: object, fragment: str) -> None:
    """The environment variables' strictness, each error naming settings.M2M_GUARD."""
    message = settings_error(value)
    assert message.startswith("settings.M2M_GUARD")
    assert fragment in message


def test_without_settings_the_environment_configures_the_verifier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No M2M_GUARD setting: the M2M_GUARD_* variables; neither: a clear error."""
    for name in [n for n in os.environ if n.startswith("M2M_GUARD_")]:
        monkeypatch.delenv(name)
    assert "no verifier" in settings_error(None)
    monkeypatch.setenv("M2M_GUARD_STYTCH_PROJECT_ID", PROJECT_ID)
    with override_settings(M2M_GUARD={"EXCLUDE_PATHS": ["/health"]}):
        config = configured()
    assert isinstance(config.verifier, Verifier)
    assert config.guard.exclude.matches("/health")


def test_settings_keys_build_the_verifier_and_a_change_rebuilds_it(rsa_key: SigningKey) -> None:
    """ISSUER/AUDIENCE/JWKS in settings configure it; override_settings is honoured."""
    keys = {"ISSUER": ISSUER, "AUDIENCE": PROJECT_ID, "JWKS": jwks_of(rsa_key)}
    with override_settings(M2M_GUARD=keys):
        first = configured()
        assert first is configured()  # read once
    with override_settings(M2M_GUARD={**keys, "REALM": "orders"}):
        second = configured()
    assert second is not first
    assert second.realm == "orders"
    assert isinstance(first.verifier, Verifier)


def test_verifier_by_dotted_path(verifier: Verifier) -> None:
    global DOTTED
    DOTTED = verifier
    with override_settings(M2M_GUARD={"VERIFIER": f"{__name__}.DOTTED"}):
        assert configured().verifier is verifier


@method_decorator(require_scopes("read:orders"), name="dispatch")
class SyncOrders(View):
    def get(self, request: HttpRequest) -> JsonResponse:
        return who(request)


@method_decorator(require_scopes("read:orders"), name="dispatch")
class AsyncOrders(View):
    async def get(self, request: HttpRequest) -> JsonResponse:
        return who(request)


class AsyncHandlerOrders(View):
    @method_decorator(require_scopes("read:orders"))
    async def get(self, request: HttpRequest) -> JsonResponse:
        return who(request)


@pytest.mark.parametrize(
    ("view", "server"),
    [
        (SyncOrders, "wsgi"),
        (SyncOrders, "asgi"),
        (AsyncOrders, "asgi"),
        (AsyncHandlerOrders, "asgi"),
    ],
)
def test_class_based_views_take_require_scopes_by_method_decorator(
    view: type[View],
    server: str,
    verifier: Verifier,
    token: str,
    rsa_key: SigningKey,
    clock: FakeClock,
) -> None:
    """method_decorator(require_scopes(...)) guards sync and async class views."""
    app = DjangoApp([path("orders", view.as_view())], m2m_guard={"VERIFIER": verifier})
    other = rsa_key.sign(stytch_claims(clock(), scope="write:orders"))
    answers = []
    for headers in ([], bearer(other), bearer(token)):
        with app.active():
            if server == "wsgi":
                answer = call(app.wsgi(), "/orders", headers)
                answers.append((answer.status, answer.json))
            else:
                response = request(app.asgi(), "/orders", headers)
                answers.append((response.status_code, response.json()))
    assert [status for status, _ in answers] == [401, 403, 200]
    assert answers[1][1]["error"] == "insufficient_scope"
    assert answers[2][1] == {"client_id": CLIENT_ID}


def test_the_decorator_reuses_the_middlewares_claims(
    rsa_key: SigningKey, clock: FakeClock, token: str
) -> None:
    """Behind the middleware with the same verifier, a request is verified once; the
    decorator still checks its own scopes on those claims."""
    seen: list[object] = []
    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock, on_event=seen.append
    )
    app = DjangoApp(
        [path("orders", require_scopes("read:orders")(who)),
         path("admin", require_scopes("admin:orders")(who))],
        middleware=[MIDDLEWARE],
        m2m_guard={"VERIFIER": verifier},
    )  # fmt: skip
    with app.active():
        handler = app.wsgi()
        ok = call(handler, "/orders", bearer(token))
        refused = call(handler, "/admin", bearer(token))
    verified = [e for e in seen if isinstance(e, events.TokenVerified)]
    assert ok.status == 200
    assert refused.status == 403
    assert 'scope="admin:orders"' in refused.headers["www-authenticate"]
    assert len(verified) == 2  # one per request: the decorators reused the claims


def test_a_view_with_its_own_verifier_verifies_again(
    verifier: Verifier, rsa_key: SigningKey, clock: FakeClock, token: str
) -> None:
    """require_scopes(verifier=other) does not trust the middleware's verifier."""
    other = Verifier(issuer=ISSUER, audience="another-api", jwks=jwks_of(rsa_key), clock=clock)
    app = DjangoApp(
        [path("orders", require_scopes(verifier=other)(who))],
        middleware=[MIDDLEWARE],
        m2m_guard={"VERIFIER": verifier},
    )
    with app.active():
        answer = call(app.wsgi(), "/orders", bearer(token))
    assert answer.status == 401
    assert answer.json["error"] == "invalid_token"


def test_claims_of_the_wsgi_middleware_around_django_are_reused(
    verifier: Verifier, token: str
) -> None:
    """m2m_guard.wsgi around Django's WSGI handler: its claims reach request.m2m."""
    app = DjangoApp([path("orders", require_scopes()(who))], m2m_guard={"VERIFIER": verifier})
    with app.active():
        wrapped = WSGIGuard(app.wsgi(), verifier=verifier)
        assert call(wrapped, "/orders", bearer(token)).json == {"client_id": CLIENT_ID}


def test_middleware_settings_require_scopes_and_exclude_paths(
    verifier: Verifier, token: str
) -> None:
    """REQUIRED_SCOPES and EXCLUDE_PATHS of settings.M2M_GUARD, under ASGI."""
    app = DjangoApp(
        [path("health", health), path("orders", who)],
        middleware=[MIDDLEWARE],
        m2m_guard={"VERIFIER": verifier, "EXCLUDE_PATHS": ["/health"],
                   "REQUIRED_SCOPES": ["admin:orders"]},
    )  # fmt: skip
    with app.active():
        handler = app.asgi()
        public = request(handler, "/health")
        refused = request(handler, "/orders", bearer(token))
        sneaky = request(handler, "/health/../orders")
    assert public.status_code == 200
    assert refused.status_code == 403
    assert refused.headers["cache-control"] == "no-store"
    assert sneaky.status_code == 401


def test_require_keys_at_startup_fails_the_middleware(clock: FakeClock) -> None:
    """REQUIRE_KEYS_AT_STARTUP: unreachable keys fail when the handler is built."""
    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks_url="http://127.0.0.1:9/jwks", clock=clock
    )
    app = DjangoApp(
        [path("orders", who)],
        middleware=[MIDDLEWARE],
        m2m_guard={"VERIFIER": verifier, "REQUIRE_KEYS_AT_STARTUP": True},
    )
    with pytest.raises(KeysUnavailableError):
        app.wsgi()


def test_require_scopes_needs_parentheses() -> None:
    with pytest.raises(TypeError, match="parentheses"):
        require_scopes(who)  # type: ignore[arg-type]


def test_the_user_object_is_a_machine_client_without_permissions(
    verifier: Verifier, token: str
) -> None:
    """M2MUser: authenticated, the client id as its name, no permissions, no token in repr."""
    claims = verifier.verify(token)
    user = M2MUser(claims)
    assert user.is_authenticated
    assert user.is_active
    assert not user.is_anonymous
    assert user.client_id == user.username == user.get_username() == str(user) == CLIENT_ID
    assert user.scopes == ("read:orders",)
    assert not user.is_staff
    assert not user.is_superuser
    assert not user.has_perm("x")
    assert not user.has_perms(["x"])
    assert not user.has_module_perms("orders")
    assert user.pk is None
    assert repr(user) == f"M2MUser(client_id={CLIENT_ID!r}, scopes=('read:orders',))"


def test_settings_with_tenants_build_a_multi_tenant_verifier() -> None:
    """TENANTS (a list) with an ISSUER pattern and a JWKS_URL: a MultiTenantVerifier."""
    keys = {
        "ISSUER": "https://{tenant}.auth.example.com/",
        "AUDIENCE": PROJECT_ID,
        "JWKS_URL": "https://keys.example.com/{tenant}/jwks",
        "TENANTS": ["acme", "globex"],
        "TENANT_CLAIM": "org",
    }
    with override_settings(M2M_GUARD=keys):
        config = configured()
    assert isinstance(config.verifier, MultiTenantVerifier)
    assert config.verifier.tenant_claim == "org"
    message = settings_error({**keys, "TENANTS": None})
    assert "TENANT_CLAIM need TENANTS" in message
