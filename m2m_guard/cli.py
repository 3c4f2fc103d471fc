"""The ``m2m-guard`` command line.

::

    m2m-guard issuer [--host H] [--port P] [--db PATH] [--project-id ID] [--project-secret S]
                     [--public-url URL] [--issuer-mode stytch|url] [--claims-template FILE]
    m2m-guard keys rotate [--db PATH] [--grace SECONDS]
    m2m-guard keys retire [--db PATH] [--kid KID]
    m2m-guard keys list [--db PATH]
    m2m-guard token --url TOKEN_URL --client-id ID --client-secret SECRET [--scope S ...]
    m2m-guard verify TOKEN [--stytch-project ID [--environment E] [--b2b]
                            | --issuer ISS [--jwks-url URL | --jwks FILE] --audience AUD]
                           [--scope S ...] [--algorithm A ...] [--leeway S]
    m2m-guard demo

Each subcommand is one ``cmd_*`` function taking the parsed arguments and
returning an exit status; :func:`build_parser` wires them up and
:func:`main` turns any failure into one line on stderr (exit 1; 2 for usage
errors, 130 on Ctrl+C). Heavy imports (Starlette, uvicorn, httpx) happen
inside the subcommand that needs them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from types import FrameType
from typing import TYPE_CHECKING, Any

from ._text import inert
from ._version import __version__

if TYPE_CHECKING:
    from ._sansio.errors import TokenRequestError
    from ._tools.server import ServerThread
    from .issuer import LocalIssuer

__all__ = ["build_parser", "main"]

DEFAULT_DB = "m2m-guard-issuer.db"
PROG = "m2m-guard"


class CLIError(Exception):
    """A failure reported as one line on stderr."""


def _env(name: str) -> str | None:
    return os.environ.get(f"M2M_GUARD_{name}") or None


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")


# -- issuer ---------------------------------------------------------------


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _wait_for_shutdown(server: ServerThread) -> None:
    """Block until Ctrl+C / SIGTERM or the server dies (tests replace this)."""
    try:
        while not server.wait(0.5):
            pass
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)


def _banner(server: ServerThread, issuer: LocalIssuer, db: str, base: str) -> str:
    pid = issuer.project_id
    return "\n".join(
        [
            f"m2m-guard issuer listening on {server.base_url}",
            *([f"  public URL:      {base}"] if base != server.base_url else []),
            f"  issuer (iss):    {issuer.issuer}",
            f"  project id:      {pid}",
            f"  project secret:  {issuer.project_secret}",
            f"  token endpoint:  {base}/v1/public/{pid}/oauth2/token",
            f"  jwks:            {base}/v1/sessions/jwks/{pid}",
            f"  database:        {db}",
            f'  stytch SDK:      stytch.Client(project_id="{pid}", secret=..., '
            f'environment="{base}")',
            "Press Ctrl+C to stop.",
        ]
    )


def _require_issuer_extra() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise CLIError(
            f"the issuer needs the 'issuer' extra ({exc.name} is missing): "
            "pip install 'm2m-guard[issuer]'"
        ) from exc


def cmd_issuer(args: argparse.Namespace) -> int:
    """Serve the local Stytch-compatible issuer until interrupted."""
    _require_issuer_extra()
    from ._tools.server import ServerThread
    from .issuer import BadRequestError, LocalIssuer, create_app

    template = _read_template(args.claims_template)
    server = ServerThread(host=args.host, port=args.port, log_level=args.log_level)
    try:
        # Bind first: with --port 0 the URL (and so a URL-mode iss) is known
        # only once the OS picked the port.
        public = (args.public_url or server.bind()).rstrip("/")
        issuer = LocalIssuer(
            args.db,
            project_id=args.project_id,
            project_secret=args.project_secret,
            issuer_url=public if args.issuer_mode == "url" else None,
        )
    except BaseException:
        server.stop()
        raise
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if in_main else None
    try:
        if template is not None:
            try:
                issuer.set_m2m_template(template)
            except BadRequestError as exc:
                raise CLIError(f"--claims-template {args.claims_template}: {exc.message}") from exc
        server.app = create_app(issuer=issuer, base_url=public)
        with server:
            print(_banner(server, issuer, args.db, public), flush=True)
            _wait_for_shutdown(server)
    finally:
        server.stop()
        if in_main:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        issuer.close()
    return 0


def _read_template(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CLIError(f"cannot read --claims-template {path!r}: {exc}") from exc


# -- keys -----------------------------------------------------------------


def _open_existing(db: str) -> LocalIssuer:
    _require_issuer_extra()
    from .issuer import LocalIssuer

    if not os.path.isfile(db):
        raise CLIError(f"no issuer database at {db!r} (start `{PROG} issuer --db {db}` first)")
    return LocalIssuer(db)


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """Make a new signing key; the old one stays published for the grace period."""
    with _open_existing(args.db) as issuer:
        old = next(key for key in issuer.signing_keys() if key.is_signing)
        kid = issuer.rotate_keys(args.grace)
        retire_at = next(key.retire_at for key in issuer.signing_keys() if key.kid == old.kid)
    print(f"new signing key: {kid}")
    print(f"previous key {old.kid} stays in the JWKS until {_when(retire_at or 0)}")
    return 0


def cmd_keys_retire(args: argparse.Namespace) -> int:
    """Remove old keys from the JWKS now."""
    with _open_existing(args.db) as issuer:
        retired = issuer.retire_keys(args.kid)
    print(f"retired {len(retired)} key(s)" + "".join(f"\n  {kid}" for kid in retired))
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    """Show the key ring."""
    with _open_existing(args.db) as issuer:
        keys = issuer.signing_keys()
    for key in keys:
        state = "signing" if key.retire_at is None else f"published until {_when(key.retire_at)}"
        print(f"{key.kid}  created {_when(key.created_at)}  {state}")
    return 0


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
    from ._sansio.errors import ConfigurationError, TokenRequestError
    from .client._auth import configure
    from .client._sync import request_token

    url = args.url or _env("TOKEN_URL")
    client_id = args.client_id or _env("CLIENT_ID")
    client_secret = args.client_secret or _env("CLIENT_SECRET")
    if not (url and client_id and client_secret):
        raise CLIError("token needs --url, --client-id and --client-secret")
    params: dict[str, str] = {}
    for claim in args.claim:
        name, sep, value = claim.partition("=")
        if not sep or not name:
            raise CLIError(f"--claim wants NAME=VALUE, not {claim!r}")
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
        token = request_token(config)
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


# -- verify ---------------------------------------------------------------


def _verifier_for(args: argparse.Namespace) -> Any:
    from ._verifier import Verifier

    extra: dict[str, Any] = {"leeway": args.leeway}
    if args.algorithm:
        extra["algorithms"] = args.algorithm
    if args.stytch_project:
        return Verifier.for_stytch(
            args.stytch_project, environment=args.environment, b2b=args.b2b, **extra
        )
    if args.issuer:
        if not args.audience:
            raise CLIError("--issuer needs --audience")
        if args.jwks:
            try:
                with open(args.jwks, encoding="utf-8") as handle:
                    extra["jwks"] = handle.read()
            except OSError as exc:
                raise CLIError(f"cannot read {args.jwks}: {exc.strerror}") from exc
        elif args.jwks_url:
            extra["jwks_url"] = args.jwks_url
        else:
            extra["discovery_url"] = args.issuer
        return Verifier(issuer=args.issuer, audience=args.audience, **extra)
    if any(name.startswith("M2M_GUARD_") and name != "M2M_GUARD_HTTP" for name in os.environ):
        return Verifier.from_env(**extra)
    raise CLIError("say whose token it is: --stytch-project ID, or --issuer and --audience")


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify an access token and explain each check; exit 0 if valid, 1 if not."""
    from ._tools.explain import explain

    raw = sys.stdin.read() if args.token == "-" else args.token  # noqa: S105 - "-" means stdin
    scheme, _, rest = raw.strip().partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else raw.strip()
    with _verifier_for(args) as verifier:
        explanation = explain(verifier, token, args.scope or ())
    print(explanation.render())
    return 0 if explanation.valid else 1


