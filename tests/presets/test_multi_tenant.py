"""Multi-tenant issuers: Entra's common keys, per-tenant JWKS templates, admission, bounds.

Tenants are served from real endpoints on 127.0.0.1: ``login`` plays Entra's
login host (the shared ``/common`` keys, signed with ``rsa_key``), ``tenants``
a host with one JWKS per tenant (``/{tenant}/jwks``): ``acme`` signs with
``rsa_key``, ``globex`` with ``other_rsa_key``. Every JWKS request is counted,
so "costs no network call" is checked, not assumed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from m2m_guard import (
    BadSignatureError,
    ConfigurationError,
    InvalidClaimError,
    InvalidIssuerError,
    KeysUnavailableError,
    M2MClaims,
    MalformedTokenError,
    MultiTenantVerifier,
    TokenVerifier,
    UnknownKeyError,
    Verifier,
)
from m2m_guard.events import TokenVerified, VerificationFailed
from tests.core._helpers import Flavor
from tests.integrations._harness import Harness
from tests.presets.conftest import COMMON_KEYS, Track
from tests.presets.support import MIDDLEWARES, IssuerServer
from tests.presets.test_presets import ENTRA_API, ENTRA_CALLER, TENANT, entra_v2_claims
from tests.support.clock import FakeClock
from tests.support.keys import SigningKey

pytestmark = pytest.mark.anyio

OTHER_TENANT = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
UNLISTED = "11111111-2222-4333-8444-555555555555"
AUTH0_API = "https://orders.example.com/api"


def entra_token(
    key: SigningKey, login: IssuerServer, clock: FakeClock, tenant: str = TENANT, **claims: Any
) -> str:
    document = entra_v2_claims(login.base_url, clock())
    document.update(iss=f"{login.base_url}/{tenant}/v2.0", tid=tenant)
    document.update(claims)
    return key.sign({k: v for k, v in document.items() if v is not ...})


def entra(login: IssuerServer, clock: FakeClock, **kwargs: Any) -> MultiTenantVerifier:
    kwargs.setdefault("tenants", {TENANT, OTHER_TENANT})
    return Verifier.for_entra(
        tenant="common", audience=ENTRA_API, login_host=login.base_url, clock=clock, **kwargs
    )


def auth0_like(hosts: IssuerServer, clock: FakeClock, **kwargs: Any) -> MultiTenantVerifier:
    kwargs.setdefault("tenants", {"acme", "globex", "initech"})
    return Verifier.multi_tenant(
        issuer=f"{hosts.base_url}/{{tenant}}/",
        jwks_url=f"{hosts.base_url}/{{tenant}}/jwks",
        audience=AUTH0_API,
        client_id_claims=("azp",),
        clock=clock,
        **kwargs,
    )


def tenant_token(key: SigningKey, hosts: IssuerServer, clock: FakeClock, tenant: str) -> str:
    now = int(clock())
    return key.sign(
        {
            "iss": f"{hosts.base_url}/{tenant}/",
            "azp": f"client-of-{tenant}",
            "aud": AUTH0_API,
            "iat": now,
            "exp": now + 600,
            "scope": "orders:read",
        }
    )


async def test_every_admitted_tenant_shares_the_common_keys(
    login: IssuerServer,
    rsa_key: SigningKey,
    clock: FakeClock,
    flavor: Flavor,
    track: Track[TokenVerifier],
) -> None:
    """Two tenants' tokens verify against one JWKS cache: one fetch of the common keys."""
    verifier = track(entra(login, clock))
    for tenant in (TENANT, OTHER_TENANT):
        claims = await flavor.verify(verifier, entra_token(rsa_key, login, clock, tenant))  # type: ignore[arg-type]
        assert claims.client_id == ENTRA_CALLER
        assert claims.issuer == f"{login.base_url}/{tenant}/v2.0"
        assert claims.scopes == ("Orders.Read.All", "Orders.Write.All")
    assert login.hits(COMMON_KEYS) == 1
    assert set(verifier.tenants) == {TENANT, OTHER_TENANT}
    assert "MultiTenantVerifier" in repr(verifier)


