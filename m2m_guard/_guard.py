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
import logging
import posixpath
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from ._base import VerifierBase
from ._resource import ProtectedResource
from ._sansio.claims import M2MClaims
from ._sansio.engine import check_scopes
from ._sansio.errors import ConfigurationError, M2MGuardError
from ._sansio.scopes import normalize_scopes
from ._types import TokenVerifier

__all__ = [
    "VERIFIED_BY_KEY",
    "ErrorRenderer",
    "ErrorResponse",
    "Guard",
    "PathMatcher",
    "error_response",
    "set_error_renderer",
]

logger = logging.getLogger("m2m_guard")

#: Renders the body of a refusal: ``renderer(exc) -> (content_type, body)``.
ErrorRenderer = Callable[[M2MGuardError], tuple[str, bytes]]

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
    """Matches request paths against ``exclude_paths``: one glob semantics
    for every integration (ASGI, Starlette, FastAPI, WSGI, Flask blueprints).

    - ``"/docs/*"`` matches ``/docs``, ``/docs/`` and every path below
      ``/docs/``; ``"/*"`` matches every path.
    - Any other entry (``"/health"``) matches exactly that path: not
      ``/health/``, not ``/healthz``, not ``/HEALTH``.
    - A ``*`` anywhere else is a ``ConfigurationError`` (it would read as a
      glob it is not): ``"/docs*"`` is refused, write ``"/docs/*"``.

    The path matched is the one the framework routes on, already
    percent-decoded (ASGI ``scope["path"]`` below ``root_path``, WSGI
    ``PATH_INFO``), so ``/%68ealth`` is ``/health`` to the guard exactly as it
    is to the router. A path that is not in normal form (a ``.`` or ``..``
    segment, ``//``, so also a decoded ``%2F..%2F``) never matches: an
    exclusion never opens ``/health/../admin`` or ``//health``; those
    requests need a token like any other.
    """

    __slots__ = ("_exact", "_prefixes", "active")

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        exact: set[str] = set()
        prefixes: list[str] = []
        for pattern in patterns:
            if not isinstance(pattern, str) or not pattern.startswith("/"):
                raise ConfigurationError(f"exclude_paths entries must start with '/': {pattern!r}")
            if pattern.endswith("/*"):
                base = pattern[:-2]
                if "*" in base:
                    raise ConfigurationError(
                        f"exclude_paths: only a trailing '/*' is a wildcard: {pattern!r}"
                    )
                exact.add(base or "/")
                prefixes.append(base + "/")
            elif "*" in pattern:
                raise ConfigurationError(
                    f"exclude_paths: only a trailing '/*' is a wildcard "
                    f"(write {pattern.rstrip('*').rstrip('/') + '/*'!r}): {pattern!r}"
                )
            else:
                exact.add(pattern)
        self._exact = frozenset(exact)
        self._prefixes = tuple(prefixes)
        #: whether any path is excluded (``bool(matcher)``, without a call per request)
        self.active = bool(self._exact or self._prefixes)

    def __bool__(self) -> bool:
        return self.active

    def matches(self, path: str) -> bool:
        """Whether ``path`` (decoded, as routed) is excluded from authentication."""
        if path in self._exact:
            return _is_normal(path)
        return path.startswith(self._prefixes) and _is_normal(path)


def _is_normal(path: str) -> bool:
    trimmed = path.rstrip("/") or "/"
    return (
        posixpath.normpath(trimmed) == trimmed
        and "//" not in path
        and "\\" not in path
        and "\x00" not in path
    )


