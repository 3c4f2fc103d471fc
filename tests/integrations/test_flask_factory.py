"""Flask: the application factory, the environment fallback, keys at start-up,
deny by default (protect_all, @guard.public) and misplaced decorators."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from m2m_guard import ConfigurationError, KeysUnavailableError, Verifier
from m2m_guard.flask import M2MGuard, current_client
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("M2M_GUARD_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def token(rsa_key: SigningKey, clock: FakeClock) -> str:
    return rsa_key.sign(stytch_claims(clock(), scope="read:settings"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def whoami() -> dict[str, Any]:
    return {"client_id": current_client.client_id if current_client else None}


# -- item 3: the factory pattern -------------------------------------------------

guard = M2MGuard()  # module level, as an application's extensions.py has it


def create_app(verifier: Verifier) -> Flask:
    app = Flask(__name__)
    guard.init_app(app, verifier=verifier)
    app.add_url_rule("/me", "me", guard.require_scopes("read:settings")(whoami))
    return app


def test_a_module_level_guard_takes_its_verifier_in_init_app(
    verifier: Verifier, token: str
) -> None:
    client = create_app(verifier).test_client()
    assert client.get("/me").status_code == 401
    assert client.get("/me", headers=bearer(token)).json == {"client_id": CLIENT_ID}


def test_the_verifier_of_init_app_wins_over_the_constructors(
    verifier: Verifier, rsa_key: SigningKey
) -> None:
    other = Verifier(issuer=ISSUER, audience="someone-else", jwks=jwks_of(rsa_key))
    app = Flask(__name__)
    M2MGuard(verifier=other).init_app(app, verifier=verifier)
    assert app.extensions["m2m_guard"].verifier is verifier


def test_without_app_config_the_environment_configures_the_verifier(
    monkeypatch: pytest.MonkeyPatch, rsa_key: SigningKey
) -> None:
    monkeypatch.setenv("M2M_GUARD_ISSUER", ISSUER)
    monkeypatch.setenv("M2M_GUARD_AUDIENCE", PROJECT_ID)
    monkeypatch.setenv("M2M_GUARD_JWKS", json.dumps(jwks_of(rsa_key)))
    app = Flask(__name__)
    M2MGuard(app)
    assert app.extensions["m2m_guard"].verifier.policy.issuers == frozenset({ISSUER})


def test_app_config_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, rsa_key: SigningKey
) -> None:
    monkeypatch.setenv("M2M_GUARD_STYTCH_PROJECT_ID", "project-live-env")
    app = Flask(__name__)
    app.config.update(
        M2M_GUARD_ISSUER=ISSUER, M2M_GUARD_AUDIENCE=PROJECT_ID, M2M_GUARD_JWKS=jwks_of(rsa_key)
    )
    M2MGuard(app)
    assert app.extensions["m2m_guard"].verifier.policy.issuers == frozenset({ISSUER})


def test_with_no_configuration_anywhere_the_error_names_both_places() -> None:
    with pytest.raises(ConfigurationError) as caught:
        M2MGuard(Flask(__name__))
    message = str(caught.value)
    assert "app.config" in message
    assert "environment variables" in message
    assert "M2M_GUARD_STYTCH_PROJECT_ID" in message


# -- item 9: keys at start-up ----------------------------------------------------


def _unreachable() -> Verifier:
    return Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks_url="http://127.0.0.1:9/jwks")


def test_require_keys_fails_the_deploy_with_the_reason() -> None:
    with pytest.raises(KeysUnavailableError) as caught:
        M2MGuard().init_app(Flask(__name__), verifier=_unreachable(), require_keys=True)
    assert caught.value.description


@pytest.mark.parametrize("where", ["config", "environment"])
def test_require_keys_is_read_from_app_config_then_the_environment(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Flask(__name__)
    if where == "config":
        app.config["M2M_GUARD_REQUIRE_KEYS_AT_STARTUP"] = True
    else:
        monkeypatch.setenv("M2M_GUARD_REQUIRE_KEYS_AT_STARTUP", "1")
    with pytest.raises(KeysUnavailableError):
        M2MGuard().init_app(app, verifier=_unreachable())


def test_keys_are_not_required_by_default_nor_when_turned_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    M2MGuard().init_app(Flask(__name__), verifier=_unreachable())
    monkeypatch.setenv("M2M_GUARD_REQUIRE_KEYS_AT_STARTUP", "1")
    M2MGuard().init_app(Flask(__name__), verifier=_unreachable(), require_keys=False)


def test_a_bad_require_keys_value_is_a_configuration_error(verifier: Verifier) -> None:
    app = Flask(__name__)
    app.config["M2M_GUARD_REQUIRE_KEYS_AT_STARTUP"] = "maybe"
    with pytest.raises(ConfigurationError, match="M2M_GUARD_REQUIRE_KEYS_AT_STARTUP"):
        M2MGuard().init_app(app, verifier=verifier)


def test_require_keys_passes_with_keys(verifier: Verifier) -> None:
    M2MGuard().init_app(Flask(__name__), verifier=verifier, require_keys=True)


# -- item 4: deny by default -----------------------------------------------------


def deny_by_default(verifier: Verifier, static: Path) -> tuple[Flask, M2MGuard]:
    app = Flask(__name__, static_folder=str(static), static_url_path="/static")
    guard = M2MGuard(app, verifier=verifier, protect_all=True)

    @app.get("/health")
    @guard.public
    def health() -> str:
        return "ok"

    @app.get("/plain")
    def plain() -> str:
        return "secret"

    @app.route("/form", methods=["POST"])
    def form() -> str:
        return "posted"

    @app.get("/maybe")
    @guard.require_scopes(optional=True)
    def maybe() -> dict[str, Any]:
        return whoami()

    @app.errorhandler(404)
    def not_found(error: Exception) -> tuple[str, int]:
        return "custom 404", 404

    return app, guard


@pytest.fixture
def static(tmp_path: Path) -> Path:
    (tmp_path / "logo.txt").write_text("logo")
    return tmp_path


def test_protect_all_protects_an_unmarked_view(
    verifier: Verifier, static: Path, token: str
) -> None:
    client = deny_by_default(verifier, static)[0].test_client()
    response = client.get("/plain")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/plain", headers=bearer(token)).data == b"secret"


def test_public_views_static_files_and_own_rules(verifier: Verifier, static: Path) -> None:
    client = deny_by_default(verifier, static)[0].test_client()
    assert client.get("/health").data == b"ok"
    with client.get("/static/logo.txt") as response:
        assert response.data == b"logo"
    assert client.get("/maybe").json == {"client_id": None}  # the decorator's rule decides
    assert client.options("/form").status_code == 200  # an automatic OPTIONS (CORS preflight)


def test_unknown_routes_and_wrong_methods_need_a_token_first(
    verifier: Verifier, static: Path, token: str
) -> None:
    """No probing of the route map without a token; with one, the app's 404/405."""
    client = deny_by_default(verifier, static)[0].test_client()
    assert client.get("/nowhere").status_code == 401
    assert client.get("/form").status_code == 401
    assert client.get("/health/").status_code == 401  # not /health
    nowhere = client.get("/nowhere", headers=bearer(token))
    assert (nowhere.status_code, nowhere.data) == (404, b"custom 404")
    assert client.get("/form", headers=bearer(token)).status_code == 405


