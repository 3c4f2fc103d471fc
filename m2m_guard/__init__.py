"""m2m_guard: verify machine-to-machine OAuth2 access tokens.

A calling service sends ``Authorization: Bearer <jwt>``, a client-credentials
access token from Stytch M2M or any RFC 9068 issuer; a ``Verifier`` checks it
against the issuer's cached JWKS and returns the caller's ``M2MClaims``.

    >>> verifier = Verifier.for_stytch("project-test-...")       # doctest: +SKIP
    >>> claims = verifier.verify(token, ["read:settings"])       # doctest: +SKIP
    >>> claims.client_id, claims.scopes                          # doctest: +SKIP

Framework integrations live in submodules that import their framework:
``m2m_guard.asgi``, ``m2m_guard.starlette``, ``m2m_guard.fastapi``,
``m2m_guard.wsgi`` and ``m2m_guard.flask``.
"""

from ._fingerprint import token_fingerprint
from ._guard import ErrorResponse, Guard, PathMatcher, error_response, set_error_renderer
from ._multi import MultiIssuerVerifier
from ._replay import MemoryReplayStore, ReplayStore
from ._resource import ProtectedResource
from ._sansio.checks import CheckFailedError, pure_check
from ._sansio.claims import M2MClaims
from ._sansio.dpop import DPoPPolicy, DPoPProof, access_token_hash, jwk_thumbprint
from ._sansio.dpop_errors import InvalidDPoPProofError, UseDPoPNonceError
from ._sansio.errors import (
    BadSignatureError,
    ConfigurationError,
    DisallowedAlgorithmError,
    ExpiredTokenError,
    InsufficientScopeError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidIssuerError,
    InvalidRequestError,
    InvalidTokenError,
    KeysUnavailableError,
    M2MGuardError,
    MalformedTokenError,
    MissingTokenError,
    TokenNotYetValidError,
    TokenTooLargeError,
    TokenTooOldError,
    UnknownKeyError,
    UnsupportedHeaderError,
)
from ._sansio.jwks import JWKSPolicy
from ._sansio.jws import extract_bearer_token
from ._sansio.request import RequestContext
from ._sansio.scope_claims import ScopeClaim
from ._tenants import MultiTenantVerifier
from ._types import TokenVerifier
from ._verifier import Verifier, verifier_from_env
from ._version import __version__

__all__ = [
    "BadSignatureError",
    "CheckFailedError",
    "ConfigurationError",
    "DPoPPolicy",
    "DPoPProof",
    "DisallowedAlgorithmError",
    "ErrorResponse",
    "ExpiredTokenError",
    "Guard",
    "InsufficientScopeError",
    "InvalidAudienceError",
    "InvalidClaimError",
    "InvalidDPoPProofError",
    "InvalidIssuerError",
    "InvalidRequestError",
    "InvalidTokenError",
    "JWKSPolicy",
    "KeysUnavailableError",
    "M2MClaims",
    "M2MGuardError",
    "MalformedTokenError",
    "MemoryReplayStore",
    "MissingTokenError",
    "MultiIssuerVerifier",
    "MultiTenantVerifier",
    "PathMatcher",
    "ProtectedResource",
    "ReplayStore",
    "RequestContext",
    "ScopeClaim",
    "TokenNotYetValidError",
    "TokenTooLargeError",
    "TokenTooOldError",
    "TokenVerifier",
    "UnknownKeyError",
    "UnsupportedHeaderError",
    "UseDPoPNonceError",
    "Verifier",
    "__version__",
    "access_token_hash",
    "error_response",
    "extract_bearer_token",
    "jwk_thumbprint",
    "pure_check",
    "set_error_renderer",
    "token_fingerprint",
    "verifier_from_env",
]
