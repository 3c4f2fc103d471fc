"""Settings for well-known issuers' machine-to-machine access tokens.

Each function returns ``Verifier`` keyword arguments; ``Verifier.for_<name>``
applies them with any override (``merge``). The
client-credentials token each preset expects (issuer; client id claim; scope
claims; audience):

* Stytch: ``stytch.com/{project}`` or the base URL; ``sub``; ``scope``
  (a string); ``aud`` = the project id.
* Auth0: ``https://{domain}/``; ``azp`` (``sub`` is ``{client_id}@clients``);
  ``scope`` and, with RBAC, ``permissions`` (a list); ``aud`` = the API id;
  ``gty`` must be ``client-credentials`` (user tokens are refused).
* Okta: ``{org}/oauth2/{server}``; ``cid``; ``scp`` (a list);
  ``aud`` (``api://default`` for the default server); tokens naming a user
  (``uid``) are refused.
* Microsoft Entra ID: ``https://login.microsoftonline.com/{tenant}/v2.0``
  or v1's ``https://sts.windows.net/{tenant}/``; ``azp`` (v1: ``appid``);
  app roles in ``roles``; ``aud`` = the API's app id URI or client id;
  delegated tokens (with ``scp``) are refused.
* Keycloak: ``{base}/realms/{realm}``; ``azp``; ``scope`` and
  ``realm_access.roles`` (realm roles share one namespace with scopes:
  a role named ``orders:write`` grants that scope, unless ``role_prefix``
  puts roles in their own, ``role:orders:write``); ``aud`` once an audience
  mapper adds it.
* AWS Cognito: ``https://cognito-idp.{region}.amazonaws.com/{pool}``;
  ``client_id``; ``scope``; no ``aud`` at all: ``client_id`` is compared
  with the accepted app clients instead; ``token_use`` must be ``access``.

Each preset but Cognito's (whose token endpoint is on the user pool's own
domain, unknown here) also names the issuer's token endpoint, ``token_url``:
documentation only (the OpenAPI ``clientCredentials`` flow).

Hosts may be given as a bare domain (``https://`` is assumed) or as a full
base URL, which is how tests point a preset at a server on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ._sansio.errors import ConfigurationError
from ._sansio.scope_claims import ScopeClaim
from ._settings.checks import optional_names

__all__ = [
    "ENTRA_SHARED",
    "STYTCH_BASE_URLS",
    "auth0",
    "cognito",
    "entra",
    "entra_tenants",
    "keycloak",
    "merge",
    "okta",
    "stytch",
    "stytch_base_url",
    "stytch_jwks_url",
    "stytch_token_url",
]

STYTCH_BASE_URLS = {"test": "https://test.stytch.com", "live": "https://api.stytch.com"}


def _base(host: str, what: str) -> str:
    if not isinstance(host, str) or not host or host != host.strip():
        raise ConfigurationError(f"invalid {what}: {host!r}")
    return (host if "://" in host else f"https://{host}").rstrip("/")


def _segment(value: str, what: str) -> str:
    if not isinstance(value, str) or not value or "/" in value or value != value.strip():
        raise ConfigurationError(f"invalid {what}: {value!r}")
    return value


def stytch_base_url(project_id: str, environment: str | None) -> str:
    """The API base URL of a Stytch project, without a trailing slash.

    ``environment`` is ``"test"``, ``"live"``, a base URL (a custom domain or
    a local issuer such as ``http://127.0.0.1:8787``), or ``None``: inferred
    from the project id as all of Stytch's SDKs do (``project-live-…`` →
    live, ``project-test-…`` → test). A named environment that contradicts
    the project id is refused: a live project's tokens are never checked
    against the test keys, nor the other way round.
    """
    inferred = next(
        (env for env in STYTCH_BASE_URLS if project_id.startswith(f"project-{env}-")), None
    )
    if environment is None:
        if inferred is None:
            raise ConfigurationError(
                f"cannot tell the Stytch environment of project id {project_id!r}: "
                "give environment='test', 'live' or a base URL"
            )
        environment = inferred
    if environment in STYTCH_BASE_URLS:
        if inferred is not None and inferred != environment:
            raise ConfigurationError(
                f"Stytch project {project_id!r} is a {inferred} project, "
                f"but environment={environment!r} was given"
            )
        return STYTCH_BASE_URLS[environment]
    if not isinstance(environment, str) or urlsplit(environment).scheme not in ("http", "https"):
        raise ConfigurationError(
            f"Stytch environment must be 'test', 'live' or a base URL, got {environment!r}"
        )
    return environment.rstrip("/")


def stytch_token_url(base: str, project_id: str) -> str:
    """A Stytch project's client-credentials token endpoint under ``base``."""
    return f"{base}/v1/public/{project_id}/oauth2/token"


def stytch_jwks_url(base: str, project_id: str, *, b2b: bool = False) -> str:
    """A Stytch project's JWKS under ``base`` (B2B projects have their own path)."""
    path = "b2b/sessions" if b2b else "sessions"
    return f"{base}/v1/{path}/jwks/{project_id}"