# -- demo -----------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    """Run Stytch's M2M guide end to end against a local issuer and API."""
    _require_issuer_extra()
    from ._tools.demo import run_demo

    return run_demo(sys.stdout)


# -- wiring ---------------------------------------------------------------


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=_env("ISSUER_DB") or DEFAULT_DB,
        help=f"issuer SQLite database (default: $M2M_GUARD_ISSUER_DB or ./{DEFAULT_DB})",
    )


def _add_issuer(commands: Any) -> None:
    parser = commands.add_parser(
        "issuer",
        help="run a local Stytch-compatible M2M issuer",
        description="Serve Stytch's M2M API (clients, tokens, JWKS) from a local SQLite file.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port, 0 for any (default: 8787)")
    _add_db(parser)
    parser.add_argument("--project-id", help="project id for a new database (default: generated)")
    parser.add_argument("--project-secret", help="project secret (default: generated, then kept)")
    parser.add_argument(
        "--public-url",
        help="the URL clients use, e.g. behind a proxy; discovery metadata names it "
        "(default: http://HOST:PORT as bound; the Host header is never used)",
    )
    parser.add_argument(
        "--issuer-mode",
        choices=["stytch", "url"],
        default="stytch",
        help="iss of minted tokens: stytch.com/PROJECT_ID as Stytch's own domains "
        "(default), or the public URL as a Stytch custom domain (discoverable)",
    )
    parser.add_argument(
        "--claims-template",
        metavar="FILE",
        help="set the project's M2M custom-claims template from FILE "
        '(e.g. {"tenant": {{ request.tenant_id }}}); extra token request '
        "parameters become claims only through it",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="uvicorn's log level (default: warning)",
    )
    parser.set_defaults(func=cmd_issuer)


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
        type=float,
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
    parser.set_defaults(func=cmd_token)


def _add_verify(commands: Any) -> None:
    parser = commands.add_parser(
        "verify",
        help="verify a token and explain each check",
        description=f"{cmd_verify.__doc__} Without --stytch-project or --issuer, "
        "M2M_GUARD_* variables configure it.",
    )
    parser.add_argument("token", help="the access token (or - to read it from stdin)")
    stytch = parser.add_argument_group("a Stytch project")
    stytch.add_argument("--stytch-project", metavar="ID", help="Stytch project id")
    stytch.add_argument(
        "--environment",
        default=None,
        help="test, live or a base URL (default: inferred from the project id)",
    )
    stytch.add_argument("--b2b", action="store_true", help="a Stytch B2B project")
    generic = parser.add_argument_group("any other issuer")
    generic.add_argument("--issuer", help="the expected iss")
    generic.add_argument("--audience", action="append", help="an accepted aud; repeatable")
    generic.add_argument("--jwks-url", help="JWKS URL (default: discovered from the issuer)")
    generic.add_argument("--jwks", metavar="FILE", help="a JWKS file instead (offline)")
    parser.add_argument("--scope", action="append", help="a required scope; repeatable")
    parser.add_argument("--algorithm", action="append", help="an allowed alg; repeatable")
    parser.add_argument("--leeway", type=float, default=0.0, help="clock skew, seconds")
    parser.set_defaults(func=cmd_verify)


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
    _add_issuer(commands)
    _add_keys(commands)
    _add_token(commands)
    _add_verify(commands)
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
        return 1
    return status
