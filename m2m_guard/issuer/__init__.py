"""A local, Stytch-compatible M2M issuer for development and tests.

It speaks Stytch's M2M wire format (client management, secret rotation,
the client-credentials token endpoint, JWKS, discovery metadata), so the
official Stytch SDKs and m2m_guard's verifier work against it unchanged::

    from m2m_guard.issuer import LocalIssuer, create_app

    issuer = LocalIssuer("dev.db")            # or ":memory:"
    client, secret = issuer.create_client(scopes=["read:users"])
    token = issuer.issue_token(client.client_id, secret).access_token

    app = create_app(issuer=issuer)           # ASGI; serve with uvicorn

Storage is SQLite (schema-versioned, WAL for files); client secrets are
salted scrypt hashes; RSA-2048 signing keys rotate with a grace period.
It is a development tool, not a production authorization server: the
database holds the project secret and private keys in clear.

This subpackage needs the ``issuer`` extra (Starlette, uvicorn).
"""

from __future__ import annotations

from m2m_guard._extras import missing_extra

try:
    import starlette  # noqa: F401 - the issuer's HTTP API is a Starlette app
except ImportError as _error:
    raise missing_extra("m2m_guard.issuer", "issuer", _error) from _error

from ._app import DEFAULT_JWKS_MAX_AGE, DEFAULT_MAX_BODY_BYTES, create_app
from ._db import SCHEMA_VERSION
from ._errors import (
    BadRequestError,
    ClientNotFoundError,
    ConflictError,
    IssuerConfigError,
    IssuerError,
    NotFoundError,
    OAuthError,
    PayloadTooLargeError,
    UnauthorizedError,
)
from ._keys import DEFAULT_GRACE_SECONDS, generate_rsa_key
from ._local import LocalIssuer
from ._models import (
    CreatedClient,
    IssuedToken,
    M2MClient,
    RotatingClient,
    SearchPage,
    SigningKeyInfo,
)
from ._secrets import ScryptParams
from ._tokens import DEFAULT_TOKEN_LIFETIME

__all__ = [
    "DEFAULT_GRACE_SECONDS",
    "DEFAULT_JWKS_MAX_AGE",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_TOKEN_LIFETIME",
    "SCHEMA_VERSION",
    "BadRequestError",
    "ClientNotFoundError",
    "ConflictError",
    "CreatedClient",
    "IssuedToken",
    "IssuerConfigError",
    "IssuerError",
    "LocalIssuer",
    "M2MClient",
    "NotFoundError",
    "OAuthError",
    "PayloadTooLargeError",
    "RotatingClient",
    "ScryptParams",
    "SearchPage",
    "SigningKeyInfo",
    "UnauthorizedError",
    "create_app",
    "generate_rsa_key",
]