async def test_a_warm_token_is_one_lookup_and_the_same_claims(
    login: IssuerServer, rsa_key: SigningKey, clock: FakeClock, track: Track[TokenVerifier]
) -> None:
    """A second use of a token returns the very same claims, in every entry point."""
    verifier = track(entra(login, clock))
    token = entra_token(rsa_key, login, clock)
    first = verifier.verify(token)
    assert verifier.verify(token) is first
    assert await verifier.verify_async(token) is first
    assert verifier.verify_authorization([f"Bearer {token}"]) is first
    assert verifier.verify_header(f"Bearer {token}", "Orders.Read.All") is first
    assert login.hits(COMMON_KEYS) == 1


@pytest.mark.parametrize(
    ("name", "iss_tenant", "tid"),
    [
        ("tid of another tenant", TENANT, OTHER_TENANT),
        ("no tid", TENANT, ...),
        ("tid not a string", TENANT, 7),
    ],
)
async def test_the_tenant_claim_must_name_the_issuers_tenant(
    login: IssuerServer,
    rsa_key: SigningKey,
    clock: FakeClock,
    flavor: Flavor,
    track: Track[TokenVerifier],
    name: str,
    iss_tenant: str,
    tid: Any,
) -> None:
    """iss naming tenant A with the tid of tenant B (both admitted) is refused before any fetch."""
    verifier = track(entra(login, clock))
    token = entra_token(rsa_key, login, clock, iss_tenant, tid=tid)
    outcome = await flavor.outcome(verifier, token)  # type: ignore[arg-type]
    assert isinstance(outcome, InvalidClaimError), name
    assert outcome.claim == "tid"
    assert login.hits(COMMON_KEYS) == 0


@pytest.mark.parametrize(
    "value",
    [
        "evil.com/",
        "evil.com",
        "..",
        "%2F",
        "",
        "a/b",
        "a@b",
        "a:b",
        "a?b",
        "a#b",
        "a b",
        "-a",
        "acme/../globex",
        "x" * 65,
    ],
)
async def test_a_placeholder_value_that_could_move_the_url_is_refused(
    tenant_hosts: IssuerServer,
    rsa_key: SigningKey,
    clock: FakeClock,
    flavor: Flavor,
    track: Track[TokenVerifier],
    value: str,
) -> None:
    """Even a resolver admitting everything is never asked about a value that is no plain name."""
    asked: list[str] = []

    def admit_all(tenant: str) -> bool:
        asked.append(tenant)
        return True

    verifier = track(auth0_like(tenant_hosts, clock, tenants=admit_all))
    token = tenant_token(rsa_key, tenant_hosts, clock, value)
    outcome = await flavor.outcome(verifier, token)  # type: ignore[arg-type]
    assert isinstance(outcome, InvalidIssuerError)
    assert asked == []
    assert tenant_hosts.paths == []


async def test_an_unlisted_tenant_costs_no_network_call(
    login: IssuerServer,
    rsa_key: SigningKey,
    clock: FakeClock,
    flavor: Flavor,
    track: Track[TokenVerifier],
) -> None:
    """A well-formed token of a tenant outside the allow-list: 401, no fetch, no tenant kept."""
    verifier = track(entra(login, clock))
    outcome = await flavor.outcome(verifier, entra_token(rsa_key, login, clock, UNLISTED))  # type: ignore[arg-type]
    assert isinstance(outcome, InvalidIssuerError)
    assert "tenant" in outcome.description
    assert login.paths == []
    assert verifier.tenants == ()


async def test_each_tenant_has_its_own_jwks_and_keys_never_cross(
    tenant_hosts: IssuerServer,
    rsa_key: SigningKey,
    other_rsa_key: SigningKey,
    clock: FakeClock,
    flavor: Flavor,
    track: Track[TokenVerifier],
) -> None:
    """A per-tenant template: one fetch per tenant; acme's token signed with globex's key fails."""
    verifier = track(auth0_like(tenant_hosts, clock))
    acme = await flavor.verify(verifier, tenant_token(rsa_key, tenant_hosts, clock, "acme"))  # type: ignore[arg-type]
    globex_token = tenant_token(other_rsa_key, tenant_hosts, clock, "globex")
    globex = await flavor.verify(verifier, globex_token)  # type: ignore[arg-type]
    assert (acme.client_id, globex.client_id) == ("client-of-acme", "client-of-globex")
    assert sorted(tenant_hosts.paths) == ["/acme/jwks", "/globex/jwks"]
    forged = tenant_token(other_rsa_key, tenant_hosts, clock, "acme")
    outcome = await flavor.outcome(verifier, forged)  # type: ignore[arg-type]
    assert isinstance(outcome, UnknownKeyError | BadSignatureError)


