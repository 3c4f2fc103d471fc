"""The ``m2m-guard`` command line.

::

    m2m-guard issuer [--host H] [--port P] [--db PATH] [--project-id ID] [--project-secret S]
                     [--public-url URL] [--issuer-mode stytch|url] [--claims-template FILE]
    m2m-guard keys rotate [--db PATH] [--grace SECONDS]
    m2m-guard keys retire [--db PATH] [--kid KID]
    m2m-guard keys list [--db PATH]
    m2m-guard clients create|list|get|update|delete|rotate-start|rotate|rotate-cancel
                     [CLIENT_ID] [--issuer URL --project-id ID --secret S | --db PATH] [--json]
    m2m-guard token --url TOKEN_URL --client-id ID --client-secret SECRET [--scope S ...]
    m2m-guard verify TOKEN [--stytch-project ID [--environment E] [--b2b]
                            | --issuer ISS [--jwks-url URL | --jwks FILE] --audience AUD]
                           [--scope S ...] [--algorithm A ...] [--leeway S] [--json]
    m2m-guard demo

Each subcommand is one ``cmd_*`` function taking the parsed arguments and
returning an exit status; :func:`build_parser` wires them up and
:func:`main` turns any failure into one line on stderr. Exit statuses: 0
success; 1 an invalid token, a refusal, something not found, any other
failure; 2 a usage or configuration error; 130 Ctrl+C (see
``_tools/cli_common.py``). This module keeps the wiring, ``token`` and
``demo`` (and the ``keys`` wiring); the other commands live in
``_tools/cli_issuer.py`` (issuer, keys), ``_tools/cli_clients.py`` and
``_tools/cli_verify.py``. Heavy
imports (Starlette, uvicorn, httpx) happen inside the subcommand that
needs them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._text import inert
from ._tools.cli_clients import add_clients
from ._tools.cli_common import (
    PROG,
    CLIError,
    UsageError,
    exit_status,
    require_issuer_extra,
    seconds,
)
from ._tools.cli_common import add_db as _add_db
from ._tools.cli_common import env as _env
from ._tools.cli_issuer import add_issuer, cmd_keys_list, cmd_keys_retire, cmd_keys_rotate
from ._tools.cli_verify import add_verify
from ._version import __version__

if TYPE_CHECKING:
    from ._sansio.errors import TokenRequestError
    from .client._dpop import DPoPSyncSender

__all__ = ["build_parser", "main"]


# -- token ----------------------------------------------------------------


def _refusal(exc: TokenRequestError, status: int) -> str:
    """Why the token endpoint refused: its OAuth2 error, else its status's reason."""
    from http import HTTPStatus

    if exc.upstream_error:
        return f"{exc.upstream_error}: {exc.error_description or ''}".rstrip(": ")
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "unexpected response"


def cmd_token(args: argparse.Namespace) -> int:
    """Fetch a client-credentials access token and print it.

    The request is the caller side's own (``m2m_guard.client``): the same
    body, the same checks of the answer, the same deadline.
    """
    from dataclasses import replace

    from ._sansio.errors import ConfigurationError, TokenRequestError
    from .client._auth import configure
    from .client._sync import request_token

    url = args.url or _env("TOKEN_URL")
    client_id = args.client_id or _env("CLIENT_ID")
    client_secret = args.client_secret or _env("CLIENT_SECRET")
    if not (url and client_id and client_secret):
        raise UsageError("token needs --url, --client-id and --client-secret")
    params: dict[str, str] = {}
    for claim in args.claim:
        name, sep, value = claim.partition("=")
        if not sep or not name:
            raise UsageError(f"--claim wants NAME=VALUE, not {claim!r}")
        params[name] = value
    try:
        config = configure(
            url,
            client_id,
            client_secret,
            scopes=None if args.scope is None else " ".join(args.scope),
            auth_method="client_secret_post",
            extra_params=params,
            timeout=args.timeout,
        )
        sender = _dpop_sender(args, config.deadline)
        if sender is not None:
            config = replace(config, token_type="dpop")  # noqa: S106 - RFC 9449 §5
        token = request_token(config, sender=sender)
    except ConfigurationError as exc:
        raise CLIError(str(exc)) from exc
    except TokenRequestError as exc:
        status = exc.http_status
        if status is None:
            raise CLIError(f"cannot reach {url}: {exc.__cause__}") from exc
        if status != 200:
            raise CLIError(
                f"token request refused (HTTP {status}): {_refusal(exc, status)}"
            ) from exc
        raise CLIError("the token endpoint did not answer with an access_token") from exc
    print(json.dumps(token.response, indent=2) if args.json else token.value)
    return 0