class Guard:
    """The authentication decision of one middleware or one route."""

    __slots__ = (
        "_hit",
        "_with_path",
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
        # The package's verifiers report the request path in their events;
        # another TokenVerifier is called as its protocol says.
        self._with_path = isinstance(verifier, VerifierBase)
        self._hit = cast(VerifierBase, verifier)._hit if self._with_path else None
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

    def cached(self, authorization: Sequence[str], path: str | None = None) -> M2MClaims | None:
        """The fast lane's first step, without a coroutine: the claims when
        ``authorization`` is one ``Bearer <token>`` value of a token the
        verifier accepted before and that still holds (scopes checked, the
        outcome reported); ``None``: call ``check`` or ``check_async``.

        An async adapter calls this first, so a warm request creates no
        coroutine for its verification.

        Raises:
            InsufficientScopeError: the cached token lacks a required scope.
        """
        hit = self._hit
        if hit is None or len(authorization) != 1:
            return None
        return hit(authorization[0], self.required_scopes, self.any_scopes, path)

    def check(self, authorization: Sequence[str], path: str | None = None) -> M2MClaims | None:
        """Verify the request's ``Authorization`` values; ``None`` if anonymous.

        The verifier's fast lane (``verify_authorization``): a token it
        verified before costs a dictionary lookup, and reports its event,
        which carries ``path`` (the request path) when the adapter knows it.

        Raises:
            M2MGuardError: render it with ``error_response``.
        """
        if path is None or not self._with_path:
            return self.verifier.verify_authorization(
                authorization, self.required_scopes, self.any_scopes, optional=self.optional
            )
        return cast(VerifierBase, self.verifier).verify_authorization(
            authorization, self.required_scopes, self.any_scopes, optional=self.optional, path=path
        )

    def check_async(
        self, authorization: Sequence[str], path: str | None = None
    ) -> Awaitable[M2MClaims | None]:
        """Like ``check``, without blocking the event loop on key fetches: await it.

        (The verifier's coroutine itself, so the warm path awaits just one.)
        """
        if path is None or not self._with_path:
            return self.verifier.verify_authorization_async(
                authorization, self.required_scopes, self.any_scopes, optional=self.optional
            )
        return cast(VerifierBase, self.verifier).verify_authorization_async(
            authorization, self.required_scopes, self.any_scopes, optional=self.optional, path=path
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


_renderer: ErrorRenderer | None = None


def set_error_renderer(renderer: ErrorRenderer | None) -> ErrorRenderer | None:
    """Render every refusal's body with ``renderer(exc) -> (content_type, body)``.

    One setting for the process, used by ``error_response`` and so by every
    integration (ASGI, Starlette, FastAPI, WSGI, Flask): an API answers in one
    format (``{"detail": …}``, RFC 9457 ``application/problem+json`` …). Only
    the body and its ``content-type``/``content-length`` change: the status,
    ``WWW-Authenticate`` and ``Retry-After`` stay as they are. A renderer that
    raises or returns something else is logged and the default JSON body is
    sent (the request is refused either way). ``None`` restores the default.

    Returns:
        the renderer set before (to restore it).
    """
    global _renderer
    if renderer is not None and not callable(renderer):
        raise ConfigurationError(
            "the error renderer must be callable(exc) -> (content_type, bytes)"
        )
    previous, _renderer = _renderer, renderer
    return previous


def error_response(
    exc: M2MGuardError, realm: str = "api", *, resource_metadata: str | None = None
) -> ErrorResponse:
    """The RFC 6750 answer for ``exc``: status, headers and a body (JSON, or
    what the renderer of ``set_error_renderer`` makes)."""
    content_type, body = "application/json", b""
    rendered = _render(exc) if _renderer is not None else None
    if rendered is None:
        body = json.dumps(exc.to_dict(), separators=(",", ":")).encode()
    else:
        content_type, body = rendered
    headers = [("content-type", content_type), ("content-length", str(len(body)))]
    headers.extend(exc.response_headers(realm, resource_metadata=resource_metadata).items())
    return ErrorResponse(exc.status_code, tuple(headers), body)


def _render(exc: M2MGuardError) -> tuple[str, bytes] | None:
    renderer = _renderer
    assert renderer is not None
    try:
        content_type, body = renderer(exc)
    except Exception:
        logger.exception("the error renderer raised; the default body is sent")
        return None
    if (
        not isinstance(content_type, str)
        or not isinstance(body, bytes)
        or not content_type.isprintable()
    ):
        logger.error("the error renderer must return (str, bytes); the default body is sent")
        return None
    return content_type, body
