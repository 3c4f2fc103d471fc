"""Each preset against a token of its issuer's real M2M shape, served from 127.0.0.1.

Every shape below mirrors what that issuer puts in a client-credentials
access token (header and claims), and its JWKS is published at exactly the
path the preset derives, on a real server; the preset is pointed at the
server's base URL. The same tokens then go through one ASGI and one WSGI
middleware.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from m2m_guard import (
    ConfigurationError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidIssuerError,
    InvalidTokenError,
    M2MClaims,
    Verifier,
)
from tests.core._helpers import Flavor
from tests.integrations._harness import Harness
from tests.presets.conftest import Track
from tests.presets.support import MIDDLEWARES, IssuerServer
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, PROJECT_ID, SigningKey, stytch_claims

pytestmark = pytest.mark.anyio

AUTH0_CLIENT = "tN8Jz0fVw3QmK4pR7sXy2uBcDe5gHiJk"
AUTH0_API = "https://orders.example.com/api"
OKTA_CLIENT = "0oa8f5j3ecb5w3dF35d7"
OKTA_SERVER = "aus4a9b8c7d6EXAMPLE"
TENANT = "3f5c1a2b-8d4e-4f6a-9b7c-1d2e3f4a5b6c"
ENTRA_API = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
ENTRA_CALLER = "a1b2c3d4-1111-2222-3333-444455556666"
ENTRA_SP = "0c7e8a5d-aaaa-bbbb-cccc-ddddeeeeffff"
GRAPH = "00000003-0000-0000-c000-000000000000"
REALM = "acme"
KC_CLIENT = "billing-service"
POOL = "eu-west-1_AbCdEf123"
COGNITO_APP = "1example23456789abcdefghij"


def jwk(key: SigningKey, *, drop: tuple[str, ...] = (), **members: Any) -> dict[str, Any]:
    """``key``'s public JWK without ``drop`` members and with ``members`` added."""
    document = {k: v for k, v in key.jwk().items() if k not in drop}
    document.update(members)
    return document


def entra_jwks(key: SigningKey, other: SigningKey, issuer: str) -> dict[str, Any]:
    # Entra publishes RSA keys with kid, x5t, x5c and issuer, but no alg or key_ops.
    return {"keys": [jwk(key, drop=("alg", "key_ops"), x5t=key.kid, issuer=issuer)]}


@dataclass(frozen=True)
class Wrong:
    """A token of a nearly right shape that the preset must refuse."""

    id: str
    overrides: dict[str, Any]
    error: type[InvalidTokenError]
    claim: str | None = None


@dataclass(frozen=True)
class Shape:
    """One issuer's M2M token, the preset that accepts it, and what it yields."""

    id: str
    make: Callable[..., Verifier]  # (base_url, **kwargs) -> Verifier
    jwks_path: str
    claims: Callable[[str, float], dict[str, Any]]  # (base_url, now) -> claims
    client_id: str
    scopes: tuple[str, ...]
    custom: dict[str, Any]
    wrong: tuple[Wrong, ...]
    header: dict[str, Any] = field(default_factory=dict)
    jwks: Callable[[SigningKey, SigningKey, str], dict[str, Any]] = lambda key, other, base: {
        "keys": [key.jwk()]
    }

    def __str__(self) -> str:
        return self.id


def auth0_claims(base: str, now: float) -> dict[str, Any]:
    return {
        "iss": f"{base}/",
        "sub": f"{AUTH0_CLIENT}@clients",
        "aud": AUTH0_API,
        "iat": int(now),
        "exp": int(now) + 86400,
        "scope": "read:orders write:orders",
        "gty": "client-credentials",
        "azp": AUTH0_CLIENT,
        "permissions": ["read:orders", "write:orders"],
        "https://orders.example.com/tenant": "acme",
    }


def okta_claims(server: str, audience: str) -> Callable[[str, float], dict[str, Any]]:
    def claims(base: str, now: float) -> dict[str, Any]:
        return {
            "ver": 1,
            "jti": "AT.3bRlqHxZ1k9aXw2VbQYpA7c0uQe5mTnR4sJ6dF8gH0k",
            "iss": f"{base}/oauth2/{server}",
            "aud": audience,
            "iat": int(now),
            "exp": int(now) + 3600,
            "cid": OKTA_CLIENT,
            "scp": ["orders.read", "orders.write"],
            "sub": OKTA_CLIENT,
            "tenant": "acme",
        }

    return claims


