"""The local issuer under hostile input, checked in its SQLite file afterwards.

Malformed JSON, wrong media types, huge bodies, odd Unicode, SQL-looking
strings and concurrent writers over real HTTP: every answer is a clear 4xx
(never a 500), and opening the database file directly (``sqlite3``) shows
exactly the rows there should be — values verbatim, secrets hashed, no
partial writes. The issuer uses a file database here, as ``m2m-guard
issuer`` does.
"""

from __future__ import annotations

import base64
import json
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from m2m_guard import Verifier
from m2m_guard._tools.server import ServerThread
from m2m_guard.issuer import CreatedClient, LocalIssuer, create_app
from m2m_guard.issuer._secrets import verify_secret
from tests.issuer._helpers import FAST, asgi_client

Snapshot = dict[str, list[tuple[Any, ...]]]
CLIENTS = "/v1/m2m/clients"
WORKERS = 8
# Every state-changing management call says JSON, with a body or without.
JSON = {"content-type": "application/json"}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """The issuer's database file."""
    return tmp_path / "issuer.db"


@pytest.fixture
def local(db_path: Path, key_factory: Callable[[], rsa.RSAPrivateKey]) -> Iterator[LocalIssuer]:
    """A file-backed issuer with cheap hashing."""
    with LocalIssuer(db_path, scrypt=FAST, key_factory=key_factory) as issuer:
        yield issuer


@pytest.fixture
def auth(local: LocalIssuer) -> tuple[str, str]:
    """The project's Basic credentials."""
    return local.project_id, local.project_secret


@pytest.fixture
def api(local: LocalIssuer) -> Iterator[httpx.Client]:
    """The issuer's HTTP API in process."""
    with asgi_client(create_app(issuer=local)) as client:
        yield client


@pytest.fixture
def server(local: LocalIssuer) -> Iterator[ServerThread]:
    """The issuer's HTTP API under real uvicorn on 127.0.0.1."""
    with ServerThread(create_app(issuer=local)) as running:
        yield running


@pytest.fixture
def seed(local: LocalIssuer) -> CreatedClient:
    """One existing client that hostile requests must leave untouched."""
    return local.create_client(
        scopes=["read:users"], client_name="seed", trusted_metadata={"team": "core"}
    )


def snapshot(db_path: Path) -> Snapshot:
    """Every row of every table, read from the file with a connection of our own."""
    with closing(sqlite3.connect(db_path)) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()  # noqa: S608
            for table in ("project", "clients", "signing_keys", "jwt_templates")
        }


def client_rows(db_path: Path) -> dict[str, dict[str, Any]]:
    """The clients table as {client_id: row}, straight from the file."""
    with closing(sqlite3.connect(db_path)) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM clients ORDER BY seq").fetchall()
    return {row["client_id"]: dict(row) for row in rows}


def assert_consistent(row: dict[str, Any], secret: str | None = None) -> None:
    """A complete row: hashed secret matching its last four, JSON columns well-formed."""
    assert row["secret_hash"].startswith("scrypt$")
    assert row["status"] in ("active", "inactive")
    assert isinstance(json.loads(row["scopes"]), list)
    assert isinstance(json.loads(row["trusted_metadata"]), dict)
    assert (row["next_secret_hash"] is None) == (row["next_secret_last_four"] is None)
    if secret is not None:
        assert verify_secret(secret, row["secret_hash"])
        assert row["secret_last_four"] == secret[-4:]


def assert_clear_4xx(response: httpx.Response, status: int, error_type: str) -> None:
    """A Stytch error body with this status and error_type."""
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["status_code"], body["error_type"]) == (status, error_type)
    assert body["error_message"]


def endpoints(local: LocalIssuer, cid: str) -> list[tuple[str, str]]:
    """Every endpoint that reads a JSON body."""
    one = f"{CLIENTS}/{cid}"
    return [
        ("POST", CLIENTS),
        ("POST", f"{CLIENTS}/search"),
        ("PUT", one),
        ("POST", one),
        ("DELETE", one),
        ("POST", f"{one}/secrets/rotate/start"),
        ("POST", f"{one}/secrets/rotate"),
        ("POST", f"{one}/secrets/rotate/cancel"),
        ("POST", f"/v1/public/{local.project_id}/oauth2/token"),
    ]


