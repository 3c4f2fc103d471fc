"""M2MBearer in the OpenAPI document: the clientCredentials flow, its scopes, the
documented 401/403/503 answers, and a token fetched through the documented tokenUrl."""

# No "from __future__ import annotations": FastAPI reads the route annotations at runtime.
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Security

from m2m_guard import ConfigurationError, M2MClaims, Verifier
from m2m_guard._tools.server import ServerThread
from m2m_guard.fastapi import M2MBearer, install
from m2m_guard.starlette import lifespan
from m2m_guard.testing import LiveIssuer

TOKEN_URL = "https://auth.example.com/oauth2/token"


def orders_app(guard: M2MBearer, app: FastAPI | None = None) -> FastAPI:
    """GET /orders needs read:orders, POST /orders write:orders (declares its own 403)."""
    app = install(app or FastAPI())

    @app.get("/orders")
    async def read(claims: Annotated[M2MClaims, Security(guard, scopes=["read:orders"])]) -> Any:
        return {"client_id": claims.client_id}

    @app.post("/orders", responses={403: {"description": "Not yours"}})
    async def write(claims: Annotated[M2MClaims, Security(guard, scopes=["write:orders"])]) -> Any:
        return {"client_id": claims.client_id}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def test_a_token_url_makes_a_client_credentials_flow_with_every_scope(verifier: Verifier) -> None:
    """Given descriptions win; scopes the operations use are added, described by their name."""
    guard = M2MBearer(verifier, token_url=TOKEN_URL, scopes={"read:orders": "Read orders"})
    document = orders_app(guard).openapi()
    assert document["components"]["securitySchemes"]["M2MBearer"] == {
        "type": "oauth2",
        "flows": {
            "clientCredentials": {
                "tokenUrl": TOKEN_URL,
                "scopes": {"read:orders": "Read orders", "write:orders": "write:orders"},
            }
        },
    }
    assert document["paths"]["/orders"]["get"]["security"] == [{"M2MBearer": ["read:orders"]}]