def entra_v2_claims(base: str, now: float) -> dict[str, Any]:
    return {
        "aud": ENTRA_API,
        "iss": f"{base}/{TENANT}/v2.0",
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now) + 3599,
        "aio": "k2BgYDi8NvJxp7rFpY9Tz1+LWZ0uAQA=",
        "azp": ENTRA_CALLER,
        "azpacr": "1",
        "idtyp": "app",
        "oid": ENTRA_SP,
        "rh": "0.AXYAK5wEfDMm4kuYzE9Xf0bB3QIAAAAAAAAAwAAAAAAAAAB2AAA.",
        "roles": ["Orders.Read.All", "Orders.Write.All"],
        "sub": ENTRA_SP,  # app-only: the service principal, not the calling app
        "tid": TENANT,
        "uti": "Zq3pVHKxQ0i3mM1c2yQ2AA",
        "ver": "2.0",
    }


def entra_v1_claims(base: str, now: float) -> dict[str, Any]:
    return {
        "aud": "api://orders",
        "iss": f"{base}/{TENANT}/",
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now) + 3599,
        "aio": "E2ZgYPjP8ZbL1z0X3ZrQ2tYAAA==",
        "appid": ENTRA_CALLER,
        "appidacr": "1",
        "idp": f"https://sts.windows.net/{TENANT}/",
        "idtyp": "app",
        "oid": ENTRA_SP,
        "rh": "0.AXYAK5wEfDMm4kuYzE9Xf0bB3QIAAAAAAAAAwAAAAAAAAAB2AAA.",
        "roles": ["Orders.Read.All"],
        "sub": ENTRA_SP,
        "tid": TENANT,
        "uti": "b1bZ7vS6xUOr3cYQ0l0FAA",
        "ver": "1.0",
    }


def keycloak_claims(base: str, now: float) -> dict[str, Any]:
    return {
        "exp": int(now) + 300,
        "iat": int(now),
        "jti": "b6f0e2a4-59c1-4d8e-9a57-3c2f1e0d9b8a",
        "iss": f"{base}/realms/{REALM}",
        "aud": ["orders-api", "account"],
        "sub": "4e6c1f0a-2b3d-4c5e-8f9a-0b1c2d3e4f5a",
        "typ": "Bearer",
        "azp": KC_CLIENT,
        "acr": "1",
        "allowed-origins": ["/*"],
        "realm_access": {
            "roles": ["default-roles-acme", "offline_access", "uma_authorization", "orders:write"]
        },
        "resource_access": {"account": {"roles": ["manage-account", "view-profile"]}},
        "scope": "profile email orders:read",
        "clientHost": "10.0.0.7",
        "email_verified": False,
        "preferred_username": f"service-account-{KC_CLIENT}",
        "clientAddress": "10.0.0.7",
        "clientId": KC_CLIENT,
    }


#: scope, then the realm roles read through the dotted claim path
KEYCLOAK_SCOPES = (
    "profile",
    "email",
    "orders:read",
    "default-roles-acme",
    "offline_access",
    "uma_authorization",
    "orders:write",
)
KEYCLOAK_USER_TOKEN: dict[str, Any] = {
    "clientId": ...,
    "client_id": ...,
    "clientHost": ...,
    "clientAddress": ...,
    "azp": "web-portal",
    "sub": "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9",
    "preferred_username": "alice",
    "sid": "0a1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9",
}


def keycloak_jwks(key: SigningKey, other: SigningKey, base: str) -> dict[str, Any]:
    # A realm publishes its RSA-OAEP encryption key next to the signing key.
    encryption = jwk(other, drop=("key_ops",), use="enc", alg="RSA-OAEP", kid="enc-key")
    return {"keys": [encryption, jwk(key, drop=("key_ops",))]}


def cognito_claims(base: str, now: float) -> dict[str, Any]:
    return {
        "sub": COGNITO_APP,
        "token_use": "access",
        "scope": "orders/read orders/write",
        "auth_time": int(now),
        "iss": f"{base}/{POOL}",
        "exp": int(now) + 3600,
        "iat": int(now),
        "version": 2,
        "jti": "2b9b8f8e-6c1d-4e3f-a5b7-9c0d1e2f3a4b",
        "client_id": COGNITO_APP,
    }


