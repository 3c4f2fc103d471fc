"""RFC 9728 protected resource metadata: the document, and serving it from the middlewares."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from werkzeug.test import Client

from m2m_guard import ConfigurationError, Guard, ProtectedResource, TokenVerifier, Verifier
from m2m_guard import asgi as asgi_integration
from m2m_guard import wsgi as wsgi_integration
from tests.core._helpers import unused_loopback_url
from tests.integrations._harness_asgi import call, health, identity, websocket
from tests.integrations._harness_wsgi import plain_app
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, ISSUER, PROJECT_ID, SigningKey, stytch_claims

API = "https://api.example.com"
WELL_KNOWN = "/.well-known/oauth-protected-resource"
METADATA_URL = f"{API}{WELL_KNOWN}"
RESOURCE = ProtectedResource(
    API,
    authorization_servers=["https://test.stytch.com"],
    scopes_supported=["read:users", "write:users", "admin:settings"],
    resource_name="Users API",
    extra={"resource_documentation": f"{API}/docs"},
)


# -- the document --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource",
    [
        "api.example.com",
        "/orders",
        "ftp://api.example.com",
        "https://",
        "",
        None,
        42,
        f"{API}/orders?tenant=acme",
        f"{API}/orders#top",
    ],
    ids=[
        "no-scheme",
        "path-only",
        "ftp",
        "no-host",
        "empty",
        "none",
        "number",
        "query",
        "fragment",
    ],
)
def test_resource_must_be_an_http_url_without_query_or_fragment(resource: Any) -> None:
    """RFC 9728 §1.2: an http(s) URL with a host, and no query or fragment component."""
    with pytest.raises(ConfigurationError):
        ProtectedResource(resource)


@pytest.mark.parametrize(
    ("resource", "path", "url"),
    [
        (API, WELL_KNOWN, METADATA_URL),
        (f"{API}/", WELL_KNOWN, METADATA_URL),
        (f"{API}/orders", f"{WELL_KNOWN}/orders", f"{METADATA_URL}/orders"),
        (f"{API}/v1/orders/", f"{WELL_KNOWN}/v1/orders", f"{METADATA_URL}/v1/orders"),
        (
            "http://127.0.0.1:8000/orders",
            f"{WELL_KNOWN}/orders",
            f"http://127.0.0.1:8000{WELL_KNOWN}/orders",
        ),
    ],
    ids=["host", "host-slash", "path", "nested-path-slash", "port"],
)
def test_document_lives_at_the_well_known_path_followed_by_the_resources_path(
    resource: str, path: str, url: str
) -> None:
    """RFC 9728 §3.1: the well-known segment goes between the host and the resource's path."""
    metadata = ProtectedResource(resource)
    assert metadata.path == path
    assert metadata.url == url


def test_document_carries_the_configured_members() -> None:
    """resource, authorization_servers, scopes_supported, resource_name, extras, header method."""
    assert RESOURCE.document() == {
        "resource": API,
        "authorization_servers": ["https://test.stytch.com"],
        "scopes_supported": ["read:users", "write:users", "admin:settings"],
        "resource_name": "Users API",
        "resource_documentation": f"{API}/docs",
        "bearer_methods_supported": ["header"],
    }
    assert json.loads(RESOURCE.body()) == RESOURCE.document()


def test_minimal_document_omits_empty_members() -> None:
    """Only resource and bearer_methods_supported when nothing else is configured."""
    assert ProtectedResource(API).document() == {
        "resource": API,
        "bearer_methods_supported": ["header"],
    }


def test_extra_members_cannot_replace_the_resource_identifier() -> None:
    """RFC 9728 §3.3: `resource` must be the identifier itself, whatever `extra` says."""
    metadata = ProtectedResource(API, extra={"resource": "https://evil.example"})
    assert metadata.document()["resource"] == API


def test_sequences_are_kept_as_tuples() -> None:
    """The frozen value keeps its own copy: mutating the list passed in changes nothing."""
    servers = ["https://a.example"]
    metadata = ProtectedResource(API, authorization_servers=servers)
    servers.append("https://b.example")
    assert metadata.authorization_servers == ("https://a.example",)


@pytest.mark.parametrize("member", ["authorization_servers", "scopes_supported"])
def test_a_single_string_is_never_split_into_characters(member: str) -> None:
    """A lone string is taken as one value, or refused at construction."""
    try:
        options: dict[str, Any] = {member: "https://issuer.example"}
        metadata = ProtectedResource(API, **options)
    except ConfigurationError:
        return
    assert metadata.document()[member] == ["https://issuer.example"]


def test_extra_that_is_not_json_fails_at_construction() -> None:
    """Invalid configuration fails at start-up, never per request."""
    with pytest.raises(ConfigurationError):
        ProtectedResource(API, extra={"updated": object()})


