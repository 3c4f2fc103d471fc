"""What the token request looks like on the wire (RFC 6749 §4.4, Stytch)."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from m2m_guard._http import httpx
from m2m_guard.client import ClientCredentialsAuth

from .conftest import CLIENT_ID, CLIENT_SECRET, TOKEN_URL, Api, FakeClock, TokenEndpoint, body_of

MakeAuth = Callable[..., ClientCredentialsAuth]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_method_sends_credentials_in_a_basic_header_only(
    make_auth: MakeAuth, endpoint: TokenEndpoint
) -> None:
    """client_secret_basic: credentials in the Authorization header, not in the body."""
    make_auth().get_token()
    (request,) = endpoint.requests
    assert request.method == "POST"
    assert request.url == TOKEN_URL
    assert request.headers["authorization"] == basic(CLIENT_ID, CLIENT_SECRET)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["accept"] == "application/json"
    assert body_of(request) == {"grant_type": "client_credentials"}


def test_post_method_sends_credentials_in_the_body_only(
    make_auth: MakeAuth, endpoint: TokenEndpoint
) -> None:
    """client_secret_post: credentials in the form body and no Authorization header."""
    make_auth(auth_method="client_secret_post").get_token()
    (request,) = endpoint.requests
    assert "authorization" not in request.headers
    assert body_of(request) == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }


def test_json_body_format_sends_a_json_object(make_auth: MakeAuth, endpoint: TokenEndpoint) -> None:
    """body_format='json' sends the parameters as a JSON object."""
    make_auth(auth_method="client_secret_post", body_format="json").get_token()
    (request,) = endpoint.requests
    assert request.headers["content-type"] == "application/json"
    assert body_of(request)["client_secret"] == CLIENT_SECRET


def test_basic_credentials_are_form_urlencoded_first(
    endpoint: TokenEndpoint, clock: FakeClock
) -> None:
    """RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding."""
    with endpoint.client() as http:
        ClientCredentialsAuth(
            TOKEN_URL, "id:with@odd", "pa ss/wörd", clock=clock, http_client=http
        ).get_token()
    expected = basic("id%3Awith%40odd", "pa+ss%2Fw%C3%B6rd")
    assert endpoint.requests[0].headers["authorization"] == expected


@pytest.mark.parametrize(
    ("scopes", "sent"),
    [
        (["read:users", "write:users"], "read:users write:users"),
        ("read:users  write:users", "read:users write:users"),
        (("read:*",), "read:*"),
    ],
)
def test_scopes_are_sent_space_separated(
    make_auth: MakeAuth, endpoint: TokenEndpoint, scopes: object, sent: str
) -> None:
    """Requested scopes travel as one space-separated scope parameter."""
    make_auth(scopes=scopes).get_token()
    assert body_of(endpoint.requests[0])["scope"] == sent


@pytest.mark.parametrize("scopes", [None, []])
def test_no_scope_parameter_without_scopes(
    make_auth: MakeAuth, endpoint: TokenEndpoint, scopes: object
) -> None:
    """Without scopes the parameter is omitted, so the client's defaults apply."""
    make_auth(scopes=scopes).get_token()
    assert "scope" not in body_of(endpoint.requests[0])


def test_extra_params_are_added_to_the_body(make_auth: MakeAuth, endpoint: TokenEndpoint) -> None:
    """extra_params (e.g. an Auth0 audience) are sent along with the grant."""
    make_auth(extra_params={"audience": "https://api.invalid", "user_id": "u-1"}).get_token()
    body = body_of(endpoint.requests[0])
    assert body["audience"] == "https://api.invalid"
    assert body["user_id"] == "u-1"
    assert body["grant_type"] == "client_credentials"


def test_api_request_carries_the_token_as_bearer(
    make_auth: MakeAuth, api: Api, api_client: Callable[[ClientCredentialsAuth], httpx.Client]
) -> None:
    """The protected API receives 'Authorization: Bearer <access_token>'."""
    response = api_client(make_auth()).get("https://api.invalid/things")
    assert response.status_code == 200
    assert api.seen == ["token-1"]


@pytest.mark.anyio
async def test_async_client_carries_the_token_as_bearer(
    endpoint: TokenEndpoint, api: Api, clock: FakeClock
) -> None:
    """httpx.AsyncClient gets the same bearer token, fetched asynchronously."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as http:
        auth = ClientCredentialsAuth(
            TOKEN_URL, CLIENT_ID, CLIENT_SECRET, clock=clock, async_http_client=http
        )
        async with httpx.AsyncClient(auth=auth, transport=httpx.MockTransport(api)) as client:
            response = await client.get("https://api.invalid/things")
    assert response.status_code == 200
    assert api.seen == ["token-1"]
    assert endpoint.requests[0].headers["authorization"] == basic(CLIENT_ID, CLIENT_SECRET)


@pytest.mark.parametrize(
    ("project_id", "environment", "url"),
    [
        ("project-test-1", "test", "https://test.stytch.com/v1/public/project-test-1/oauth2/token"),
        ("project-test-1", None, "https://test.stytch.com/v1/public/project-test-1/oauth2/token"),
        ("project-live-1", "live", "https://api.stytch.com/v1/public/project-live-1/oauth2/token"),
        ("project-live-1", None, "https://api.stytch.com/v1/public/project-live-1/oauth2/token"),
        (
            "project-test-1",
            "http://127.0.0.1:8787/",
            "http://127.0.0.1:8787/v1/public/project-test-1/oauth2/token",
        ),
    ],
)
def test_for_stytch_posts_json_credentials_to_the_project_token_url(
    endpoint: TokenEndpoint,
    clock: FakeClock,
    project_id: str,
    environment: str | None,
    url: str,
) -> None:
    """for_stytch derives the token URL and sends Stytch-style JSON credentials."""
    with endpoint.client() as http:
        auth = ClientCredentialsAuth.for_stytch(
            project_id,
            CLIENT_ID,
            CLIENT_SECRET,
            environment=environment,
            scopes=["read:users"],
            clock=clock,
            http_client=http,
        )
        assert auth.get_token() == "token-1"
    (request,) = endpoint.requests
    assert request.url == url
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert body_of(request) == {
        "grant_type": "client_credentials",
        "scope": "read:users",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }


def test_token_requests_use_the_given_client_without_its_auth(
    endpoint: TokenEndpoint, api: Api, clock: FakeClock
) -> None:
    """A client given for token requests never applies its own auth to them (no recursion)."""

    def route(request: httpx.Request) -> httpx.Response:
        return endpoint(request) if request.url.path == "/oauth2/token" else api(request)

    with httpx.Client(transport=httpx.MockTransport(route)) as client:
        client.auth = ClientCredentialsAuth(
            TOKEN_URL, CLIENT_ID, CLIENT_SECRET, clock=clock, http_client=client
        )
        assert client.get("https://api.invalid/things").status_code == 200
    assert endpoint.fetches == 1
    assert endpoint.requests[0].headers["authorization"] == basic(CLIENT_ID, CLIENT_SECRET)
    assert api.seen == ["token-1"]


def test_token_request_carries_the_configured_timeout(
    make_auth: MakeAuth, endpoint: TokenEndpoint
) -> None:
    """Every token request is bounded by the configured timeout."""
    make_auth(timeout=2.5).get_token()
    timeout = endpoint.requests[0].extensions["timeout"]
    assert timeout == httpx.Timeout(2.5).as_dict()
