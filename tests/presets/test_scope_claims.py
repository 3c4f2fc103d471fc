"""Roles as scopes: nested role claims mapped with a prefix, so namespaces never collide."""

from __future__ import annotations

import json
from typing import Any

import pytest

from m2m_guard import (
    ConfigurationError,
    InsufficientScopeError,
    InvalidTokenError,
    ScopeClaim,
    Verifier,
)
from tests.presets.conftest import Track
from tests.presets.support import IssuerServer
from tests.presets.test_presets import REALM, keycloak_claims, keycloak_jwks
from tests.support.clock import FakeClock
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims

pytestmark = pytest.mark.anyio

ROLES = {
    "realm_access": {"roles": ["orders:write", "auditor"]},
    "resource_access": {
        "my-api": {"roles": ["admin", "orders:delete"]},
        "api.example.com": {"roles": ["reader"]},
    },
}


def verifier_with(key: SigningKey, clock: FakeClock, scope_claims: Any) -> Verifier:
    return Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks=jwks_of(key),
        scope_claims=scope_claims,
        clock=clock,
    )


def token_with_roles(key: SigningKey, clock: FakeClock) -> str:
    return key.sign(stytch_claims(clock(), scope="orders:read", **ROLES))


def test_a_prefixed_role_claim_grants_prefixed_scopes(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """resource_access.my-api.roles=>role: grants role:<name>, and the plain names not at all."""
    verifier = verifier_with(rsa_key, clock, ("scope", "resource_access.my-api.roles=>role:"))
    claims = verifier.verify(token_with_roles(rsa_key, clock))
    assert claims.scopes == ("orders:read", "role:admin", "role:orders:delete")
    assert claims.has_scopes("role:admin")
    with pytest.raises(InsufficientScopeError):
        verifier.verify(token_with_roles(rsa_key, clock), "orders:delete")


def test_scope_claim_values_match_their_text_form(rsa_key: SigningKey, clock: FakeClock) -> None:
    """ScopeClaim(path, prefix=...) and "path=>prefix" grant the same scopes."""
    text = verifier_with(rsa_key, clock, ["scope", "realm_access.roles=>realm:"])
    value = verifier_with(rsa_key, clock, ["scope", ScopeClaim("realm_access.roles", "realm:")])
    token = token_with_roles(rsa_key, clock)
    assert text.verify(token).scopes == value.verify(token).scopes
    assert value.verify(token).scopes == ("orders:read", "realm:orders:write", "realm:auditor")
    assert str(ScopeClaim("realm_access.roles", "realm:")) == "realm_access.roles=>realm:"


def test_a_tuple_path_reaches_keys_that_contain_dots(rsa_key: SigningKey, clock: FakeClock) -> None:
    """A client id with dots is one path part when the path is a tuple."""
    entry = ScopeClaim(("resource_access", "api.example.com", "roles"), prefix="role:")
    verifier = verifier_with(rsa_key, clock, entry)
    assert verifier.verify(token_with_roles(rsa_key, clock)).scopes == ("role:reader",)
    assert entry.name == "resource_access.api.example.com.roles"


def test_plain_entries_and_unprefixed_scope_claims_work_as_before(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Names and dotted paths still grant values as they are; a prefix-less ScopeClaim too."""
    verifier = verifier_with(rsa_key, clock, ["scope", ScopeClaim("realm_access.roles")])
    assert verifier.policy.scope_claims == ("scope", "realm_access.roles")
    claims = verifier.verify(token_with_roles(rsa_key, clock))
    assert claims.scopes == ("orders:read", "orders:write", "auditor")


def test_a_missing_or_malformed_role_claim(rsa_key: SigningKey, clock: FakeClock) -> None:
    """An absent nested claim grants nothing; a role list of non-strings is refused (401)."""
    verifier = verifier_with(rsa_key, clock, ["scope", "resource_access.other.roles=>role:"])
    assert verifier.verify(token_with_roles(rsa_key, clock)).scopes == ("orders:read",)
    bad = rsa_key.sign(stytch_claims(clock(), resource_access={"other": {"roles": [1]}}))
    with pytest.raises(InvalidTokenError) as caught:
        verifier.verify(bad)
    assert caught.value.status_code == 401


@pytest.mark.parametrize(
    "entry",
    [
        "roles=>",
        "=>role:",
        "roles=>role:=>x",
        "roles=>role :",
        "realm access.roles",
        "",
        42,
    ],
)
def test_malformed_scope_claims_are_configuration_errors(
    rsa_key: SigningKey, clock: FakeClock, entry: Any
) -> None:
    """Every malformed entry fails at construction, naming scope_claims."""
    with pytest.raises(ConfigurationError, match="scope_claims"):
        verifier_with(rsa_key, clock, ["scope", entry])


@pytest.mark.parametrize("claim", [(), ("roles", 3), ("a", ""), 7])
def test_malformed_scope_claim_paths_are_refused(claim: Any) -> None:
    """A ScopeClaim path must be non-empty strings without spaces."""
    with pytest.raises(ConfigurationError, match="scope_claims"):
        ScopeClaim(claim)


def test_no_scope_claim_at_all_is_refused(rsa_key: SigningKey, clock: FakeClock) -> None:
    """An empty list is a configuration error."""
    with pytest.raises(ConfigurationError, match="scope_claims"):
        verifier_with(rsa_key, clock, [])


def test_the_environment_maps_roles_too(rsa_key: SigningKey, clock: FakeClock) -> None:
    """M2M_GUARD_SCOPE_CLAIMS accepts the text form; a bad entry names the variable."""
    environ = {
        "M2M_GUARD_ISSUER": ISSUER,
        "M2M_GUARD_AUDIENCE": PROJECT_ID,
        "M2M_GUARD_JWKS": json.dumps(jwks_of(rsa_key)),
        "M2M_GUARD_SCOPE_CLAIMS": "scope, resource_access.my-api.roles=>role:",
    }
    verifier = Verifier.from_env(environ=environ, clock=clock)
    claims = verifier.verify(token_with_roles(rsa_key, clock))
    assert claims.scopes == ("orders:read", "role:admin", "role:orders:delete")
    environ["M2M_GUARD_SCOPE_CLAIMS"] = "scope,roles=>"
    with pytest.raises(ConfigurationError, match="M2M_GUARD_SCOPE_CLAIMS"):
        Verifier.from_env(environ=environ, clock=clock)


async def test_keycloak_role_prefix_separates_roles_from_scopes(
    issuer_server: IssuerServer,
    rsa_key: SigningKey,
    other_rsa_key: SigningKey,
    clock: FakeClock,
    track: Track[Verifier],
) -> None:
    """With role_prefix, a realm role named orders:write no longer grants that scope."""
    base = issuer_server.base_url
    issuer_server.serve(
        f"/realms/{REALM}/protocol/openid-connect/certs",
        keycloak_jwks(rsa_key, other_rsa_key, base),
    )
    verifier = track(
        Verifier.for_keycloak(base, REALM, audience="orders-api", role_prefix="role:", clock=clock)
    )
    token = rsa_key.sign(keycloak_claims(base, clock()))
    claims = verifier.verify(token, "role:orders:write orders:read")
    assert "orders:write" not in claims.scopes
    with pytest.raises(InsufficientScopeError):
        verifier.verify(token, "orders:write")
    with pytest.raises(ConfigurationError, match="role prefix"):
        Verifier.for_keycloak(base, REALM, audience="orders-api", role_prefix="")