SHAPES = [
    Shape(
        "stytch",
        lambda base, **kw: Verifier.for_stytch(PROJECT_ID, environment=base, **kw),
        f"/v1/sessions/jwks/{PROJECT_ID}",
        lambda base, now: stytch_claims(now),
        client_id=CLIENT_ID,
        scopes=("read:users", "write:users"),
        custom={"tenant": "acme"},
        wrong=(
            Wrong("other-project", {"aud": ["project-test-other"]}, InvalidAudienceError),
            Wrong("no-nbf", {"nbf": ...}, InvalidClaimError, "nbf"),
        ),
    ),
    Shape(
        "stytch-custom-domain",
        lambda base, **kw: Verifier.for_stytch(PROJECT_ID, environment=base, **kw),
        f"/v1/sessions/jwks/{PROJECT_ID}",
        lambda base, now: stytch_claims(now, iss=base),
        client_id=CLIENT_ID,
        scopes=("read:users", "write:users"),
        custom={"tenant": "acme"},
        wrong=(Wrong("other-host", {"iss": "http://127.0.0.1:1"}, InvalidIssuerError),),
    ),
    Shape(
        "auth0",
        lambda base, **kw: Verifier.for_auth0(base, audience=AUTH0_API, **kw),
        "/.well-known/jwks.json",
        auth0_claims,
        client_id=AUTH0_CLIENT,  # azp, not sub's "<client_id>@clients"
        scopes=("read:orders", "write:orders"),
        custom={
            "gty": "client-credentials",
            "azp": AUTH0_CLIENT,
            "https://orders.example.com/tenant": "acme",
        },
        wrong=(
            Wrong("other-api", {"aud": "https://billing.example.com/api"}, InvalidAudienceError),
            Wrong("issuer-without-slash", {"iss": "{base}"}, InvalidIssuerError),
        ),
    ),
    Shape(
        "okta",
        lambda base, **kw: Verifier.for_okta(base, **kw),
        "/oauth2/default/v1/keys",
        okta_claims("default", "api://default"),
        client_id=OKTA_CLIENT,
        scopes=("orders.read", "orders.write"),
        custom={"ver": 1, "cid": OKTA_CLIENT, "tenant": "acme"},
        wrong=(
            Wrong("other-audience", {"aud": "api://billing"}, InvalidAudienceError),
            Wrong("org-server", {"iss": "{base}", "aud": "{base}"}, InvalidIssuerError),
        ),
        header={"typ": ...},  # Okta's header is just kid and alg
    ),
    Shape(
        "okta-custom-server",
        lambda base, **kw: Verifier.for_okta(
            base, authorization_server=OKTA_SERVER, audience="https://orders.example.com", **kw
        ),
        f"/oauth2/{OKTA_SERVER}/v1/keys",
        okta_claims(OKTA_SERVER, "https://orders.example.com"),
        client_id=OKTA_CLIENT,
        scopes=("orders.read", "orders.write"),
        custom={"cid": OKTA_CLIENT},
        wrong=(
            Wrong("default-server", {"iss": "{base}/oauth2/default"}, InvalidIssuerError),
            Wrong("default-audience", {"aud": "api://default"}, InvalidAudienceError),
        ),
        header={"typ": ...},
    ),
    Shape(
        "entra-v2",
        lambda base, **kw: Verifier.for_entra(
            TENANT, audience=ENTRA_API, version=2, login_host=base, **kw
        ),
        f"/{TENANT}/discovery/v2.0/keys",
        entra_v2_claims,
        client_id=ENTRA_CALLER,  # azp; sub is the service principal's object id
        scopes=("Orders.Read.All", "Orders.Write.All"),
        custom={"tid": TENANT, "oid": ENTRA_SP, "azpacr": "1", "idtyp": "app", "ver": "2.0"},
        wrong=(
            Wrong("graph-token", {"aud": GRAPH}, InvalidAudienceError),
            Wrong("v1-token", {"iss": f"{{base}}/{TENANT}/"}, InvalidIssuerError),
        ),
        jwks=lambda key, other, base: entra_jwks(key, other, f"{base}/{TENANT}/v2.0"),
    ),
    Shape(
        "entra-v1",
        lambda base, **kw: Verifier.for_entra(
            TENANT, audience="api://orders", version=1, login_host=base, **kw
        ),
        f"/{TENANT}/discovery/v2.0/keys",
        entra_v1_claims,
        client_id=ENTRA_CALLER,  # appid
        scopes=("Orders.Read.All",),
        custom={"appid": ENTRA_CALLER, "appidacr": "1", "tid": TENANT, "ver": "1.0"},
        wrong=(
            Wrong("other-api", {"aud": "api://billing"}, InvalidAudienceError),
            Wrong("v2-token", {"iss": f"{{base}}/{TENANT}/v2.0"}, InvalidIssuerError),
        ),
        header={"x5t": "jwk-test-primary"},  # v1 headers repeat the kid as x5t
        jwks=lambda key, other, base: entra_jwks(key, other, f"{base}/{TENANT}/"),
    ),
    Shape(
        "keycloak",
        lambda base, **kw: Verifier.for_keycloak(base, REALM, audience="orders-api", **kw),
        f"/realms/{REALM}/protocol/openid-connect/certs",
        keycloak_claims,
        client_id=KC_CLIENT,
        scopes=KEYCLOAK_SCOPES,
        custom={"typ": "Bearer", "clientId": KC_CLIENT, "azp": KC_CLIENT},
        wrong=(
            Wrong("no-audience", {"aud": ...}, InvalidClaimError, "aud"),
            Wrong("no-audience-mapper", {"aud": "account"}, InvalidAudienceError),
            # A user's token from another client of the realm, audience-mapped
            # to our API: no client_id / clientId, a user's preferred_username.
            Wrong("user-token", KEYCLOAK_USER_TOKEN, InvalidClaimError, "client_id"),
        ),
        jwks=keycloak_jwks,
    ),
    Shape(
        "keycloak-25",
        lambda base, **kw: Verifier.for_keycloak(base, REALM, audience="orders-api", **kw),
        f"/realms/{REALM}/protocol/openid-connect/certs",
        lambda base, now: {
            **{k: v for k, v in keycloak_claims(base, now).items() if k != "clientId"},
            "client_id": KC_CLIENT,  # the service_account client scope (Keycloak 25+)
        },
        client_id=KC_CLIENT,
        scopes=KEYCLOAK_SCOPES,
        custom={"client_id": KC_CLIENT, "azp": KC_CLIENT},
        wrong=(Wrong("user-token", KEYCLOAK_USER_TOKEN, InvalidClaimError, "client_id"),),
        jwks=keycloak_jwks,
    ),
    Shape(
        "cognito",
        lambda base, **kw: Verifier.for_cognito(
            "eu-west-1", POOL, client_ids=COGNITO_APP, host=base, **kw
        ),
        f"/{POOL}/.well-known/jwks.json",
        cognito_claims,
        client_id=COGNITO_APP,
        scopes=("orders/read", "orders/write"),
        custom={"token_use": "access", "client_id": COGNITO_APP, "version": 2},
        wrong=(
            Wrong(
                "other-app-client",
                {"client_id": "7other890app1client2id3456", "sub": "7other890app1client2id3456"},
                InvalidAudienceError,
            ),
            Wrong(
                "id-token",
                {"token_use": "id", "aud": COGNITO_APP, "client_id": ...},
                InvalidClaimError,
                "client_id",
            ),
        ),
        header={"typ": ...},  # Cognito's header is just kid and alg
    ),
]

