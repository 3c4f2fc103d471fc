"""``Verifier``'s constructors for well-known issuers (``for_stytch`` …) and
for multi-tenant issuers (``multi_tenant``, ``for_entra(tenant="common")``).

The settings themselves are ``_presets``'; these only apply them, with the
caller's overrides (``merge``), to the class they are called on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeVar, overload

from . import _presets
from ._presets import merge
from ._sansio.errors import ConfigurationError
from ._tenants import MultiTenantVerifier, Tenants

__all__ = ["IssuerPresets"]

_V = TypeVar("_V", bound="IssuerPresets")


class IssuerPresets:
    """The preset constructors ``Verifier`` inherits."""

    __slots__ = ()

    def __init__(self, **settings: Any) -> None:  # pragma: no cover - Verifier's own
        raise NotImplementedError

    @classmethod
    def for_stytch(
        cls: type[_V],
        project_id: str,
        *,
        environment: str | None = None,
        b2b: bool = False,
        **kwargs: Any,
    ) -> _V:
        """A verifier for a Stytch project's M2M tokens.

        Args:
            project_id: e.g. ``project-test-…``; also the expected audience.
            environment: ``"test"``, ``"live"``, a base URL such as
                ``http://127.0.0.1:8787`` (a local issuer or a custom
                domain), or ``None`` (the default): inferred from the
                project id as Stytch's SDKs do (``project-live-…`` is live).
                A contradiction is a ``ConfigurationError``.
            b2b: use the B2B JWKS path (``/v1/b2b/sessions/jwks/…``).
            **kwargs: any other ``Verifier`` argument (``leeway``,
                ``max_token_age`` …), overriding the preset; the preset's
                checks that tell machine tokens from user tokens
                (``forbidden_claims``, ``required_claims``, ``claim_values``)
                are added to, never replaced.
        """
        return cls(**merge(_presets.stytch(project_id, environment, b2b=b2b), kwargs))

    @classmethod
    def for_auth0(
        cls: type[_V], domain: str, *, audience: str | Sequence[str], **kwargs: Any
    ) -> _V:
        """Auth0 M2M tokens: ``domain`` like ``tenant.us.auth0.com``; ``audience``
        is the API identifier. Client id from ``azp``; scopes from ``scope`` and
        ``permissions`` (RBAC)."""
        return cls(**merge(_presets.auth0(domain, audience), kwargs))

    @classmethod
    def for_okta(
        cls: type[_V],
        org_url: str,
        *,
        audience: str | Sequence[str] | None = None,
        authorization_server: str = "default",
        **kwargs: Any,
    ) -> _V:
        """Okta client-credentials tokens of a custom authorization server.
        Client id from ``cid``; scopes from ``scp``."""
        settings = _presets.okta(
            org_url, authorization_server=authorization_server, audience=audience
        )
        return cls(**merge(settings, kwargs))

    @overload
    @classmethod
    def for_entra(
        cls: type[_V],
        tenant_id: str,
        *,
        audience: str | Sequence[str],
        version: int | None = None,
        login_host: str = "login.microsoftonline.com",
        **kwargs: Any,
    ) -> _V: ...

    @overload
    @classmethod
    def for_entra(
        cls: type[_V],
        *,
        tenant: Literal["common", "organizations"],
        tenants: Tenants,
        audience: str | Sequence[str],
        version: int | None = None,
        login_host: str = "login.microsoftonline.com",
        **kwargs: Any,
    ) -> MultiTenantVerifier: ...

    @classmethod
    def for_entra(
        cls: type[_V],
        tenant_id: str | None = None,
        *,
        audience: str | Sequence[str],
        version: int | None = None,
        login_host: str = "login.microsoftonline.com",
        tenant: str | None = None,
        tenants: Tenants | None = None,
        **kwargs: Any,
    ) -> _V | MultiTenantVerifier:
        """Microsoft Entra ID app-only tokens; permissions come from ``roles``.
        ``version``: the access-token version the API accepts (2, 1, or
        ``None`` for either). ``login_host``: the token service's host (a
        national cloud's, or a test server's base URL).

        Multi-tenant apps: ``tenant="common"`` or ``"organizations"`` (the
        keys endpoint every tenant shares) with ``tenants=``, the admitted
        tenant ids (a set, or a function, sync or async, answering ``True``);
        each token's ``iss`` names its tenant, and its ``tid`` must agree.
        Returns a ``MultiTenantVerifier``."""
        if tenant is None and tenants is None and tenant_id is not None:
            settings = _presets.entra(
                tenant_id, audience=audience, version=version, login_host=login_host
            )
            return cls(**merge(settings, kwargs))
        if tenant_id is not None or tenant not in _presets.ENTRA_SHARED or tenants is None:
            raise ConfigurationError(
                "give an Entra tenant id, or (a multi-tenant app) tenant='common' or "
                "'organizations' with tenants= and no tenant id"
            )
        settings = _presets.entra_tenants(
            tenant, audience=audience, version=version, login_host=login_host
        )
        return MultiTenantVerifier(**merge(settings, {"tenants": tenants, **kwargs}))

    @staticmethod
    def multi_tenant(
        *,
        issuer: str | Sequence[str],
        audience: str | Sequence[str],
        jwks_url: str,
        tenants: Tenants,
        tenant_claim: str | None = None,
        **kwargs: Any,
    ) -> MultiTenantVerifier:
        """Tokens of the admitted tenants of a multi-tenant issuer.

        ``issuer`` is one pattern or several with a placeholder, such as
        ``"https://{tenant}.auth0.com/"``; ``jwks_url`` the shared keys URL or
        a template with the same placeholder; ``tenants`` the admitted tenants
        (a set, or a function, sync or async, answering ``True``);
        ``tenant_claim`` a claim that must name the same tenant (``tid``).
        Every other ``Verifier`` argument applies to each tenant (see
        ``MultiTenantVerifier``).
        """
        return MultiTenantVerifier(
            issuer=issuer,
            audience=audience,
            jwks_url=jwks_url,
            tenants=tenants,
            tenant_claim=tenant_claim,
            **kwargs,
        )

    @classmethod
    def for_keycloak(
        cls: type[_V],
        base_url: str,
        realm: str,
        *,
        audience: str | Sequence[str],
        role_prefix: str | None = None,
        **kwargs: Any,
    ) -> _V:
        """Keycloak service-account tokens; scopes from ``scope`` and realm roles
        (each granted as ``<role_prefix><role>`` when ``role_prefix`` is given,
        e.g. ``"role:"``, so roles and scopes never collide)."""
        settings = _presets.keycloak(base_url, realm, audience=audience, role_prefix=role_prefix)
        return cls(**merge(settings, kwargs))

    @classmethod
    def for_cognito(
        cls: type[_V],
        region: str,
        user_pool_id: str,
        *,
        client_ids: str | Sequence[str],
        host: str | None = None,
        **kwargs: Any,
    ) -> _V:
        """AWS Cognito client-credentials tokens; ``client_ids`` are the accepted
        app clients (Cognito access tokens carry ``client_id``, no ``aud``).
        ``host``: the user pool's issuer host, when not AWS's own (tests)."""
        settings = _presets.cognito(region, user_pool_id, client_ids=client_ids, host=host)
        return cls(**merge(settings, kwargs))
