"""The public ``Verifier``: configuration, and the sync and async entry points."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._base import IssuerVerifier
from ._drivers import AsyncDriver, SyncDriver
from ._multi import MultiIssuerVerifier
from ._replay import MemoryReplayStore
from ._sansio.binding import Binding
from ._sansio.checks import Check
from ._sansio.claims import M2MClaims
from ._sansio.dpop import DPoPPolicy
from ._sansio.engine import Engine
from ._sansio.errors import ConfigurationError
from ._sansio.flow import run_async, run_sync
from ._sansio.jwks import JWKSCache, JWKSPolicy
from ._sansio.scope_claims import ScopeClaim
from ._settings.conversions import (
    DEFAULT_CLIENT_ID_CLAIMS,
    claims_policy,
    engine_limits,
    key_cache,
    token_url_of,
)
from ._settings.environment import MappedSettings, settings_from_mapping
from ._tenants import MultiTenantVerifier
from ._verifier_presets import IssuerPresets
from ._warm_up import ready_or_raise, warm_up, warm_up_async
from .events import EventHook

if TYPE_CHECKING:
    from ._http import AsyncClient, SyncClient

__all__ = ["Verifier", "build_verifier", "verifier_from_env"]


class Verifier(IssuerVerifier, IssuerPresets):
    """Verifies M2M access tokens against an issuer's keys.

    One verifier serves a whole application: it holds the JWKS cache, and
    ``verify`` (threads) and ``verify_async`` (tasks) share it. Building a
    verifier does no I/O; keys are fetched on first use or by ``warm_up``.

    Args:
        issuer: the accepted ``iss`` value(s), compared exactly.
        audience: the accepted ``aud`` value(s); the token must name one.
        jwks_url: where the issuer publishes its JWKS.
        jwks: static keys instead (a JWKS dict or its JSON text), no network.
        public_key: a PEM public key (or certificate) instead, no network.
        discovery_url: find the JWKS URL in the issuer's metadata instead:
            the issuer URL (OIDC, then RFC 8414 well-known paths are tried)
            or the full URL of a metadata document. Resolved on first use;
            the metadata's ``issuer`` must equal the (single) ``issuer``.
        algorithms: the allow-list; asymmetric algorithms only.
        leeway: seconds of clock skew tolerated on ``exp``, ``nbf``, ``iat``.
        max_token_age: reject tokens issued longer ago than this (seconds).
        max_lifetime: reject tokens whose ``exp - iat`` exceeds this.
        required_claims: claims that must be present.
        client_id_claims: where the client id is read, first present wins.
        scope_claims: claims that carry scopes (merged): names, dotted
            paths into nested claims (``realm_access.roles``), and
            ``ScopeClaim(path, prefix="role:")`` values (or their text form
            ``"path=>role:"``) that grant each value with a prefix, so roles
            and scopes never share a namespace.
        strict_rfc9068: require ``typ`` ``at+jwt`` and RFC 9068's claims.
        audience_claim: the claim compared with ``audience`` (``aud``;
            Cognito access tokens name their app client in ``client_id``).
        claim_values: claims that must have exactly these values, e.g.
            ``{"gty": "client-credentials"}`` to accept machine tokens only.
        forbidden_claims: claims that must be absent (e.g. ``scp``).
        required_any_claims: at least one of these must be present (Keycloak
            service-account tokens carry ``client_id`` or ``clientId``).
        principal: what to build from each verified token's claims, once,
            as ``claims.principal`` (cached with the token): a dataclass,
            ``attrs`` class or pydantic model (fields filled by name from
            ``client_id``, ``scopes`` … and the claims), or a callable
            ``claims -> object``. Claims that do not fit: 401.
        token_url: the issuer's token endpoint, for documentation only (the
            OpenAPI ``clientCredentials`` flow of ``m2m_guard.fastapi``);
            the presets set it; with discovery the metadata's
            ``token_endpoint`` is used when this is not given.
        trusted_jwks_origins: with discovery, origins (``https://host``)
            besides the issuer's own that the metadata's ``jwks_uri`` may use.
        max_token_size: tokens longer than this are rejected unparsed.
        token_cache_size: how many verified tokens to remember (0: none).
            A cached token is re-checked for time and key on every use.
        jwks_policy: JWKS cache tuning (max-age bounds, cooldown, timeouts).
        http_client / async_http_client: your own clients for fetches, of
            ``httpx`` or ``httpx2``.
        clock: seconds since the epoch; injectable for tests.
        on_event: called with every ``m2m_guard.events`` event (JWKS
            fetches, stale keys served, tokens verified or refused), for
            metrics; it must be quick, and it may not raise (errors are logged).
        checks: custom checks ``check(claims, request)``, run after the
            claims and before the scopes; each returns ``None`` or raises an
            ``M2MGuardError`` (README, "Custom checks and per-route rules").
        dpop: DPoP (RFC 9449): ``"off"`` (the default: DPoP-bound tokens are
            refused), ``"allowed"`` (Bearer tokens without ``cnf`` still work;
            DPoP-bound ones need ``Authorization: DPoP`` and a fresh proof) or
            ``"required"`` (only DPoP-bound tokens, with a proof).
        dpop_policy: the proof rules (``DPoPPolicy``: ``iat`` window,
            algorithms, nonces, replay store, the public URL behind a proxy).
        mtls: take certificate-bound tokens (RFC 8705, ``cnf["x5t#S256"]``):
            the caller's TLS client certificate must have that thumbprint. It
            comes from the server (ASGI ``tls`` extension, WSGI
            ``SSL_CLIENT_CERT``) or from ``mtls_cert_header``.
        mtls_cert_header: a header a trusted TLS-terminating proxy sets to
            the client certificate (URL-encoded PEM, e.g. nginx's
            ``$ssl_client_escaped_cert``, or Envoy's ``X-Forwarded-Client-Cert``);
            implies ``mtls``. Safe only when that proxy strips it from callers.
    """

    def __init__(
        self,
        *,
        issuer: str | Sequence[str],
        audience: str | Sequence[str],
        jwks_url: str | None = None,
        jwks: Mapping[str, Any] | str | None = None,
        public_key: str | bytes | None = None,
        discovery_url: str | None = None,
        algorithms: str | Sequence[str] = ("RS256",),
        leeway: float = 0.0,
        max_token_age: float | None = None,
        max_lifetime: float | None = None,
        required_claims: str | Sequence[str] | None = None,
        client_id_claims: Sequence[str] = DEFAULT_CLIENT_ID_CLAIMS,
        scope_claims: str | ScopeClaim | Sequence[str | ScopeClaim] = ("scope", "scp"),
        strict_rfc9068: bool = False,
        audience_claim: str = "aud",
        claim_values: Mapping[str, str] | None = None,
        forbidden_claims: str | Sequence[str] = (),
        required_any_claims: str | Sequence[str] = (),
        principal: Any = None,
        trusted_jwks_origins: str | Sequence[str] = (),
        token_url: str | None = None,
        max_token_size: int = 8192,
        token_cache_size: int = 4096,
        jwks_policy: JWKSPolicy | None = None,
        http_client: SyncClient | None = None,
        async_http_client: AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        on_event: EventHook | None = None,
        checks: Iterable[Check] = (),
        dpop: str = "off",
        dpop_policy: DPoPPolicy | None = None,
        mtls: bool = False,
        mtls_cert_header: str | None = None,
    ) -> None:
        self.policy = claims_policy(
            issuer=issuer,
            audience=audience,
            algorithms=algorithms,
            leeway=leeway,
            max_token_age=max_token_age,
            max_lifetime=max_lifetime,
            required_claims=required_claims,
            client_id_claims=client_id_claims,
            scope_claims=scope_claims,
            strict_rfc9068=strict_rfc9068,
            audience_claim=audience_claim,
            claim_values=claim_values,
            forbidden_claims=forbidden_claims,
            required_any_claims=required_any_claims,
            principal=principal,
        )
        self.cache = key_cache(
            issuers=self.policy.issuers,
            jwks_url=jwks_url,
            jwks=jwks,
            public_key=public_key,
            discovery_url=discovery_url,
            trusted_jwks_origins=trusted_jwks_origins,
            policy=jwks_policy,
            clock=clock,
            on_event=on_event,
        )
        size_cap, cache_size = engine_limits(max_token_size, token_cache_size)
        self._engine = Engine(
            self.policy,
            self.cache,
            clock=clock,
            max_token_size=size_cap,
            token_cache_size=cache_size,
        )
        self._token_url = token_url_of(token_url)
        self._on_event = on_event
        self._sync = SyncDriver(http_client)
        self._async = AsyncDriver(async_http_client)
        self._use_checks(checks)
        self._bind(dpop, dpop_policy, mtls, mtls_cert_header, clock)

    def _bind(
        self,
        dpop: str,
        policy: DPoPPolicy | None,
        mtls: bool,
        cert_header: str | None,
        clock: Callable[[], float],
    ) -> None:
        if policy is not None and not isinstance(policy, DPoPPolicy):
            raise ConfigurationError.of("dpop_policy", "must be an m2m_guard.DPoPPolicy")
        mtls = bool(mtls) or cert_header is not None
        if dpop == "off" and not mtls:
            if policy is not None:
                raise ConfigurationError.of("dpop_policy", 'needs dpop="allowed" or "required"')
            return
        policy = policy or DPoPPolicy()
        store = policy.replay_store
        if store is None:
            store = MemoryReplayStore(clock=clock)
        self._binding = Binding(
            dpop, policy, store, self.policy.leeway, mtls=mtls, cert_header=cert_header
        )
        self._engine.dpop_required = dpop == "required"

    @staticmethod
    def combine(*verifiers: Verifier | MultiTenantVerifier) -> MultiIssuerVerifier:
        """One verifier for several issuers, e.g. Stytch and Auth0 at once.

        The token's unverified ``iss`` chooses which verifier checks it;
        that one alone decides. An unknown ``iss`` is refused (401) without
        any network call. A member may be multi-tenant (``multi_tenant``,
        ``for_entra(tenant="common")``): an ``iss`` no member names exactly
        goes to the first whose patterns match it. The result works wherever
        a ``Verifier`` does.
        """
        return MultiIssuerVerifier(verifiers)

    @classmethod
    def from_discovery(
        cls, issuer_url: str, *, audience: str | Sequence[str], **kwargs: Any
    ) -> Verifier:
        """A verifier for any OAuth2 / OIDC issuer, found through its metadata.

        The JWKS URL is read from ``{issuer}/.well-known/openid-configuration``
        or, failing that, RFC 8414's ``/.well-known/oauth-authorization-server``,
        on first use (so this never fails because the issuer is down); the
        metadata's ``issuer`` must equal ``issuer_url`` exactly.
        """
        return cls(issuer=issuer_url, audience=audience, discovery_url=issuer_url, **kwargs)

    @classmethod
    def from_env(
        cls,
        prefix: str = "M2M_GUARD_",
        *,
        environ: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> Verifier:
        """A verifier configured by environment variables (see the README).

        ``STYTCH_PROJECT_ID`` selects the Stytch preset; otherwise ``ISSUER``
        and ``AUDIENCE`` are required, and without ``JWKS_URL`` the JWKS URL
        is discovered from the issuer. ``environ`` defaults to ``os.environ``;
        ``overrides`` are passed to the constructor as they are.

        Raises:
            ConfigurationError: a variable is missing or invalid.
        """
        mapping = os.environ if environ is None else environ
        settings = settings_from_mapping(mapping, prefix, overrides)
        if settings.multi_tenant:
            raise ConfigurationError(
                f"{prefix}TENANTS configures a multi-tenant issuer: build it with "
                "MultiTenantVerifier.from_env() (or verifier_from_env())"
            )
        with settings.named():
            return cls(**settings.kwargs)

    # -- verification ----------------------------------------------------
    # The entry points (verify, verify_header, verify_authorization and their
    # async twins) and the event reporting are VerifierBase's; a Verifier
    # supplies the full verification of one token, driven sync or async.

    def _fresh(self, token: str, max_token_age: float | None) -> M2MClaims:
        return run_sync(self._engine.flow(token, max_token_age), self._sync.refresh)

    async def _fresh_async(self, token: str, max_token_age: float | None) -> M2MClaims:
        return await run_async(self._engine.flow(token, max_token_age), self._async.refresh)

    def _fresh_bound(self, token: str, max_token_age: float | None) -> M2MClaims:
        flow = self._engine.flow(token, max_token_age, bound_ok=True)
        return run_sync(flow, self._sync.refresh)

    async def _fresh_bound_async(self, token: str, max_token_age: float | None) -> M2MClaims:
        flow = self._engine.flow(token, max_token_age, bound_ok=True)
        return await run_async(flow, self._async.refresh)

    @property
    def dpop(self) -> str:
        """The DPoP mode: ``"off"``, ``"allowed"`` or ``"required"``."""
        binding = self._binding
        return "off" if binding is None else binding.dpop

    # -- keys ---------------------------------------------------------------

    @property
    def token_url(self) -> str | None:
        """Where clients get tokens: ``token_url=`` (the presets set it), else
        the discovered metadata's ``token_endpoint`` once fetched; documentation only."""
        return self._token_url or self.cache.token_endpoint

    @property
    def principal_target(self) -> Any:
        """What ``principal=`` names (a class or a callable), or ``None``."""
        return getattr(self.policy.principal, "target", None)

    @property
    def ready(self) -> bool:
        """Whether usable keys are cached (for readiness probes)."""
        return self.cache.has_usable_keys()

    def _key_caches(self) -> list[JWKSCache]:
        return [self.cache]

    def warm_up(self, *, strict: bool = False) -> bool:
        """Fetch the keys now if none are cached.

        Returns whether usable keys are cached afterwards; never raises,
        unless ``strict``: then no usable keys is a ``KeysUnavailableError``
        saying why (DNS, connection refused, HTTP status, not JSON, no usable
        key …), so that a wrong JWKS URL fails the deploy, not every request.
        """
        warm_up(self._sync, (self.cache,))
        return ready_or_raise((self.cache,), strict)

    async def warm_up_async(self, *, strict: bool = False) -> bool:
        """Like ``warm_up``, for async code (e.g. an ASGI lifespan handler)."""
        await warm_up_async(self._async, (self.cache,))
        return ready_or_raise((self.cache,), strict)

    # -- resources ------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client the verifier created (not one you passed)."""
        self._sync.close()

    async def aclose(self) -> None:
        """Close the async HTTP client the verifier created in this loop."""
        await self._async.aclose()

    def __repr__(self) -> str:
        source = self.cache.url or self.cache.discover_from or "static keys"
        return f"<Verifier issuers={sorted(self.policy.issuers)} keys={source}>"


def verifier_from_env(
    prefix: str = "M2M_GUARD_", *, environ: Mapping[str, Any] | None = None, **overrides: Any
) -> Verifier | MultiTenantVerifier:
    """The verifier the environment variables describe: a ``MultiTenantVerifier``
    when ``{prefix}TENANTS`` is set, else a ``Verifier`` (see ``Verifier.from_env``)."""
    mapping = os.environ if environ is None else environ
    return build_verifier(settings_from_mapping(mapping, prefix, overrides))


def build_verifier(settings: MappedSettings) -> Verifier | MultiTenantVerifier:
    """The verifier of mapped settings (environment, Flask or Django config),
    errors naming the variables."""
    with settings.named():
        if settings.multi_tenant:
            return MultiTenantVerifier(**settings.kwargs)
        return Verifier(**settings.kwargs)