def test_the_verifier_token_url_is_used_and_plain_bearer_without_one(verifier: Verifier) -> None:
    stytch = Verifier.for_stytch("project-test-1")
    flow = orders_app(M2MBearer(stytch)).openapi()["components"]["securitySchemes"]["M2MBearer"]
    assert flow["flows"]["clientCredentials"]["tokenUrl"] == (
        "https://test.stytch.com/v1/public/project-test-1/oauth2/token"
    )
    plain = orders_app(M2MBearer(verifier)).openapi()["components"]["securitySchemes"]
    assert plain["M2MBearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    combined = Verifier.combine(stytch)
    schemes = orders_app(M2MBearer(combined)).openapi()["components"]["securitySchemes"]
    assert schemes["M2MBearer"]["type"] == "http"
    given = M2MBearer(combined, token_url=TOKEN_URL)
    schemes = orders_app(given).openapi()["components"]["securitySchemes"]
    assert schemes["M2MBearer"]["flows"]["clientCredentials"]["tokenUrl"] == TOKEN_URL


def test_protected_operations_document_401_403_503_and_keep_their_own(verifier: Verifier) -> None:
    document = orders_app(M2MBearer(verifier)).openapi()
    get = document["paths"]["/orders"]["get"]["responses"]
    assert {"200", "401", "403", "503"} <= set(get)
    error_ref = {"$ref": "#/components/schemas/M2MGuardError"}
    for status in ("401", "403", "503"):
        assert get[status]["content"]["application/json"]["schema"] == error_ref
    assert "WWW-Authenticate" in get["401"]["headers"]
    assert "WWW-Authenticate" in get["403"]["headers"]
    assert "Retry-After" in get["503"]["headers"]
    post = document["paths"]["/orders"]["post"]["responses"]
    assert post["403"] == {"description": "Not yours"}  # declared by the app: left alone
    assert "401" in post
    assert set(document["paths"]["/health"]["get"]["responses"]) == {"200"}
    schema = document["components"]["schemas"]["M2MGuardError"]
    assert set(schema["properties"]) == {"error", "error_description"}


def test_the_document_is_completed_once_and_install_twice_is_harmless(verifier: Verifier) -> None:
    app = install(orders_app(M2MBearer(verifier, token_url=TOKEN_URL)))
    first = app.openapi()
    assert app.openapi() is first
    assert first["components"]["securitySchemes"]["M2MBearer"]["flows"]["clientCredentials"][
        "scopes"
    ] == {"read:orders": "read:orders", "write:orders": "write:orders"}


def test_the_token_url_is_read_when_the_document_is_generated(verifier: Verifier) -> None:
    """A model set by hand wins; otherwise the verifier is asked each time a document is built."""
    guard = M2MBearer(verifier)
    assert guard.model.type_.value == "http"
    verifier._token_url = TOKEN_URL  # as discovery would record a token_endpoint
    assert guard.model.type_.value == "oauth2"
    custom = M2MBearer(verifier).model
    guard.model = custom
    assert guard.model is custom


@pytest.mark.parametrize("scopes", [{"a b": "two"}, {"": "empty"}, {"a": 1}, ["a"]])
def test_bad_scope_descriptions_are_refused(verifier: Verifier, scopes: Any) -> None:
    with pytest.raises(ConfigurationError, match="scopes"):
        M2MBearer(verifier, scopes=scopes)


def test_a_bad_token_url_is_refused(verifier: Verifier) -> None:
    with pytest.raises(ConfigurationError, match="token_url"):
        M2MBearer(verifier, token_url="ftp://auth.example.com/token")


# -- against a real local issuer, over HTTP ------------------------------------------------


@pytest.fixture
def served(m2m_issuer: LiveIssuer) -> Iterator[tuple[LiveIssuer, str]]:
    """The orders app on uvicorn, its verifier the local issuer's Stytch preset."""
    verifier = m2m_issuer.new_verifier()
    guard = M2MBearer(verifier, scopes={"read:orders": "Read orders"})
    app = orders_app(guard, FastAPI(lifespan=lifespan(verifier, require_keys=True)))
    with ServerThread(app) as server:
        yield m2m_issuer, server.base_url


@pytest.mark.slow
def test_a_token_from_the_documented_token_url_opens_the_operation(
    served: tuple[LiveIssuer, str],
) -> None:
    """Only the OpenAPI document says where tokens come from: 200 with the scope, 403 without."""
    issuer, base_url = served
    client = issuer.create_client(scopes=["read:orders"])
    with httpx.Client(base_url=base_url) as http:
        document = http.get("/openapi.json").json()
        scheme = document["components"]["securitySchemes"]["M2MBearer"]
        flow = scheme["flows"]["clientCredentials"]
        assert "read:orders" in flow["scopes"]
        assert "write:orders" in flow["scopes"]
        answer = http.post(
            flow["tokenUrl"],
            data={
                "grant_type": "client_credentials",
                "client_id": client.client_id,
                "client_secret": client.client_secret,
                "scope": "read:orders",
            },
        )
        assert answer.status_code == 200, answer.text
        headers = {"authorization": f"Bearer {answer.json()['access_token']}"}
        assert http.get("/orders", headers=headers).json() == {"client_id": client.client_id}
        refused = http.post("/orders", headers=headers)
        assert refused.status_code == 403
        assert refused.json()["error"] == "insufficient_scope"


def test_fastapi_documents_a_token_header_or_cookie_as_an_api_key(verifier: Verifier) -> None:
    """OpenAPI names the header (or cookie) a client must send."""
    app = install(FastAPI())
    by_header = M2MBearer(verifier, token_header="X-Api-Token", scheme_name="header")
    by_cookie = M2MBearer(verifier, token_cookie="m2m", scheme_name="cookie")

    @app.get("/h")
    async def h(claims: Annotated[M2MClaims, Security(by_header)]) -> Any:
        return {}  # pragma: no cover - only documented

    @app.get("/c")
    async def c(claims: Annotated[M2MClaims, Security(by_cookie)]) -> Any:
        return {}  # pragma: no cover - only documented

    schemes = app.openapi()["components"]["securitySchemes"]
    assert schemes["header"] == {"type": "apiKey", "in": "header", "name": "X-Api-Token"}
    assert schemes["cookie"] == {"type": "apiKey", "in": "cookie", "name": "m2m"}