WRONG = [
    pytest.param(shape, wrong, id=f"{shape.id}-{wrong.id}")
    for shape in SHAPES
    for wrong in shape.wrong
]


def token_of(
    shape: Shape, key: SigningKey, base: str, now: float, overrides: dict[str, Any] | None = None
) -> str:
    """A token of ``shape``; ``{base}`` in string overrides is the server's base URL."""
    claims = shape.claims(base, now)
    for name, value in (overrides or {}).items():
        claims[name] = value.replace("{base}", base) if isinstance(value, str) else value
    claims = {k: v for k, v in claims.items() if v is not ...}
    return key.sign(claims, shape.header)


def publish(shape: Shape, server: IssuerServer, key: SigningKey, other: SigningKey) -> None:
    server.serve(shape.jwks_path, shape.jwks(key, other, server.base_url))


def assert_shape(claims: M2MClaims, shape: Shape) -> None:
    assert claims.client_id == shape.client_id
    assert claims.scopes == shape.scopes
    assert {k: claims.custom_claims.get(k) for k in shape.custom} == shape.custom


# -- through the verifier --------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=str)
async def test_preset_accepts_its_issuers_token_from_the_derived_jwks_path(
    flavor: Flavor,
    shape: Shape,
    issuer_server: IssuerServer,
    track: Track[Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
    other_rsa_key: SigningKey,
) -> None:
    """A token of the issuer's shape verifies; client id, scopes and custom claims are mapped."""
    publish(shape, issuer_server, rsa_key, other_rsa_key)
    verifier = track(shape.make(issuer_server.base_url, clock=clock))
    token = token_of(shape, rsa_key, issuer_server.base_url, clock())
    claims = await flavor.verify(verifier, token)
    assert_shape(claims, shape)
    assert claims.issuer == shape.claims(issuer_server.base_url, clock())["iss"]
    assert issuer_server.paths == [shape.jwks_path]


@pytest.mark.parametrize(("shape", "wrong"), WRONG)
async def test_preset_refuses_a_token_of_the_wrong_shape_before_any_fetch(
    flavor: Flavor,
    shape: Shape,
    wrong: Wrong,
    issuer_server: IssuerServer,
    track: Track[Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
    other_rsa_key: SigningKey,
) -> None:
    """Wrong audience, issuer or missing claim: refused (401) and no key is fetched for it."""
    publish(shape, issuer_server, rsa_key, other_rsa_key)
    verifier = track(shape.make(issuer_server.base_url, clock=clock))
    token = token_of(shape, rsa_key, issuer_server.base_url, clock(), wrong.overrides)
    outcome = await flavor.outcome(verifier, token)
    assert isinstance(outcome, wrong.error), outcome
    assert outcome.status_code == 401
    if wrong.claim is not None:
        assert isinstance(outcome, InvalidClaimError)
        assert outcome.claim == wrong.claim
    assert issuer_server.paths == []


async def test_auth0_scopes_merge_scope_and_rbac_permissions(
    flavor: Flavor,
    issuer_server: IssuerServer,
    track: Track[Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
) -> None:
    """Auth0's `permissions` list grants scopes too, merged after `scope`, without duplicates."""
    issuer_server.serve_keys("/.well-known/jwks.json", rsa_key)
    verifier = track(Verifier.for_auth0(issuer_server.base_url, audience=AUTH0_API, clock=clock))
    claims = auth0_claims(issuer_server.base_url, clock())
    claims["scope"] = "read:orders"
    claims["permissions"] = ["read:orders", "delete:orders"]
    result = await flavor.verify(verifier, rsa_key.sign(claims))
    assert result.scopes == ("read:orders", "delete:orders")
    assert result.has_scopes("delete:orders")


async def test_keycloak_preset_can_read_client_roles_through_a_dotted_path(
    flavor: Flavor,
    issuer_server: IssuerServer,
    track: Track[Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
    other_rsa_key: SigningKey,
) -> None:
    """scope_claims override: `resource_access.<client>.roles` (a name with a dash) is read."""
    shape = next(s for s in SHAPES if s.id == "keycloak")
    publish(shape, issuer_server, rsa_key, other_rsa_key)
    verifier = track(
        shape.make(
            issuer_server.base_url,
            clock=clock,
            scope_claims=("resource_access.orders-api.roles",),
        )
    )
    claims = keycloak_claims(issuer_server.base_url, clock())
    claims["resource_access"]["orders-api"] = {"roles": ["orders:refund"]}
    result = await flavor.verify(verifier, rsa_key.sign(claims))
    assert result.scopes == ("orders:refund",)


# -- claim paths (static keys: no network needed) -------------------------------------------


def static_verifier(key: SigningKey, clock: FakeClock, scope_claims: tuple[str, ...]) -> Verifier:
    return Verifier(
        issuer="https://sso.example.com/realms/acme",
        audience="orders-api",
        jwks={"keys": [key.jwk()]},
        scope_claims=scope_claims,
        clock=clock,
    )


def sso_claims(clock: FakeClock, **claims: Any) -> dict[str, Any]:
    now = int(clock())
    return {
        "iss": "https://sso.example.com/realms/acme",
        "aud": "orders-api",
        "sub": "svc",
        "iat": now,
        "exp": now + 300,
        **claims,
    }


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"realm_access": {"roles": ["a", "b"]}}, ("a", "b")),
        ({"realm_access": {"roles": "a b"}}, ("a", "b")),
        ({"realm_access.roles": ["flat"], "realm_access": {"roles": ["nested"]}}, ("flat",)),
        ({}, ()),
        ({"realm_access": {}}, ()),
        ({"realm_access": "not-an-object"}, ()),
        ({"realm_access": ["roles"]}, ()),
        ({"realm_access": {"roles": None}}, "error"),
        ({"realm_access": {"roles": {"a": 1}}}, "error"),
    ],
    ids=[
        "list",
        "string",
        "flat-claim-wins",
        "absent",
        "no-roles",
        "not-an-object",
        "a-list-on-the-way",
        "null-roles",
        "object-roles",
    ],
)
def test_dotted_scope_claim_is_a_path_into_nested_objects(
    rsa_key: SigningKey, clock: FakeClock, claims: dict[str, Any], scopes: Any
) -> None:
    """`realm_access.roles` reads nested objects; absent on the way means no scopes."""
    verifier = static_verifier(rsa_key, clock, ("realm_access.roles",))
    token = rsa_key.sign(sso_claims(clock, **claims))
    if scopes == "error":
        with pytest.raises(InvalidClaimError) as caught:
            verifier.verify(token)
        assert caught.value.claim == "realm_access.roles"
    else:
        assert verifier.verify(token).scopes == scopes