def stytch(project_id: str, environment: str | None, *, b2b: bool) -> dict[str, Any]:
    """Verifier settings for a Stytch project, as Stytch's SDKs check tokens.

    The SDKs accept ``iss`` as ``stytch.com/{project_id}`` or as the base URL
    (custom domains), and the project id as audience.
    """
    if not isinstance(project_id, str) or not project_id or "/" in project_id:
        raise ConfigurationError(f"invalid Stytch project id {project_id!r}")
    base = stytch_base_url(project_id, environment)
    return {
        "jwks_url": stytch_jwks_url(base, project_id, b2b=b2b),
        "token_url": stytch_token_url(base, project_id),
        "issuer": (f"stytch.com/{project_id}", base),
        "audience": project_id,
        "algorithms": ("RS256",),
        "client_id_claims": ("sub",),
        "scope_claims": ("scope",),
        "required_claims": ("aud", "iss", "exp", "iat", "nbf", "sub"),
    }


def auth0(domain: str, audience: str | Sequence[str]) -> dict[str, Any]:
    """Auth0: ``domain`` such as ``tenant.eu.auth0.com`` (or a custom domain)."""
    base = _base(domain, "Auth0 domain")
    return {
        "issuer": f"{base}/",
        "audience": audience,
        "jwks_url": f"{base}/.well-known/jwks.json",
        "token_url": f"{base}/oauth/token",
        "client_id_claims": ("azp", "client_id", "sub"),
        "scope_claims": ("scope", "permissions"),
        # machine tokens only: user access tokens have no client-credentials grant
        "claim_values": {"gty": "client-credentials"},
    }


def okta(
    org_url: str, *, authorization_server: str = "default", audience: str | Sequence[str] | None
) -> dict[str, Any]:
    """Okta: ``org_url`` such as ``https://acme.okta.com``, a custom authorization
    server; ``audience`` defaults to ``api://default`` for the default server only."""
    server = _segment(authorization_server, "authorization server")
    if audience is None:
        if server != "default":
            raise ConfigurationError("give the audience of a custom Okta authorization server")
        audience = "api://default"
    issuer = f"{_base(org_url, 'Okta org URL')}/oauth2/{server}"
    return {
        "issuer": issuer,
        "audience": audience,
        "jwks_url": f"{issuer}/v1/keys",
        "token_url": f"{issuer}/v1/token",
        "client_id_claims": ("cid", "client_id", "sub"),
        "scope_claims": ("scp", "scope"),
        # machine tokens only: a user's token names the user in uid
        "forbidden_claims": ("uid",),
    }


def entra(
    tenant_id: str,
    *,
    audience: str | Sequence[str],
    version: int | None = None,
    login_host: str = "login.microsoftonline.com",
) -> dict[str, Any]:
    """Microsoft Entra ID: app-only tokens carry their permissions in ``roles``.

    ``version`` is the access-token version the API's app registration asks
    for (``accessTokenAcceptedVersion``): 2, 1 (issuer ``sts.windows.net``),
    or ``None`` for either (the default; the keys are the same). Delegated
    (user) tokens, which carry ``scp``, are refused.
    """
    tenant = _segment(tenant_id, "Entra tenant id")
    base = _base(login_host, "Entra login host")
    return {
        "issuer": _entra_issuers(tenant, version, login_host),
        "audience": audience,
        "jwks_url": f"{base}/{tenant}/discovery/v2.0/keys",
        "token_url": f"{base}/{tenant}/oauth2/v2.0/token",
        **_ENTRA_CLAIMS,
    }


#: Entra's shared endpoints, whose keys sign every tenant's tokens
ENTRA_SHARED = ("common", "organizations")
_ENTRA_CLAIMS: dict[str, Any] = {
    "client_id_claims": ("azp", "appid"),
    "scope_claims": ("roles",),
    "forbidden_claims": ("scp",),
}


def _entra_issuers(tenant: str, version: int | None, login_host: str) -> tuple[str, ...]:
    base = _base(login_host, "Entra login host")
    v1 = f"https://sts.windows.net/{tenant}/" if "://" not in login_host else f"{base}/{tenant}/"
    v2 = f"{base}/{tenant}/v2.0"
    issuers = {None: (v2, v1), 2: (v2,), 1: (v1,)}.get(version)
    if issuers is None:
        raise ConfigurationError(f"Entra access token version must be 1 or 2, not {version!r}")
    return issuers


