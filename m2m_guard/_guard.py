"""What every integration decides the same way, so adapters only translate.

A ``Guard`` holds one route's (or one middleware's) requirements: the
verifier, required scopes, excluded paths, whether anonymous requests may
pass, the realm. Adapters hand it the ``Authorization`` header values and
turn an ``M2MGuardError`` into their framework's response with
``error_response`` — the same status, headers and JSON body everywhere.

Claims verified earlier in the same request (by a middleware, a blueprint
guard, another dependency) are reused only by a guard with the *same*
verifier object: every integration stores the verifier that produced the
claims next to them (``VERIFIED_BY_KEY``), and ``Guard.reuse`` hands them
back, scopes checked, only when it is this guard's verifier. A route with a
verifier of its own (another audience, issuer, ``max_token_age``, strict
mode …) verifies the token again; its token cache keeps that cheap.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass

from ._resource import ProtectedResource
from ._sansio.claims import M2MClaims
from ._sansio.engine import check_scopes
from ._sansio.errors import ConfigurationError, M2MGuardError
from ._sansio.scopes import normalize_scopes
from ._types import TokenVerifier

__all__ = ["VERIFIED_BY_KEY", "ErrorResponse", "Guard", "PathMatcher"]

#: Where an integration records which verifier produced the claims it stored
#: (next to them: in ``scope["state"]``, in the WSGI environ).
VERIFIED_BY_KEY = "m2m_guard.verified_by"


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """An HTTP error answer; header names are lower case."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class PathMatcher:
    """Matches request paths against ``exclude_paths``.

    An entry ending in ``*`` is a prefix (``"/public/*"`` matches every path
    under ``/public/``); any other entry matches that exact path. Paths that
    are not in normal form (``..``, ``.``, ``//`` segments) never match, so
    ``/public/../admin`` cannot slip past the guard.
    """

    __slots__ = ("_exact", "_prefixes", "active")

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        for pattern in patterns:
            if not isinstance(pattern, str) or not pattern.startswith("/"):
                raise ConfigurationError(f"exclude_paths entries must start with '/': {pattern!r}")
        self._exact = frozenset(p for p in patterns if not p.endswith("*"))
        self._prefixes = tuple(p[:-1] for p in patterns if p.endswith("*"))
        #: whether any path is excluded (``bool(matcher)``, without a call per request)
        self.active = bool(self._exact or self._prefixes)

    def __bool__(self) -> bool:
        return self.active

    def matches(self, path: str) -> bool:
        """Whether ``path`` is excluded from authentication."""
        if path in self._exact:
            return _is_normal(path)
        return path.startswith(self._prefixes) and _is_normal(path)


def _is_normal(path: str) -> bool:
    trimmed = path.rstrip("/") or "/"
    return posixpath.normpath(trimmed) == trimmed and "//" not in path


class Guard:
    """The authentication decision of one middleware or one route."""

    __slots__ = (
        "any_scopes",
        "exclude",
        "optional",
        "realm",
        "required_scopes",
        "resource",
        "verifier",
    )

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        required_scopes: str | Iterable[str] = (),
        any_scopes: str | Iterable[str] = (),
        exclude_paths: Iterable[str] = (),
        optional: bool = False,
        realm: str = "api",
        resource_metadata: ProtectedResource | None = None,
    ) -> None:
        if not isinstance(verifier, TokenVerifier):
            raise ConfigurationError(
                "verifier must be an m2m_guard.Verifier (or Verifier.combine(...))"
            )
        self.verifier = verifier
        self.required_scopes = normalize_scopes(required_scopes)
        self.any_scopes = normalize_scopes(any_scopes)
        self.exclude = PathMatcher(exclude_paths)
        self.optional = optional
        self.realm = realm
        if resource_metadata is not None and not isinstance(resource_metadata, ProtectedResource):
            raise ConfigurationError("resource_metadata must be an m2m_guard.ProtectedResource")
        #: RFC 9728 metadata the middleware serves and its challenges point to
        self.resource = resource_metadata

    def reuse(self, claims: M2MClaims | None, verified_by: object) -> M2MClaims | None:
        """``claims`` verified earlier in this request, scopes checked, when
        ``verified_by`` (the verifier that produced them) is this guard's own
        verifier; ``None`` otherwise: then ``check`` the token again.

        Raises:
            InsufficientScopeError: the reused claims lack a required scope.
        """
        if claims is None or verified_by is not self.verifier:
            return None
        check_scopes(claims, self.required_scopes, self.any_scopes)
        return claims

    def check(self, authorization: Sequence[str]) -> M2MClaims | None:
        """Verify the request's ``Authorization`` values; ``None`` if anonymous.

        The verifier's fast lane (``verify_authorization``): a token it
        verified before costs a dictionary lookup, and reports its event.

        Raises:
            M2MGuardError: render it with ``error_response``.
        """
        return self.verifier.verify_authorization(
            authorization, self.required_scopes, self.any_scopes, optional=self.optional
        )

    def check_async(self, authorization: Sequence[str]) -> Awaitable[M2MClaims | None]:
        """Like ``check``, without blocking the event loop on key fetches: await it.

        (The verifier's coroutine itself, so the warm path awaits just one.)
        """
        return self.verifier.verify_authorization_async(
            authorization, self.required_scopes, self.any_scopes, optional=self.optional
        )

    def error_response(self, exc: M2MGuardError) -> ErrorResponse:
        """The RFC 6750 answer for ``exc``."""
        metadata = self.resource.url if self.resource is not None else None
        return error_response(exc, self.realm, resource_metadata=metadata)

    def metadata_response(self, method: str, path: str) -> ErrorResponse | None:
        """The RFC 9728 document, when this request asks for it; else ``None``.

        (An ``ErrorResponse`` with status 200: the same shape serves both.)
        """
        resource = self.resource
        if resource is None or path != resource.path or method not in ("GET", "HEAD"):
            return None
        body = resource.body()
        headers = (
            ("content-type", "application/json"),
            ("content-length", str(len(body))),
            ("cache-control", "max-age=3600"),
        )
        return ErrorResponse(200, headers, b"" if method == "HEAD" else body)


def error_response(
    exc: M2MGuardError, realm: str = "api", *, resource_metadata: str | None = None
) -> ErrorResponse:
    """The RFC 6750 answer for ``exc``: status, headers and a JSON body."""
    body = json.dumps(exc.to_dict(), separators=(",", ":")).encode()
    headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
    headers.extend(exc.response_headers(realm, resource_metadata=resource_metadata).items())
    return ErrorResponse(exc.status_code, tuple(headers), body)