# -- through one middleware of each kind ---------------------------------------------------


@pytest.mark.parametrize("harness_class", MIDDLEWARES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_preset_token_passes_each_middleware_and_the_wrong_shape_does_not(
    harness_class: Callable[[], Harness],
    shape: Shape,
    issuer_server: IssuerServer,
    track_sync: Track[Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
    other_rsa_key: SigningKey,
) -> None:
    """ASGI and WSGI: the issuer's token reaches the app with its identity; a wrong one is 401."""
    publish(shape, issuer_server, rsa_key, other_rsa_key)
    harness = harness_class()
    harness.build(
        track_sync(shape.make(issuer_server.base_url, clock=clock)),
        required_scopes=shape.scopes[-1:],
    )
    base = issuer_server.base_url
    token = token_of(shape, rsa_key, base, clock())
    for _ in range(2):  # cold, then the warm path
        reply = harness.request("/whoami", [("authorization", f"Bearer {token}")])
        assert reply.status == 200, reply.json
        assert reply.json["client_id"] == shape.client_id
        assert tuple(reply.json["scopes"]) == shape.scopes
        for name, value in shape.custom.items():
            assert reply.json["custom_claims"][name] == value
    assert issuer_server.paths == [shape.jwks_path]

    wrong = token_of(shape, rsa_key, base, clock(), shape.wrong[0].overrides)
    reply = harness.request("/whoami", [("authorization", f"Bearer {wrong}")])
    assert reply.status == 401
    assert 'error="invalid_token"' in reply.headers["www-authenticate"]


@pytest.mark.parametrize("harness_class", MIDDLEWARES)
def test_preset_token_without_the_routes_scope_is_403_in_each_middleware(
    harness_class: Callable[[], Harness],
    issuer_server: IssuerServer,
    track_sync: Track[Verifier],
    clock: FakeClock,
    rsa_key: SigningKey,
    other_rsa_key: SigningKey,
) -> None:
    """A Keycloak token whose scope and realm roles lack the route's scope: 403."""
    shape = next(s for s in SHAPES if s.id == "keycloak")
    publish(shape, issuer_server, rsa_key, other_rsa_key)
    harness = harness_class()
    harness.build(
        track_sync(shape.make(issuer_server.base_url, clock=clock)),
        required_scopes=("orders:refund",),
    )
    token = token_of(shape, rsa_key, issuer_server.base_url, clock())
    reply = harness.request("/whoami", [("authorization", f"Bearer {token}")])
    assert reply.status == 403
    assert 'scope="orders:refund"' in reply.headers["www-authenticate"]


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "issuer", "jwks_url"),
    [
        (
            lambda: Verifier.for_auth0("acme.eu.auth0.com", audience="https://api"),
            "https://acme.eu.auth0.com/",
            "https://acme.eu.auth0.com/.well-known/jwks.json",
        ),
        (
            lambda: Verifier.for_auth0("https://login.acme.com/", audience="https://api"),
            "https://login.acme.com/",
            "https://login.acme.com/.well-known/jwks.json",
        ),
        (
            lambda: Verifier.for_okta("https://acme.okta.com"),
            "https://acme.okta.com/oauth2/default",
            "https://acme.okta.com/oauth2/default/v1/keys",
        ),
        (
            lambda: Verifier.for_okta(
                "acme.okta.com", authorization_server=OKTA_SERVER, audience="api://orders"
            ),
            f"https://acme.okta.com/oauth2/{OKTA_SERVER}",
            f"https://acme.okta.com/oauth2/{OKTA_SERVER}/v1/keys",
        ),
        (
            lambda: Verifier.for_entra(TENANT, audience=ENTRA_API, version=2),
            f"https://login.microsoftonline.com/{TENANT}/v2.0",
            f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys",
        ),
        (
            lambda: Verifier.for_entra(TENANT, audience="api://orders", version=1),
            f"https://sts.windows.net/{TENANT}/",
            f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys",
        ),
        (
            lambda: Verifier.for_keycloak("https://sso.acme.com/auth", REALM, audience="api"),
            f"https://sso.acme.com/auth/realms/{REALM}",
            f"https://sso.acme.com/auth/realms/{REALM}/protocol/openid-connect/certs",
        ),
        (
            lambda: Verifier.for_cognito("eu-west-1", POOL, client_ids=COGNITO_APP),
            f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL}",
            f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL}/.well-known/jwks.json",
        ),
    ],
    ids=[
        "auth0",
        "auth0-custom-domain",
        "okta",
        "okta-custom-server",
        "entra-v2",
        "entra-v1",
        "keycloak-legacy-auth",
        "cognito",
    ],
)
def test_preset_derives_the_issuers_real_iss_and_jwks_url(
    build: Callable[[], Verifier], issuer: str, jwks_url: str
) -> None:
    """Without a base URL override the presets name the issuers' production hosts."""
    verifier = build()
    assert verifier.policy.issuers == {issuer}
    assert verifier.cache.url == jwks_url