def entra_tenants(
    shared: str,
    *,
    audience: str | Sequence[str],
    version: int | None = None,
    login_host: str = "login.microsoftonline.com",
) -> dict[str, Any]:
    """A multi-tenant Entra app (``MultiTenantVerifier`` arguments): each tenant's
    issuer, ``tid`` naming the same tenant, and the ``shared`` endpoint's keys
    (``common`` or ``organizations``), which sign every tenant's tokens."""
    if shared not in ENTRA_SHARED:
        raise ConfigurationError(f"Entra's shared tenant is one of {ENTRA_SHARED}, not {shared!r}")
    base = _base(login_host, "Entra login host")
    return {
        "issuer": _entra_issuers("{tenantid}", version, login_host),
        "audience": audience,
        "jwks_url": f"{base}/{shared}/discovery/v2.0/keys",
        "tenant_claim": "tid",
        **_ENTRA_CLAIMS,
    }


def keycloak(
    base_url: str,
    realm: str,
    *,
    audience: str | Sequence[str],
    role_prefix: str | None = None,
) -> dict[str, Any]:
    """Keycloak: ``base_url`` such as ``https://sso.example.com`` (add ``/auth`` for
    Keycloak before 17). Add an audience mapper to the client so tokens carry ``aud``.
    ``role_prefix`` (e.g. ``"role:"``): realm roles grant ``<prefix><role>``,
    so a role can never pass for a scope.

    Only service-account tokens are accepted: they carry ``client_id``
    (Keycloak 25+, the ``service_account`` client scope) or ``clientId``
    (older), and a ``preferred_username`` of ``service-account-<client>``
    when the ``profile`` scope is on (not relied upon: it may be absent)."""
    issuer = f"{_base(base_url, 'Keycloak URL')}/realms/{_segment(realm, 'Keycloak realm')}"
    return {
        "issuer": issuer,
        "audience": audience,
        "jwks_url": f"{issuer}/protocol/openid-connect/certs",
        "token_url": f"{issuer}/protocol/openid-connect/token",
        "client_id_claims": ("client_id", "clientId", "azp"),
        "scope_claims": (
            "scope",
            "realm_access.roles"
            if role_prefix is None
            else ScopeClaim("realm_access.roles", prefix=_prefix(role_prefix)),
        ),
        # Service-account (client-credentials) tokens name their client:
        # client_id since Keycloak 25's service_account scope, clientId before.
        # A user's token, even one with an audience mapper, has neither.
        "required_any_claims": ("client_id", "clientId"),
    }


def _prefix(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"invalid role prefix: {value!r}")
    return value


def cognito(
    region: str, user_pool_id: str, *, client_ids: str | Sequence[str], host: str | None = None
) -> dict[str, Any]:
    """AWS Cognito: access tokens have no ``aud``; ``client_id`` names the app
    client, so ``client_ids`` are the accepted audiences."""
    pool = _segment(user_pool_id, "Cognito user pool id")
    base = _base(host or f"cognito-idp.{_segment(region, 'AWS region')}.amazonaws.com", "host")
    issuer = f"{base}/{pool}"
    return {
        "issuer": issuer,
        "audience": client_ids,
        "audience_claim": "client_id",
        "jwks_url": f"{issuer}/.well-known/jwks.json",
        "client_id_claims": ("client_id", "sub"),
        "scope_claims": ("scope",),
        "required_claims": ("iss", "exp", "iat", "client_id"),
        # access tokens only (ID tokens say "id")
        "claim_values": {"token_use": "access"},
    }


def merge(preset: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A preset's settings with a caller's overrides.

    Any argument replaces the preset's, except the machine-token markers:
    ``forbidden_claims`` and ``required_claims`` are unions, and
    ``claim_values`` adds entries but may not change one (Cognito's
    ``token_use=access``, Auth0's ``gty``): a ``ConfigurationError``.
    ``required_any_claims`` from the caller narrows the preset's set only
    by naming claims inside it.
    """
    merged = {**preset, **overrides}
    for name in ("forbidden_claims", "required_claims"):
        if name in preset and name in overrides:
            ours = optional_names(preset[name], name)
            # None ("the default") adds nothing; it never drops the preset's.
            extra = overrides[name]
            theirs = () if extra is None else optional_names(extra, name)
            merged[name] = tuple(dict.fromkeys((*ours, *theirs)))
    if "required_any_claims" in preset and "required_any_claims" in overrides:
        ours = optional_names(preset["required_any_claims"], "required_any_claims")
        extra = overrides["required_any_claims"]
        if extra is None:
            merged["required_any_claims"] = ours
        else:
            theirs = optional_names(extra, "required_any_claims")
            if not theirs or not set(theirs) <= set(ours):
                raise ConfigurationError(
                    f"required_any_claims may only narrow the preset's {ours!r}, "
                    f"not become {theirs!r}"
                )
    if "claim_values" in preset and "claim_values" in overrides:
        ours_values = dict(preset["claim_values"])
        theirs_values = dict(overrides["claim_values"] or {})
        for key, value in ours_values.items():
            if key in theirs_values and theirs_values[key] != value:
                raise ConfigurationError(
                    f"claim_values[{key!r}] is {value!r} in this preset and cannot be changed"
                )
        merged["claim_values"] = {**ours_values, **theirs_values}
    return merged
