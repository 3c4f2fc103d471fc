"""The shared fixture of a benchmark run: one issuer, its keys and its tokens.

Every verifier in the run checks the same Stytch-shaped RS256 tokens (a
2048-bit key) from a ``LocalIssuer``, which also serves its JWKS over real
HTTP on 127.0.0.1 for the clients that fetch keys (PyJWKClient, the Stytch
SDK). ``tokens`` is a pool of distinct tokens, so an operation that must see
a never-seen token (a "cold" verify) can take a new one each time.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from m2m_guard import Verifier
from m2m_guard._tools.server import ServerThread
from m2m_guard.issuer import LocalIssuer, create_app

__all__ = ["CLIENT_ID", "SCOPES", "World", "b64url_decode", "open_world"]

CLIENT_ID = "m2m-client-test-00000000-0000-4000-8000-00000000beef"
SCOPES = ("read:users", "write:users")
LOOPBACK = "127.0.0.1"
_PROXY_VARIABLES = ("no_proxy", "NO_PROXY")


def b64url_decode(segment: str) -> bytes:
    """Decode an unpadded base64url segment."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@dataclass
class World:
    """An issuer on loopback and a pool of distinct tokens it signed."""

    issuer: LocalIssuer
    base_url: str
    tokens: list[str]

    @property
    def project_id(self) -> str:
        """The Stytch project (the tokens' audience)."""
        return self.issuer.project_id

    @property
    def jwks(self) -> dict[str, Any]:
        """The issuer's public JWKS document."""
        return self.issuer.jwks()

    @property
    def jwks_url(self) -> str:
        """Where the issuer serves the JWKS (Stytch's path)."""
        return f"{self.base_url}/v1/sessions/jwks/{self.project_id}"

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        """The signing key's public half, as a ``cryptography`` object."""
        from jwt.algorithms import RSAAlgorithm

        key = RSAAlgorithm.from_jwk(self.jwks["keys"][0])
        assert isinstance(key, rsa.RSAPublicKey)
        return key

    def mint(self, count: int) -> list[str]:
        """``count`` new, distinct tokens (each carries its own ``jti``)."""
        return [self.issuer.mint_token(CLIENT_ID, scopes=SCOPES) for _ in range(count)]

    def verifier(self, **kwargs: Any) -> Verifier:
        """A Stytch-preset ``Verifier`` over the issuer's keys, no network."""
        settings: dict[str, Any] = {"jwks": self.jwks, "jwks_url": None, **kwargs}
        return Verifier.for_stytch(self.project_id, **settings)


@contextmanager
def loopback_only() -> Iterator[None]:
    """Make sure HTTP clients reading proxy variables never leave 127.0.0.1."""
    saved = {name: os.environ.get(name) for name in _PROXY_VARIABLES}
    extra = [v for v in saved.values() if v]
    for name in _PROXY_VARIABLES:
        os.environ[name] = ",".join([LOOPBACK, "localhost", *extra])
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def open_world(pool_size: int) -> Iterator[World]:
    """Start an issuer on a free loopback port with ``pool_size`` tokens minted."""
    with (
        loopback_only(),
        LocalIssuer() as issuer,
        ServerThread(create_app(issuer=issuer), host=LOOPBACK) as server,
    ):
        world = World(issuer=issuer, base_url=server.base_url, tokens=[])
        world.tokens = world.mint(pool_size)
        yield world
