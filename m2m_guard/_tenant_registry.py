"""The tenants a ``MultiTenantVerifier`` keeps: their verifiers, their JWKS
caches (one per distinct URL), and the resolver's recent refusals, bounded.

Made only for admitted tenants (``_tenants`` decides), under one lock; read
without one (single dictionary lookups). The oldest tenant is dropped past
``max_tenants``, and its JWKS cache with it unless another tenant uses it.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._base import IssuerVerifier
from ._drivers import AsyncDriver, SyncDriver
from ._sansio.checks import Check
from ._sansio.claims import M2MClaims
from ._sansio.engine import Engine
from ._sansio.errors import KeysUnavailableError
from ._sansio.events import EventHook
from ._sansio.flow import run_async, run_sync
from ._sansio.jwks import JWKSCache, JWKSPolicy
from ._sansio.policy import ClaimsPolicy
from ._sansio.revocation import RevocationState
from ._sansio.tenants import IssuerPattern
from ._sansio.token_cache import TokenCache
from ._settings.conversions import claims_policy, key_cache

__all__ = ["REFUSAL_TTL", "TenantRegistry", "TenantSettings", "TenantVerifier"]

logger = logging.getLogger("m2m_guard")

#: How long a resolver's refusal is remembered (seconds): a flood of tokens
#: naming one unknown tenant asks the resolver once per period.
REFUSAL_TTL = 60.0


class TenantVerifier(IssuerVerifier):
    """One admitted tenant: its policy, an engine over the shared token cache
    and its JWKS URL's cache; fetches go through the shared drivers."""

    def __init__(
        self,
        policy: ClaimsPolicy,
        engine: Engine,
        drivers: tuple[SyncDriver, AsyncDriver],
        on_event: EventHook | None,
    ) -> None:
        self.policy = policy
        self._engine = engine
        self._sync, self._async = drivers
        self._on_event = on_event

    def _fresh(self, token: str, max_token_age: float | None) -> M2MClaims:
        return run_sync(self._engine.flow(token, max_token_age), self._sync.refresh)

    async def _fresh_async(self, token: str, max_token_age: float | None) -> M2MClaims:
        return await run_async(self._engine.flow(token, max_token_age), self._async.refresh)


@dataclass(frozen=True)
class TenantSettings:
    """What every tenant's verifier is built from."""

    patterns: tuple[IssuerPattern, ...]
    jwks_url: str
    tenant_claim: str | None
    claim_settings: Mapping[str, Any]
    jwks_policy: JWKSPolicy | None
    clock: Callable[[], float]
    on_event: EventHook | None
    max_token_size: int
    #: every tenant's custom checks (``Verifier(checks=...)``), or ``None``
    checks: tuple[Check, ...] | None = None
    #: the revocation state every tenant's engine consults, or ``None``
    revocations: RevocationState | None = None

    def policy(self, tenant: str) -> ClaimsPolicy:
        """``tenant``'s claim rules: its issuer(s), and its tenant claim's value."""
        settings = dict(self.claim_settings)
        if self.tenant_claim is not None:
            values = dict(settings.get("claim_values") or {})
            values[self.tenant_claim] = tenant
            settings["claim_values"] = values
        return claims_policy(issuer=[p.fill(tenant) for p in self.patterns], **settings)

    def url(self, tenant: str) -> str:
        """``tenant``'s JWKS URL (the same for all when the URL has no placeholder)."""
        return self.jwks_url.replace("{" + self.patterns[0].placeholder + "}", tenant)