def test_require_scopes_above_the_route_is_refused_on_the_first_request(
    verifier: Verifier, static: Path
) -> None:
    app = Flask(__name__)
    guard = M2MGuard(app, verifier=verifier)

    @guard.require_scopes("admin")  # wrong: the route registered the bare view
    @app.get("/admin")
    def admin() -> str:
        return "open?"

    with pytest.raises(ConfigurationError, match=r"below @app\.route"):
        guard.check_views(app)
    app.testing = True
    with pytest.raises(ConfigurationError, match="admin"):
        app.test_client().get("/admin")


def test_under_protect_all_a_misplaced_decorator_leaves_nothing_open(
    verifier: Verifier, static: Path
) -> None:
    app, guard = deny_by_default(verifier, static)

    @guard.require_scopes("admin")
    @app.get("/admin")
    def admin() -> str:
        return "open?"

    guard._decorated.remove(admin)  # as if the start-up check were not there
    assert app.test_client().get("/admin").status_code == 401


def test_public_above_the_route_marks_the_registered_view(verifier: Verifier, static: Path) -> None:
    """@guard.public returns the very function the route registered: same effect."""
    app, guard = deny_by_default(verifier, static)

    @guard.public
    @app.get("/open")
    def open_view() -> str:
        return "public"

    assert app.test_client().get("/open").data == b"public"


def test_public_on_a_function_the_route_does_not_call_is_refused(
    verifier: Verifier, static: Path
) -> None:
    import functools

    app, guard = deny_by_default(verifier, static)

    def logged(view: Any) -> Any:
        @functools.wraps(view)
        def wrapper() -> Any:
            return view()

        return wrapper

    @guard.public
    @logged
    @app.get("/hidden")
    def hidden() -> str:
        return "?"

    with pytest.raises(ConfigurationError, match=r"@guard\.public"):
        guard.check_views(app)


def test_public_is_a_bare_decorator(verifier: Verifier) -> None:
    with pytest.raises(TypeError):
        M2MGuard(verifier=verifier).public(None)  # type: ignore[type-var]


def test_public_of_another_guard_does_not_open_a_view(verifier: Verifier, token: str) -> None:
    app = Flask(__name__)
    guard = M2MGuard(app, verifier=verifier, protect_all=True)
    other = M2MGuard(verifier=verifier)

    @app.get("/x")
    @other.public
    def x() -> str:
        return "x"

    assert app.test_client().get("/x").status_code == 401
    assert guard.protect_all
