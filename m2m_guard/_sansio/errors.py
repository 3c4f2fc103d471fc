"""The exception tree of m2m_guard.

Every error a request can cause is an :class:`M2MGuardError` that knows its
HTTP status, its RFC 6750 error code and how to render its own
``WWW-Authenticate`` challenge, so every integration answers the same way::

    M2MGuardError
    ├── ConfigurationError          invalid settings, raised at start-up only
    ├── MissingTokenError           401, no error attribute (RFC 6750 §3.1)
    ├── InvalidRequestError         400 invalid_request
    ├── InvalidTokenError           401 invalid_token
    │   ├── MalformedTokenError         not a well-formed JWS compact token
    │   │   └── TokenTooLargeError      over the size cap, rejected unparsed
    │   ├── DisallowedAlgorithmError    alg not in the configured allow-list
    │   ├── UnsupportedHeaderError      crit, jku, x5u, jwk, x5c, typ …
    │   ├── UnknownKeyError             no usable key for the token's kid
    │   ├── BadSignatureError
    │   ├── InvalidClaimError           a claim missing or of the wrong type
    │   │   ├── InvalidIssuerError
    │   │   └── InvalidAudienceError
    │   ├── ExpiredTokenError
    │   ├── TokenNotYetValidError       nbf in the future, or iat in the future
    │   └── TokenTooOldError            older than max_token_age
    ├── InvalidDPoPProofError       401 invalid_dpop_proof (RFC 9449 §7.1; in dpop_errors)
    │   └── UseDPoPNonceError           401 use_dpop_nonce, with a DPoP-Nonce header
    ├── InsufficientScopeError      403 insufficient_scope
    ├── KeysUnavailableError        503, with Retry-After
    └── TokenRequestError           502, the caller side could not get a token

Descriptions are safe to show to the caller: they say what is wrong with the
token, never what went wrong inside (no upstream HTTP errors, no paths).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .challenge import dpop_challenges as _dpop_challenges
from .challenge import quote as _quote

__all__ = [
    "BadSignatureError",
    "ConfigurationError",
    "DisallowedAlgorithmError",
    "ExpiredTokenError",
    "InsufficientScopeError",
    "InvalidAudienceError",
    "InvalidClaimError",
    "InvalidIssuerError",
    "InvalidRequestError",
    "InvalidTokenError",
    "KeysUnavailableError",
    "M2MGuardError",
    "MalformedTokenError",
    "MissingTokenError",
    "TokenNotYetValidError",
    "TokenRequestError",
    "TokenTooLargeError",
    "TokenTooOldError",
    "UnknownKeyError",
    "UnsupportedHeaderError",
]


class M2MGuardError(Exception):
    """Root of every error raised by m2m_guard.

    Attributes:
        status_code: the HTTP status an integration answers with.
        error: the RFC 6750 / RFC 6749 error code, or ``None`` where the
            RFC wants no error attribute (a request without credentials).
        description: a human-readable text that is safe to send to the caller.
    """

    status_code: int = 500
    error: str | None = "server_error"
    default_description: str = "Authentication failed."
    #: How a verifier that takes DPoP wants the challenge: ``(mode, algs,
    #: scheme)`` with ``mode`` ``"allowed"`` or ``"required"``, ``algs`` the
    #: proof algorithms, ``scheme`` the one the request used (``"Bearer"``,
    #: ``"DPoP"`` or ``None``); set by the verifier when it refuses.
    dpop_challenge: tuple[str, str, str | None] | None = None

    def __init__(self, description: str | None = None) -> None:
        self.description = description or self.default_description
        super().__init__(self.description)

    def www_authenticate(
        self, realm: str = "api", *, resource_metadata: str | None = None
    ) -> str | None:
        """Render the ``WWW-Authenticate`` header value (RFC 6750 §3).

        ``None`` for errors that carry no challenge (503, configuration).
        """
        params = [f"realm={_quote(realm)}"]
        if resource_metadata is not None:
            # RFC 9728 §5.1
            params.append(f"resource_metadata={_quote(resource_metadata)}")
        error: list[str] = []
        if self.error is not None:
            error.append(f"error={_quote(self.error)}")
            error.append(f"error_description={_quote(self.description)}")
        error.extend(self._extra_challenge_params())
        if self.dpop_challenge is None:
            return "Bearer " + ", ".join(params + error)
        return _dpop_challenges(self.dpop_challenge, params, error)

    def _extra_challenge_params(self) -> list[str]:
        return []

    def response_headers(
        self, realm: str = "api", *, resource_metadata: str | None = None
    ) -> dict[str, str]:
        """All headers an HTTP response for this error carries."""
        headers = {"cache-control": "no-store"}
        challenge = self.www_authenticate(realm, resource_metadata=resource_metadata)
        if challenge is not None:
            headers["www-authenticate"] = challenge
        return headers

    def to_dict(self) -> dict[str, str]:
        """The JSON body an integration answers with."""
        return {"error": self.error or "unauthorized", "error_description": self.description}


class ConfigurationError(M2MGuardError, ValueError):
    """Invalid settings. Raised when a verifier is built, never per request.

    ``setting`` names the argument at fault when there is one; ``problem``
    is then the message without that name, so that a caller that read the
    setting from elsewhere (an environment variable) can name its source.
    """

    def __init__(
        self, description: str | None = None, *, setting: str | None = None, problem: str = ""
    ) -> None:
        super().__init__(description)
        self.setting = setting
        self.problem = problem

    @classmethod
    def of(cls, setting: str, problem: str) -> ConfigurationError:
        """``"{setting} {problem}"``, e.g. ``of("leeway", "must be positive")``."""
        return cls(f"{setting} {problem}", setting=setting, problem=problem)

    def named(self, sources: Mapping[str, str]) -> ConfigurationError:
        """This error with its setting named as in ``sources`` (argument ->
        where it came from, e.g. ``{"leeway": "M2M_GUARD_LEEWAY"}``)."""
        source = sources.get(self.setting or "")
        if source is None or not self.problem:
            return self
        return ConfigurationError.of(source, self.problem)

    def www_authenticate(
        self, realm: str = "api", *, resource_metadata: str | None = None
    ) -> str | None:
        return None


class MissingTokenError(M2MGuardError):
    """The request carries no bearer token (RFC 6750 §3.1: no error code)."""

    status_code = 401
    error = None
    default_description = "A bearer token is required."


class InvalidRequestError(M2MGuardError):
    """The request is malformed: several credentials, bad header syntax."""

    status_code = 400
    error = "invalid_request"
    default_description = "The Authorization header is malformed."


class InvalidTokenError(M2MGuardError):
    """The token is not acceptable: malformed, forged, expired, foreign …"""

    status_code = 401
    error = "invalid_token"
    default_description = "The access token is invalid."


class MalformedTokenError(InvalidTokenError):
    """The token is not a well-formed JWS in compact serialization."""

    default_description = "The access token is malformed."


class TokenTooLargeError(MalformedTokenError):
    """The token is longer than the configured cap; it was not parsed."""

    default_description = "The access token is too large."


class DisallowedAlgorithmError(InvalidTokenError):
    """The token's ``alg`` is not in the verifier's allow-list."""

    default_description = "The token's signing algorithm is not allowed."


class UnsupportedHeaderError(InvalidTokenError):
    """The token's header asks for something this verifier refuses."""

    default_description = "The token header is not acceptable."