async def test_the_oldest_tenant_is_dropped_past_max_tenants(
    tenant_hosts: IssuerServer,
    rsa_key: SigningKey,
    other_rsa_key: SigningKey,
    clock: FakeClock,
    track: Track[TokenVerifier],
) -> None:
    """max_tenants=2: a third tenant drops the first and its cache; the first is verified afresh."""
    verifier = track(auth0_like(tenant_hosts, clock, max_tenants=2))
    acme = tenant_token(rsa_key, tenant_hosts, clock, "acme")
    verifier.verify(acme)
    verifier.verify(tenant_token(other_rsa_key, tenant_hosts, clock, "globex"))
    verifier.verify(tenant_token(rsa_key, tenant_hosts, clock, "initech"))
    assert verifier.tenants == ("globex", "initech")
    assert tenant_hosts.hits("/acme/jwks") == 1
    assert verifier.verify_authorization([f"Bearer {acme}"]).client_id == "client-of-acme"  # type: ignore[union-attr]
    assert tenant_hosts.hits("/acme/jwks") == 2  # its cache went with it
    assert verifier.tenants == ("initech", "acme")


async def test_a_resolver_is_asked_once_and_its_refusal_remembered(
    login: IssuerServer, rsa_key: SigningKey, clock: FakeClock, track: Track[TokenVerifier]
) -> None:
    """Admitted tenants are kept; a refusal is remembered for a minute, then asked again."""
    asked: list[str] = []

    def resolver(tenant: str) -> bool:
        asked.append(tenant)
        return tenant == TENANT

    verifier = track(entra(login, clock, tenants=resolver))
    for _ in range(2):
        verifier.verify(entra_token(rsa_key, login, clock, TENANT, jti=str(clock())))
        clock.advance(1)
        with pytest.raises(InvalidIssuerError):
            verifier.verify(entra_token(rsa_key, login, clock, OTHER_TENANT))
    assert asked == [TENANT, OTHER_TENANT]
    clock.advance(61)
    with pytest.raises(InvalidIssuerError):
        verifier.verify(entra_token(rsa_key, login, clock, OTHER_TENANT))
    assert asked == [TENANT, OTHER_TENANT, OTHER_TENANT]
    assert login.hits(COMMON_KEYS) == 1


async def test_a_resolver_answer_must_be_true(
    login: IssuerServer, rsa_key: SigningKey, clock: FakeClock, track: Track[TokenVerifier]
) -> None:
    """A truthy answer that is not True (a string, a list) admits nobody."""
    verifier = track(entra(login, clock, tenants=lambda tenant: "yes"))
    with pytest.raises(InvalidIssuerError):
        verifier.verify(entra_token(rsa_key, login, clock))


