"""Helpers for testing services that m2m_guard protects.

``TokenFactory`` holds a signing key and mints Stytch-shaped M2M access
tokens with it; its ``verifier()`` trusts exactly that key, and its ``env()``
gives the ``M2M_GUARD_*`` variables that make ``Verifier.from_env()`` trust
it too — so an application configured from the environment can be tested
without a network or a Stytch account::

    factory = TokenFactory()
    monkeypatch.setenv(...)  # or: os.environ.update(factory.env())
    client.get("/settings", headers=factory.auth_header(["read:settings"]))

For tokens that must fail, ``expired_token()``, ``future_token()`` and
``old_token(age)`` (or ``token()``'s ``expires_in``, ``issued_at`` and
``not_before``) mint them.

``live_issuer()`` serves a real local issuer over HTTP on 127.0.0.1 (a
:class:`LiveIssuer`: create clients, fetch their tokens from the token
endpoint, verify them with ``issuer.verifier``); it needs the ``issuer``
extra.

The pytest plugin (``m2m_guard.pytest_plugin``, registered automatically)
wraps these in fixtures.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from ._sansio.claims import RESERVED_CLAIMS
from ._sansio.scopes import normalize_scopes
from ._tools.live_issuer import IssuerHost, LiveClient, LiveIssuer, live_issuer
from ._verifier import Verifier

__all__ = ["IssuerHost", "LiveClient", "LiveIssuer", "TokenFactory", "live_issuer"]


class TokenFactory:
    """Mints RS256 access tokens shaped like Stytch M2M tokens, for tests.

    Args:
        project_id: the Stytch-style project; the audience and the issuer
            (``stytch.com/{project_id}``) derive from it.
        client_id: the default client (``sub``) of minted tokens.
        kid: the key id; a fresh one by default.
        private_key: an RSA private key to reuse (key generation is slow,
            so test suites share one); a new 2048-bit key by default.
        clock: seconds since the epoch, for ``iat``/``nbf``/``exp``.
    """

    def __init__(
        self,
        *,
        project_id: str = "project-test-00000000-0000-4000-8000-000000000000",
        client_id: str = "m2m-client-test-00000000-0000-4000-8000-000000000001",
        kid: str | None = None,
        private_key: rsa.RSAPrivateKey | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.project_id = project_id
        self.client_id = client_id
        self.issuer = f"stytch.com/{project_id}"
        self.kid = kid or f"jwk-test-{uuid.uuid4()}"
        self.private_key = private_key or rsa.generate_private_key(
            public_exponent=65537, key_size=2048
        )
        self.clock = clock

    @property
    def jwks(self) -> dict[str, Any]:
        """The public JWKS a verifier needs, as Stytch publishes it."""
        jwk = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig", "key_ops": ["verify"]})
        return {"keys": [jwk]}

    def token(
        self,
        scopes: str | Iterable[str] = (),
        *,
        client_id: str | None = None,
        custom_claims: Mapping[str, Any] | None = None,
        expires_in: float = 3600,
        issued_at: float | None = None,
        not_before: float | None = None,
        headers: Mapping[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A signed access token.

        Args:
            scopes: granted scopes (a space-separated string or a list).
            client_id: the ``sub``; the factory's default client otherwise.
            custom_claims: extra top-level claims (not reserved names).
            expires_in: seconds from ``issued_at`` to ``exp`` (may be negative
                to mint an expired token).
            issued_at: ``iat`` (seconds since the epoch); now by default.
            not_before: ``nbf``; ``issued_at`` by default.
            headers: extra JOSE header members.
            **claims: claims to set or override as they are (``aud=…``).
        """
        custom = dict(custom_claims or {})
        reserved = RESERVED_CLAIMS.intersection(custom)
        if reserved:
            raise ValueError(f"custom_claims may not set reserved claims {sorted(reserved)}")
        iat = int(self.clock() if issued_at is None else issued_at)
        payload: dict[str, Any] = {
            **custom,
            "sub": client_id or self.client_id,
            "iss": self.issuer,
            "aud": [self.project_id],
            "scope": " ".join(normalize_scopes(scopes)),
            "iat": iat,
            "nbf": iat if not_before is None else int(not_before),
            "exp": iat + int(expires_in),
            "jti": str(uuid.uuid4()),
            **claims,
        }
        header = {"kid": self.kid, "typ": "JWT", **(headers or {})}
        return jwt.encode(payload, self.private_key, algorithm="RS256", headers=header)

    def expired_token(
        self, scopes: str | Iterable[str] = (), *, seconds_ago: float = 60, **kwargs: Any
    ) -> str:
        """A token whose ``exp`` passed ``seconds_ago`` seconds ago (``ExpiredTokenError``)."""
        now = self.clock()
        return self.token(scopes, issued_at=now - seconds_ago - 3600, expires_in=3600, **kwargs)

    def future_token(
        self, scopes: str | Iterable[str] = (), *, valid_in: float = 300, **kwargs: Any
    ) -> str:
        """A token whose ``nbf`` is ``valid_in`` seconds ahead (``TokenNotYetValidError``)."""
        return self.token(scopes, not_before=self.clock() + valid_in, **kwargs)

    def old_token(self, age: float, scopes: str | Iterable[str] = (), **kwargs: Any) -> str:
        """A token issued ``age`` seconds ago that is still unexpired (an hour left):
        refused as ``TokenTooOldError`` by ``max_token_age <= age``."""
        return self.token(scopes, issued_at=self.clock() - age, expires_in=age + 3600, **kwargs)

    def auth_header(self, scopes: str | Iterable[str] = (), **kwargs: Any) -> dict[str, str]:
        """``{"Authorization": "Bearer …"}`` for a fresh token."""
        return {"Authorization": f"Bearer {self.token(scopes, **kwargs)}"}

    def verifier(self, **kwargs: Any) -> Verifier:
        """A Stytch-preset verifier that trusts this factory's key, offline."""
        settings: dict[str, Any] = {"jwks": self.jwks, "jwks_url": None, "clock": self.clock}
        return Verifier.for_stytch(self.project_id, **{**settings, **kwargs})

    def env(self, prefix: str = "M2M_GUARD_") -> dict[str, str]:
        """Variables that make ``Verifier.from_env()`` trust this factory's key."""
        return {
            f"{prefix}ISSUER": self.issuer,
            f"{prefix}AUDIENCE": self.project_id,
            f"{prefix}JWKS": json.dumps(self.jwks),
            f"{prefix}CLIENT_ID_CLAIMS": "sub",
        }