class UnknownKeyError(InvalidTokenError):
    """No key in the issuer's key set can verify this token."""

    default_description = "The token was signed with an unknown key."


class BadSignatureError(InvalidTokenError):
    """The signature does not verify."""

    default_description = "The token signature is invalid."


class InvalidClaimError(InvalidTokenError):
    """A claim is missing or has the wrong type or value.

    Attributes:
        claim: the name of the offending claim.
    """

    def __init__(self, claim: str, description: str | None = None) -> None:
        self.claim = claim
        super().__init__(description or f"The token's {claim!r} claim is missing or invalid.")


class InvalidIssuerError(InvalidClaimError):
    """The ``iss`` claim is not one of the accepted issuers."""

    def __init__(self, description: str | None = None) -> None:
        super().__init__("iss", description or "The token was issued by an unexpected issuer.")


class InvalidAudienceError(InvalidClaimError):
    """The ``aud`` claim names none of the accepted audiences."""

    def __init__(self, description: str | None = None) -> None:
        super().__init__("aud", description or "The token is not meant for this audience.")


class ExpiredTokenError(InvalidTokenError):
    """The token is past its ``exp``."""

    default_description = "The token has expired."


class TokenNotYetValidError(InvalidTokenError):
    """The token's ``nbf`` or ``iat`` lies in the future."""

    default_description = "The token is not valid yet."


