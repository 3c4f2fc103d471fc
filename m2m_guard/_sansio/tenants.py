"""Issuer patterns of multi-tenant issuers: which tenant a token's ``iss`` names.

A pattern is an issuer URL with one placeholder, ``https://{tenant}.auth0.com/``
or ``https://login.microsoftonline.com/{tenantid}/v2.0``. A token's ``iss``
names a tenant when it equals the pattern with the placeholder replaced by a
value of ``TENANT_RE``: letters, digits and inner hyphens or underscores,
at most 64 characters. Nothing that could change a URL's authority or path
(``/ . ? # @ : %`` or spaces) can be a tenant, so the issuer and JWKS URLs
built from a tenant stay on the host and path the configuration names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError, InvalidClaimError, InvalidIssuerError

__all__ = ["TENANT_RE", "IssuerPattern", "check_tenant", "placeholder_of", "tenant_of"]

#: What a tenant value may be (Entra tenant ids, Auth0 tenant names, slugs).
TENANT_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def check_tenant(value: object, what: str = "tenants") -> str:
    """A configured tenant value, checked against ``TENANT_RE``."""
    if not isinstance(value, str) or TENANT_RE.fullmatch(value) is None:
        raise ConfigurationError.of(what, f"has an invalid tenant {value!r}")
    return value


def placeholder_of(template: str, what: str) -> str | None:
    """The one placeholder name in ``template``, or ``None`` when it has none."""
    found = _PLACEHOLDER.findall(template)
    if len(found) > 1 or template.count("{") != len(found) or template.count("}") != len(found):
        raise ConfigurationError.of(what, f"must hold at most one {{placeholder}}: {template!r}")
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class IssuerPattern:
    """One issuer pattern: its text, its placeholder and the regex it compiles to."""

    template: str
    placeholder: str
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, template: str) -> IssuerPattern:
        """Check and compile ``template`` (exactly one placeholder)."""
        if not isinstance(template, str):
            raise ConfigurationError.of("issuer", "must be issuer patterns (strings)")
        name = placeholder_of(template, "issuer")
        if name is None:
            raise ConfigurationError.of(
                "issuer",
                f"must name the tenant with a placeholder such as {{tenant}}: {template!r}",
            )
        before, _, after = template.partition("{" + name + "}")
        regex = re.compile(re.escape(before) + f"({TENANT_RE.pattern})" + re.escape(after))
        return cls(template, name, regex)

    def match(self, issuer: str) -> str | None:
        """The tenant ``issuer`` names under this pattern, or ``None``."""
        found = self.regex.fullmatch(issuer)
        return None if found is None else found.group(1)

    def fill(self, tenant: str) -> str:
        """This pattern's issuer for ``tenant`` (a value of ``TENANT_RE``)."""
        return self.template.replace("{" + self.placeholder + "}", tenant)


def tenant_of(
    patterns: tuple[IssuerPattern, ...], claims: Mapping[str, Any], tenant_claim: str | None
) -> str:
    """The tenant an (unverified) token names: its ``iss`` matches a pattern
    and, with ``tenant_claim``, that claim names the same tenant (``tid``: an
    ``iss`` naming tenant A with a ``tid`` of tenant B is refused)."""
    issuer = claims.get("iss")
    tenant = None
    if isinstance(issuer, str):
        for pattern in patterns:
            tenant = pattern.match(issuer)
            if tenant is not None:
                break
    if tenant is None:
        raise InvalidIssuerError()
    if tenant_claim is not None and claims.get(tenant_claim) != tenant:
        raise InvalidClaimError(
            tenant_claim, f"The token's {tenant_claim!r} claim does not name its issuer's tenant."
        )
    return tenant
