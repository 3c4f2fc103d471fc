"""Which scopes each gRPC method needs, and how a refusal becomes a status.

Method names are gRPC's full names, ``/package.Service/Method``. A key of
``methods`` (and an entry of ``public_methods``) is either such a name,
matched exactly, or ``/package.Service/*``: every method of that service.
An exact name wins over a service glob. Unlisted methods need ``default``
(by default any valid token).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from m2m_guard._guard import Guard, PathMatcher
from m2m_guard._sansio.errors import ConfigurationError, M2MGuardError
from m2m_guard._sansio.request import RequestContext
from m2m_guard._scope_table import RouteScopes, Scopes, ScopeTable
from m2m_guard._types import TokenVerifier

__all__ = ["MethodRules", "MethodScopes", "Refusal", "Scopes", "refusal"]

#: the scopes of a method (or a service): ``MethodScopes(required=…, any_of=…)``
MethodScopes = RouteScopes

logger = logging.getLogger("m2m_guard.grpc")


def _pattern(name: object) -> str:
    if not isinstance(name, str) or not name.startswith("/"):
        raise ConfigurationError(
            f"gRPC method names look like '/package.Service/Method' (or '/package.Service/*'): "
            f"{name!r}"
        )
    base = name[:-2] if name.endswith("/*") else name
    if "*" in base:
        raise ConfigurationError(f"only a trailing '/*' is a wildcard in a method name: {name!r}")
    return name


class MethodRules:
    """The guard of each method: ``None`` for a public one, else the table's."""

    __slots__ = ("public", "table")

    def __init__(
        self,
        verifier: TokenVerifier,
        methods: Mapping[str, Scopes],
        default: Scopes,
        public_methods: Iterable[str],
        options: Mapping[str, Any],
    ) -> None:
        if not isinstance(methods, Mapping):
            raise ConfigurationError("methods must map method names to scopes")
        #: the scopes of each method
        self.table = ScopeTable(verifier, methods, default, options, _pattern)
        public = [public_methods] if isinstance(public_methods, str) else list(public_methods)
        for name in public:
            _pattern(name)
        #: the methods that need no token
        self.public = PathMatcher(public)

    @property
    def default(self) -> Guard:
        """The guard of methods the table does not name."""
        return self.table.default

    def guard_for(self, method: str) -> Guard | None:
        """The guard of ``method``; ``None``: public."""
        if self.public.active and self.public.matches(method):
            return None
        return self.table.guard_for(method)


def authorization_of(metadata: Sequence[Any] | None) -> list[str]:
    """Every ``authorization`` value of the call's metadata, as sent."""
    if not metadata:
        return []
    return [value for key, value in metadata if key == "authorization"]


def request_context(method: str, metadata: Sequence[Any] | None) -> RequestContext:
    """A ``RequestContext`` for checks that look at the call (text metadata as headers)."""
    headers = tuple((key, value) for key, value in (metadata or ()) if isinstance(value, str))
    return RequestContext(
        method="POST", scheme="http", host="", path=method, raw_path=method, headers=headers
    )


@dataclass(frozen=True, slots=True)
class Refusal:
    """How a call is refused: the status code, its details, trailing metadata."""

    code: grpc.StatusCode
    details: str
    trailing: tuple[tuple[str, str], ...]


_CODES = {
    400: grpc.StatusCode.UNAUTHENTICATED,  # a malformed authorization value
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
}


def refusal(exc: M2MGuardError, realm: str) -> Refusal:
    """The gRPC answer for ``exc``: 400/401 ``UNAUTHENTICATED`` and 403
    ``PERMISSION_DENIED`` with the RFC 6750 challenge as ``www-authenticate``;
    anything else (keys unavailable, a failing check) ``UNAVAILABLE`` with
    ``retry-after`` seconds and ``grpc-retry-pushback-ms``."""
    body = exc.to_dict()
    details = f"{body['error']}: {body['error_description']}"
    code = _CODES.get(exc.status_code)
    if code is not None:
        challenge = exc.www_authenticate(realm)
        challenges = () if challenge is None else (("www-authenticate", challenge),)
        return Refusal(code, details, challenges)
    seconds = int(getattr(exc, "retry_after", 30))
    hints = (("retry-after", str(seconds)), ("grpc-retry-pushback-ms", str(seconds * 1000)))
    return Refusal(grpc.StatusCode.UNAVAILABLE, details, hints)


#: the answer when something unexpected failed while deciding: refused, never INTERNAL
UNEXPECTED = Refusal(
    grpc.StatusCode.UNAVAILABLE,
    "temporarily_unavailable: The request could not be authenticated; try again later.",
    (("retry-after", "5"), ("grpc-retry-pushback-ms", "5000")),
)