# -- malformed JSON ------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"scopes": [}',
        b'{"scopes": ["a"],}',
        b"{'scopes': []}",
        b"[]",
        b'"scopes"',
        b"null",
        b"42",
        b'{"scopes": NaN}',
        b'{"scopes": [], "trusted_metadata": {"x": -Infinity}}',
        b'{"scopes": [], "trusted_metadata": {"n": ' + b"9" * 5000 + b"}}",
        b"\xff\xfe\xfd",
        b"[" * 60_000,
    ],
    ids=lambda body: repr(body[:24]),
)
def test_malformed_json_is_a_400_on_every_endpoint_and_writes_nothing(
    api: httpx.Client,
    local: LocalIssuer,
    auth: tuple[str, str],
    seed: CreatedClient,
    db_path: Path,
    body: bytes,
) -> None:
    """Bad JSON, non-objects, NaN, huge integers: invalid_json; absurd nesting: json_too_deep."""
    before = snapshot(db_path)
    expected = "json_too_deep" if body.startswith(b"[[") else "invalid_json"
    for method, path in endpoints(local, seed.client.client_id):
        response = api.request(
            method, path, content=body, headers={"content-type": "application/json"}, auth=auth
        )
        assert_clear_4xx(response, 400, expected)
    assert snapshot(db_path) == before


# -- media types --------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "text/json",
    ],
)
def test_json_under_another_media_type_is_refused_and_writes_nothing(
    api: httpx.Client,
    auth: tuple[str, str],
    seed: CreatedClient,
    db_path: Path,
    content_type: str | None,
) -> None:
    """Management bodies must say application/json: "simple" cross-site posts cannot."""
    before = snapshot(db_path)
    headers = {} if content_type is None else {"content-type": content_type}
    for method, path, body in [
        ("POST", CLIENTS, {"scopes": ["read:users"], "client_name": "csrf"}),
        ("PUT", f"{CLIENTS}/{seed.client.client_id}", {"status": "inactive"}),
        ("POST", f"{CLIENTS}/{seed.client.client_id}/secrets/rotate/start", {}),
    ]:
        response = api.request(
            method, path, content=json.dumps(body).encode(), headers=headers, auth=auth
        )
        assert_clear_4xx(response, 400, "invalid_content_type")
    assert snapshot(db_path) == before


@pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=x", "application/xml"])
def test_token_requests_in_other_media_types_are_invalid_request(
    api: httpx.Client, local: LocalIssuer, seed: CreatedClient, content_type: str
) -> None:
    """The token endpoint reads only form and JSON bodies (RFC 6749 §4.4.2)."""
    form = f"grant_type=client_credentials&client_id={seed.client.client_id}"
    form += f"&client_secret={seed.client_secret}"
    response = api.post(
        f"/v1/public/{local.project_id}/oauth2/token",
        content=form.encode(),
        headers={"content-type": content_type},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/x+json"])
def test_json_media_types_with_parameters_or_suffixes_are_accepted(
    api: httpx.Client, auth: tuple[str, str], db_path: Path, content_type: str
) -> None:
    """application/json with parameters, and +json types, are JSON."""
    body = json.dumps({"scopes": ["read:users"], "client_name": "ok"}).encode()
    response = api.post(CLIENTS, content=body, headers={"content-type": content_type}, auth=auth)
    assert response.status_code == 200, response.text
    assert [row["client_name"] for row in client_rows(db_path).values()] == ["ok"]


# -- huge bodies and fields ----------------------------------------------------------


def test_huge_bodies_are_413_declared_or_streamed_and_write_nothing(
    api: httpx.Client, local: LocalIssuer, auth: tuple[str, str], seed: CreatedClient, db_path: Path
) -> None:
    """Bodies over the 64 KiB cap are 413 on management and token endpoints alike."""
    before = snapshot(db_path)
    big = json.dumps({"scopes": ["a"], "client_name": "x" * 70_000}).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    token_url = f"/v1/public/{local.project_id}/oauth2/token"
    json_type = {"content-type": "application/json"}
    for response in [
        api.post(CLIENTS, content=big, headers=json_type, auth=auth),
        api.post(CLIENTS, content=chunks(), headers=json_type, auth=auth),
        api.post(f"{CLIENTS}/search", content=big, headers=json_type, auth=auth),
        api.put(f"{CLIENTS}/{seed.client.client_id}", content=big, headers=json_type, auth=auth),
        api.post(token_url, data={"grant_type": "client_credentials", "pad": "x" * 1_048_576}),
    ]:
        assert response.status_code == 413, response.text
    assert snapshot(db_path) == before


@pytest.mark.slow
def test_a_huge_declared_body_is_refused_over_http_without_reading_it(
    server: ServerThread, auth: tuple[str, str], db_path: Path
) -> None:
    """A 100 MiB Content-Length gets 413 at once, though only a few bytes were sent."""
    before = snapshot(db_path)
    credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    request = (
        f"POST {CLIENTS} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Basic {credentials}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {100 * 1024 * 1024}\r\n\r\n"
        '{"scopes": ['
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        status_line = sock.makefile("rb").readline()
    assert status_line.split()[1] == b"413"
    assert snapshot(db_path) == before


@pytest.mark.parametrize(
    ("fields", "error_type"),
    [
        ({"client_name": "n" * 1025}, "bad_request"),
        ({"client_description": "d" * 1025}, "bad_request"),
        ({"scopes": [f"s:{i}" for i in range(201)]}, "bad_request"),
        ({"scopes": ["s" * 257]}, "invalid_scope"),
        ({"client_secret": "s" * 513}, "invalid_client_secret"),
        ({"client_id": "i" * 129}, "bad_request"),
    ],
    ids=["name", "description", "201-scopes", "long-scope", "long-secret", "long-id"],
)
def test_oversized_fields_are_400_and_write_nothing(
    api: httpx.Client,
    auth: tuple[str, str],
    db_path: Path,
    fields: dict[str, Any],
    error_type: str,
) -> None:
    """Field limits hold over HTTP: names, descriptions, scopes, secrets, ids."""
    before = snapshot(db_path)
    response = api.post(CLIENTS, json={"scopes": ["a"], **fields}, auth=auth)
    assert_clear_4xx(response, 400, error_type)
    assert snapshot(db_path) == before


# -- odd Unicode ---------------------------------------------------------------------

ODD_TEXT = {
    "nul": "before\x00after",
    "rtl-override": "admin\u202egnp.exe",
    "zwj-emoji": "\U0001f469\u200d\U0001f4bb \U0001f511",
    "combining": "e\u0301\u0301\u0301",
    "bom-and-zero-width": "\ufeff\u200b\u2060",
    "line-separators": "a\u2028b\u2029c\r\nd",
    "astral": "\U0001d54f\U00010348",
    "arabic": "\u0645\u0631\u062d\u0628\u0627",
    "control": "\x01\x1b[31m\x7f",
}


@pytest.mark.parametrize("text", ODD_TEXT.values(), ids=ODD_TEXT.keys())
def test_odd_unicode_in_names_and_metadata_is_stored_and_returned_verbatim(
    api: httpx.Client, auth: tuple[str, str], db_path: Path, text: str
) -> None:
    """NUL, bidi overrides, emoji, combining marks: the same text in the row and the answer."""
    metadata = {text: text, "nested": [text, {text: None}]}
    fields = {"client_name": text, "client_description": text, "trusted_metadata": metadata}
    response = api.post(CLIENTS, json={"scopes": ["read:users"], **fields}, auth=auth)
    assert response.status_code == 200, response.text
    created = response.json()["m2m_client"]
    cid = created["client_id"]

    fetched = api.get(f"{CLIENTS}/{cid}", auth=auth).json()["m2m_client"]
    assert (fetched["client_name"], fetched["client_description"]) == (text, text)
    assert fetched["trusted_metadata"] == metadata
    found = api.post(
        f"{CLIENTS}/search",
        json={
            "query": {
                "operator": "AND",
                "operands": [{"filter_name": "client_name", "filter_value": [text]}],
            }
        },
        auth=auth,
    ).json()
    assert [c["client_id"] for c in found["m2m_clients"]] == [cid]

    (row,) = client_rows(db_path).values()
    assert (row["client_name"], row["client_description"]) == (text, text)
    assert json.loads(row["trusted_metadata"]) == metadata
    assert_consistent(row, created["client_secret"])


@pytest.mark.parametrize(
    "scope",
    ["read:\u00fc", "\U0001f511", "read users", "read:users\x00", "read:\u202eusers", 'a"b', ""],
)
def test_scopes_outside_rfc_6749_syntax_are_400_and_write_nothing(
    api: httpx.Client, auth: tuple[str, str], db_path: Path, scope: str
) -> None:
    """A scope token is printable ASCII without space, quote or backslash (RFC 6749 §3.3)."""
    before = snapshot(db_path)
    response = api.post(CLIENTS, json={"scopes": [scope]}, auth=auth)
    assert_clear_4xx(response, 400, "invalid_scope")
    assert snapshot(db_path) == before


_CREDENTIALS = '"grant_type": "client_credentials", "client_id": "$cid", "client_secret": "$secret"'


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", CLIENTS, '{"scopes": [], "client_name": "x${s}y"}'),
        ("POST", CLIENTS, '{"scopes": [], "client_description": "$s"}'),
        ("POST", CLIENTS, '{"scopes": [], "trusted_metadata": {"$s": 1}}'),
        ("POST", CLIENTS, '{"scopes": [], "trusted_metadata": {"k": ["$s"]}}'),
        ("POST", CLIENTS, '{"scopes": [], "client_secret": "12345678$s"}'),
        ("PUT", "$seed", '{"client_name": "$s"}'),
        (
            "POST",
            CLIENTS + "/search",
            '{"query": {"operator": "OR", "operands": '
            '[{"filter_name": "client_name", "filter_value": ["$s"]}]}}',
        ),
        ("POST", "$token", '{"grant_type": "client_credentials", "client_id": "$s"}'),
        ("POST", "$token", "{" + _CREDENTIALS + ', "claim": "$s"}'),
    ],
    ids=[
        "name",
        "description",
        "metadata-key",
        "metadata-value",
        "secret",
        "update-name",
        "search-value",
        "token-client-id",
        "token-custom-claim",
    ],
)
def test_lone_surrogates_are_400_never_500_and_write_nothing(
    api: httpx.Client,
    local: LocalIssuer,
    auth: tuple[str, str],
    seed: CreatedClient,
    db_path: Path,
    method: str,
    path: str,
    body: str,
) -> None:
    """An escaped unpaired surrogate is not Unicode text: refused before SQLite sees it."""
    before = snapshot(db_path)
    values = {
        "s": "\\ud800",  # the JSON escape of a lone high surrogate
        "seed": f"{CLIENTS}/{seed.client.client_id}",
        "token": f"/v1/public/{local.project_id}/oauth2/token",
        "cid": seed.client.client_id,
        "secret": seed.client_secret,
    }
    response = api.request(
        method,
        Template(path).substitute(values),
        content=Template(body).substitute(values).encode(),
        headers={"content-type": "application/json"},
        auth=auth,
    )
    assert_clear_4xx(response, 400, "invalid_json")
    assert snapshot(db_path) == before


