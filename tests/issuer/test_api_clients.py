"""The client management API over HTTP: Stytch's shapes, auth and every error."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from m2m_guard.issuer import LocalIssuer

Auth = tuple[str, str]
# Every state-changing management call says JSON, with a body or without.
JSON = {"content-type": "application/json"}
ERROR_FIELDS = {"status_code", "request_id", "error_type", "error_message", "error_url"}
CLIENT_FIELDS = {
    "client_id",
    "client_name",
    "client_description",
    "status",
    "client_secret_last_four",
    "scopes",
    "trusted_metadata",
    "next_client_secret_last_four",
    "dpop_bound_access_tokens",
    "tls_client_certificate_bound_access_tokens",
}


def assert_error(response: httpx.Response, status: int, error_type: str | None = None) -> None:
    """The response is a Stytch error with this status (and type)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_FIELDS
    assert body["status_code"] == status
    assert body["request_id"].startswith("request-id-test-")
    assert body["error_url"].endswith(f"/{status}#{body['error_type']}")
    if error_type is not None:
        assert body["error_type"] == error_type


def assert_ok(response: httpx.Response) -> dict[str, Any]:
    """A 200 with Stytch's status_code and request_id; returns the body."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status_code"] == 200
    assert body["request_id"].startswith("request-id-test-")
    return body


def create(http: httpx.Client, auth: Auth, **fields: Any) -> dict[str, Any]:
    """Create a client over HTTP and return the m2m_client object."""
    fields.setdefault("scopes", ["read:users"])
    client: dict[str, Any] = assert_ok(http.post("/v1/m2m/clients", json=fields, auth=auth))[
        "m2m_client"
    ]
    return client


# -- project authentication ---------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()},
    ],
)
def test_management_calls_without_valid_basic_auth_are_401(
    http: httpx.Client, headers: dict[str, str]
) -> None:
    """No, foreign or malformed Authorization headers all get 401."""
    response = http.post("/v1/m2m/clients", json={"scopes": []}, headers=headers)
    assert_error(response, 401, "unauthorized_credentials")
    assert response.headers["www-authenticate"].startswith("Basic")


def test_wrong_project_credentials_are_401(http: httpx.Client, auth: Auth) -> None:
    """A wrong secret or a foreign project id is refused."""
    for credentials in ((auth[0], "wrong"), ("project-test-other", auth[1])):
        assert_error(http.get("/v1/m2m/clients/x", auth=credentials), 401)


def test_every_management_route_requires_auth(http: httpx.Client) -> None:
    """Each route checks credentials before anything else."""
    calls = [
        ("POST", "/v1/m2m/clients"),
        ("POST", "/v1/m2m/clients/search"),
        ("GET", "/v1/m2m/clients/c"),
        ("PUT", "/v1/m2m/clients/c"),
        ("POST", "/v1/m2m/clients/c"),
        ("DELETE", "/v1/m2m/clients/c"),
        ("POST", "/v1/m2m/clients/c/secrets/rotate/start"),
        ("POST", "/v1/m2m/clients/c/secrets/rotate"),
        ("POST", "/v1/m2m/clients/c/secrets/rotate/cancel"),
    ]
    for method, path in calls:
        assert_error(http.request(method, path), 401)


# -- create / get -------------------------------------------------------------


def test_create_returns_the_client_with_its_secret(http: httpx.Client, auth: Auth) -> None:
    """The create body is Stytch's M2MClientWithClientSecret."""
    client = create(
        http,
        auth,
        scopes=["read:users"],
        client_name="svc",
        client_description="a service",
        trusted_metadata={"team": "core"},
    )
    assert set(client) == CLIENT_FIELDS | {"client_secret"}
    assert client["client_id"].startswith("m2m-client-test-")
    assert client["status"] == "active"
    assert client["next_client_secret_last_four"] is None
    assert client["client_secret_last_four"] == client["client_secret"][-4:]
    assert (client["client_name"], client["client_description"]) == ("svc", "a service")
    assert client["trusted_metadata"] == {"team": "core"}


def test_create_fills_optional_text_fields_with_empty_strings(
    http: httpx.Client, auth: Auth
) -> None:
    """Stytch's SDK requires strings, never null, for name and description."""
    client = create(http, auth, client_name=None)
    assert (client["client_name"], client["client_description"]) == ("", "")
    assert client["trusted_metadata"] == {}