def _dpop_sender(args: argparse.Namespace, deadline: float) -> DPoPSyncSender | None:
    """With ``--dpop-key``, a sender whose token requests prove that key (RFC 9449 §5)."""
    if args.dpop_key is None:
        if args.create_key:
            raise UsageError("--create-key goes with --dpop-key FILE")
        return None
    from .client._dpop import DPoPSigner, DPoPSyncSender
    from .client._dpop_key import DPoPKey

    key = DPoPKey.load(args.dpop_key, create=args.create_key)
    print(f"bound to DPoP key {key.thumbprint} ({args.dpop_key})", file=sys.stderr)
    return DPoPSyncSender(DPoPSigner(key), None, deadline)


# -- demo -----------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    """Run Stytch's M2M guide end to end against a local issuer and API."""
    require_issuer_extra()
    from ._tools.demo import run_demo

    return run_demo(sys.stdout)


# -- wiring ---------------------------------------------------------------


def _add_keys(commands: Any) -> None:
    parser = commands.add_parser(
        "keys",
        help="rotate or retire the issuer's signing keys",
        description="Manage signing keys.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    rotate = actions.add_parser(
        "rotate", help="sign with a new key", description=cmd_keys_rotate.__doc__
    )
    _add_db(rotate)
    rotate.add_argument(
        "--grace",
        type=seconds,
        default=None,
        metavar="SECONDS",
        help="how long the old key stays in the JWKS (default: one day)",
    )
    rotate.set_defaults(func=cmd_keys_rotate)
    retire = actions.add_parser(
        "retire", help="drop old keys from the JWKS", description=cmd_keys_retire.__doc__
    )
    _add_db(retire)
    retire.add_argument("--kid", help="retire only this key (default: every old key)")
    retire.set_defaults(func=cmd_keys_retire)
    listing = actions.add_parser("list", help="show the keys", description=cmd_keys_list.__doc__)
    _add_db(listing)
    listing.set_defaults(func=cmd_keys_list)


def _add_token(commands: Any) -> None:
    parser = commands.add_parser(
        "token",
        help="fetch a client-credentials access token",
        description="POST a client_credentials grant and print the access token.",
    )
    parser.add_argument("--url", help="token endpoint (or $M2M_GUARD_TOKEN_URL)")
    parser.add_argument("--client-id", help="client id (or $M2M_GUARD_CLIENT_ID)")
    parser.add_argument("--client-secret", help="client secret (or $M2M_GUARD_CLIENT_SECRET)")
    parser.add_argument("--scope", action="append", help="scope(s) to request; repeatable")
    parser.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra token request parameter (the issuer mints it only through its claims template)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds (default: 10)")
    parser.add_argument("--json", action="store_true", help="print the whole JSON response")
    parser.add_argument(
        "--dpop-key",
        metavar="FILE",
        help="ask for a DPoP-bound token (RFC 9449), proving this PEM private key",
    )
    parser.add_argument(
        "--create-key",
        action="store_true",
        help="with --dpop-key: create the key file (ES256, mode 0600) if it does not exist",
    )
    parser.set_defaults(func=cmd_token)


def _add_demo(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="run Stytch's M2M guide end to end on 127.0.0.1",
        description=cmd_demo.__doc__,
    )
    parser.set_defaults(func=cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Verify, issue and inspect machine-to-machine (M2M) JWTs."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    add_issuer(commands)
    _add_keys(commands)
    add_clients(commands)
    _add_token(commands)
    add_verify(commands)
    _add_demo(commands)
    return parser


def _describe(exc: Exception) -> str:
    """Our own errors speak for themselves; others are named, as they are bugs."""
    message = " ".join(str(exc).split())
    if isinstance(exc, (CLIError, OSError)) or type(exc).__module__.startswith("m2m_guard"):
        return message
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        status: int = args.func(args)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line, never a traceback
        # inert: messages may quote what a remote endpoint said (one line, no escapes).
        print(f"{PROG}: error: {inert(_describe(exc))}", file=sys.stderr)
        return exit_status(exc)
    return status