async def test_a_failing_resolver_is_a_503_and_not_remembered(
    login: IssuerServer,
    rsa_key: SigningKey,
    clock: FakeClock,
    flavor: Flavor,
    track: Track[TokenVerifier],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The resolver raising means "cannot tell now": 503 with Retry-After, asked again next time."""
    calls: list[str] = []

    def flaky(tenant: str) -> bool:
        calls.append(tenant)
        if len(calls) == 1:
            raise RuntimeError("database down")
        return True

    verifier = track(entra(login, clock, tenants=flaky))
    token = entra_token(rsa_key, login, clock)
    outcome = await flavor.outcome(verifier, token)  # type: ignore[arg-type]
    assert isinstance(outcome, KeysUnavailableError)
    assert outcome.status_code == 503
    assert "tenant resolver failed" in caplog.text
    assert token not in caplog.text
    assert (await flavor.verify(verifier, token)).client_id == ENTRA_CALLER  # type: ignore[arg-type]


async def test_an_async_resolver_serves_the_async_entry_points(
    login: IssuerServer, rsa_key: SigningKey, clock: FakeClock, track: Track[TokenVerifier]
) -> None:
    """async def resolvers are awaited; the sync entry points say to use the async ones."""

    async def resolver(tenant: str) -> bool:
        return tenant == TENANT

    verifier = track(entra(login, clock, tenants=resolver))
    claims = await verifier.verify_async(entra_token(rsa_key, login, clock))
    assert claims.client_id == ENTRA_CALLER
    with pytest.raises(InvalidIssuerError):
        await verifier.verify_async(entra_token(rsa_key, login, clock, OTHER_TENANT))
    with pytest.raises(ConfigurationError, match="async"):
        verifier.verify(entra_token(rsa_key, login, clock, UNLISTED))
    assert verifier.verify(entra_token(rsa_key, login, clock)) is not None  # a kept tenant

    class Lookup:
        async def __call__(self, tenant: str) -> bool:
            raise OSError("unreachable")

    failing = track(entra(login, clock, tenants=Lookup()))
    with pytest.raises(KeysUnavailableError):
        await failing.verify_async(entra_token(rsa_key, login, clock))


async def test_a_resolver_returning_an_awaitable_in_sync_code_is_refused(
    login: IssuerServer, rsa_key: SigningKey, clock: FakeClock, track: Track[TokenVerifier]
) -> None:
    """A plain function returning a coroutine: the sync path closes it and says why."""

    async def later(tenant: str) -> bool:
        return True

    verifier = track(entra(login, clock, tenants=lambda tenant: later(tenant)))
    with pytest.raises(ConfigurationError, match="awaitable"):
        verifier.verify(entra_token(rsa_key, login, clock))
    assert (await verifier.verify_async(entra_token(rsa_key, login, clock))).client_id


async def test_events_are_reported_once_per_outcome(
    login: IssuerServer, rsa_key: SigningKey, clock: FakeClock, track: Track[TokenVerifier]
) -> None:
    """Verified (cold and warm) and refused tokens each emit one event to the one hook."""
    events: list[object] = []
    verifier = track(entra(login, clock, on_event=events.append))
    token = entra_token(rsa_key, login, clock)
    verifier.verify_authorization([f"Bearer {token}"])
    verifier.verify_authorization([f"Bearer {token}"])
    with pytest.raises(InvalidIssuerError):
        verifier.verify_authorization([f"Bearer {entra_token(rsa_key, login, clock, UNLISTED)}"])
    outcomes = [e for e in events if isinstance(e, TokenVerified | VerificationFailed)]
    assert [type(e) for e in outcomes] == [TokenVerified, TokenVerified, VerificationFailed]
    assert [e.cached for e in outcomes[:2]] == [False, True]  # type: ignore[attr-defined]


async def test_warm_up_fetches_the_shared_keys_or_each_listed_tenants(
    login: IssuerServer,
    tenant_hosts: IssuerServer,
    clock: FakeClock,
    flavor: Flavor,
    track: Track[TokenVerifier],
) -> None:
    """warm_up: one fetch of the common keys; with a template, one per listed tenant."""
    common = track(entra(login, clock))
    assert not common.ready
    assert await flavor.warm_up(common)  # type: ignore[arg-type]
    assert common.ready
    assert login.hits(COMMON_KEYS) == 1
    listed = track(auth0_like(tenant_hosts, clock))
    assert await flavor.warm_up(listed)  # type: ignore[arg-type]
    assert sorted(tenant_hosts.paths) == ["/acme/jwks", "/globex/jwks", "/initech/jwks"]
    resolved = track(auth0_like(tenant_hosts, clock, tenants=lambda t: True))
    assert resolved.ready
    assert await flavor.warm_up(resolved)  # type: ignore[arg-type]


def test_strict_warm_up_says_why_keys_are_missing(
    login: IssuerServer, clock: FakeClock, track_sync: Track[TokenVerifier]
) -> None:
    """strict=True raises KeysUnavailableError when the shared keys cannot be fetched."""
    login.failing[COMMON_KEYS] = 404
    verifier = track_sync(entra(login, clock))
    assert verifier.warm_up() is False
    with pytest.raises(KeysUnavailableError):
        verifier.warm_up(strict=True)


@pytest.mark.parametrize("harness_class", MIDDLEWARES)
def test_a_multi_tenant_verifier_protects_an_app(
    harness_class: Callable[[], Harness],
    login: IssuerServer,
    rsa_key: SigningKey,
    clock: FakeClock,
    track_sync: Track[TokenVerifier],
) -> None:
    """ASGI and WSGI middleware: admitted tenants get in (cold, warm), others get 401."""
    harness = harness_class()
    harness.build(track_sync(entra(login, clock)))  # type: ignore[arg-type]
    for tenant in (TENANT, OTHER_TENANT, TENANT):
        token = entra_token(rsa_key, login, clock, tenant)
        reply = harness.request("/whoami", [("authorization", f"Bearer {token}")])
        assert reply.status == 200, reply.json
        assert reply.json["client_id"] == ENTRA_CALLER
    for token in (
        entra_token(rsa_key, login, clock, UNLISTED),
        entra_token(rsa_key, login, clock, TENANT, tid=OTHER_TENANT),
    ):
        reply = harness.request("/whoami", [("authorization", f"Bearer {token}")])
        assert reply.status == 401
        assert 'error="invalid_token"' in reply.headers["www-authenticate"]
    assert login.hits(COMMON_KEYS) == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"issuer": "https://login.example.com/v2.0"}, "placeholder"),
        ({"issuer": "https://{a}.example.com/{b}/"}, "at most one"),
        ({"issuer": "https://{tenant.example.com/"}, "at most one"),
        ({"issuer": []}, "at least one"),
        ({"jwks_url": "https://keys.example.com/{other}/jwks"}, "same placeholder"),
        ({"issuer": ["https://{a}.example.com/", "https://{b}.example.com/"]}, "same placeholder"),
        ({"tenants": {"acme", "bad/tenant"}}, "invalid tenant"),
        ({"tenants": set()}, "admits no tenant"),
        ({"tenants": "acme"}, "set of tenants"),
        ({"max_tenants": 0}, "max_tenants"),
        ({"max_tenants": True}, "max_tenants"),
        ({"tenant_claim": ""}, "tenant_claim"),
        ({"tenant_claim": "tid", "claim_values": {"tid": "x"}}, "tenant claim"),
        ({"leeway": -1}, "leeway"),
        ({"jwks_url": "ftp://keys.example.com/{tenant}"}, "jwks_url"),
    ],
)
def test_misconfiguration_fails_at_construction(kwargs: dict[str, Any], match: str) -> None:
    """Each wrong setting is a ConfigurationError naming it, before any token."""
    settings: dict[str, Any] = {
        "issuer": "https://{tenant}.example.com/",
        "audience": "api",
        "jwks_url": "https://{tenant}.example.com/jwks",
        "tenants": {"acme"},
        **kwargs,
    }
    with pytest.raises(ConfigurationError, match=match):
        Verifier.multi_tenant(**settings)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tenant": "consumers", "tenants": {TENANT}},
        {"tenant": "common"},
        {"tenant_id": TENANT, "tenant": "common", "tenants": {TENANT}},
        {},
    ],
)
def test_for_entra_multi_tenant_needs_common_or_organizations_and_tenants(
    kwargs: dict[str, Any],
) -> None:
    """Only the shared endpoints, with an allow-list or resolver, make a multi-tenant verifier."""
    with pytest.raises(ConfigurationError, match="multi-tenant"):
        Verifier.for_entra(audience=ENTRA_API, **kwargs)


def test_for_entra_organizations_uses_its_keys_and_both_token_versions() -> None:
    """organizations: its own keys endpoint; v1 and v2 issuers of each tenant; version=1 narrows."""
    verifier = Verifier.for_entra(tenant="organizations", tenants={TENANT}, audience=ENTRA_API)
    assert verifier._registry.settings.jwks_url.endswith("/organizations/discovery/v2.0/keys")
    issuers = verifier._registry.settings.policy(TENANT).issuers
    assert issuers == {
        f"https://login.microsoftonline.com/{TENANT}/v2.0",
        f"https://sts.windows.net/{TENANT}/",
    }
    v1 = Verifier.for_entra(tenant="common", tenants={TENANT}, audience=ENTRA_API, version=1)
    assert v1._registry.settings.policy(TENANT).issuers == {f"https://sts.windows.net/{TENANT}/"}
    assert v1.token_url is None
    # still refused for delegated (user) tokens: the preset's forbidden scp
    assert "scp" in v1._registry.settings.policy(TENANT).forbidden_claims


def test_claims_of_a_tenant_are_ordinary_claims(
    login: IssuerServer, rsa_key: SigningKey, clock: FakeClock, track_sync: Track[TokenVerifier]
) -> None:
    """The result is M2MClaims with the tenant's claims; tid is a custom claim."""
    verifier = track_sync(entra(login, clock))
    claims = verifier.verify(entra_token(rsa_key, login, clock, OTHER_TENANT))
    assert isinstance(claims, M2MClaims)
    assert claims.custom_claims["tid"] == OTHER_TENANT


async def test_without_a_token_cache_every_use_is_a_full_verification(
    login: IssuerServer, rsa_key: SigningKey, clock: FakeClock, track: Track[TokenVerifier]
) -> None:
    """token_cache_size=0: no warm path, yet tokens verify (and keys stay cached)."""
    verifier = track(entra(login, clock, token_cache_size=0))
    token = entra_token(rsa_key, login, clock)
    first = verifier.verify_authorization([f"Bearer {token}"])
    assert first is not None
    assert verifier.verify(token) is not first
    assert login.hits(COMMON_KEYS) == 1


async def test_a_token_that_is_not_a_string_is_malformed(
    login: IssuerServer, clock: FakeClock, flavor: Flavor, track: Track[TokenVerifier]
) -> None:
    """verify(123): 401 invalid_token, nothing fetched."""
    outcome = await flavor.outcome(track(entra(login, clock)), 123)  # type: ignore[arg-type]
    assert isinstance(outcome, MalformedTokenError)
    assert login.paths == []


async def test_the_async_path_remembers_refusals_and_kept_tenants(
    login: IssuerServer, rsa_key: SigningKey, clock: FakeClock, track: Track[TokenVerifier]
) -> None:
    """An async resolver is asked once per tenant: kept ones and refused ones alike."""
    asked: list[str] = []

    async def resolver(tenant: str) -> bool:
        asked.append(tenant)
        return tenant == TENANT

    verifier = track(entra(login, clock, tenants=resolver))
    for jti in ("a", "b"):
        await verifier.verify_async(entra_token(rsa_key, login, clock, jti=jti))
        with pytest.raises(InvalidIssuerError):
            await verifier.verify_async(entra_token(rsa_key, login, clock, OTHER_TENANT, jti=jti))
    assert asked == [TENANT, OTHER_TENANT]


async def test_a_failing_warm_up_never_raises_unless_strict(
    login: IssuerServer,
    clock: FakeClock,
    flavor: Flavor,
    track: Track[TokenVerifier],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A driver error during warm-up is logged and answered with False."""
    verifier = track(entra(login, clock))

    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    async def broken_async(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(verifier._sync, "refresh", broken)
    monkeypatch.setattr(verifier._async, "refresh", broken_async)
    assert await flavor.warm_up(verifier) is False  # type: ignore[arg-type]
    assert "JWKS warm-up failed" in caplog.text


async def test_entra_with_a_per_tenant_keys_template(
    login: IssuerServer,
    rsa_key: SigningKey,
    other_rsa_key: SigningKey,
    clock: FakeClock,
    track: Track[TokenVerifier],
) -> None:
    """jwks_url="…/{tenantid}/discovery/v2.0/keys": each tenant's own keys, one cache each."""
    login.serve_keys(f"/{TENANT}/discovery/v2.0/keys", rsa_key)
    login.serve_keys(f"/{OTHER_TENANT}/discovery/v2.0/keys", other_rsa_key)
    verifier = track(
        entra(login, clock, jwks_url=f"{login.base_url}/{{tenantid}}/discovery/v2.0/keys")
    )
    verifier.verify(entra_token(rsa_key, login, clock, TENANT))
    verifier.verify(entra_token(other_rsa_key, login, clock, OTHER_TENANT))
    with pytest.raises(UnknownKeyError):
        verifier.verify(entra_token(rsa_key, login, clock, OTHER_TENANT, jti="x"))
    assert login.hits(COMMON_KEYS) == 0
    assert login.hits(f"/{TENANT}/discovery/v2.0/keys") == 1