def test_get_returns_the_client_without_secret(http: httpx.Client, auth: Auth) -> None:
    """get answers M2MClient, with the SDK's extra ?client_id= tolerated."""
    created = create(http, auth)
    cid = created["client_id"]
    body = assert_ok(http.get(f"/v1/m2m/clients/{cid}", params={"client_id": cid}, auth=auth))
    assert set(body["m2m_client"]) == CLIENT_FIELDS
    assert body["m2m_client"]["client_id"] == cid


def test_get_with_a_contradicting_query_parameter_is_400(http: httpx.Client, auth: Auth) -> None:
    """A query client_id that differs from the path is refused."""
    cid = create(http, auth)["client_id"]
    response = http.get(f"/v1/m2m/clients/{cid}", params={"client_id": "other"}, auth=auth)
    assert_error(response, 400)


def test_get_of_an_unknown_client_is_404(http: httpx.Client, auth: Auth) -> None:
    """Unknown ids answer m2m_client_not_found."""
    assert_error(http.get("/v1/m2m/clients/nope", auth=auth), 404, "m2m_client_not_found")


def test_an_imported_client_id_and_secret_are_kept(http: httpx.Client, auth: Auth) -> None:
    """Imports keep the given id and secret."""
    client = create(http, auth, client_id="imported-1", client_secret="long-enough")
    assert (client["client_id"], client["client_secret"]) == ("imported-1", "long-enough")


def test_a_duplicate_client_id_is_409(http: httpx.Client, auth: Auth) -> None:
    """The second import of an id conflicts."""
    create(http, auth, client_id="dup")
    response = http.post("/v1/m2m/clients", json={"scopes": [], "client_id": "dup"}, auth=auth)
    assert_error(response, 409, "duplicate_m2m_client_id")


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        ({}, "bad_request"),
        ({"scopes": "read"}, "bad_request"),
        ({"scopes": [None]}, "invalid_scope"),
        ({"scopes": ["a b"]}, "invalid_scope"),
        ({"scopes": [], "client_secret": "1234567"}, "invalid_client_secret"),
        ({"scopes": [], "client_secret": ["12345678"]}, "bad_request"),
        ({"scopes": [], "client_id": ""}, "bad_request"),
        ({"scopes": [], "client_id": "with:colon"}, "bad_request"),
        ({"scopes": [], "client_name": 1}, "bad_request"),
        ({"scopes": [], "client_description": {"a": 1}}, "bad_request"),
        ({"scopes": [], "trusted_metadata": "x"}, "bad_request"),
        ({"scopes": [], "status": "active"}, "bad_request"),
        ({"scopes": [], "scope": ["typo"]}, "bad_request"),
    ],
)
def test_invalid_create_bodies_are_400(
    http: httpx.Client, auth: Auth, body: dict[str, Any], error_type: str
) -> None:
    """Missing, mistyped, unknown and out-of-range fields are 400, never 500."""
    response = http.post("/v1/m2m/clients", json=body, auth=auth)
    assert_error(response, 400, error_type)


@pytest.mark.parametrize(
    "content",
    [
        b"{",
        b"[]",
        b'"string"',
        b"null",
        b'{"scopes": NaN}',
        b'{"scopes": [Infinity]}',
        b"\xff\xfe\xfa",
        b"[" * 50_000,
    ],
)
def test_malformed_json_is_400(http: httpx.Client, auth: Auth, content: bytes) -> None:
    """Bad JSON, non-objects and NaN are 400 invalid_json; absurd nesting json_too_deep."""
    response = http.post(
        "/v1/m2m/clients",
        content=content,
        headers={"Content-Type": "application/json"},
        auth=auth,
    )
    assert_error(response, 400, "json_too_deep" if content.startswith(b"[[") else "invalid_json")


def test_an_oversized_body_is_413(http: httpx.Client, auth: Auth) -> None:
    """Bodies over the cap are refused with 413, declared or streamed."""
    big = json.dumps({"scopes": [], "trusted_metadata": {"x": "y" * 70_000}}).encode()
    response = http.post("/v1/m2m/clients", content=big, headers=JSON, auth=auth)
    assert_error(response, 413, "request_too_large")

    def chunks() -> Any:
        yield big[:40_000]
        yield big[40_000:]

    streamed = http.post("/v1/m2m/clients", content=chunks(), headers=JSON, auth=auth)
    assert "content-length" not in streamed.request.headers
    assert_error(streamed, 413, "request_too_large")