def test_cognito_preset_compares_client_id_instead_of_aud() -> None:
    """Cognito access tokens have no aud: the accepted app clients are matched in client_id."""
    verifier = Verifier.for_cognito("eu-west-1", POOL, client_ids=[COGNITO_APP, "second"])
    assert verifier.policy.audience_claim == "client_id"
    assert verifier.policy.audiences == {COGNITO_APP, "second"}
    assert "aud" not in verifier.policy.required_claims


@pytest.mark.parametrize(
    ("build", "marker"),
    [
        (lambda **kw: Verifier.for_okta("https://acme.okta.com", audience="api", **kw), "uid"),
        (lambda **kw: Verifier.for_entra(TENANT, audience=ENTRA_API, **kw), "scp"),
    ],
    ids=["okta-uid", "entra-scp"],
)
def test_a_callers_forbidden_claims_add_to_the_presets_markers(
    build: Callable[..., Verifier], marker: str
) -> None:
    """forbidden_claims= cannot switch off the claim that marks a user token."""
    for extra in ("act", ["act"], ()):
        policy = build(forbidden_claims=extra).policy
        assert marker in policy.forbidden_claims
        assert ("act" in policy.forbidden_claims) == bool(extra)


def test_a_callers_claim_values_cannot_change_the_presets() -> None:
    """Cognito's token_use=access and Auth0's gty stay; other entries are added."""
    cognito = Verifier.for_cognito(
        "eu-west-1", POOL, client_ids=COGNITO_APP, claim_values={"version": "2"}
    )
    assert dict(cognito.policy.claim_values) == {"token_use": "access", "version": "2"}
    with pytest.raises(ConfigurationError, match="token_use"):
        Verifier.for_cognito(
            "eu-west-1", POOL, client_ids=COGNITO_APP, claim_values={"token_use": "id"}
        )
    with pytest.raises(ConfigurationError, match="gty"):
        Verifier.for_auth0(
            "acme.auth0.com", audience="https://api", claim_values={"gty": "password"}
        )


