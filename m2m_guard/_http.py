"""The one place m2m_guard imports an HTTP package: ``httpx2`` or ``httpx``.

``httpx2`` is the maintained continuation of ``httpx`` with the same API.
m2m_guard uses ``httpx2`` when it is installed, else ``httpx`` (its declared
dependency); ``M2M_GUARD_HTTP=httpx`` or ``M2M_GUARD_HTTP=httpx2`` forces
one. The chosen package, ``httpx`` here whichever it is, builds the clients
m2m_guard creates for itself and parses URLs.

Clients of *every* installed package are accepted wherever m2m_guard takes
a user's client: both packages speak the same API (``stream``, ``send``,
``Request``, the httpcore trace and ``network_stream`` extensions), so
m2m_guard drives a foreign client as it drives its own, catching either
package's ``HTTPError`` (``HTTP_ERRORS``) and building requests with the
client's own package (``package_of``). That is why every installed package
is imported here, the unused one included. An application that calls
``httpx2.alias_httpx()`` must call it before importing m2m_guard, as
``httpx2`` asks of every import of ``httpx``; the two names are then one
package, counted once.

No other module of m2m_guard imports ``httpx`` or ``httpx2`` itself
(``tests/test_http_seam.py`` checks).
"""

from __future__ import annotations

import functools
import importlib
import operator
import os
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, TypeAlias

from ._sansio.errors import ConfigurationError

__all__ = [
    "CORE_PACKAGES",
    "ENV_VAR",
    "HTTP_ERRORS",
    "INSTALLED",
    "NAME",
    "AsyncClient",
    "Response",
    "SyncClient",
    "Timeout",
    "choose",
    "httpx",
    "package_of",
]

#: the environment variable that forces a package
ENV_VAR = "M2M_GUARD_HTTP"
#: the packages m2m_guard can use, preferred first
PREFERENCE = ("httpx2", "httpx")
#: the top-level packages of their transports (``Watchdog`` looks for their frames)
CORE_PACKAGES = frozenset({"httpcore", "httpcore2"})


def _import(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def choose(
    environ: Mapping[str, str], load: Callable[[str], ModuleType | None] = _import
) -> ModuleType:
    """The package to use: the forced one, else the first of ``PREFERENCE`` installed."""
    forced = environ.get(ENV_VAR, "").strip()
    if forced:
        if forced not in PREFERENCE:
            raise ConfigurationError(f"{ENV_VAR} must be 'httpx' or 'httpx2', not {forced!r}.")
        module = load(forced)
        if module is None:
            extra = " (pip install 'm2m-guard[httpx2]')" if forced == "httpx2" else ""
            raise ConfigurationError(f"{ENV_VAR}={forced}, but {forced} is not installed{extra}.")
        return module
    for name in PREFERENCE:
        module = load(name)
        if module is not None:
            return module
    raise ImportError("m2m_guard needs httpx or httpx2: pip install httpx")


if TYPE_CHECKING:
    import httpx
    import httpx2  # type: ignore[import-not-found, unused-ignore]

    SyncClient: TypeAlias = httpx.Client | httpx2.Client
    AsyncClient: TypeAlias = httpx.AsyncClient | httpx2.AsyncClient
    Response: TypeAlias = httpx.Response | httpx2.Response
    Timeout: TypeAlias = httpx.Timeout | httpx2.Timeout
else:
    httpx = choose(os.environ)

#: the name of the package in use
NAME: str = httpx.__name__


def _installed() -> tuple[ModuleType, ...]:
    found = [httpx]
    for name in PREFERENCE:
        module = _import(name)
        if module is not None and all(module is not other for other in found):
            found.append(module)
    return tuple(found)


#: every installed package, the one in use first (one, when httpx is aliased to httpx2)
INSTALLED: tuple[ModuleType, ...] = _installed()
#: what any installed package raises for a failed request or an invalid URL
HTTP_ERRORS: tuple[type[Exception], ...] = tuple(
    error for module in INSTALLED for error in (module.HTTPError, module.InvalidURL)
)


def package_of(client: object, *, asynchronous: bool, what: str) -> ModuleType:
    """The package whose ``Client`` (or ``AsyncClient``) ``client`` is.

    Raises ``ConfigurationError`` for anything else, such as an
    ``AsyncClient`` given where a sync client belongs.
    """
    for module in INSTALLED:
        if isinstance(client, module.AsyncClient if asynchronous else module.Client):
            return module
    kind = "AsyncClient" if asynchronous else "Client"
    names = " or ".join(f"{module.__name__}.{kind}" for module in INSTALLED)
    raise ConfigurationError(f"{what} must be an {names}, not {type(client).__name__}.")


if not TYPE_CHECKING:
    # At run time the aliases are unions of the installed classes (isinstance works).
    SyncClient = functools.reduce(operator.or_, [module.Client for module in INSTALLED])
    AsyncClient = functools.reduce(operator.or_, [module.AsyncClient for module in INSTALLED])
    Response = functools.reduce(operator.or_, [module.Response for module in INSTALLED])
    Timeout = functools.reduce(operator.or_, [module.Timeout for module in INSTALLED])
