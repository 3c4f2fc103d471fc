"""One verifier for a multi-tenant issuer (``Verifier.multi_tenant``, Entra's
``common`` / ``organizations``, Auth0 tenants).

The token's unverified ``iss`` must match an issuer pattern
(``_sansio.tenants``); the tenant it names must agree with the tenant claim
(``tid`` for Entra) and be admitted: in the allow-list, or accepted by the
resolver (a function, sync or async, that answers ``True``). Only then is a
tenant verifier made, bound to that tenant's issuer(s) (and its tenant claim
value) like any ``Verifier``; an unknown tenant costs no network call.

Keys: one JWKS cache per distinct JWKS URL, so with Entra's common keys
endpoint every tenant shares one cache, and with a per-tenant template each
tenant has its own. At most ``max_tenants`` tenant verifiers are kept
(least recently made or admitted first out), and a cache goes with the
last tenant that used it. Verified tokens of every tenant share one token
cache, so a warm token costs what it costs a single issuer: one lookup, then
its issuer names its tenant verifier (one more).

Events are reported as ``MultiIssuerVerifier`` reports them: what a tenant
decides goes to the hook through that tenant's verifier, and what no tenant
decides (an issuer matching no pattern, an unlisted tenant) through this
one's; both are the one ``on_event`` hook.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Union

from ._base import IssuerVerifier, Scopes, VerifierBase
from ._drivers import AsyncDriver, SyncDriver
from ._sansio.checks import Check, as_checks, compile_checks
from ._sansio.claims import M2MClaims
from ._sansio.errors import (
    ConfigurationError,
    InvalidIssuerError,
    MalformedTokenError,
)
from ._sansio.events import EventHook
from ._sansio.jwks import JWKSCache, JWKSPolicy
from ._sansio.jws import parse_token
from ._sansio.request import RequestContext
from ._sansio.rules import RouteRules
from ._sansio.tenants import IssuerPattern, check_tenant, placeholder_of, tenant_of
from ._sansio.token_cache import TokenCache
from ._settings.checks import valid_url
from ._settings.conversions import engine_limits, token_url_of
from ._settings.environment import settings_from_mapping
from ._tenant_registry import (
    TenantRegistry,
    TenantSettings,
    ask_resolver,
    await_resolver,
    discard_answer,
    is_async_resolver,
)
from ._warm_up import ready_or_raise, warm_up, warm_up_async

if TYPE_CHECKING:
    from ._http import AsyncClient, SyncClient

__all__ = ["MultiTenantVerifier", "Tenants"]

logger = logging.getLogger("m2m_guard")

#: An allow-list, or a resolver answering whether a tenant is admitted.
Tenants = Union[Collection[str], Callable[[str], bool], Callable[[str], Awaitable[bool]]]  # noqa: UP007


class MultiTenantVerifier(VerifierBase):
    """Verifies tokens of the admitted tenants of a multi-tenant issuer.

    Build it with ``Verifier.multi_tenant(...)`` or ``Verifier.for_entra(
    tenant="common", tenants=...)``; it works wherever a ``Verifier`` does,
    ``Verifier.combine`` included.

    Args:
        issuer: issuer pattern(s) with one placeholder each, e.g.
            ``https://login.microsoftonline.com/{tenantid}/v2.0``.
        audience: the accepted ``aud`` value(s), for every tenant.
        jwks_url: one URL for every tenant (Entra's common keys), or a
            template with the same placeholder (``https://{tenant}.auth0.com/
            .well-known/jwks.json``): one JWKS cache per distinct URL.
        tenants: the admitted tenants (a set), or a function ``tenant ->
            bool`` (or ``async``: then only the async entry points may be
            used); it is asked once per tenant kept, and a refusal is
            remembered for a minute. An exception means "cannot tell now": 503.
        tenant_claim: a claim that must name the same tenant as ``iss``
            (``tid`` for Entra); ``None``: none.
        max_tenants: how many tenants' verifiers (and JWKS caches) are kept.
        **settings: every other ``Verifier`` argument (``algorithms``,
            ``leeway``, ``client_id_claims`` …), the same for each tenant.
    """

    def __init__(
        self,
        *,
        issuer: str | Sequence[str],
        audience: str | Sequence[str],
        jwks_url: str,
        tenants: Tenants,
        tenant_claim: str | None = None,
        max_tenants: int = 1024,
        jwks_policy: JWKSPolicy | None = None,
        http_client: SyncClient | None = None,
        async_http_client: AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        on_event: EventHook | None = None,
        max_token_size: int = 8192,
        token_cache_size: int = 4096,
        token_url: str | None = None,
        checks: Iterable[Check] | None = None,
        **settings: Any,
    ) -> None:
        templates = [issuer] if isinstance(issuer, str) else list(issuer)
        self.patterns = tuple(IssuerPattern.parse(t) for t in templates)
        if not self.patterns:
            raise ConfigurationError.of("issuer", "must name at least one issuer pattern")
        names = {p.placeholder for p in self.patterns}
        url_name = placeholder_of(jwks_url, "jwks_url") if isinstance(jwks_url, str) else None
        if len(names) != 1 or url_name not in (None, *names):
            raise ConfigurationError.of(
                "jwks_url", "and the issuer patterns must use the same placeholder"
            )
        if tenant_claim is not None and (not isinstance(tenant_claim, str) or not tenant_claim):
            raise ConfigurationError.of("tenant_claim", "must be a claim name or None")
        if isinstance(max_tenants, bool) or not isinstance(max_tenants, int) or max_tenants < 1:
            raise ConfigurationError.of("max_tenants", "must be a whole number >= 1")
        if tenant_claim is not None and tenant_claim in (settings.get("claim_values") or {}):
            raise ConfigurationError.of(
                "claim_values", f"may not set the tenant claim {tenant_claim!r}"
            )
        self.tenant_claim = tenant_claim
        # Every tenant's verifier runs the same checks (compiled here: errors now).
        self._compiled_checks = compile_checks(checks)
        self._sync_hits = self._compiled_checks is None or not self._compiled_checks.asynchronous
        self._resolver_is_async = callable(tenants) and is_async_resolver(tenants)
        self._allowed = None if callable(tenants) else self._admit_set(tenants)
        self._resolver = tenants if callable(tenants) else None
        self._on_event = on_event
        self._max_token_size, cache_size = engine_limits(max_token_size, token_cache_size)
        self._token_url = token_url_of(token_url)
        self._sync = SyncDriver(http_client)
        self._async = AsyncDriver(async_http_client)
        tenant_settings = TenantSettings(
            self.patterns,
            jwks_url,
            tenant_claim,
            dict(settings, audience=audience),
            jwks_policy,
            clock,
            on_event,
            self._max_token_size,
            as_checks(checks),
        )
        # Every setting is checked now, not on the first token.
        self._principal = tenant_settings.policy("tenant").principal
        valid_url(tenant_settings.url("tenant"), "jwks_url")
        self._registry = TenantRegistry(
            tenant_settings,
            max_tenants,
            TokenCache(cache_size) if cache_size else None,
            (self._sync, self._async),
        )
        if url_name is None:
            self._registry.cache_for(jwks_url)  # the one shared cache, for warm_up and ready

    @classmethod
    def from_env(
        cls,
        prefix: str = "M2M_GUARD_",
        *,
        environ: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> MultiTenantVerifier:
        """A multi-tenant verifier configured by environment variables:
        ``ISSUER`` (patterns), ``AUDIENCE``, ``JWKS_URL`` (shared or a
        template), ``TENANTS`` (comma-separated), optionally ``TENANT_CLAIM``
        and ``MAX_TENANTS``, and every ``Verifier.from_env`` variable that
        applies to each tenant. ``overrides`` go to the constructor as they are.

        Raises:
            ConfigurationError: a variable is missing or invalid.
        """
        mapping = os.environ if environ is None else environ
        settings = settings_from_mapping(mapping, prefix, overrides)
        if not settings.multi_tenant:
            raise ConfigurationError(f"set {prefix}TENANTS: the tenants this verifier admits")
        with settings.named():
            return cls(**settings.kwargs)

    @staticmethod
    def _admit_set(tenants: Any) -> frozenset[str]:
        if isinstance(tenants, str) or not isinstance(tenants, Collection):
            raise ConfigurationError.of("tenants", "must be a set of tenants or a function")
        allowed = frozenset(check_tenant(t) for t in tenants)
        if not allowed:
            raise ConfigurationError.of("tenants", "admits no tenant")
        return allowed

    def _tenant_of(self, token: str) -> str:
        if not isinstance(token, str):
            raise MalformedTokenError("The access token must be a string.")
        claims = parse_token(token, max_size=self._max_token_size).claims
        return tenant_of(self.patterns, claims, self.tenant_claim)

    def _issuer_verifier(self, token: str) -> IssuerVerifier:
        tenant = self._tenant_of(token)
        known = self._registry.tenants.get(tenant)
        if known is not None:
            return known
        if self._allowed is not None:
            if tenant not in self._allowed:
                raise _unknown_tenant()
            return self._registry.add(tenant)
        if self._registry.refused_lately(tenant):
            raise _unknown_tenant()
        if self._resolver_is_async:
            raise ConfigurationError(
                "an async tenant resolver needs the async entry points (verify_async …)"
            )
        assert self._resolver is not None
        answer = ask_resolver(self._resolver, tenant)
        if inspect.isawaitable(answer):
            discard_answer(answer)
            raise ConfigurationError(
                "the tenant resolver answered an awaitable: use the async entry points"
            )
        return self._admitted(tenant, answer)

    def _admitted(self, tenant: str, answer: object) -> IssuerVerifier:
        if answer is not True:
            self._registry.remember_refusal(tenant)
            raise _unknown_tenant()
        return self._registry.add(tenant)

    async def _issuer_verifier_async(self, token: str) -> IssuerVerifier:
        if self._resolver is None:
            return self._issuer_verifier(token)
        tenant = self._tenant_of(token)
        known = self._registry.tenants.get(tenant)
        if known is not None:
            return known
        if self._registry.refused_lately(tenant):
            raise _unknown_tenant()
        answer = ask_resolver(self._resolver, tenant)
        if inspect.isawaitable(answer):
            answer = await await_resolver(answer, tenant)
        return self._admitted(tenant, answer)

    # -- the entry points -------------------------------------------------------

    def _hit(
        self,
        header: str,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
        request: RequestContext | None = None,
        rules: RouteRules | None = None,
    ) -> M2MClaims | None:
        found = self._lookup(header, True, None if rules is None else rules.max_token_age)
        if found is None:
            return None
        tenant, claims = found
        if not (required or any_of or rules) and self._on_event is None and tenant._checks is None:
            return claims  # nothing to check, nobody to tell
        return tenant._granted(claims, True, required, any_of, path, request, rules)

    def _cached(
        self,
        token: str,
        max_token_age: float | None,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
        request: RequestContext | None = None,
        rules: RouteRules | None = None,
    ) -> M2MClaims | None:
        if type(token) is not str:
            return None
        found = self._lookup(token, False, max_token_age)
        if found is None:
            return None
        tenant, claims = found
        if not (required or any_of or rules) and self._on_event is None and tenant._checks is None:
            return claims
        return tenant._granted(claims, True, required, any_of, path, request, rules)

    def _lookup(
        self, key: str, bearer: bool, max_token_age: float | None
    ) -> tuple[IssuerVerifier, M2MClaims] | None:
        """A cached token's tenant and claims through its tenant's time and key checks."""
        tokens = self._registry.tokens
        if tokens is None:
            return None
        entry = tokens.get_bearer(key) if bearer else tokens.get(key)
        if entry is None:
            return None
        tenant = self._registry.by_issuer.get(entry.claims.issuer)
        if tenant is None:  # its tenant was dropped since: verify afresh
            tokens.discard(entry)
            return None
        claims = tenant._engine._hit(entry, max_token_age)
        return None if claims is None else (tenant, claims)

    @property
    def accepted(self) -> tuple[frozenset[str], frozenset[str], float | None]:
        """What a route may narrow: the audiences and ``max_token_age`` (a
        route cannot name issuers here: they are patterns, one per tenant)."""
        policy = self._registry.settings.policy("tenant")
        return frozenset(), policy.audiences, policy.max_token_age

    @property
    def needs_request(self) -> bool:
        """Whether a custom check looks at the request (every check not marked pure)."""
        compiled = self._compiled_checks
        return compiled is not None and bool(compiled.each)

    # -- keys and resources ----------------------------------------------------

    @property
    def tenants(self) -> tuple[str, ...]:
        """The tenants kept now, least recently admitted first."""
        return tuple(self._registry.tenants)

    @property
    def principal_target(self) -> Any:
        """What ``principal=`` names (a class or a callable), or ``None``."""
        return getattr(self._principal, "target", None)

    @property
    def token_url(self) -> str | None:
        """``token_url=`` if given (documentation only; tenants have their own)."""
        return self._token_url

    def _warm_caches(self) -> list[JWKSCache]:
        if self._allowed is not None:  # a known list: make its tenants' caches now
            for tenant in sorted(self._allowed)[: self._registry.max_tenants]:
                self._registry.add(tenant)
        return [cache for cache, _ in self._registry.caches.values()]

    def _key_caches(self) -> list[JWKSCache]:
        return [cache for cache, _ in self._registry.caches.values()]

    @property
    def ready(self) -> bool:
        """Whether every JWKS cache in use has usable keys."""
        return all(cache.has_usable_keys() for cache in self._key_caches())

    def warm_up(self, *, strict: bool = False) -> bool:
        """Fetch the keys of the shared JWKS URL, or of every listed tenant's;
        never raises, unless ``strict`` (``KeysUnavailableError`` saying why)."""
        caches = self._warm_caches()
        warm_up(self._sync, caches)
        return ready_or_raise(caches, strict)

    async def warm_up_async(self, *, strict: bool = False) -> bool:
        """Like ``warm_up``, for async code."""
        caches = self._warm_caches()
        await warm_up_async(self._async, caches)
        return ready_or_raise(caches, strict)

    def close(self) -> None:
        """Close the HTTP client the verifier created (not one you passed)."""
        self._sync.close()

    async def aclose(self) -> None:
        """Close the async HTTP client the verifier created in this loop."""
        await self._async.aclose()

    def __repr__(self) -> str:
        patterns = [p.template for p in self.patterns]
        return f"<MultiTenantVerifier issuers={patterns} tenants={len(self._registry.tenants)}>"


def _unknown_tenant() -> InvalidIssuerError:
    return InvalidIssuerError("The token's issuer is not an accepted tenant.")
