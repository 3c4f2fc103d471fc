"""A multi-tenant issuer configured by environment variables and app config.

``{prefix}TENANTS`` (with ``ISSUER`` as a pattern and ``JWKS_URL``) makes
the settings a ``MultiTenantVerifier``'s: ``MultiTenantVerifier.from_env``,
``verifier_from_env`` and Flask's ``app.config`` build one; ``Verifier.from_env``
says to use them. Keys come from real endpoints on 127.0.0.1.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask

from m2m_guard import (
    ConfigurationError,
    InvalidClaimError,
    InvalidIssuerError,
    MultiTenantVerifier,
    Verifier,
    verifier_from_env,
)
from m2m_guard.flask import M2MGuard, current_client
from tests.presets.support import IssuerServer
from tests.presets.test_multi_tenant import AUTH0_API, tenant_token
from tests.support.clock import FakeClock
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey


def tenant_env(hosts: IssuerServer, **extra: str) -> dict[str, str]:
    return {
        "M2M_GUARD_ISSUER": f"{hosts.base_url}/{{tenant}}/",
        "M2M_GUARD_AUDIENCE": AUTH0_API,
        "M2M_GUARD_JWKS_URL": f"{hosts.base_url}/{{tenant}}/jwks",
        "M2M_GUARD_CLIENT_ID_CLAIMS": "azp",
        "M2M_GUARD_TENANTS": "acme, globex",
        **extra,
    }


def test_the_environment_configures_a_multi_tenant_verifier(
    tenant_hosts: IssuerServer, rsa_key: SigningKey, other_rsa_key: SigningKey, clock: FakeClock
) -> None:
    """TENANTS, TENANT_CLAIM and MAX_TENANTS are read; admitted tenants verify, others not."""
    env = tenant_env(tenant_hosts, M2M_GUARD_MAX_TENANTS="8", M2M_GUARD_TENANT_CLAIM="org")
    verifier = MultiTenantVerifier.from_env(environ=env, clock=clock)
    try:
        assert verifier.tenant_claim == "org"
        assert verifier._registry.max_tenants == 8
        token = tenant_token(rsa_key, tenant_hosts, clock, "acme")
        with pytest.raises(InvalidClaimError, match="org"):  # the tenant claim is required now
            verifier.verify(token)
        plain = MultiTenantVerifier.from_env(environ=tenant_env(tenant_hosts), clock=clock)
        assert plain.verify(token).client_id == "client-of-acme"
        assert plain.verify(tenant_token(other_rsa_key, tenant_hosts, clock, "globex")).issuer == (
            f"{tenant_hosts.base_url}/globex/"
        )
        with pytest.raises(InvalidIssuerError):
            plain.verify(tenant_token(rsa_key, tenant_hosts, clock, "initech"))  # not listed
        assert tenant_hosts.hits("/initech/jwks") == 0
        plain.close()
    finally:
        verifier.close()


def test_verifier_from_env_builds_what_the_variables_describe(
    tenant_hosts: IssuerServer, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """A MultiTenantVerifier with TENANTS, a Verifier without."""
    tenants = verifier_from_env(environ=tenant_env(tenant_hosts), clock=clock)
    assert isinstance(tenants, MultiTenantVerifier)
    single = verifier_from_env(
        environ={
            "M2M_GUARD_ISSUER": ISSUER,
            "M2M_GUARD_AUDIENCE": PROJECT_ID,
            "M2M_GUARD_JWKS_URL": f"{tenant_hosts.base_url}/acme/jwks",
        }
    )
    assert type(single) is Verifier
    assert tenants.verify(tenant_token(rsa_key, tenant_hosts, clock, "acme")).client_id == (
        "client-of-acme"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"M2M_GUARD_TENANTS": None, "M2M_GUARD_TENANT_CLAIM": "tid"}, "need M2M_GUARD_TENANTS"),
        ({"M2M_GUARD_JWKS_URL": None}, "M2M_GUARD_TENANTS needs M2M_GUARD_JWKS_URL"),
        ({"M2M_GUARD_JWKS": '{"keys": []}'}, "neither M2M_GUARD_JWKS"),
        ({"M2M_GUARD_MAX_TENANTS": "many"}, "M2M_GUARD_MAX_TENANTS must be a number"),
        ({"M2M_GUARD_MAX_TENANTS": "0"}, "M2M_GUARD_MAX_TENANTS"),
        ({"M2M_GUARD_ISSUER": "https://fixed.example.com/"}, "M2M_GUARD_ISSUER"),
        ({"M2M_GUARD_STYTCH_PROJECT_ID": PROJECT_ID}, "unset M2M_GUARD_ISSUER"),
        ({"M2M_GUARD_TENANTZ": "x"}, "did you mean M2M_GUARD_TENANTS"),
    ],
    ids=[
        "claim-without-tenants",
        "no-jwks-url",
        "inline-keys",
        "max-not-a-number",
        "max-zero",
        "issuer-without-placeholder",
        "with-stytch",
        "typo",
    ],
)
def test_bad_multi_tenant_variables_are_named(
    tenant_hosts: IssuerServer, change: dict[str, Any], message: str
) -> None:
    """Each mistake is a ConfigurationError naming the variable."""
    env = {k: v for k, v in {**tenant_env(tenant_hosts), **change}.items() if v is not None}
    with pytest.raises(ConfigurationError, match=message):
        verifier_from_env(environ=env)


def test_each_from_env_says_which_one_to_use(tenant_hosts: IssuerServer) -> None:
    """Verifier.from_env with TENANTS, and MultiTenantVerifier.from_env without, say why not."""
    with pytest.raises(ConfigurationError, match=r"MultiTenantVerifier\.from_env"):
        Verifier.from_env(environ=tenant_env(tenant_hosts))
    single = {k: v for k, v in tenant_env(tenant_hosts).items() if k != "M2M_GUARD_TENANTS"}
    single["M2M_GUARD_ISSUER"] = ISSUER
    with pytest.raises(ConfigurationError, match="set M2M_GUARD_TENANTS"):
        MultiTenantVerifier.from_env(environ=single)


def test_flask_app_config_configures_a_multi_tenant_verifier(
    tenant_hosts: IssuerServer, rsa_key: SigningKey
) -> None:
    """M2M_GUARD_TENANTS in app.config (a native list is fine) builds a multi-tenant guard."""
    app = Flask(__name__)
    app.config.update(tenant_env(tenant_hosts), M2M_GUARD_TENANTS=["acme"])
    guard = M2MGuard(app)

    @app.get("/me")
    @guard.require_scopes("orders:read")
    def me() -> dict[str, str]:
        return {"client_id": current_client.client_id}

    verifier = app.extensions["m2m_guard"].verifier
    assert isinstance(verifier, MultiTenantVerifier)
    clock = FakeClock(time.time())  # the app's verifier reads the real clock
    good = tenant_token(rsa_key, tenant_hosts, clock, "acme")
    other = tenant_token(rsa_key, tenant_hosts, clock, "globex")
    client = app.test_client()
    assert client.get("/me", headers={"Authorization": f"Bearer {good}"}).json == {
        "client_id": "client-of-acme"
    }
    assert client.get("/me", headers={"Authorization": f"Bearer {other}"}).status_code == 401
    verifier.close()