def test_the_body_cap_is_configurable(issuer: LocalIssuer, auth: Auth) -> None:
    """max_body_bytes applies to every endpoint."""
    from m2m_guard.issuer import create_app
    from tests.issuer._helpers import asgi_client

    with asgi_client(create_app(issuer=issuer, max_body_bytes=50)) as http:
        response = http.post("/v1/m2m/clients", json={"scopes": ["x" * 60]}, auth=auth)
        assert_error(response, 413)
        assert create(http, auth, scopes=["ok"])["scopes"] == ["ok"]


# -- update / delete ------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_update_by_put_or_post_changes_the_given_fields(
    http: httpx.Client, auth: Auth, method: str
) -> None:
    """Both verbs update; fields left out (or null) keep their value."""
    cid = create(http, auth, client_name="before", client_description="kept")["client_id"]
    body = {
        "client_id": cid,
        "client_name": "after",
        "client_description": None,
        "status": "inactive",
        "scopes": ["a", "b"],
        "trusted_metadata": {"x": 1},
    }
    client = assert_ok(http.request(method, f"/v1/m2m/clients/{cid}", json=body, auth=auth))[
        "m2m_client"
    ]
    assert set(client) == CLIENT_FIELDS
    assert (client["client_name"], client["client_description"]) == ("after", "kept")
    assert (client["status"], client["scopes"], client["trusted_metadata"]) == (
        "inactive",
        ["a", "b"],
        {"x": 1},
    )


@pytest.mark.parametrize(
    ("body", "status", "error_type"),
    [
        ({"status": "suspended"}, 400, "invalid_status"),
        ({"status": None, "scopes": "a"}, 400, "bad_request"),
        ({"client_id": "someone-else"}, 400, "bad_request"),
        ({"client_secret": "new-secret-1"}, 400, "bad_request"),
        ({"unknown": 1}, 400, "bad_request"),
    ],
)
def test_invalid_updates_are_refused(
    http: httpx.Client, auth: Auth, body: dict[str, Any], status: int, error_type: str
) -> None:
    """Unknown statuses, wrong types, foreign ids and unknown fields are 400."""
    cid = create(http, auth)["client_id"]
    assert_error(http.put(f"/v1/m2m/clients/{cid}", json=body, auth=auth), status, error_type)


def test_update_of_an_unknown_client_is_404(http: httpx.Client, auth: Auth) -> None:
    """Updating a missing id is m2m_client_not_found."""
    assert_error(http.put("/v1/m2m/clients/nope", json={}, auth=auth), 404)


def test_delete_answers_the_client_id_and_the_client_is_gone(
    http: httpx.Client, auth: Auth
) -> None:
    """delete returns {client_id}; a later get is 404."""
    cid = create(http, auth)["client_id"]
    body = assert_ok(http.request("DELETE", f"/v1/m2m/clients/{cid}", json={}, auth=auth))
    assert body["client_id"] == cid
    assert_error(http.get(f"/v1/m2m/clients/{cid}", auth=auth), 404)
    assert_error(http.delete(f"/v1/m2m/clients/{cid}", headers=JSON, auth=auth), 404)


# -- search ---------------------------------------------------------------------


def test_search_paginates_with_a_cursor(http: httpx.Client, auth: Auth) -> None:
    """next_cursor walks all pages; the last page has next_cursor null."""
    ids = [create(http, auth)["client_id"] for _ in range(5)]
    first = assert_ok(http.post("/v1/m2m/clients/search", json={"limit": 2}, auth=auth))
    assert first["results_metadata"]["total"] == 5
    seen = [c["client_id"] for c in first["m2m_clients"]]
    cursor = first["results_metadata"]["next_cursor"]
    while cursor is not None:
        page = assert_ok(
            http.post("/v1/m2m/clients/search", json={"limit": 2, "cursor": cursor}, auth=auth)
        )
        assert all(set(c) == CLIENT_FIELDS for c in page["m2m_clients"])
        seen += [c["client_id"] for c in page["m2m_clients"]]
        cursor = page["results_metadata"]["next_cursor"]
    assert seen == ids


