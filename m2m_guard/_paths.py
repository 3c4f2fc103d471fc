"""Which request paths a guard leaves alone: ``exclude_paths``, one glob rule."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from ._sansio.errors import ConfigurationError

__all__ = ["PathMatcher"]


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