class TenantRegistry:
    """The kept tenants (least recently admitted first) and their key caches."""

    def __init__(
        self,
        settings: TenantSettings,
        max_tenants: int,
        tokens: TokenCache | None,
        drivers: tuple[SyncDriver, AsyncDriver],
    ) -> None:
        self.settings = settings
        self.max_tenants = max_tenants
        self.tokens = tokens
        self.drivers = drivers
        self._lock = threading.Lock()
        self.tenants: OrderedDict[str, TenantVerifier] = OrderedDict()
        #: every issuer of every kept tenant -> its verifier (the warm path)
        self.by_issuer: dict[str, TenantVerifier] = {}
        #: JWKS URL -> (its cache, how many kept tenants use it)
        self.caches: dict[str, tuple[JWKSCache, int]] = {}
        self._refused: OrderedDict[str, float] = OrderedDict()

    def cache_for(self, url: str) -> JWKSCache:
        """The one JWKS cache of ``url``."""
        known = self.caches.get(url)
        if known is not None:
            return known[0]
        s = self.settings
        cache = key_cache(
            issuers=frozenset(),
            jwks_url=url,
            jwks=None,
            public_key=None,
            discovery_url=None,
            trusted_jwks_origins=(),
            policy=s.jwks_policy,
            clock=s.clock,
            on_event=s.on_event,
        )
        self.caches[url] = (cache, 0)
        return cache

    def add(self, tenant: str) -> TenantVerifier:
        """The verifier of an admitted ``tenant``, made (and the oldest dropped) if new."""
        with self._lock:
            known = self.tenants.get(tenant)
            if known is not None:
                return known
            s = self.settings
            policy = s.policy(tenant)
            url = s.url(tenant)
            cache = self.cache_for(url)
            engine = Engine(
                policy,
                cache,
                clock=s.clock,
                max_token_size=s.max_token_size,
                revocations=s.revocations,
            )
            engine.tokens = self.tokens  # one token cache for every tenant
            made = TenantVerifier(policy, engine, self.drivers, s.on_event)
            made._use_checks(s.checks)
            self.caches[url] = (cache, self.caches[url][1] + 1)
            self.tenants[tenant] = made
            for issuer in policy.issuers:
                self.by_issuer[issuer] = made
            while len(self.tenants) > self.max_tenants:
                self._drop(*self.tenants.popitem(last=False))
            logger.debug("tenant %s admitted", tenant)
            return made

    def _drop(self, tenant: str, verifier: TenantVerifier) -> None:
        for issuer in verifier.policy.issuers:
            self.by_issuer.pop(issuer, None)
        url = self.settings.url(tenant)
        cache, users = self.caches[url]
        if users > 1 or url == self.settings.jwks_url:
            self.caches[url] = (cache, users - 1)  # shared, or the one common cache
        else:
            del self.caches[url]

    def refused_lately(self, tenant: str) -> bool:
        """Whether the resolver refused ``tenant`` less than ``REFUSAL_TTL`` ago."""
        until = self._refused.get(tenant)
        return until is not None and self.settings.clock() < until

    def remember_refusal(self, tenant: str) -> None:
        """Remember the resolver's refusal of ``tenant`` for ``REFUSAL_TTL``."""
        with self._lock:
            self._refused[tenant] = self.settings.clock() + REFUSAL_TTL
            self._refused.move_to_end(tenant)
            while len(self._refused) > self.max_tenants:
                self._refused.popitem(last=False)


# Asking a resolver (sync or async) whether a tenant is admitted.
def is_async_resolver(resolver: Any) -> bool:
    return inspect.iscoroutinefunction(resolver) or inspect.iscoroutinefunction(
        getattr(resolver, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


def ask_resolver(resolver: Callable[[str], Any], tenant: str) -> Any:
    try:
        return resolver(tenant)
    except Exception as exc:
        raise resolver_failed(tenant) from exc


async def await_resolver(answer: Awaitable[Any], tenant: str) -> Any:
    try:
        return await answer
    except Exception as exc:
        raise resolver_failed(tenant) from exc


def resolver_failed(tenant: str) -> KeysUnavailableError:
    # "Cannot tell now" is no refusal of the token (401 would be a lie): 503,
    # and nothing is remembered, so the next request asks again.
    logger.exception("the tenant resolver failed for tenant %s", tenant)
    return KeysUnavailableError("The token's tenant cannot be checked right now.")


def discard_answer(answer: object) -> None:
    close = getattr(answer, "close", None)
    if callable(close):
        close()