def test_guard_answers_only_get_and_head_of_its_document_path(verifier: Verifier) -> None:
    """metadata_response: the document for GET/HEAD of the path; None for anything else."""
    guard = Guard(verifier, resource_metadata=RESOURCE)
    get = guard.metadata_response("GET", WELL_KNOWN)
    assert get is not None
    assert (get.status, json.loads(get.body)) == (200, RESOURCE.document())
    head = guard.metadata_response("HEAD", WELL_KNOWN)
    assert head is not None
    assert (head.status, head.body) == (200, b"")
    assert dict(head.headers)["content-length"] == str(len(RESOURCE.body()))
    for method, path in [
        ("POST", WELL_KNOWN),
        ("OPTIONS", WELL_KNOWN),
        ("get", WELL_KNOWN),
        ("GET", f"{WELL_KNOWN}/"),
        ("GET", f"{WELL_KNOWN}/orders"),
        ("GET", "/.well-known/openid-configuration"),
    ]:
        assert guard.metadata_response(method, path) is None, (method, path)
    assert Guard(verifier).metadata_response("GET", WELL_KNOWN) is None


# -- through the middlewares -----------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Side(Protocol):
    def send(self, method: str, path: str, headers: Sequence[tuple[str, str]] = ()) -> Answer: ...


class ASGISide:
    """A Starlette app (/health public, /whoami) behind the ASGI middleware."""

    def __init__(self, verifier: TokenVerifier, **options: Any) -> None:
        async def whoami(request: Request) -> JSONResponse:
            return JSONResponse(identity(request.state.m2m))

        app = Starlette(routes=[Route("/health", health), Route("/whoami", whoami)])
        self.verifier = verifier
        self.app = asgi_integration.M2MGuardMiddleware(
            app, verifier=verifier, exclude_paths=["/health"], **options
        )

    def send(self, method: str, path: str, headers: Sequence[tuple[str, str]] = ()) -> Answer:
        async def one() -> Answer:
            try:
                response = await call(self.app, method, path, headers)
            finally:
                await self.verifier.aclose()
            return Answer(response.status_code, dict(response.headers), response.content)

        return anyio.run(one)


class WSGISide:
    """A plain WSGI app (/health public, /whoami) behind the WSGI middleware."""

    def __init__(self, verifier: TokenVerifier, **options: Any) -> None:
        self.app = wsgi_integration.M2MGuardMiddleware(
            plain_app, verifier=verifier, exclude_paths=["/health"], **options
        )

    def send(self, method: str, path: str, headers: Sequence[tuple[str, str]] = ()) -> Answer:
        response = Client(self.app).open(path, method=method, headers=list(headers))
        headers_ = {name.lower(): value for name, value in response.headers.items()}
        return Answer(response.status_code, headers_, response.get_data())


SIDES = [pytest.param(ASGISide, id="asgi"), pytest.param(WSGISide, id="wsgi")]
Build = Any  # (verifier, **options) -> Side


@pytest.fixture(params=SIDES)
def side(request: pytest.FixtureRequest) -> Build:
    """The ASGI or the WSGI middleware."""
    return request.param


@pytest.fixture
def token(rsa_key: SigningKey, clock: FakeClock) -> str:
    return rsa_key.sign(stytch_claims(clock()))


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def challenge_params(answer: Answer) -> str:
    return answer.headers["www-authenticate"]


def test_metadata_is_served_on_get_without_a_token(side: Build, verifier: Verifier) -> None:
    """GET of the well-known path: 200 JSON document, no token needed, none checked."""
    app: Side = side(verifier, resource_metadata=RESOURCE)
    for headers in ([], bearer("not-a-jwt")):
        answer = app.send("GET", WELL_KNOWN, headers)
        assert answer.status == 200
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == RESOURCE.document()
        assert "www-authenticate" not in answer.headers


def test_metadata_head_answers_the_headers_without_a_body(side: Build, verifier: Verifier) -> None:
    """HEAD of the well-known path: 200, the GET's content-length, an empty body."""
    app: Side = side(verifier, resource_metadata=RESOURCE)
    answer = app.send("HEAD", WELL_KNOWN)
    assert answer.status == 200
    assert answer.headers["content-length"] == str(len(RESOURCE.body()))
    assert answer.body == b""


def test_post_to_the_metadata_path_is_left_to_auth_and_the_app(
    side: Build, verifier: Verifier, token: str
) -> None:
    """Only GET and HEAD are served: a POST needs a token, then reaches the app itself."""
    app: Side = side(verifier, resource_metadata=RESOURCE)
    anonymous = app.send("POST", WELL_KNOWN)
    assert anonymous.status == 401
    assert f'resource_metadata="{METADATA_URL}"' in challenge_params(anonymous)
    authenticated = app.send("POST", WELL_KNOWN, bearer(token))
    assert authenticated.status in (404, 405)
    assert b"bearer_methods_supported" not in authenticated.body


def test_resource_with_a_path_serves_its_document_below_that_path(
    side: Build, verifier: Verifier
) -> None:
    """Resource …/orders: served at /.well-known/oauth-protected-resource/orders only."""
    orders = ProtectedResource(f"{API}/orders", scopes_supported=["read:orders"])
    app: Side = side(verifier, resource_metadata=orders)
    answer = app.send("GET", f"{WELL_KNOWN}/orders")
    assert answer.status == 200
    assert answer.json()["resource"] == f"{API}/orders"
    bare = app.send("GET", WELL_KNOWN)
    assert bare.status == 401
    assert f'resource_metadata="{METADATA_URL}/orders"' in challenge_params(bare)


