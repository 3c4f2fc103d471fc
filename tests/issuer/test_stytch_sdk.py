"""The compatibility proof: the official Stytch SDK against the issuer on real HTTP.

Walks Stytch's M2M guide end to end with ``stytch.Client`` pointed at a
uvicorn server on 127.0.0.1, then checks the same tokens with PyJWT and
m2m_guard's own verifier against the served JWKS.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
import requests
import stytch
from stytch.core.response_base import StytchError

from m2m_guard import Verifier
from m2m_guard._tools.server import ServerThread
from m2m_guard.issuer import LocalIssuer, create_app
from tests.issuer._helpers import FAST

pytestmark = [
    pytest.mark.slow,
    # stytch.Client builds an aiohttp.BasicAuth, deprecated in recent aiohttp.
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
]


TEMPLATE = '{"user_id": {{ request.user_id }}, "org": {{ request.org }}}'


@pytest.fixture(scope="module")
def served(rsa_pool: list[Any]) -> Iterator[tuple[LocalIssuer, str]]:
    """A real-time issuer behind uvicorn on loopback: (issuer, base URL)."""
    keys = iter(rsa_pool)
    with (
        LocalIssuer(scrypt=FAST, key_factory=lambda: next(keys)) as issuer,
        ServerThread(create_app(issuer=issuer)) as server,
    ):
        # Extra token parameters become claims only through the M2M template,
        # set here over HTTP the way Stytch's management API takes it.
        response = httpx.put(
            f"{server.base_url}/pwa/v3/projects/{issuer.project_id}/environments/test"
            "/jwt_templates/M2M",
            json={"template_content": TEMPLATE, "custom_audience": ""},
            auth=(issuer.project_id, issuer.project_secret),
        )
        assert response.status_code == 200, response.text
        yield issuer, server.base_url


@pytest.fixture
def sdk(served: tuple[LocalIssuer, str]) -> Iterator[Any]:
    """stytch.Client with the project credentials and the local base URL."""
    issuer, base_url = served
    session = requests.Session()
    try:
        yield stytch.Client(
            project_id=issuer.project_id,
            secret=issuer.project_secret,
            environment=base_url,
            sync_session=session,
        )
    finally:
        session.close()


def refused(call: Any, *args: Any, **kwargs: Any) -> Any:
    """The StytchError details of a call that must fail."""
    with pytest.raises(StytchError) as info:
        call(*args, **kwargs)
    return info.value.details


def test_stytchs_m2m_guide_end_to_end(sdk: Any) -> None:
    """create → token → authenticate → deactivate → rotate → delete, via the SDK."""
    m2m = sdk.m2m
    # 1. Create a client.
    created = m2m.clients.create(
        scopes=["read:users", "write:users"],
        client_name="billing",
        client_description="bills people",
        trusted_metadata={"team": "payments"},
    ).m2m_client
    cid, secret = created.client_id, created.client_secret
    assert created.status == "active"
    assert m2m.clients.get(cid).m2m_client.client_name == "billing"

    # 2. Get a token; 3. authenticate it with and without the required scope.
    token = m2m.token(client_id=cid, client_secret=secret, scopes=["read:users"]).access_token
    claims = m2m.authenticate_token(access_token=token, required_scopes=["read:users"])
    assert (claims.client_id, claims.scopes) == (cid, ["read:users"])
    assert m2m.authenticate_token(access_token=token, required_scopes=["write:users"]) is None
    everything = m2m.token(client_id=cid, client_secret=secret)
    assert everything.expires_in == 3600
    wide = m2m.authenticate_token(
        access_token=everything.access_token, required_scopes=["write:users"]
    )
    assert wide.scopes == ["read:users", "write:users"]

    # Custom claims: the SDK's `extra` parameters the template names land in
    # the token; others (here, attempts at authority) are never minted.
    extra = {"user_id": "u-42", "scp": "admin:all", "permissions": ["*"], "azp": "other"}
    custom = m2m.token(client_id=cid, client_secret=secret, extra=extra)
    assert m2m.authenticate_token(access_token=custom.access_token).custom_claims == {
        "user_id": "u-42"
    }

    # 4. Deactivate: no new tokens, the old one still verifies.
    assert m2m.clients.update(cid, status="inactive").m2m_client.status == "inactive"
    details = refused(m2m.token, client_id=cid, client_secret=secret)
    assert (details.status_code, details.error_type) == (401, "invalid_client")
    assert m2m.authenticate_token(access_token=token).client_id == cid

    # Reactivate.
    m2m.clients.update(cid, status="active")
    m2m.token(client_id=cid, client_secret=secret)

    # 5. Rotate: both secrets work, then only the new one.
    new_secret = m2m.clients.secrets.rotate_start(cid).m2m_client.next_client_secret
    m2m.token(client_id=cid, client_secret=secret)
    m2m.token(client_id=cid, client_secret=new_secret)
    rotated = m2m.clients.secrets.rotate(cid).m2m_client
    assert rotated.client_secret_last_four == new_secret[-4:]
    assert refused(m2m.token, client_id=cid, client_secret=secret).status_code == 401
    m2m.token(client_id=cid, client_secret=new_secret)

    # Start and cancel: only the current secret keeps working.
    discarded = m2m.clients.secrets.rotate_start(cid).m2m_client.next_client_secret
    assert m2m.clients.secrets.rotate_cancel(cid).m2m_client.next_client_secret_last_four is None
    assert refused(m2m.token, client_id=cid, client_secret=discarded).status_code == 401
    m2m.token(client_id=cid, client_secret=new_secret)

    # 6. Delete: gone, no tokens, issued tokens still verify until they expire.
    assert m2m.clients.delete(cid).client_id == cid
    details = refused(m2m.clients.get, cid)
    assert (details.status_code, details.error_type) == (404, "m2m_client_not_found")
    assert refused(m2m.token, client_id=cid, client_secret=new_secret).status_code == 401
    assert m2m.authenticate_token(access_token=token).client_id == cid


def test_sdk_search_and_update_round_trip(sdk: Any) -> None:
    """search (with a query and pagination) and update parse in the SDK's models."""
    ids = [sdk.m2m.clients.create(scopes=["sdk:search"]).m2m_client.client_id for _ in range(3)]
    query = {"operator": "AND", "operands": [{"filter_name": "client_id", "filter_value": ids}]}
    first = sdk.m2m.clients.search(limit=2, query=query)
    assert first.results_metadata.total == 3
    rest = sdk.m2m.clients.search(limit=2, query=query, cursor=first.results_metadata.next_cursor)
    assert [c.client_id for c in first.m2m_clients + rest.m2m_clients] == ids
    assert rest.results_metadata.next_cursor is None
    updated = sdk.m2m.clients.update(ids[0], client_name="renamed", scopes=["x"]).m2m_client
    assert (updated.client_name, updated.scopes) == ("renamed", ["x"])


