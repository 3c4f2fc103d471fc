"""A multi-tenant verifier as a member of ``Verifier.combine``.

The combined verifier routes by the token's unverified ``iss``: exact names
first, then the multi-tenant members' patterns, whose tenant admission then
applies as it does alone. The endpoints are real (127.0.0.1) and count their
requests, so "no network call" is checked.
"""

from __future__ import annotations

from typing import Any

import pytest

from m2m_guard import (
    ConfigurationError,
    InvalidAudienceError,
    InvalidIssuerError,
    KeysUnavailableError,
    TokenVerifier,
    Verifier,
)
from m2m_guard.events import TokenVerified, VerificationFailed
from tests.core._helpers import Flavor
from tests.presets.conftest import COMMON_KEYS, Track
from tests.presets.support import IssuerServer
from tests.presets.test_multi_tenant import (
    AUTH0_API,
    OTHER_TENANT,
    UNLISTED,
    auth0_like,
    entra,
    entra_token,
    tenant_token,
)
from tests.presets.test_presets import ENTRA_CALLER, TENANT
from tests.support.clock import FakeClock
from tests.support.keys import SigningKey

pytestmark = pytest.mark.anyio

SINGLE_ISSUER = "https://single.example.com/"


def single(issuer_server: IssuerServer, clock: FakeClock, **kwargs: Any) -> Verifier:
    """A plain one-issuer verifier, keys at the issuer server's /jwks."""
    return Verifier(
        issuer=SINGLE_ISSUER,
        audience="single-api",
        jwks_url=f"{issuer_server.base_url}/jwks",
        clock=clock,
        **kwargs,
    )


def single_token(key: SigningKey, clock: FakeClock, **claims: Any) -> str:
    now = int(clock())
    document = {
        "iss": SINGLE_ISSUER,
        "sub": "single-caller",
        "aud": "single-api",
        "iat": now,
        "exp": now + 600,
        "scope": "read",
    }
    return key.sign({**document, **claims})


async def test_each_token_goes_to_its_member(
    login: IssuerServer,
    issuer_server: IssuerServer,
    rsa_key: SigningKey,
    clock: FakeClock,
    flavor: Flavor,
    track: Track[TokenVerifier],
) -> None:
    """A tenant's token is the multi-tenant member's, a named issuer's the plain member's."""
    combined = track(Verifier.combine(single(issuer_server, clock), entra(login, clock)))
    for tenant in (TENANT, OTHER_TENANT):
        claims = await flavor.verify(combined, entra_token(rsa_key, login, clock, tenant))  # type: ignore[arg-type]
        assert claims.client_id == ENTRA_CALLER
        assert claims.issuer == f"{login.base_url}/{tenant}/v2.0"
    claims = await flavor.verify(combined, single_token(rsa_key, clock))  # type: ignore[arg-type]
    assert (claims.client_id, claims.issuer) == ("single-caller", SINGLE_ISSUER)
    assert login.hits(COMMON_KEYS) == 1
    assert issuer_server.hits("/jwks") == 1


async def test_an_unlisted_tenant_or_unknown_issuer_costs_no_network_call(
    login: IssuerServer,
    issuer_server: IssuerServer,
    rsa_key: SigningKey,
    clock: FakeClock,
    flavor: Flavor,
    track: Track[TokenVerifier],
) -> None:
    """Refused before any fetch: a pattern's unlisted tenant, and an iss nobody names."""
    combined = track(Verifier.combine(single(issuer_server, clock), entra(login, clock)))
    unlisted = await flavor.outcome(combined, entra_token(rsa_key, login, clock, UNLISTED))  # type: ignore[arg-type]
    assert isinstance(unlisted, InvalidIssuerError)
    assert "tenant" in unlisted.description
    stranger = await flavor.outcome(
        combined,  # type: ignore[arg-type]
        single_token(rsa_key, clock, iss="https://stranger.example.com/"),
    )
    assert isinstance(stranger, InvalidIssuerError)
    assert login.hits(COMMON_KEYS) == 0
    assert issuer_server.hits("/jwks") == 0