class TokenTooOldError(InvalidTokenError):
    """The token was issued longer ago than ``max_token_age`` allows."""

    default_description = "The token is too old."


class InsufficientScopeError(M2MGuardError):
    """The token is valid but lacks a scope the resource requires.

    Attributes:
        required_scopes: the scopes the resource asked for.
        granted_scopes: the scopes the token carries.
        any_of: ``True`` when one of ``required_scopes`` would have been enough.
    """

    status_code = 403
    error = "insufficient_scope"

    def __init__(
        self,
        required_scopes: Sequence[str],
        granted_scopes: Sequence[str] = (),
        *,
        any_of: bool = False,
    ) -> None:
        self.required_scopes = tuple(required_scopes)
        self.granted_scopes = tuple(granted_scopes)
        self.any_of = any_of
        wanted = " ".join(self.required_scopes)
        kind = "one of the scopes" if any_of else "the scopes"
        super().__init__(f"The token lacks {kind}: {wanted}.")

    def _extra_challenge_params(self) -> list[str]:
        return [f"scope={_quote(' '.join(self.required_scopes))}"]


class KeysUnavailableError(M2MGuardError):
    """No usable verification keys: the issuer's JWKS cannot be fetched.

    The caller's token may be fine, so this is a 503 with ``Retry-After``,
    not a 401.

    Attributes:
        retry_after: seconds the caller should wait before trying again.
    """

    status_code = 503
    error = "temporarily_unavailable"
    default_description = "The token cannot be verified right now; try again later."

    def __init__(self, description: str | None = None, *, retry_after: float = 30.0) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(description)

    def www_authenticate(
        self, realm: str = "api", *, resource_metadata: str | None = None
    ) -> str | None:
        return None

    def response_headers(
        self, realm: str = "api", *, resource_metadata: str | None = None
    ) -> dict[str, str]:
        return {"cache-control": "no-store", "retry-after": str(self.retry_after)}


class TokenRequestError(M2MGuardError):
    """The caller side: the token endpoint refused a token, or answered something unusable.

    ``m2m_guard.client.ClientCredentialsAuth`` raises it. ``str(exc)`` says
    what went wrong in detail, for logs. ``error``, ``description`` and the
    rendered response stay generic (``temporarily_unavailable``, no
    challenge): should this escape into an integration's error handler, the
    upstream details never reach that service's own caller.

    Attributes:
        upstream_error: the token endpoint's OAuth2 error code (RFC 6749
            §5.2), e.g. ``invalid_client``; ``None`` when it gave none.
        error_description: the token endpoint's ``error_description``, or
            ``None``.
        http_status: the token endpoint's HTTP status; ``None`` when no
            response arrived (connection refused, timeout).
    """

    status_code = 502
    error = "temporarily_unavailable"
    default_description = "An access token for an upstream service could not be obtained."

    def __init__(
        self,
        message: str,
        *,
        upstream_error: str | None = None,
        error_description: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__()
        self.args = (message,)
        self.upstream_error = upstream_error
        self.error_description = error_description
        self.http_status = http_status

    def www_authenticate(
        self, realm: str = "api", *, resource_metadata: str | None = None
    ) -> str | None:
        return None

    def _copy(self) -> TokenRequestError:
        """A new exception with the same details (for each caller that shares a failure)."""
        return TokenRequestError(
            str(self),
            upstream_error=self.upstream_error,
            error_description=self.error_description,
            http_status=self.http_status,
        )