def test_other_paths_still_require_a_token(side: Build, verifier: Verifier, token: str) -> None:
    """The metadata route opens nothing else: /whoami needs a token, /health stays public."""
    app: Side = side(verifier, resource_metadata=RESOURCE)
    assert app.send("GET", "/whoami").status == 401
    whoami = app.send("GET", "/whoami", bearer(token))
    assert whoami.status == 200
    assert whoami.json()["client_id"] == CLIENT_ID
    assert app.send("GET", "/health").status == 200
    assert app.send("GET", f"{WELL_KNOWN}x").status == 401


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        (lambda token: [], 401, None),
        (lambda token: [("authorization", "Basic dXNlcjpwYXNz")], 401, None),
        (
            lambda token: [("authorization", f"Bearer {token}, Bearer {token}")],
            400,
            "invalid_request",
        ),
        (lambda token: bearer("not-a-jwt"), 401, "invalid_token"),
        (lambda token: bearer(token), 403, "insufficient_scope"),
    ],
    ids=["no-token", "basic", "two-credentials", "bad-token", "missing-scope"],
)
def test_every_challenge_names_the_metadata_url(
    side: Build,
    verifier: Verifier,
    token: str,
    headers: Any,
    status: int,
    error: str | None,
) -> None:
    """401, 400 and 403 challenges all carry resource_metadata="<url>" (RFC 9728 §5.1)."""
    app: Side = side(verifier, resource_metadata=RESOURCE, required_scopes=["admin:settings"])
    answer = app.send("GET", "/whoami", headers(token))
    assert answer.status == status
    challenge = challenge_params(answer)
    assert challenge.startswith(f'Bearer realm="api", resource_metadata="{METADATA_URL}"')
    if error is None:
        assert challenge == f'Bearer realm="api", resource_metadata="{METADATA_URL}"'
    else:
        assert f'error="{error}"' in challenge
    assert answer.json()["error"] == (error or "unauthorized")


def test_keys_unavailable_is_503_without_a_challenge(
    side: Build, clock: FakeClock, token: str
) -> None:
    """A 503 is no challenge: no WWW-Authenticate (so no resource_metadata), a Retry-After."""
    down = Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks_url=unused_loopback_url(), clock=clock)
    try:
        app: Side = side(down, resource_metadata=RESOURCE)
        answer = app.send("GET", "/whoami", bearer(token))
        assert answer.status == 503
        assert "www-authenticate" not in answer.headers
        assert answer.headers["retry-after"] == "30"
        assert app.send("GET", WELL_KNOWN).status == 200  # the document needs no keys
    finally:
        down.close()


def test_without_resource_metadata_nothing_is_served_or_named(
    side: Build, verifier: Verifier
) -> None:
    """Not configured: the well-known path is an ordinary protected path; challenges as before."""
    app: Side = side(verifier)
    answer = app.send("GET", WELL_KNOWN)
    assert answer.status == 401
    assert challenge_params(answer) == 'Bearer realm="api"'


def test_custom_realm_and_resource_metadata_share_the_challenge(
    side: Build, verifier: Verifier
) -> None:
    """The configured realm comes first, then resource_metadata."""
    app: Side = side(verifier, resource_metadata=RESOURCE, realm="orders")
    answer = app.send("GET", "/whoami")
    assert challenge_params(answer) == f'Bearer realm="orders", resource_metadata="{METADATA_URL}"'


@pytest.mark.parametrize("value", [{"resource": API}, API, object()], ids=["dict", "str", "object"])
def test_middleware_refuses_resource_metadata_of_another_type(
    side: Build, verifier: Verifier, value: Any
) -> None:
    """resource_metadata must be a ProtectedResource: ConfigurationError at construction."""
    with pytest.raises(ConfigurationError):
        side(verifier, resource_metadata=value)


def test_websocket_refusal_names_the_metadata_url(verifier: Verifier) -> None:
    """ASGI websockets refused with the denial response carry resource_metadata too."""
    app = ASGISide(verifier, resource_metadata=RESOURCE).app
    sent = websocket(app, "/whoami")
    start = next(m for m in sent if m["type"] == "websocket.http.response.start")
    assert start["status"] == 401
    headers = {name.decode(): value.decode() for name, value in start["headers"]}
    assert f'resource_metadata="{METADATA_URL}"' in headers["www-authenticate"]


def test_resource_with_an_encoded_path_is_served(side: Build, verifier: Verifier) -> None:
    """Resource …/caf%C3%A9: its document is served at the matching well-known URL."""
    resource = ProtectedResource(f"{API}/caf%C3%A9")
    app: Side = side(verifier, resource_metadata=resource)
    assert app.send("GET", f"{WELL_KNOWN}/caf%C3%A9").status == 200