async def test_an_exact_issuer_name_wins_over_a_pattern(
    tenant_hosts: IssuerServer,
    rsa_key: SigningKey,
    clock: FakeClock,
    flavor: Flavor,
    track: Track[TokenVerifier],
) -> None:
    """acme's issuer named by a plain member is that member's, whatever the pattern admits."""
    acme = Verifier(
        issuer=f"{tenant_hosts.base_url}/acme/",
        audience="only-this-audience",
        jwks_url=f"{tenant_hosts.base_url}/acme/jwks",
        clock=clock,
    )
    combined = track(Verifier.combine(auth0_like(tenant_hosts, clock), acme))
    outcome = await flavor.outcome(combined, tenant_token(rsa_key, tenant_hosts, clock, "acme"))  # type: ignore[arg-type]
    assert isinstance(outcome, InvalidAudienceError)  # acme's plain member decided
    globex = await flavor.verify(combined, tenant_token(rsa_key, tenant_hosts, clock, "initech"))  # type: ignore[arg-type]
    assert globex.client_id == "client-of-initech"
    assert globex.audience == (AUTH0_API,)


async def test_an_async_resolver_member_needs_the_async_entry_points(
    login: IssuerServer,
    issuer_server: IssuerServer,
    rsa_key: SigningKey,
    clock: FakeClock,
    track: Track[TokenVerifier],
) -> None:
    """The combined verifier awaits its member's async resolver; sync verify says why not."""
    asked: list[str] = []

    async def resolver(tenant: str) -> bool:
        asked.append(tenant)
        return tenant == TENANT

    combined = track(
        Verifier.combine(single(issuer_server, clock), entra(login, clock, tenants=resolver))
    )
    claims = await combined.verify_async(entra_token(rsa_key, login, clock, TENANT))
    assert claims.client_id == ENTRA_CALLER
    with pytest.raises(InvalidIssuerError):
        await combined.verify_async(entra_token(rsa_key, login, clock, OTHER_TENANT))
    assert asked == [TENANT, OTHER_TENANT]
    with pytest.raises(ConfigurationError, match="async"):
        combined.verify(entra_token(rsa_key, login, clock, UNLISTED))
    # the plain member still serves the sync entry points
    assert combined.verify(single_token(rsa_key, clock)).client_id == "single-caller"


async def test_refusals_go_to_the_hook_of_who_decided(
    login: IssuerServer,
    issuer_server: IssuerServer,
    rsa_key: SigningKey,
    clock: FakeClock,
    flavor: Flavor,
    track: Track[TokenVerifier],
) -> None:
    """An unlisted tenant is the tenant member's refusal; an unknown iss the first hook's."""
    first: list[object] = []
    tenants: list[object] = []
    combined = track(
        Verifier.combine(
            single(issuer_server, clock, on_event=first.append),
            entra(login, clock, on_event=tenants.append),
        )
    )
    await flavor.outcome(combined, entra_token(rsa_key, login, clock, UNLISTED))  # type: ignore[arg-type]
    await flavor.outcome(combined, single_token(rsa_key, clock, iss="https://stranger.example/"))  # type: ignore[arg-type]
    await flavor.verify(combined, entra_token(rsa_key, login, clock, TENANT))  # type: ignore[arg-type]
    await flavor.verify(combined, entra_token(rsa_key, login, clock, TENANT))  # type: ignore[arg-type]
    decisions = [e for e in tenants if isinstance(e, (TokenVerified, VerificationFailed))]
    assert [type(e) for e in decisions] == [VerificationFailed, TokenVerified, TokenVerified]
    assert [e.cached for e in decisions[1:]] == [False, True]  # type: ignore[union-attr]
    assert [type(e) for e in first] == [VerificationFailed]


async def test_strict_warm_up_names_a_member_without_keys(
    login: IssuerServer,
    issuer_server: IssuerServer,
    clock: FakeClock,
    flavor: Flavor,
    track: Track[TokenVerifier],
) -> None:
    """warm_up(strict=True) fetches each member's keys and says which are missing."""
    login.serve(COMMON_KEYS, {"keys": []})
    combined = track(Verifier.combine(single(issuer_server, clock), entra(login, clock)))
    assert not await flavor.warm_up(combined)  # type: ignore[arg-type]
    assert not combined.ready
    with pytest.raises(KeysUnavailableError):
        combined.warm_up(strict=True)
    assert issuer_server.hits("/jwks") == 1  # the plain member's keys came at once
    assert login.hits(COMMON_KEYS) >= 1


def test_combine_refuses_what_is_no_verifier() -> None:
    """Anything but a Verifier or a multi-tenant verifier is a configuration error."""
    with pytest.raises(ConfigurationError, match="combine"):
        Verifier.combine(object())  # type: ignore[arg-type]
