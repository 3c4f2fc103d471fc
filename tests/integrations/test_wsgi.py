"""The WSGI middleware: environ key, exclusions, optional mode, scopes, real servers."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from werkzeug.serving import make_server
from werkzeug.test import Client, create_environ, run_wsgi_app

from m2m_guard import ConfigurationError, M2MClaims, Verifier
from m2m_guard.wsgi import ENVIRON_KEY, M2MGuardMiddleware, get_claims
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, ISSUER, PROJECT_ID, SigningKey, stytch_claims

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


class Recorder:
    """A WSGI application that remembers the environ of every call."""

    def __init__(self) -> None:
        self.environs: list[WSGIEnvironment] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.environs.append(environ)
        claims = get_claims(environ)
        start_response("200 OK", [("content-type", "application/json")])
        return [json.dumps({"client_id": claims and claims.client_id}).encode()]


@pytest.fixture
def inner() -> Recorder:
    return Recorder()


@pytest.fixture
def token(rsa_key: SigningKey, clock: FakeClock) -> str:
    """A valid token granting read:settings and write:settings."""
    return rsa_key.sign(stytch_claims(clock(), scope="read:settings write:settings"))


def get(app: Any, path: str, token: str | None = None) -> Any:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return Client(app).get(path, headers=headers)


def status_for_raw_path(app: Any, path_info: str) -> str:
    """Call ``app`` with this exact PATH_INFO, which a test client would normalize."""
    environ = create_environ("/")
    environ["PATH_INFO"] = path_info
    _, status, _ = run_wsgi_app(app, environ)
    return status


def test_verified_claims_are_stored_under_the_namespaced_environ_key(
    inner: Recorder, verifier: Verifier, token: str
) -> None:
    """The claims land in environ["m2m_guard.claims"] and get_claims returns them."""
    response = get(M2MGuardMiddleware(inner, verifier=verifier), "/whoami", token)

    assert response.status_code == 200
    (environ,) = inner.environs
    assert ENVIRON_KEY == "m2m_guard.claims"
    assert isinstance(environ[ENVIRON_KEY], M2MClaims)
    assert get_claims(environ) is environ[ENVIRON_KEY]
    assert response.json == {"client_id": CLIENT_ID}


def test_get_claims_is_none_for_a_request_the_middleware_did_not_guard() -> None:
    """get_claims answers None for an environ without claims, or with a foreign value."""
    assert get_claims({}) is None
    assert get_claims({ENVIRON_KEY: {"client_id": "forged"}}) is None


def test_rejected_request_never_reaches_the_application(
    inner: Recorder, verifier: Verifier
) -> None:
    """A request without a token is answered 401 by the middleware alone."""
    response = get(M2MGuardMiddleware(inner, verifier=verifier), "/whoami")

    assert response.status == "401 Unauthorized"
    assert inner.environs == []
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "application/json"
    assert response.json == {
        "error": "unauthorized",
        "error_description": "A bearer token is required.",
    }


def test_exact_excluded_path_is_public_but_not_its_children(
    inner: Recorder, verifier: Verifier
) -> None:
    """An exact exclude_paths entry opens that path only."""
    app = M2MGuardMiddleware(inner, verifier=verifier, exclude_paths=["/health"])

    assert get(app, "/health").status_code == 200
    assert get_claims(inner.environs[0]) is None
    assert get(app, "/health/details").status_code == 401
    assert get(app, "/healthz").status_code == 401


def test_prefix_excluded_path_opens_everything_below_it(
    inner: Recorder, verifier: Verifier
) -> None:
    """A trailing * makes a prefix; dot segments cannot climb out of it."""
    app = M2MGuardMiddleware(inner, verifier=verifier, exclude_paths=["/public/*"])

    assert get(app, "/public/").status_code == 200
    assert get(app, "/public/docs/a.json").status_code == 200
    assert get(app, "/publicity").status_code == 401
    assert status_for_raw_path(app, "/public/../admin") == "401 Unauthorized"


def test_non_ascii_paths_are_matched_as_utf8(inner: Recorder, verifier: Verifier) -> None:
    """PATH_INFO is decoded like werkzeug's request.path, and odd bytes never crash."""
    app = M2MGuardMiddleware(inner, verifier=verifier, exclude_paths=["/café"])

    assert get(app, "/caf%C3%A9").status_code == 200
    assert get(app, "/caf%E9").status_code == 401
    assert status_for_raw_path(app, "/caf€") == "401 Unauthorized"  # not PEP 3333 text