def test_required_claims_and_markers_only_grow() -> None:
    """required_claims unions with Stytch's; required_any_claims may only narrow Keycloak's."""
    stytch = Verifier.for_stytch(PROJECT_ID, required_claims=["jti"]).policy
    assert {"nbf", "jti", "iat"} <= set(stytch.required_claims)
    for nothing in (None, ()):
        kept = Verifier.for_stytch(PROJECT_ID, required_claims=nothing).policy
        assert {"nbf", "sub", "iat"} <= set(kept.required_claims)
    narrowed = Verifier.for_keycloak(
        "https://sso.acme.com", REALM, audience="api", required_any_claims="client_id"
    )
    assert narrowed.policy.required_any_claims == ("client_id",)
    default = Verifier.for_keycloak(
        "https://sso.acme.com", REALM, audience="api", required_any_claims=None
    )
    assert default.policy.required_any_claims == ("client_id", "clientId")
    for widened in ("sub", ["client_id", "sub"], ()):
        with pytest.raises(ConfigurationError, match="required_any_claims"):
            Verifier.for_keycloak(
                "https://sso.acme.com", REALM, audience="api", required_any_claims=widened
            )


def test_preset_settings_can_be_overridden() -> None:
    """Keyword arguments override a preset's settings (here: algorithms and leeway)."""
    verifier = Verifier.for_auth0(
        "acme.auth0.com", audience="https://api", algorithms=("PS256",), leeway=5
    )
    assert verifier.policy.algorithms == {"PS256"}
    assert verifier.policy.leeway == 5


