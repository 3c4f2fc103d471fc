"""FastAPI's OpenAPI document says which routes need DPoP, and how."""

# No "from __future__ import annotations": FastAPI reads the route annotations at runtime.
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Security

from m2m_guard import DPoPPolicy, M2MClaims, Verifier
from m2m_guard.fastapi import M2MBearer, install
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of


def app_with(mode: str, rsa_key: SigningKey) -> FastAPI:
    policy = DPoPPolicy(algorithms=("ES256", "EdDSA")) if mode != "off" else None
    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), dpop=mode, dpop_policy=policy
    )
    guard = M2MBearer(verifier)
    app = install(FastAPI())

    @app.get("/orders")
    async def read(claims: Annotated[M2MClaims, Security(guard, scopes=["read:orders"])]) -> Any:
        return {"client_id": claims.client_id}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.mark.parametrize("mode", ["allowed", "required"])
def test_dpop_routes_document_the_proof_header(mode: str, rsa_key: SigningKey) -> None:
    """The scheme carries ``x-dpop`` (mode, algorithms); each operation its DPoP header."""
    document = app_with(mode, rsa_key).openapi()
    scheme = document["components"]["securitySchemes"]["M2MBearer"]
    assert scheme["x-dpop"] == {"mode": mode, "algs": ["ES256", "EdDSA"]}
    operation = document["paths"]["/orders"]["get"]
    assert operation["x-dpop"] == mode
    [header] = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "DPoP"
    assert header["required"] is (mode == "required")
    assert "x-dpop" not in document["paths"]["/health"]["get"]


def test_routes_without_dpop_say_nothing_of_it(rsa_key: SigningKey) -> None:
    """A bearer-only verifier adds no DPoP marks."""
    document = app_with("off", rsa_key).openapi()
    assert "x-dpop" not in document["components"]["securitySchemes"]["M2MBearer"]
    assert "x-dpop" not in document["paths"]["/orders"]["get"]
    assert "parameters" not in document["paths"]["/orders"]["get"]