def test_invalid_exclude_path_fails_at_construction(inner: Recorder, verifier: Verifier) -> None:
    """exclude_paths entries must be absolute paths, checked at start-up."""
    with pytest.raises(ConfigurationError, match="must start with '/'"):
        M2MGuardMiddleware(inner, verifier=verifier, exclude_paths=["health"])


def test_optional_mode_lets_anonymous_requests_through_without_claims(
    inner: Recorder, verifier: Verifier, token: str
) -> None:
    """With optional=True, no token means get_claims is None; a token is still verified."""
    app = M2MGuardMiddleware(inner, verifier=verifier, optional=True)

    assert get(app, "/whoami").json == {"client_id": None}
    assert get(app, "/whoami", token).json == {"client_id": CLIENT_ID}
    assert get(app, "/whoami", "not-a-jwt").status_code == 401
    assert len(inner.environs) == 2


def test_required_scopes_must_all_be_granted(
    inner: Recorder, verifier: Verifier, token: str
) -> None:
    """required_scopes is all-of; a missing one is 403 insufficient_scope with the scope list."""
    granted = M2MGuardMiddleware(inner, verifier=verifier, required_scopes="read:settings")
    missing = M2MGuardMiddleware(
        inner, verifier=verifier, required_scopes=["read:settings", "admin:settings"]
    )

    assert get(granted, "/whoami", token).status_code == 200
    response = get(missing, "/whoami", token)
    assert response.status == "403 Forbidden"
    assert response.json["error"] == "insufficient_scope"
    assert response.headers["WWW-Authenticate"].endswith('scope="read:settings admin:settings"')


def test_any_scopes_needs_one_of_them(inner: Recorder, verifier: Verifier, token: str) -> None:
    """any_scopes passes when one listed scope is granted and fails when none is."""
    one = M2MGuardMiddleware(inner, verifier=verifier, any_scopes=["admin:all", "write:settings"])
    none = M2MGuardMiddleware(inner, verifier=verifier, any_scopes=["admin:all", "root:all"])

    assert get(one, "/whoami", token).status_code == 200
    response = get(none, "/whoami", token)
    assert response.status_code == 403
    assert "one of the scopes" in response.json["error_description"]


def test_realm_is_configurable(inner: Recorder, verifier: Verifier) -> None:
    """The challenge names the configured realm."""
    app = M2MGuardMiddleware(inner, verifier=verifier, realm="billing")

    response = get(app, "/whoami", "not-a-jwt")
    assert response.headers["WWW-Authenticate"].startswith(
        'Bearer realm="billing", error="invalid_token", error_description="'
    )


def test_unreachable_keys_answer_503_with_retry_after(
    inner: Recorder, token: str, clock: FakeClock
) -> None:
    """A JWKS outage is 503 Service Unavailable with Retry-After and no challenge."""
    # Port 9 (discard) on loopback refuses connections: the JWKS is unreachable.
    url = "http://127.0.0.1:9/jwks"
    verifier = Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks_url=url, clock=clock)
    response = get(M2MGuardMiddleware(inner, verifier=verifier), "/whoami", token)

    assert response.status == "503 Service Unavailable"
    assert int(response.headers["Retry-After"]) >= 1
    assert "WWW-Authenticate" not in response.headers


# -- repeated Authorization headers on real servers -------------------------


@contextmanager
def serve_werkzeug(app: Any) -> Iterator[int]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_two_authorization_headers_on_a_real_server_are_invalid_request(
    inner: Recorder, verifier: Verifier, token: str
) -> None:
    """werkzeug's server joins repeated headers with ",": the answer is 400 invalid_request."""
    app = M2MGuardMiddleware(inner, verifier=verifier)
    with serve_werkzeug(app) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.putrequest("GET", "/whoami")
        connection.putheader("Authorization", f"Bearer {token}")
        connection.putheader("Authorization", f"Bearer {token}")
        connection.endheaders()
        response = connection.getresponse()
        body = json.loads(response.read())
        connection.close()

    assert response.status == 400
    assert body["error"] == "invalid_request"
    assert response.getheader("WWW-Authenticate", "").startswith(
        'Bearer realm="api", error="invalid_request"'
    )
    assert inner.environs == []