def test_search_without_a_body_returns_everything(http: httpx.Client, auth: Auth) -> None:
    """An empty search lists all clients (default limit 100)."""
    for _ in range(3):
        create(http, auth)
    body = assert_ok(http.post("/v1/m2m/clients/search", headers=JSON, auth=auth))
    assert len(body["m2m_clients"]) == 3
    assert body["results_metadata"] == {"total": 3, "next_cursor": None}


def test_search_filters_by_scope_with_and(http: httpx.Client, auth: Auth) -> None:
    """Operands filter server-side."""
    wanted = create(http, auth, scopes=["admin"], client_name="x")["client_id"]
    create(http, auth, scopes=["read"], client_name="x")
    query = {
        "operator": "AND",
        "operands": [
            {"filter_name": "scopes", "filter_value": ["admin"]},
            {"filter_name": "client_name", "filter_value": ["x"]},
        ],
    }
    body = assert_ok(http.post("/v1/m2m/clients/search", json={"query": query}, auth=auth))
    assert [c["client_id"] for c in body["m2m_clients"]] == [wanted]


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        ({"limit": 1001}, "bad_request"),
        ({"limit": "5"}, "bad_request"),
        ({"cursor": "garbage"}, "invalid_cursor"),
        ({"cursor": ["x"]}, "invalid_cursor"),
        ({"query": {"operator": "NOT"}}, "bad_request"),
        ({"query": "client_id=x"}, "bad_request"),
        ({"filter": {}}, "bad_request"),
    ],
)
def test_invalid_searches_are_400(
    http: httpx.Client, auth: Auth, body: dict[str, Any], error_type: str
) -> None:
    """Out-of-range limits, bad cursors and malformed queries are 400."""
    assert_error(http.post("/v1/m2m/clients/search", json=body, auth=auth), 400, error_type)


# -- secret rotation --------------------------------------------------------------


def test_rotation_endpoints_follow_stytchs_flow(http: httpx.Client, auth: Auth) -> None:
    """start shows next_client_secret once; complete and cancel update last-four fields."""
    cid = create(http, auth)["client_id"]
    base = f"/v1/m2m/clients/{cid}/secrets/rotate"
    started = assert_ok(http.post(base + "/start", json={"client_id": cid}, auth=auth))
    client = started["m2m_client"]
    assert set(client) == CLIENT_FIELDS | {"next_client_secret"}
    assert client["next_client_secret_last_four"] == client["next_client_secret"][-4:]
    cancelled = assert_ok(http.post(base + "/cancel", json={"client_id": cid}, auth=auth))
    assert cancelled["m2m_client"]["next_client_secret_last_four"] is None
    assert_error(http.post(base, json={"client_id": cid}, auth=auth), 400)
    next_secret = assert_ok(http.post(base + "/start", headers=JSON, auth=auth))["m2m_client"][
        "next_client_secret"
    ]
    completed = assert_ok(http.post(base, headers=JSON, auth=auth))["m2m_client"]
    assert completed["client_secret_last_four"] == next_secret[-4:]
    assert completed["next_client_secret_last_four"] is None
    assert "next_client_secret" not in completed


def test_rotation_of_an_unknown_client_is_404(http: httpx.Client, auth: Auth) -> None:
    """Rotation calls report unknown ids."""
    for suffix in ("/start", "", "/cancel"):
        response = http.post(
            f"/v1/m2m/clients/nope/secrets/rotate{suffix}", headers=JSON, auth=auth
        )
        assert_error(response, 404, "m2m_client_not_found")


def test_rotation_with_a_foreign_body_client_id_is_400(http: httpx.Client, auth: Auth) -> None:
    """The body client_id must be the path's."""
    cid = create(http, auth)["client_id"]
    response = http.post(
        f"/v1/m2m/clients/{cid}/secrets/rotate/start", json={"client_id": "other"}, auth=auth
    )
    assert_error(response, 400)


# -- routing ------------------------------------------------------------------------


def test_unknown_routes_and_methods_get_stytch_errors(http: httpx.Client, auth: Auth) -> None:
    """404 and 405 use the Stytch error shape too."""
    assert_error(http.get("/v1/nothing-here", auth=auth), 404, "route_not_found")
    response = http.patch("/v1/m2m/clients", auth=auth)
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["allow"]
