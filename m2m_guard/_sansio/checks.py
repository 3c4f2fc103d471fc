"""Custom checks: the application's own rules, run after the token verified.

A check is a function ``check(claims, request)`` that returns ``None`` to
accept and raises an ``M2MGuardError`` to refuse: ``InvalidTokenError``
(401), ``InsufficientScopeError`` or a subclass of it (403), and so on; the
error is answered like any other. ``request`` is the ``RequestContext`` when
an integration supplied one, else ``None`` (a direct ``verify()`` call).
``async def`` checks are awaited on the async path; on the sync path they
are a ``ConfigurationError``.

Checks run after the signature and the claims, before the scopes. Their
results are never stored in the token cache: every request runs them again,
cache hit or not, unless the check is marked ``@pure_check``. A pure check
decides from the claims alone (it is called with ``request=None``), runs
once per token before the token enters the cache, and its refusal keeps the
token out of it.

A check that raises anything else (a bug, a database that is down) cannot
decide: that is logged with its traceback (the check's name and the client
id, never the token) and answered 503 ``temporarily_unavailable`` with
``Retry-After`` (``CheckFailedError``): not a 401, since the token may be
fine, and never a 500 with internals. A check that returns something other
than ``None`` (``False`` …), or an ``async`` check on the sync path, is a
bug in the application: a ``ConfigurationError`` (500, logged).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from .claims import M2MClaims
from .errors import ConfigurationError, KeysUnavailableError, M2MGuardError
from .request import RequestContext

__all__ = [
    "Check",
    "CheckFailedError",
    "Checks",
    "as_checks",
    "call_check",
    "compile_checks",
    "misused",
    "pure_check",
    "run_sync",
]

logger = logging.getLogger("m2m_guard")

#: ``check(claims, request)``: returns ``None`` (or an awaitable of it), or raises.
Check = Callable[[M2MClaims, "RequestContext | None"], Any]
_C = TypeVar("_C", bound=Callable[..., Any])

#: The attribute ``pure_check`` sets on a check.
PURE_ATTR = "__m2m_guard_pure__"


def pure_check(check: _C) -> _C:
    """Mark ``check`` pure: it decides from the claims alone, so its result is
    kept with the token in the token cache (it runs once per token, with
    ``request=None``). Only plain functions can be pure.

    Raises:
        ConfigurationError: ``check`` is not callable, or is an ``async def``.
    """
    if not callable(check) or inspect.iscoroutinefunction(check):
        raise ConfigurationError.of("pure_check", "marks plain functions (not async def) only")
    setattr(check, PURE_ATTR, True)
    return check


class CheckFailedError(KeysUnavailableError):
    """A custom check raised something other than an ``M2MGuardError``: the
    request cannot be decided now (503 with ``Retry-After``; the log says why)."""

    default_description = "The request cannot be authorized right now; try again later."


@dataclass(frozen=True, slots=True)
class Checks:
    """Checks sorted once, at construction.

    Attributes:
        pure: run once per token, before it enters the token cache.
        each: run on every verification, cache hit or not, with the request.
        asynchronous: whether one of ``each`` is an ``async def``.
    """

    pure: tuple[Check, ...] = ()
    each: tuple[Check, ...] = ()
    asynchronous: bool = False


def compile_checks(checks: object, setting: str = "checks") -> Checks | None:
    """Sort ``checks`` into a ``Checks`` (``None`` when there are none).

    Raises:
        ConfigurationError: ``checks`` is not a sequence of callables.
    """
    if checks is None:
        return None
    if callable(checks) or isinstance(checks, str | bytes) or not isinstance(checks, Iterable):
        raise ConfigurationError.of(setting, "must be a list of functions (claims, request)")
    pure: list[Check] = []
    each: list[Check] = []
    for check in checks:
        if not callable(check):
            raise ConfigurationError.of(setting, f"must hold functions, not {type(check).__name__}")
        (pure if getattr(check, PURE_ATTR, False) is True else each).append(check)
    if not pure and not each:
        return None
    asynchronous = any(_is_async(check) for check in each)
    return Checks(tuple(pure), tuple(each), asynchronous)


def as_checks(checks: object, setting: str = "checks") -> tuple[Check, ...] | None:
    """``checks`` checked now and kept as a tuple, for a guard built later (or
    several times): a generator would be empty for all but the first.

    Raises:
        ConfigurationError: ``checks`` is not a sequence of callables.
    """
    if checks is None:
        return None
    listed = tuple(checks) if isinstance(checks, Iterable) and not callable(checks) else checks
    compile_checks(listed, setting)  # raises on anything but functions
    assert isinstance(listed, tuple)
    return listed


def _is_async(check: Check) -> bool:
    call = getattr(check, "__call__", None)  # noqa: B004 - an object with an async __call__
    return inspect.iscoroutinefunction(check) or inspect.iscoroutinefunction(call)


def name_of(check: Check) -> str:
    """The check's name for logs and errors (its qualified name)."""
    name = getattr(check, "__qualname__", None) or type(check).__qualname__
    return str(name)


def call_check(check: Check, claims: M2MClaims, request: RequestContext | None) -> Any:
    """Call ``check``; what it returns (``None``, or an awaitable to await).

    Raises:
        M2MGuardError: the check's own refusal, as it raised it.
        CheckFailedError: the check raised anything else (logged here).
    """
    try:
        return check(claims, request)
    except M2MGuardError:
        raise
    except Exception as exc:
        raise failed(check, claims, exc) from exc


def failed(check: Check, claims: M2MClaims, exc: Exception) -> CheckFailedError:
    """Log a check that raised ``exc`` and return the error to answer with."""
    logger.error(
        "custom check %s raised %s for client %r: answered 503 (see the traceback)",
        name_of(check),
        type(exc).__name__,
        claims.client_id,
        exc_info=exc,
    )
    return CheckFailedError()


def misused(check: Check, result: object, *, sync_path: bool) -> ConfigurationError:
    """The error for a check that returned ``result`` instead of ``None``
    (an awaitable on the sync path: it is closed, never run). Logged here."""
    close = getattr(result, "close", None)
    if inspect.iscoroutine(result) and callable(close):
        close()
    if sync_path and inspect.isawaitable(result):
        problem = "is async: it needs the async path (an ASGI integration, verify_async)"
    else:
        problem = f"returned {type(result).__name__}: a check returns None or raises"
    error = ConfigurationError(f"custom check {name_of(check)} {problem}")
    logger.error("%s", error.description)
    return error


def run_sync(checks: Iterable[Check], claims: M2MClaims, request: RequestContext | None) -> None:
    """Run ``checks`` in order on the sync path (see the module docstring)."""
    for check in checks:
        result = call_check(check, claims, request)
        if result is not None:
            raise misused(check, result, sync_path=True)