# -- SQL-looking strings --------------------------------------------------------------

SQL_NAME = "Robert'); DROP TABLE clients;--"
SQL_DESCRIPTION = "' OR '1'='1' --"
SQL_METADATA = {"q'; DELETE FROM clients; --": "1 UNION SELECT project_secret FROM project"}
SQL_SCOPES = ["read:users');DROP_TABLE_signing_keys;--", "x'OR'1'='1"]


def test_sql_looking_strings_are_stored_and_returned_verbatim(
    api: httpx.Client, auth: tuple[str, str], seed: CreatedClient, db_path: Path
) -> None:
    """Injection payloads in every text field are just text: stored, returned, searched as such."""
    fields = {
        "client_name": SQL_NAME,
        "client_description": SQL_DESCRIPTION,
        "trusted_metadata": SQL_METADATA,
        "scopes": SQL_SCOPES,
    }
    response = api.post(CLIENTS, json=fields, auth=auth)
    assert response.status_code == 200, response.text
    created = response.json()["m2m_client"]
    fetched = api.get(f"{CLIENTS}/{created['client_id']}", auth=auth).json()["m2m_client"]
    assert {name: fetched[name] for name in fields} == fields

    def search(name: str, *values: str) -> list[str]:
        operands = [{"filter_name": name, "filter_value": list(values)}]
        body = {"query": {"operator": "OR", "operands": operands}}
        page = api.post(f"{CLIENTS}/search", json=body, auth=auth).json()
        assert page["results_metadata"]["total"] == len(page["m2m_clients"])
        return [client["client_name"] for client in page["m2m_clients"]]

    assert search("client_name", SQL_NAME) == [SQL_NAME]
    assert search("client_name", "' OR '1'='1") == []
    assert search("client_id", "x' OR 1=1 --", "') OR ('1'='1") == []
    assert search("scopes", SQL_SCOPES[1]) == [SQL_NAME]
    assert search("scopes", "read:users' OR '1'='1") == []

    rows = client_rows(db_path)
    assert set(rows) == {seed.client.client_id, created["client_id"]}
    row = rows[created["client_id"]]
    assert (row["client_name"], row["client_description"]) == (SQL_NAME, SQL_DESCRIPTION)
    assert json.loads(row["trusted_metadata"]) == SQL_METADATA
    assert json.loads(row["scopes"]) == SQL_SCOPES
    assert_consistent(row, created["client_secret"])
    assert_consistent(rows[seed.client.client_id], seed.client_secret)


def test_sql_looking_ids_credentials_and_cursors_are_refused_cleanly(
    api: httpx.Client, local: LocalIssuer, auth: tuple[str, str], seed: CreatedClient, db_path: Path
) -> None:
    """Injection in paths, imported ids, token credentials and cursors: 4xx, nothing written."""
    before = snapshot(db_path)
    injected = "x' OR '1'='1"
    assert_clear_4xx(
        api.get(f"{CLIENTS}/{quote(injected)}", auth=auth), 404, "m2m_client_not_found"
    )
    assert_clear_4xx(
        api.delete(f"{CLIENTS}/{quote(injected)}", headers=JSON, auth=auth),
        404,
        "m2m_client_not_found",
    )
    assert_clear_4xx(
        api.post(CLIENTS, json={"scopes": [], "client_id": injected}, auth=auth), 400, "bad_request"
    )
    assert_clear_4xx(
        api.post(f"{CLIENTS}/search", json={"cursor": "' OR 1=1 --"}, auth=auth),
        400,
        "invalid_cursor",
    )
    token = api.post(
        f"/v1/public/{local.project_id}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": injected, "client_secret": injected},
    )
    assert (token.status_code, token.json()["error"]) == (401, "invalid_client")
    assert snapshot(db_path) == before


