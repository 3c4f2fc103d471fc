"""The Flask extension: init_app, require_scopes, current_client, blueprints, error handling."""

from __future__ import annotations

import json
import os
import time
from typing import Any
from unittest import mock

import pytest
from flask import Blueprint, Flask, g
from werkzeug.exceptions import HTTPException

from m2m_guard import ConfigurationError, ExpiredTokenError, M2MClaims, Verifier
from m2m_guard.flask import (
    EXTENSION_KEY,
    M2MGuard,
    M2MGuardHTTPException,
    current_client,
    get_current_client,
)
from m2m_guard.wsgi import M2MGuardMiddleware
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims


@pytest.fixture
def token(rsa_key: SigningKey, clock: FakeClock) -> str:
    """A valid token granting read:settings and write:settings."""
    return rsa_key.sign(stytch_claims(clock(), scope="read:settings write:settings"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def me() -> dict[str, Any]:
    client = get_current_client()
    return {"client_id": client.client_id if client else None}


def test_init_app_keeps_its_state_in_app_extensions(verifier: Verifier) -> None:
    """The verifier of an application is found in app.extensions["m2m_guard"]."""
    app = Flask(__name__)
    M2MGuard(app, verifier=verifier)

    assert EXTENSION_KEY == "m2m_guard"
    assert app.extensions["m2m_guard"].verifier is verifier


def test_app_factory_can_bind_one_extension_to_several_apps(verifier: Verifier, token: str) -> None:
    """M2MGuard() created without an app guards every app passed to init_app."""
    guard = M2MGuard(verifier=verifier)
    apps = [Flask("first"), Flask("second")]
    for app in apps:
        guard.init_app(app)
        app.add_url_rule("/me", view_func=guard.require_scopes("read:settings")(me))

    for app in apps:
        assert app.test_client().get("/me").status_code == 401
        assert app.test_client().get("/me", headers=bearer(token)).json == {"client_id": CLIENT_ID}


def test_init_app_builds_the_verifier_from_app_config(rsa_key: SigningKey) -> None:
    """Without a verifier, M2M_GUARD_* entries of app.config configure it."""
    app = Flask(__name__)
    app.config.update(
        M2M_GUARD_ISSUER=ISSUER,
        M2M_GUARD_AUDIENCE=PROJECT_ID,
        M2M_GUARD_JWKS=json.dumps(jwks_of(rsa_key)),
        M2M_GUARD_LEEWAY=5,
    )
    guard = M2MGuard(app)
    app.add_url_rule("/me", view_func=guard.require_scopes()(me))
    # The verifier reads the real clock, so the token is issued now.
    token = rsa_key.sign(stytch_claims(time.time()))

    assert app.extensions["m2m_guard"].verifier.policy.leeway == 5.0
    assert app.test_client().get("/me", headers=bearer(token)).json == {"client_id": CLIENT_ID}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "set M2M_GUARD_STYTCH_PROJECT_ID, or M2M_GUARD_ISSUER and M2M_GUARD_AUDIENCE"),
        (
            {"M2M_GUARD_STYTCH_PROJECT_ID": PROJECT_ID, "M2M_GUARD_LEEWAY": "soon"},
            "M2M_GUARD_LEEWAY must be a number",
        ),
        (
            {"M2M_GUARD_ISSUER": ISSUER, "M2M_GUARD_AUDIENCE": "a", "M2M_GUARD_JWKS": "{}"},
            "invalid static keys",
        ),
    ],
    ids=["nothing", "bad-leeway", "bad-jwks"],
)
def test_bad_configuration_fails_at_init_app_with_a_clear_message(
    config: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invalid app.config raises ConfigurationError from init_app, not on a request."""
    for name in [n for n in os.environ if n.startswith("M2M_GUARD_")]:
        monkeypatch.delenv(name)
    app = Flask(__name__)
    app.config.update(config)

    with pytest.raises(ConfigurationError, match=message):
        M2MGuard(app)
    assert EXTENSION_KEY not in app.extensions


def test_something_else_than_a_verifier_fails_at_init_app() -> None:
    """A verifier argument of the wrong type is refused when the app is set up."""
    with pytest.raises(ConfigurationError, match=r"must be an m2m_guard\.Verifier"):
        M2MGuard(Flask(__name__), verifier="https://issuer.example/jwks")  # type: ignore[arg-type]


def test_require_scopes_guards_a_sync_view(verifier: Verifier, token: str) -> None:
    """A sync view runs only for a token that grants every required scope."""
    app = Flask(__name__)
    guard = M2MGuard(app, verifier=verifier)

    @app.get("/settings")
    @guard.require_scopes("read:settings", "write:settings")
    def settings() -> dict[str, Any]:
        return {"client_id": current_client.client_id}

    @app.get("/admin")
    @guard.require_scopes("admin:settings")
    def admin() -> str:
        raise AssertionError("never reached")

    client = app.test_client()
    assert client.get("/settings", headers=bearer(token)).json == {"client_id": CLIENT_ID}
    denied = client.get("/admin", headers=bearer(token))
    assert denied.status_code == 403
    assert denied.headers["WWW-Authenticate"].endswith('scope="admin:settings"')
    assert settings.__name__ == "settings"


def test_require_scopes_guards_an_async_view(verifier: Verifier, token: str) -> None:
    """An async view is awaited through Flask's ensure_sync after the token passed."""
    pytest.importorskip(
        "asgiref", reason="async views need flask[async] (asgiref), which the flask extra lacks"
    )
    app = Flask(__name__)
    guard = M2MGuard(app, verifier=verifier)

    @app.get("/settings")
    @guard.require_scopes("read:settings")
    async def settings() -> dict[str, Any]:
        return {"client_id": current_client.client_id, "scopes": list(current_client.scopes)}

    client = app.test_client()
    assert client.get("/settings", headers=bearer(token)).json == {
        "client_id": CLIENT_ID,
        "scopes": ["read:settings", "write:settings"],
    }
    assert client.get("/settings").status_code == 401


def test_require_scopes_any_of_needs_one_of_the_scopes(verifier: Verifier, token: str) -> None:
    """With any_of=True one granted scope is enough; none is 403 naming them all."""
    app = Flask(__name__)
    guard = M2MGuard(app, verifier=verifier)
    app.add_url_rule(
        "/one", view_func=guard.require_scopes("admin:all", "write:settings", any_of=True)(me)
    )
    app.add_url_rule(
        "/none",
        endpoint="none",
        view_func=guard.require_scopes("admin:all", "root:all", any_of=True)(me),
    )

    client = app.test_client()
    assert client.get("/one", headers=bearer(token)).status_code == 200
    denied = client.get("/none", headers=bearer(token))
    assert denied.status_code == 403
    assert denied.get_json()["error_description"] == (
        "The token lacks one of the scopes: admin:all root:all."
    )


def test_require_scopes_without_parentheses_is_refused_at_import(verifier: Verifier) -> None:
    """@guard.require_scopes used bare is a TypeError, not a silently open route."""
    guard = M2MGuard(verifier=verifier)

    with pytest.raises(TypeError, match=r"require_scopes\(\) with parentheses"):
        guard.require_scopes(me)  # type: ignore[arg-type]


def test_current_client_is_the_verified_claims_kept_on_g(verifier: Verifier, token: str) -> None:
    """current_client proxies the claims, which live on flask.g under a private name."""
    app = Flask(__name__)
    guard = M2MGuard(app, verifier=verifier)
    seen: list[Any] = []

    @app.get("/me")
    @guard.require_scopes()
    def view() -> str:
        seen.extend([get_current_client(), vars(g), current_client.custom_claims["tenant"]])
        return "ok"

    app.test_client().get("/me", headers=bearer(token))
    claims, g_vars, tenant = seen
    assert isinstance(claims, M2MClaims)
    assert claims.client_id == CLIENT_ID
    assert g_vars == {"_m2m_guard_client": claims, "_m2m_guard_verified_by": verifier}
    assert tenant == "acme"


def test_optional_view_sees_an_empty_current_client_when_anonymous(
    verifier: Verifier, token: str
) -> None:
    """optional=True lets anonymous requests in: no client, and current_client is falsy."""
    app = Flask(__name__)
    guard = M2MGuard(app, verifier=verifier)

    @app.get("/me")
    @guard.require_scopes(optional=True)
    def view() -> dict[str, Any]:
        return {
            "none": get_current_client() is None,
            "falsy": not current_client,
            "equal": current_client == None,  # noqa: E711 - the proxy compares its target
        }

    client = app.test_client()
    assert client.get("/me").json == {"none": True, "falsy": True, "equal": True}
    assert client.get("/me", headers=bearer(token)).json == {
        "none": False,
        "falsy": False,
        "equal": False,
    }
    assert client.get("/me", headers=bearer("not-a-jwt")).status_code == 401


def test_current_client_is_empty_on_unguarded_views(verifier: Verifier, token: str) -> None:
    """A view without a guard has no client, even when a token was sent."""
    app = Flask(__name__)
    M2MGuard(app, verifier=verifier)
    app.add_url_rule("/me", view_func=me)

    assert app.test_client().get("/me", headers=bearer(token)).json == {"client_id": None}


def test_current_client_reads_the_claims_of_the_wsgi_middleware(
    verifier: Verifier, token: str
) -> None:
    """Behind M2MGuardMiddleware (app.wsgi_app), current_client is the middleware's caller."""
    app = Flask(__name__)
    app.wsgi_app = M2MGuardMiddleware(app.wsgi_app, verifier=verifier)  # type: ignore[method-assign]
    app.add_url_rule("/me", view_func=me)

    assert app.test_client().get("/me", headers=bearer(token)).json == {"client_id": CLIENT_ID}
    assert app.test_client().get("/me").status_code == 401


def test_there_is_no_current_client_outside_a_request(verifier: Verifier) -> None:
    """In an application context without a request (CLI, jobs), the client is None."""
    app = Flask(__name__)
    M2MGuard(app, verifier=verifier)

    with app.app_context():
        assert get_current_client() is None


def make_blueprint_app(verifier: Verifier, **protect: Any) -> Flask:
    app = Flask(__name__)
    guard = M2MGuard(app, verifier=verifier)
    api = Blueprint("api", __name__, url_prefix="/api")
    api.add_url_rule("/me", view_func=me)
    api.add_url_rule("/public/info", endpoint="info", view_func=me)
    guard.protect_blueprint(api, **protect)
    app.register_blueprint(api)
    app.add_url_rule("/open", view_func=me)
    return app


def test_protect_blueprint_guards_every_route_of_the_blueprint_only(
    verifier: Verifier, token: str
) -> None:
    """Routes of a protected blueprint need a token; the app's other routes do not."""
    client = make_blueprint_app(verifier).test_client()

    assert client.get("/api/me").status_code == 401
    assert client.get("/api/public/info").status_code == 401
    assert client.get("/api/me", headers=bearer(token)).json == {"client_id": CLIENT_ID}
    assert client.get("/open").json == {"client_id": None}


def test_protect_blueprint_applies_scopes_exclusions_and_optional(
    verifier: Verifier, token: str
) -> None:
    """protect_blueprint takes required/any scopes, optional and full-path exclude_paths."""
    scoped = make_blueprint_app(
        verifier, required_scopes="admin:settings", exclude_paths=["/api/public/*"]
    ).test_client()
    any_of = make_blueprint_app(verifier, any_scopes=["admin:x", "read:settings"]).test_client()
    optional = make_blueprint_app(verifier, optional=True).test_client()

    assert scoped.get("/api/me", headers=bearer(token)).status_code == 403
    assert scoped.get("/api/public/info").json == {"client_id": None}
    assert any_of.get("/api/me", headers=bearer(token)).status_code == 200
    assert optional.get("/api/me").json == {"client_id": None}


def test_protect_blueprint_with_a_bad_exclude_path_fails_at_setup(verifier: Verifier) -> None:
    """A malformed exclude_paths entry is a ConfigurationError when the blueprint is protected."""
    with pytest.raises(ConfigurationError, match="must start with '/'"):
        M2MGuard(verifier=verifier).protect_blueprint(Blueprint("b", __name__), exclude_paths=["x"])


def test_guarded_view_of_an_app_without_init_app_is_a_clear_error(verifier: Verifier) -> None:
    """Using the decorator in an app that never called init_app raises RuntimeError."""
    app = Flask(__name__)
    app.add_url_rule("/me", view_func=M2MGuard(verifier=verifier).require_scopes()(me))
    app.testing = True

    with pytest.raises(RuntimeError, match=r"init_app\(app\) was not called"):
        app.test_client().get("/me")


# -- error responses inside Flask's error handling ------------------------------


def user_handler(error: Exception) -> tuple[dict[str, str], int]:
    return {"user": "handler"}, 500


def register_on(target: str) -> Any:
    """A setup that registers a user handler for every generic key on app or blueprint."""

    def setup(app: Flask, blueprint: Blueprint) -> None:
        scaffold = app if target == "app" else blueprint
        for key in (Exception, HTTPException, 400, 401, 403, 503):
            scaffold.register_error_handler(key, user_handler)

    return setup


def guarded_app(verifier: Verifier, setup: Any = None, **config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(config)
    guard = M2MGuard(app, verifier=verifier)
    bp = Blueprint("bp", __name__)
    bp.add_url_rule("/admin", view_func=guard.require_scopes("admin:settings")(me))
    if setup is not None:
        setup(app, bp)
    app.register_blueprint(bp)
    return app


def answers(app: Flask, token: str) -> list[tuple[int, dict[str, str], Any]]:
    """Status, headers and body for no token, a bad token and a token lacking the scope."""
    client = app.test_client()
    replies = []
    for headers in ({}, bearer("not-a-jwt"), bearer(token)):
        response = client.get("/admin", headers=headers)
        replies.append((response.status_code, dict(response.headers), response.json))
    return replies


@pytest.mark.parametrize(
    ("setup", "trap"),
    [
        (register_on("app"), False),
        (register_on("blueprint"), False),
        (register_on("app"), True),
        (None, True),
    ],
    ids=["app handlers", "blueprint handlers", "app handlers, trapped", "trapped"],
)
def test_rejections_keep_their_rfc6750_response_whatever_error_handlers_exist(
    verifier: Verifier, token: str, setup: Any, trap: bool
) -> None:
    """User errorhandler(Exception / HTTPException / 401 / 403 …) change nothing in the answer."""
    reference = answers(guarded_app(verifier), token)
    replies = answers(guarded_app(verifier, setup, TRAP_HTTP_EXCEPTIONS=trap), token)

    assert [status for status, _, _ in reference] == [401, 401, 403]
    assert replies == reference


def test_trapped_http_exceptions_reach_a_blueprint_catch_all_first(
    verifier: Verifier, token: str
) -> None:
    """Only with TRAP_HTTP_EXCEPTIONS does a blueprint's errorhandler(Exception) see rejections."""
    app = guarded_app(verifier, register_on("blueprint"), TRAP_HTTP_EXCEPTIONS=True)

    assert answers(app, token)[0] == (500, mock.ANY, {"user": "handler"})


def test_after_request_functions_still_run_on_rejections(verifier: Verifier) -> None:
    """A rejection is a normal Flask response: after_request hooks (CORS …) see it."""

    def cors(response: Any) -> Any:
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    response = (
        guarded_app(verifier, lambda app, bp: app.after_request(cors)).test_client().get("/admin")
    )

    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_rejection_exception_carries_the_guard_error(
    verifier: Verifier, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """M2MGuardHTTPException exposes the M2MGuardError and prints its status and cause."""
    app = guarded_app(verifier)
    expired = rsa_key.sign(stytch_claims(clock() - 7200))

    with (
        app.test_request_context("/admin", headers=bearer(expired)),
        pytest.raises(M2MGuardHTTPException) as info,
    ):
        app.view_functions["bp.me"]()

    exc = info.value
    assert isinstance(exc.error, ExpiredTokenError)
    assert exc.__cause__ is exc.error
    assert exc.code is None  # so Flask returns it as it is, like abort(response)
    assert str(exc) == "401 ExpiredTokenError: The token has expired."
    assert exc.get_response().status_code == 401