@pytest.mark.parametrize(
    "build",
    [
        lambda: Verifier.for_auth0("", audience="https://api"),
        lambda: Verifier.for_auth0(" acme.auth0.com", audience="https://api"),
        lambda: Verifier.for_auth0("acme.auth0.com", audience=[]),
        lambda: Verifier.for_auth0("ftp://acme.auth0.com", audience="https://api"),
        lambda: Verifier.for_okta("https://acme.okta.com", authorization_server="a/b"),
        lambda: Verifier.for_okta("https://acme.okta.com", authorization_server="orders"),
        lambda: Verifier.for_okta("https://acme.okta.com", authorization_server=""),
        lambda: Verifier.for_entra("", audience=ENTRA_API),
        lambda: Verifier.for_entra(f"{TENANT}/v2.0", audience=ENTRA_API),
        lambda: Verifier.for_entra(TENANT, audience=ENTRA_API, version=3),
        lambda: Verifier.for_entra(TENANT, audience=ENTRA_API, version=0),
        lambda: Verifier.for_entra(TENANT, audience=ENTRA_API, login_host=""),
        lambda: Verifier.for_keycloak("https://sso.acme.com", "", audience="api"),
        lambda: Verifier.for_keycloak("https://sso.acme.com", "acme/master", audience="api"),
        lambda: Verifier.for_keycloak("", REALM, audience="api"),
        lambda: Verifier.for_cognito("eu-west-1", "", client_ids=COGNITO_APP),
        lambda: Verifier.for_cognito("eu/west-1", POOL, client_ids=COGNITO_APP),
        lambda: Verifier.for_cognito("eu-west-1", POOL, client_ids=[]),
        lambda: Verifier.for_stytch("project/x", environment="test"),
        lambda: Verifier.for_stytch(PROJECT_ID, environment="staging"),
    ],
    ids=[
        "auth0-empty-domain",
        "auth0-padded-domain",
        "auth0-no-audience",
        "auth0-ftp",
        "okta-server-with-slash",
        "okta-custom-server-without-audience",
        "okta-empty-server",
        "entra-empty-tenant",
        "entra-tenant-with-slash",
        "entra-version-3",
        "entra-version-0",
        "entra-empty-login-host",
        "keycloak-empty-realm",
        "keycloak-realm-with-slash",
        "keycloak-empty-url",
        "cognito-empty-pool",
        "cognito-region-with-slash",
        "cognito-no-client-ids",
        "stytch-project-with-slash",
        "stytch-unknown-environment",
    ],
)
def test_presets_reject_bad_settings_at_construction(build: Callable[[], Verifier]) -> None:
    """A bad domain, tenant, realm, pool, version or audience is a ConfigurationError."""
    with pytest.raises(ConfigurationError):
        build()


def test_entra_accepts_both_token_versions_by_default() -> None:
    """Without a version the preset accepts v1 and v2 issuers (apps default to v1 tokens)."""
    verifier = Verifier.for_entra(TENANT, audience=ENTRA_API)
    assert verifier.policy.issuers == {
        f"https://login.microsoftonline.com/{TENANT}/v2.0",
        f"https://sts.windows.net/{TENANT}/",
    }


@pytest.mark.parametrize(
    ("build", "claims", "refused"),
    [
        (lambda: Verifier.for_entra(TENANT, audience=ENTRA_API), {"scp": "Orders.Read"}, "scp"),
        (lambda: Verifier.for_okta("https://acme.okta.com"), {"uid": "00u1"}, "uid"),
        (
            lambda: Verifier.for_auth0("acme.auth0.com", audience="https://api"),
            {"gty": "password"},
            "gty",
        ),
        (
            lambda: Verifier.for_cognito("eu-west-1", POOL, client_ids=COGNITO_APP),
            {"token_use": "id"},
            "token_use",
        ),
    ],
    ids=["entra-delegated", "okta-user", "auth0-user", "cognito-id-token"],
)
def test_presets_refuse_user_tokens(
    build: Callable[[], Verifier], claims: dict[str, str], refused: str
) -> None:
    """Machine-to-machine presets refuse the markers of user (delegated) tokens."""
    policy = build().policy
    issuer = sorted(policy.issuers)[0]
    token_claims = {
        "iss": issuer,
        policy.audience_claim: sorted(policy.audiences)[0],
        "exp": 2_000_000_000,
        "iat": 1_000,
        "client_id": sorted(policy.audiences)[0],
        **claims,
    }
    with pytest.raises(InvalidClaimError) as info:
        policy.precheck_claims(token_claims)
    assert info.value.claim == refused