# -- headers, nesting and query sizes that used to reach SQLite or the encoder ----------


NON_ASCII_BASIC = [
    "Basic \u00e9\u00e9\u00e9\u00e9",
    "Basic dXNlcjpw\u00fcss",
    "basic \u00ff",
    "Basic \u0080\u0081==",
]


@pytest.mark.parametrize("header", NON_ASCII_BASIC)
def test_a_basic_header_with_non_ascii_bytes_is_a_clear_401(
    api: httpx.Client, local: LocalIssuer, seed: CreatedClient, db_path: Path, header: str
) -> None:
    """Latin-1 bytes in the Basic header: 401 on every endpoint, before anything else."""
    before = snapshot(db_path)
    raw = {"authorization": header.encode("latin-1"), "content-type": "application/json"}
    for method, path in [*endpoints(local, seed.client.client_id), ("GET", f"{CLIENTS}/x")]:
        body = b'{"grant_type": "client_credentials"}' if "oauth2" in path else b"{}"
        response = api.request(method, path, content=body, headers=raw)
        assert response.status_code == 401, (method, path, response.text)
        body = response.json()
        assert body["status_code"] == 401
        if path.endswith("/oauth2/token"):
            assert body["error"] == "invalid_client"
        else:
            assert body["error_type"] == "unauthorized_credentials"
    assert snapshot(db_path) == before


def _operands(count: int, values: int = 1) -> dict[str, Any]:
    operand = {"filter_name": "client_name", "filter_value": [f"n{i}" for i in range(values)]}
    return {"query": {"operator": "OR", "operands": [operand] * count}}


@pytest.mark.parametrize(
    "body",
    [_operands(51), _operands(1000), _operands(2, 1000), _operands(10, 150)],
    ids=["51-operands", "1000-operands", "2x1000-values", "10x150-values"],
)
def test_searches_past_the_operand_and_value_caps_are_400(
    api: httpx.Client, auth: tuple[str, str], seed: CreatedClient, body: dict[str, Any]
) -> None:
    """SQLite's expression depth and variable limits are never reached: 400, not 500."""
    assert_clear_4xx(
        api.post(f"{CLIENTS}/search", json=body, auth=auth), 400, "invalid_search_query"
    )


def test_a_search_at_the_caps_works(
    api: httpx.Client, auth: tuple[str, str], seed: CreatedClient
) -> None:
    """50 operands, 1000 values in all: answered."""
    body = _operands(50, 20)
    body["query"]["operands"].append({"filter_name": "client_name", "filter_value": ["seed"]})
    body["query"]["operands"].pop(0)
    response = api.post(f"{CLIENTS}/search", json=body, auth=auth)
    assert response.status_code == 200, response.text
    assert [c["client_name"] for c in response.json()["m2m_clients"]] == ["seed"]


def _nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"k": value}
    return value


def _nested_text(levels: int) -> str:
    # Built as text: json.dumps itself would overflow Python's recursion here.
    return '{"k": ' * levels + '"leaf"' + "}" * levels


@pytest.mark.parametrize("levels", [33, 200, 960])
def test_deeply_nested_metadata_is_refused_before_it_is_stored(
    api: httpx.Client,
    auth: tuple[str, str],
    seed: CreatedClient,
    db_path: Path,
    levels: int,
) -> None:
    """Create and update refuse it (400); listing and reading keep working afterwards."""
    before = snapshot(db_path)
    deep = _nested_text(levels)
    body = f'{{"scopes": ["a"], "trusted_metadata": {deep}}}'.encode()
    created = api.post(CLIENTS, content=body, headers=JSON, auth=auth)
    assert_clear_4xx(created, 400, "json_too_deep")
    path = f"{CLIENTS}/{seed.client.client_id}"
    update = f'{{"trusted_metadata": {deep}}}'.encode()
    assert_clear_4xx(api.put(path, content=update, headers=JSON, auth=auth), 400, "json_too_deep")
    assert snapshot(db_path) == before
    assert api.get(path, auth=auth).status_code == 200
    listed = api.post(f"{CLIENTS}/search", json={}, auth=auth)
    assert listed.status_code == 200
    assert listed.json()["results_metadata"]["total"] == 1


