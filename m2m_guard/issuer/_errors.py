"""Errors raised by the local issuer, in Stytch's error vocabulary.

Every failure a caller can cause is an :class:`IssuerError` that carries the
HTTP status and the Stytch ``error_type`` it is answered with, so the
in-process API and the HTTP routes fail the same way::

    IssuerError                     status_code, error_type, message
    ├── BadRequestError             400, malformed or invalid input
    ├── UnauthorizedError           401, bad project credentials
    ├── NotFoundError               404
    │   └── ClientNotFoundError     404 m2m_client_not_found
    ├── ConflictError               409, e.g. a duplicate client_id
    ├── PayloadTooLargeError        413
    └── OAuthError                  token endpoint errors (RFC 6749 §5.2)

:class:`IssuerConfigError` is separate: it is raised when an issuer is
opened with bad settings (a foreign database, an unknown schema version),
never in answer to a request.
"""

from __future__ import annotations

__all__ = [
    "BadRequestError",
    "ClientNotFoundError",
    "ConflictError",
    "IssuerConfigError",
    "IssuerError",
    "NotFoundError",
    "OAuthError",
    "PayloadTooLargeError",
    "UnauthorizedError",
]


class IssuerConfigError(Exception):
    """The issuer cannot start with these settings or this database."""


class IssuerError(Exception):
    """A request the issuer refuses; knows its status and Stytch error_type."""

    status_code: int = 400
    error_type: str = "bad_request"

    def __init__(self, message: str, *, error_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if error_type is not None:
            self.error_type = error_type

    @property
    def error_url(self) -> str:
        """The documentation link Stytch puts in every error body."""
        return f"https://stytch.com/docs/api/errors/{self.status_code}#{self.error_type}"


class BadRequestError(IssuerError):
    """The request is malformed or a value is invalid (400)."""

    status_code = 400
    error_type = "bad_request"


class UnauthorizedError(IssuerError):
    """Missing or wrong project credentials (401)."""

    status_code = 401
    error_type = "unauthorized_credentials"


class NotFoundError(IssuerError):
    """No such route, project or object (404)."""

    status_code = 404
    error_type = "not_found"


class ClientNotFoundError(NotFoundError):
    """No M2M client has this id (404)."""

    error_type = "m2m_client_not_found"

    def __init__(self, client_id: str) -> None:
        super().__init__(f"No M2M client found with client_id {client_id!r}.")
        self.client_id = client_id


class ConflictError(IssuerError):
    """The request conflicts with existing state (409)."""

    status_code = 409
    error_type = "conflict"


class PayloadTooLargeError(IssuerError):
    """The request body exceeds the configured cap (413)."""

    status_code = 413
    error_type = "request_too_large"


class OAuthError(IssuerError):
    """A token endpoint error; ``error`` is the RFC 6749 §5.2 code."""

    def __init__(self, error: str, description: str, *, status_code: int = 400) -> None:
        super().__init__(description, error_type=error)
        self.error = error
        self.status_code = status_code
        self.headers: dict[str, str] = {}  # e.g. a DPoP-Nonce (RFC 9449 §8)
