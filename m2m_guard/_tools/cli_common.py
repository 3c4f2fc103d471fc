"""What every ``m2m-guard`` command shares: errors, exit statuses, options, output.

Exit statuses (``exit_status``): 0 success; 1 an invalid token, a request
the issuer refused, something not found, an unreachable server, any other
failure; 2 a usage or configuration error (argparse's own, conflicting or
missing options, an unusable database or file, invalid verifier settings);
130 Ctrl+C.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from m2m_guard._sansio.errors import ConfigurationError

if TYPE_CHECKING:
    from m2m_guard.issuer import LocalIssuer

__all__ = [
    "DEFAULT_DB",
    "PROG",
    "CLIError",
    "UsageError",
    "add_db",
    "duration",
    "env",
    "exit_status",
    "open_existing",
    "print_json",
    "require_issuer_extra",
    "seconds",
    "when",
]

DEFAULT_DB = "m2m-guard-issuer.db"
PROG = "m2m-guard"


class CLIError(Exception):
    """A failure reported as one line on stderr (exit status 1)."""

    exit_status = 1


class UsageError(CLIError):
    """A usage or configuration error (exit status 2)."""

    exit_status = 2


def exit_status(exc: Exception) -> int:
    """The exit status of a command that raised ``exc``."""
    if isinstance(exc, CLIError):
        return exc.exit_status
    return 2 if isinstance(exc, ConfigurationError) else 1


def env(name: str) -> str | None:
    """``$M2M_GUARD_{name}``, None when unset or empty."""
    return os.environ.get(f"M2M_GUARD_{name}") or None


def when(timestamp: float) -> str:
    """An ISO 8601 UTC time, to the second."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")


_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))


def duration(seconds: float) -> str:
    """A length of time for people, in its two largest units: ``1 h 3 m``, ``5 m 12 s``."""
    left = math.floor(abs(seconds))
    for index, (unit, size) in enumerate(_UNITS):
        if left >= size or size == 1:
            major, rest = divmod(left, size)
            text = f"{major} {unit}"
            if index + 1 < len(_UNITS):
                minor_unit, minor_size = _UNITS[index + 1]
                if rest // minor_size:
                    text += f" {rest // minor_size} {minor_unit}"
            return text
    raise AssertionError("unreachable: the last unit is one second")  # pragma: no cover


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds, not negative."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"not a number of seconds >= 0: {text!r}")
    return value


def print_json(value: Any) -> None:
    """Machine-readable output: one JSON document on stdout."""
    print(json.dumps(value, indent=2, sort_keys=True))


def require_issuer_extra() -> None:
    """Starlette and uvicorn are importable, or a ``UsageError`` says what to install."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            f"the issuer needs the 'issuer' extra ({exc.name} is missing): "
            "pip install 'm2m-guard[issuer]'"
        ) from exc


def open_existing(db: str) -> LocalIssuer:
    """The issuer database at ``db``, which must exist (it is never created here)."""
    require_issuer_extra()
    from m2m_guard.issuer import IssuerConfigError, LocalIssuer

    if not os.path.isfile(db):
        raise UsageError(f"no issuer database at {db!r} (start `{PROG} issuer --db {db}` first)")
    try:
        return LocalIssuer(db)
    except IssuerConfigError as exc:
        raise UsageError(str(exc)) from exc


def add_db(parser: argparse.ArgumentParser, default: str | None = DEFAULT_DB) -> None:
    """The ``--db PATH`` option (default ``$M2M_GUARD_ISSUER_DB``, then ``default``)."""
    fallback = f" or ./{default}" if default else ""
    parser.add_argument(
        "--db",
        default=env("ISSUER_DB") or default,
        help=f"issuer SQLite database (default: $M2M_GUARD_ISSUER_DB{fallback})",
    )