def test_metadata_at_the_depth_cap_round_trips(
    api: httpx.Client, auth: tuple[str, str], db_path: Path
) -> None:
    """32 levels are stored and read back verbatim."""
    deep = _nested(31)  # the metadata object itself is the first level
    created = api.post(CLIENTS, json={"scopes": ["a"], "trusted_metadata": deep}, auth=auth)
    assert created.status_code == 200, created.text
    cid = created.json()["m2m_client"]["client_id"]
    assert api.get(f"{CLIENTS}/{cid}", auth=auth).json()["m2m_client"]["trusted_metadata"] == deep


# -- cross-site requests: every state change must say JSON -------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"content-type": "application/x-www-form-urlencoded"},
        {"content-type": "text/plain"},
        {"content-type": "multipart/form-data; boundary=x"},
    ],
    ids=["none", "form", "text", "multipart"],
)
def test_empty_bodies_without_json_change_nothing(
    api: httpx.Client,
    local: LocalIssuer,
    auth: tuple[str, str],
    seed: CreatedClient,
    db_path: Path,
    headers: dict[str, str],
) -> None:
    """An empty HTML form POST cannot rotate, complete, cancel, update, delete or create."""
    local.start_secret_rotation(seed.client.client_id)
    before = snapshot(db_path)
    one = f"{CLIENTS}/{seed.client.client_id}"
    template = f"/pwa/v3/projects/{local.project_id}/environments/test/jwt_templates/M2M"
    for method, path in [
        ("POST", CLIENTS),
        ("POST", f"{one}/secrets/rotate/start"),
        ("POST", f"{one}/secrets/rotate"),
        ("POST", f"{one}/secrets/rotate/cancel"),
        ("PUT", one),
        ("POST", one),
        ("DELETE", one),
        ("PUT", template),
    ]:
        response = api.request(method, path, headers=headers, auth=auth)
        assert_clear_4xx(response, 400, "invalid_content_type")
    assert snapshot(db_path) == before


# -- Stytch's cursors and trailing slashes ------------------------------------------------


@pytest.mark.parametrize("cursor", ["", None])
def test_an_empty_or_null_cursor_is_the_first_page(
    api: httpx.Client, auth: tuple[str, str], local: LocalIssuer, cursor: str | None
) -> None:
    """Stytch's own docs send cursor "" for the first page."""
    ids = [local.create_client(scopes=["a"]).client.client_id for _ in range(3)]
    response = api.post(f"{CLIENTS}/search", json={"cursor": cursor, "limit": 2}, auth=auth)
    assert response.status_code == 200, response.text
    assert [c["client_id"] for c in response.json()["m2m_clients"]] == ids[:2]


def test_management_routes_with_a_trailing_slash_are_served(
    server: ServerThread, local: LocalIssuer, auth: tuple[str, str], db_path: Path
) -> None:
    """POST /v1/m2m/clients/ and friends are answered, never with a 307 and no body."""
    with httpx.Client(base_url=server.base_url, auth=auth, trust_env=False) as http:
        created = http.post(f"{CLIENTS}/", json={"scopes": ["a"], "client_name": "slash"})
        assert created.status_code == 200, created.text
        client = created.json()["m2m_client"]
        one = f"{CLIENTS}/{client['client_id']}/"
        assert http.get(one).json()["m2m_client"]["client_name"] == "slash"
        assert http.put(one, json={"client_name": "renamed"}).status_code == 200
        assert http.post(f"{CLIENTS}/search/", json={}).json()["results_metadata"]["total"] == 1
        assert http.post(f"{one}secrets/rotate/start/", json={}).status_code == 200
        assert http.post(f"{one}secrets/rotate/cancel/", json={}).status_code == 200
        token = http.post(
            f"/v1/public/{local.project_id}/oauth2/token/",
            json={
                "grant_type": "client_credentials",
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
            },
            auth=None,
        )
        assert token.status_code == 200, token.text
        assert http.get(f"/v1/sessions/jwks/{local.project_id}/").status_code == 200
        assert http.get("/.well-known/openid-configuration/").status_code == 200
        missing = http.get(f"{CLIENTS}//x//")
        assert_clear_4xx(missing, 404, "route_not_found")
        assert http.delete(one, headers=JSON).status_code == 200
    assert client_rows(db_path) == {}


