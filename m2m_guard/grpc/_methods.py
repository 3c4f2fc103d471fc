"""Which scopes each gRPC method needs, and how a refusal becomes a status.

Method names are gRPC's full names, ``/package.Service/Method``. A key of
``methods`` (and an entry of ``public_methods``) is either such a name,
matched exactly, or ``/package.Service/*``: every method of that service (the
glob rule of ``exclude_paths``). An exact name wins over a service glob; of
two globs, the longer wins. Unlisted methods need ``default`` (by default any
valid token).
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
from m2m_guard._sansio.scopes import normalize_scopes
from m2m_guard._types import TokenVerifier

__all__ = ["MethodRules", "MethodScopes", "Refusal", "Scopes", "refusal"]

logger = logging.getLogger("m2m_guard.grpc")


@dataclass(frozen=True)
class MethodScopes:
    """The scopes of one method (or service): all of ``required`` and, when
    ``any_of`` is given, at least one of those."""

    required: str | Iterable[str] = ()
    any_of: str | Iterable[str] = ()


#: what a method needs: a scope, several (all required), or ``MethodScopes``
Scopes = str | Iterable[str] | MethodScopes


def _scopes(value: Scopes, where: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        if isinstance(value, MethodScopes):
            return normalize_scopes(value.required), normalize_scopes(value.any_of)
        return normalize_scopes(value), ()
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where}: invalid scopes {value!r}") from exc


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
    """One ``Guard`` per distinct requirement, chosen by method name."""

    __slots__ = ("_exact", "_known", "_prefixes", "default", "public")

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
        guards: dict[tuple[tuple[str, ...], tuple[str, ...]], Guard] = {}

        def guard(scopes: tuple[tuple[str, ...], tuple[str, ...]]) -> Guard:
            if scopes not in guards:
                required, any_of = scopes
                guards[scopes] = Guard(
                    verifier, required_scopes=required, any_scopes=any_of, **options
                )
            return guards[scopes]

        #: the guard of every method the mapping does not name
        self.default = guard(_scopes(default, "default"))
        exact: dict[str, Guard] = {}
        prefixes: list[tuple[str, Guard]] = []
        for name, value in methods.items():
            chosen = guard(_scopes(value, _pattern(name)))
            if name.endswith("/*"):
                prefixes.append((name[:-1], chosen))
            else:
                exact[name] = chosen
        prefixes.sort(key=lambda item: len(item[0]), reverse=True)
        self._exact = exact
        self._prefixes = tuple(prefixes)
        public = [public_methods] if isinstance(public_methods, str) else list(public_methods)
        for name in public:
            _pattern(name)
        #: the methods that need no token
        self.public = PathMatcher(public)
        # method name -> its guard (None: public), filled for registered methods only
        self._known: dict[str, Guard | None] = {}

    def resolve(self, method: str) -> Guard | None:
        """The guard of ``method`` (``None``: public), not remembered."""
        if self.public.active and self.public.matches(method):
            return None
        chosen = self._exact.get(method)
        if chosen is not None:
            return chosen
        for prefix, candidate in self._prefixes:
            if method.startswith(prefix) and "/" not in method[len(prefix) :]:
                return candidate
        return self.default

    def guard_for(self, method: str) -> Guard | None:
        """``resolve``, remembered (call it only for methods the server has)."""
        try:
            return self._known[method]
        except KeyError:
            chosen = self._known[method] = self.resolve(method)
            return chosen


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
