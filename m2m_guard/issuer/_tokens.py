"""Access token minting: Stytch's claim set, signed RS256 by the key ring."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jwt

from ._keys import KeyRing
from ._validate import custom_claims_value

__all__ = ["DEFAULT_TOKEN_LIFETIME", "TokenMinter"]

logger = logging.getLogger("m2m_guard.issuer")

DEFAULT_TOKEN_LIFETIME = 3600


class TokenMinter:
    """Builds and signs access tokens for one project."""

    def __init__(
        self,
        keyring: KeyRing,
        *,
        project_id: str,
        clock: Callable[[], float],
        lifetime: int = DEFAULT_TOKEN_LIFETIME,
        issuer_url: str | None = None,
    ) -> None:
        self._keyring = keyring
        self._clock = clock
        self.project_id = project_id
        self.lifetime = lifetime
        self.issuer_url = issuer_url

    @property
    def issuer(self) -> str:
        """The ``iss`` claim.

        ``stytch.com/{project_id}``, as Stytch issues it on its own domains;
        the issuer URL when one is set (Stytch's custom-domain behaviour).
        """
        return self.issuer_url or f"stytch.com/{self.project_id}"

    def claims(
        self,
        subject: str,
        scopes: Iterable[str],
        custom_claims: Mapping[str, Any] | None = None,
        *,
        issued_at: int | None = None,
        lifetime: int | None = None,
        audience: str | None = None,
    ) -> dict[str, Any]:
        """The claim set of a token; custom claims may not replace reserved ones.

        ``audience`` (a template's ``custom_audience``) joins the project id
        in ``aud``, so Stytch's SDKs and a verifier expecting it both accept.
        """
        extra = custom_claims_value(custom_claims)
        iat = int(self._clock()) if issued_at is None else issued_at
        aud = [self.project_id]
        if audience is not None and audience != self.project_id:
            aud.append(audience)
        return {
            **extra,
            "sub": subject,
            "iss": self.issuer,
            "aud": aud,
            "scope": " ".join(scopes),
            "iat": iat,
            "nbf": iat,
            "exp": iat + (self.lifetime if lifetime is None else lifetime),
            "jti": str(uuid.uuid4()),
        }

    def sign(self, claims: Mapping[str, Any], headers: Mapping[str, Any] | None = None) -> str:
        """Sign any claim set with the current key (``alg``, ``kid``, ``typ`` set)."""
        kid, key = self._keyring.signing_key()
        header = {"kid": kid, "typ": "JWT", **(headers or {})}
        token = jwt.encode(dict(claims), key, algorithm="RS256", headers=header)
        logger.debug("signed token jti=%s sub=%s kid=%s", claims.get("jti"), claims.get("sub"), kid)
        return token