# -- failures inside the issuer ------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "error_type"),
    [
        (sqlite3.OperationalError("database is locked"), 503, "database_unavailable"),
        (sqlite3.DatabaseError("database disk image is malformed"), 500, "internal_server_error"),
        (RecursionError("maximum recursion depth exceeded"), 500, "internal_server_error"),
    ],
)
def test_database_errors_are_json_without_details(
    api: httpx.Client,
    local: LocalIssuer,
    auth: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
    status: int,
    error_type: str,
) -> None:
    """A failing database is a Stytch-shaped 503/500; the body leaks nothing; paths log as %r."""

    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(local, "get_client", fail)
    with caplog.at_level("ERROR", logger="m2m_guard.issuer"):
        response = api.get(f"{CLIENTS}/%1b%5b31mred%0aFORGED", auth=auth)
    assert_clear_4xx(response, status, error_type)
    assert str(error) not in response.text
    if status == 503:
        assert response.headers["retry-after"] == "1"
    messages = [record.getMessage() for record in caplog.records]
    assert messages, "the failure is logged"
    assert all("\x1b" not in message and "\n" not in message for message in messages)
    assert any("'/v1/m2m/clients/\\x1b[31mred" in message for message in messages)


# -- concurrency over real HTTP on a file database ---------------------------------------