def test_sdk_errors_parse_as_stytch_errors(sdk: Any) -> None:
    """Management errors carry the fields StytchErrorDetails requires."""
    details = refused(sdk.m2m.clients.create, scopes=["x"], client_secret="short")
    assert (details.status_code, details.error_type) == (400, "invalid_client_secret")
    assert details.request_id.startswith("request-id-test-")
    assert details.error_url


def test_wrong_project_credentials_are_refused_to_the_sdk(
    served: tuple[LocalIssuer, str],
) -> None:
    """An SDK with a wrong secret gets 401 unauthorized_credentials."""
    issuer, base_url = served
    with requests.Session() as session:
        client = stytch.Client(
            project_id=issuer.project_id,
            secret="wrong-secret",
            environment=base_url,
            sync_session=session,
        )
        details = refused(client.m2m.clients.create, scopes=[])
    assert (details.status_code, details.error_type) == (401, "unauthorized_credentials")


def test_the_b2b_sdk_verifies_tokens_through_the_b2b_jwks(
    served: tuple[LocalIssuer, str],
) -> None:
    """stytch.B2BClient reads keys from /v1/b2b/sessions/jwks/{project_id}."""
    issuer, base_url = served
    created = issuer.create_client(scopes=["b2b:read"])
    with requests.Session() as session:
        b2b = stytch.B2BClient(
            project_id=issuer.project_id,
            secret=issuer.project_secret,
            environment=base_url,
            sync_session=session,
        )
        token = b2b.m2m.token(
            client_id=created.client.client_id, client_secret=created.client_secret
        ).access_token
        claims = b2b.m2m.authenticate_token(access_token=token, required_scopes=["b2b:read"])
    assert claims.client_id == created.client.client_id


def test_pyjwt_verifies_tokens_against_the_served_jwks(served: tuple[LocalIssuer, str]) -> None:
    """Plain PyJWT, with Stytch's required claims and zero leeway, accepts the token."""
    issuer, base_url = served
    created = issuer.create_client(scopes=["a", "b"])
    response = httpx.post(
        f"{base_url}/v1/public/{issuer.project_id}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created.client.client_id,
            "client_secret": created.client_secret,
            "scope": "b",
            "org": "acme",
        },
    )
    token = response.json()["access_token"]
    jwks = jwt.PyJWKSet.from_dict(
        httpx.get(f"{base_url}/v1/sessions/jwks/{issuer.project_id}").json()
    )
    key = next(k for k in jwks.keys if k.key_id == jwt.get_unverified_header(token)["kid"])
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=issuer.project_id,
        issuer=f"stytch.com/{issuer.project_id}",
        options={"require": ["aud", "iss", "exp", "iat", "nbf", "sub"]},
    )
    assert (claims["sub"], claims["scope"], claims["org"]) == (
        created.client.client_id,
        "b",
        "acme",
    )


def test_m2m_guards_verifier_accepts_the_issuers_tokens(served: tuple[LocalIssuer, str]) -> None:
    """Verifier.for_stytch(project_id, environment=base_url) verifies and reads claims."""
    issuer, base_url = served
    created = issuer.create_client(scopes=["read:users"])
    token = issuer.issue_token(
        created.client.client_id, created.client_secret, custom_claims={"tier": "gold"}
    ).access_token
    with Verifier.for_stytch(issuer.project_id, environment=base_url) as verifier:
        claims = verifier.verify(token, required_scopes=["read:users"])
    assert (claims.client_id, claims.scopes) == (created.client.client_id, ("read:users",))
    assert claims.custom_claims == {"tier": "gold"}


def test_tokens_survive_a_key_rotation_for_sdk_verifiers(
    served: tuple[LocalIssuer, str], sdk: Any
) -> None:
    """After rotation the JWKS serves both keys, so the SDK verifies old and new tokens."""
    issuer, _ = served
    created = issuer.create_client(scopes=["r"])
    old = issuer.issue_token(created.client.client_id, created.client_secret).access_token
    issuer.rotate_keys()
    new = issuer.issue_token(created.client.client_id, created.client_secret).access_token
    assert jwt.get_unverified_header(new)["kid"] != jwt.get_unverified_header(old)["kid"]
    for token in (old, new):
        assert sdk.m2m.authenticate_token(access_token=token).client_id == created.client.client_id
