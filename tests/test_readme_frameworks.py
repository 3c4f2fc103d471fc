"""The README's Django and DRF snippets run as written: their settings are read
strictly, and their views answer the table's statuses to real tokens."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.django_project import DjangoApp, configure
from tests.test_readme import python_blocks, section

configure()

from django.test import override_settings  # noqa: E402 - after configure()
from django.urls import path  # noqa: E402

from m2m_guard import Verifier  # noqa: E402
from m2m_guard._django_config import configured  # noqa: E402
from tests.integrations._harness_asgi import bearer, request  # noqa: E402
from tests.integrations._harness_wsgi import call  # noqa: E402
from tests.support.clock import FakeClock  # noqa: E402
from tests.support.keys import CLIENT_ID, SigningKey, stytch_claims  # noqa: E402


def snippet(index: int) -> dict[str, Any]:
    block = python_blocks(section("Django and Django REST framework"))[index]
    namespace: dict[str, Any] = {"__name__": "readme_snippet"}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    return namespace


@pytest.fixture
def sign(rsa_key: SigningKey, clock: FakeClock) -> Any:
    def sign(scope: str) -> list[tuple[str, str]]:
        return bearer(rsa_key.sign(stytch_claims(clock(), scope=scope)))

    return sign


def test_the_django_snippet_runs_as_written(verifier: Verifier, sign: Any) -> None:
    """Its M2M_GUARD builds a verifier (no I/O); its views refuse and accept by scope,
    the function view under WSGI and the async class view under ASGI."""
    names = snippet(0)
    assert "m2m_guard.django.M2MGuardMiddleware" in names["MIDDLEWARE"]
    with override_settings(M2M_GUARD=names["M2M_GUARD"]):
        assert configured().guard.exclude.matches("/static/app.css")
    app = DjangoApp(
        [path("orders", names["orders"]), path("new", names["NewOrder"].as_view())],
        middleware=["m2m_guard.django.M2MGuardMiddleware"],
        m2m_guard={**names["M2M_GUARD"], "STYTCH_PROJECT_ID": None, "VERIFIER": verifier},
    )
    with app.active():
        wsgi = app.wsgi()
        assert call(wsgi, "/orders", sign("write:orders")).status == 403
        assert call(wsgi, "/orders", sign("read:orders")).json == {"client_id": CLIENT_ID}
        asgi = app.asgi()
        assert request(asgi, "/new", sign("read:orders"), method="POST").status_code == 403
        assert request(asgi, "/new", sign("write:orders"), method="POST").status_code == 200


def test_the_drf_snippet_runs_as_written(verifier: Verifier, sign: Any) -> None:
    """Its REST_FRAMEWORK setting and its composed permissions, over WSGI."""
    from rest_framework.settings import api_settings

    names = snippet(1)
    with override_settings(REST_FRAMEWORK=names["REST_FRAMEWORK"]):
        # APIView read the setting when rest_framework.views was first imported
        # (in a project, after settings.py); this test process imported it before.
        names["Orders"].authentication_classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
        app = DjangoApp(
            [path("orders", names["Orders"].as_view())], m2m_guard={"VERIFIER": verifier}
        )
        with app.active():
            wsgi = app.wsgi()
            assert call(wsgi, "/orders", []).status == 401
            assert call(wsgi, "/orders", sign("write:orders")).status == 403
            assert call(wsgi, "/orders", sign("admin:orders")).json == {"client_id": CLIENT_ID}


def aiohttp_snippet() -> dict[str, Any]:
    block = python_blocks(section("aiohttp and Litestar"))[0]
    namespace: dict[str, Any] = {"__name__": "readme_snippet"}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    return namespace


def test_the_aiohttp_snippet_runs_as_written(
    verifier: Verifier, sign: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its app, served on 127.0.0.1 with the test verifier in place of the preset's."""
    from m2m_guard import aiohttp as adapter
    from tests.integrations._harness_aiohttp import request_app

    real = adapter.m2m_middleware
    monkeypatch.setattr(adapter, "m2m_middleware", lambda v, **kw: real(verifier, **kw))
    assert request_app(lambda: aiohttp_snippet()["app"], "/orders", []).status == 401
    reply = request_app(lambda: aiohttp_snippet()["app"], "/orders", sign("read:orders"))
    assert reply.json == {"client_id": CLIENT_ID}


def test_the_litestar_snippet_runs_as_written(
    rsa_key: SigningKey, clock: FakeClock, sign: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its OpenAPI assert holds as written; with a test verifier (a token URL too) in
    place of the preset's, its route refuses and accepts by scope."""
    import sys
    import types

    from m2m_guard import litestar as adapter
    from tests.integrations._harness_asgi import request
    from tests.support.keys import ISSUER, PROJECT_ID, jwks_of

    block = python_blocks(section("aiohttp and Litestar"))[1]

    def run() -> dict[str, Any]:
        module = types.ModuleType("readme_litestar")  # Litestar reads handlers' modules
        monkeypatch.setitem(sys.modules, module.__name__, module)
        exec(compile(block, "README.md", "exec"), module.__dict__)  # noqa: S102 - our README
        return module.__dict__

    run()  # as written, with the Stytch preset (building it does no I/O)
    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock,
        token_url="https://issuer.example/token",
    )  # fmt: skip
    plugin = adapter.M2MGuardPlugin
    monkeypatch.setattr(adapter, "M2MGuardPlugin", lambda v, **kw: plugin(verifier, **kw))
    app = run()["app"]
    assert request(app, "/orders").status_code == 401
    assert request(app, "/orders", sign("write:orders")).status_code == 403
    assert request(app, "/orders", sign("read:orders")).json() == {"client_id": CLIENT_ID}