def concurrently(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run the calls from WORKERS threads, all held at a start gate and released at once."""
    gate = threading.Event()

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        gate.wait(timeout=10)
        return call()

    with ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(run, call) for call in calls]
        gate.set()
        responses = [future.result() for future in futures]
    assert all(response.status_code < 500 for response in responses), [
        response.text for response in responses if response.status_code >= 500
    ]
    return responses


@pytest.fixture
def remote(server: ServerThread, auth: tuple[str, str]) -> Iterator[httpx.Client]:
    """An HTTP client of the real server, shared by the worker threads."""
    with httpx.Client(base_url=server.base_url, auth=auth, trust_env=False, timeout=30) as client:
        yield client


@pytest.mark.slow
def test_concurrent_creates_over_http_all_land_exactly_once(
    remote: httpx.Client, db_path: Path
) -> None:
    """Forty creates from eight threads: forty complete rows, secrets only as hashes."""
    responses = concurrently(
        [
            lambda n=n: remote.post(CLIENTS, json={"scopes": ["s:a"], "client_name": f"c{n}"})
            for n in range(40)
        ]
    )
    created = {r.json()["m2m_client"]["client_id"]: r.json()["m2m_client"] for r in responses}
    rows = client_rows(db_path)
    assert set(rows) == set(created)
    for cid, client in created.items():
        assert rows[cid]["client_name"] == client["client_name"]
        assert_consistent(rows[cid], client["client_secret"])
    files = b"".join(path.read_bytes() for path in db_path.parent.iterdir())
    assert not any(client["client_secret"].encode() in files for client in created.values())


@pytest.mark.slow
def test_concurrent_imports_of_one_client_id_leave_exactly_one_winner(
    remote: httpx.Client, db_path: Path
) -> None:
    """Eight creates of the same client_id: one 200, seven 409, the winner's row intact."""
    responses = concurrently(
        [
            lambda n=n: remote.post(
                CLIENTS,
                json={
                    "scopes": [f"s:{n}"],
                    "client_id": "svc-orders",
                    "client_name": f"importer-{n}",
                    "client_secret": f"imported-secret-{n:02d}",
                },
            )
            for n in range(WORKERS)
        ]
    )
    (winner,) = [r.json()["m2m_client"] for r in responses if r.status_code == 200]
    losers = [r for r in responses if r.status_code != 200]
    assert len(losers) == WORKERS - 1
    for response in losers:
        assert_clear_4xx(response, 409, "duplicate_m2m_client_id")
    (row,) = client_rows(db_path).values()
    assert (row["client_id"], row["client_name"]) == ("svc-orders", winner["client_name"])
    assert json.loads(row["scopes"]) == winner["scopes"]
    assert_consistent(row, winner["client_secret"])


@pytest.mark.slow
def test_concurrent_updates_of_one_client_over_http_all_survive(
    remote: httpx.Client, seed: CreatedClient, db_path: Path
) -> None:
    """Updates of different fields from many threads: every change is in the row."""
    path = f"{CLIENTS}/{seed.client.client_id}"
    changes: list[dict[str, Any]] = [
        {"client_name": "renamed"},
        {"client_description": "described"},
        {"status": "inactive"},
        {"scopes": ["x:1", "y:2"]},
        {"trusted_metadata": {"owner": "payments"}},
    ]
    concurrently([lambda c=c: remote.put(path, json=c) for c in changes * 4])
    row = client_rows(db_path)[seed.client.client_id]
    assert (row["client_name"], row["client_description"], row["status"]) == (
        "renamed",
        "described",
        "inactive",
    )
    assert json.loads(row["scopes"]) == ["x:1", "y:2"]
    assert json.loads(row["trusted_metadata"]) == {"owner": "payments"}
    assert_consistent(row, seed.client_secret)


@pytest.mark.slow
def test_concurrent_secret_rotations_leave_one_consistent_secret(
    remote: httpx.Client, local: LocalIssuer, seed: CreatedClient, db_path: Path
) -> None:
    """Racing starts leave one next secret; racing completes promote it exactly once."""
    path = f"{CLIENTS}/{seed.client.client_id}/secrets/rotate"
    started = concurrently(
        [lambda: remote.post(f"{path}/start", headers=JSON) for _ in range(WORKERS)]
    )
    candidates = {r.json()["m2m_client"]["next_client_secret"] for r in started}
    assert len(candidates) == WORKERS
    row = client_rows(db_path)[seed.client.client_id]
    (pending,) = [s for s in candidates if verify_secret(s, row["next_secret_hash"])]
    assert row["next_secret_last_four"] == pending[-4:]
    assert_consistent(row, seed.client_secret)

    completed = concurrently([lambda: remote.post(path, headers=JSON) for _ in range(WORKERS)])
    assert sorted(r.status_code for r in completed) == [200] + [400] * (WORKERS - 1)
    for response in completed:
        if response.status_code == 400:
            assert_clear_4xx(response, 400, "m2m_client_secret_rotation_not_started")
    row = client_rows(db_path)[seed.client.client_id]
    assert (row["next_secret_hash"], row["next_secret_last_four"]) == (None, None)
    assert_consistent(row, pending)
    assert not verify_secret(seed.client_secret, row["secret_hash"])
    token_url = f"/v1/public/{local.project_id}/oauth2/token"
    form = {"grant_type": "client_credentials", "client_id": seed.client.client_id}
    assert remote.post(token_url, data={**form, "client_secret": pending}).status_code == 200
    refused = remote.post(token_url, data={**form, "client_secret": seed.client_secret})
    assert refused.status_code == 401


@pytest.mark.slow
def test_concurrent_deletes_updates_and_rotations_of_one_client_never_500(
    remote: httpx.Client, seed: CreatedClient, db_path: Path
) -> None:
    """One delete wins; every other call is a clean 404 or 200 before it; no row remains."""
    path = f"{CLIENTS}/{seed.client.client_id}"
    calls: list[Callable[[], httpx.Response]] = [
        lambda: remote.delete(path, headers=JSON),
        lambda: remote.put(path, json={"client_name": "late"}),
        lambda: remote.post(f"{path}/secrets/rotate/start", headers=JSON),
        lambda: remote.get(path),
    ]
    responses = concurrently(calls * 4)
    deletes = [r.status_code for r in responses[::4]]
    assert sorted(deletes) == [200, 404, 404, 404]
    for response in responses:
        if response.status_code == 404:
            assert response.json()["error_type"] == "m2m_client_not_found"
        else:
            assert response.status_code == 200, response.text
    assert client_rows(db_path) == {}


@pytest.mark.slow
def test_key_rotations_during_token_requests_keep_one_signing_key(
    remote: httpx.Client, local: LocalIssuer, seed: CreatedClient, db_path: Path
) -> None:
    """Rotating keys while tokens are issued: every token verifies, one key signs."""
    token_url = f"/v1/public/{local.project_id}/oauth2/token"
    form = {
        "grant_type": "client_credentials",
        "client_id": seed.client.client_id,
        "client_secret": seed.client_secret,
    }

    def rotate() -> httpx.Response:
        local.rotate_keys()  # as `m2m-guard issuer rotate-keys` would, next to the server
        return httpx.Response(200)

    calls: list[Callable[[], httpx.Response]] = [rotate] * 3
    calls += [lambda: remote.post(token_url, data=form)] * 13
    responses = concurrently(calls)
    tokens = [r.json()["access_token"] for r in responses if "access_token" in r.text]
    assert len(tokens) == 13

    jwks = remote.get(f"/v1/sessions/jwks/{local.project_id}").json()
    verifier = Verifier(issuer=local.issuer, audience=local.project_id, jwks=jwks)
    for token in tokens:
        assert verifier.verify(token).client_id == seed.client.client_id
    keys = snapshot(db_path)["signing_keys"]
    assert len(keys) == 4
    assert sum(1 for key in keys if key[3] is None) == 1  # retire_at: only one signer


def test_brackets_inside_strings_do_not_count_as_nesting(
    api: httpx.Client, auth: tuple[str, str], db_path: Path
) -> None:
    """The depth check before parsing skips string contents, escaped quotes included."""
    text = '[{\\"' + "[" * 100 + "{" * 100
    created = api.post(
        CLIENTS,
        json={"scopes": ["a"], "client_name": "brackets", "trusted_metadata": {"x": text}},
        auth=auth,
    )
    assert created.status_code == 200, created.text
    assert [row["client_name"] for row in client_rows(db_path).values()] == ["brackets"]
