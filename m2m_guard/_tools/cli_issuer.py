"""``m2m-guard issuer`` (serve the local issuer) and ``m2m-guard keys`` (its key ring)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

from m2m_guard._presets import stytch_jwks_url, stytch_token_url

from .cli_common import (
    PROG,
    UsageError,
    add_db,
    duration,
    open_existing,
    require_issuer_extra,
    when,
)

if TYPE_CHECKING:
    from m2m_guard.issuer import LocalIssuer

    from .server import ServerThread

__all__ = ["add_issuer", "cmd_keys_list", "cmd_keys_retire", "cmd_keys_rotate"]


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
            f"{PROG} issuer listening on {server.base_url}",
            *([f"  public URL:      {base}"] if base != server.base_url else []),
            f"  issuer (iss):    {issuer.issuer}",
            f"  project id:      {pid}",
            f"  project secret:  {issuer.project_secret}",
            f"  token endpoint:  {stytch_token_url(base, pid)}",
            f"  jwks:            {stytch_jwks_url(base, pid)}",
            f"  database:        {db}",
            f'  stytch SDK:      stytch.Client(project_id="{pid}", secret=..., '
            f'environment="{base}")',
            f"  manage clients:  {PROG} clients list --issuer {base} --project-id {pid} "
            "--secret ...",
            "Press Ctrl+C to stop.",
        ]
    )


def _read_template(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read --claims-template {path!r}: {exc}") from exc


def cmd_issuer(args: argparse.Namespace) -> int:
    """Serve the local Stytch-compatible issuer until interrupted."""
    require_issuer_extra()
    from m2m_guard.issuer import BadRequestError, IssuerConfigError, LocalIssuer, create_app

    from .server import ServerThread

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
    except IssuerConfigError as exc:
        server.stop()
        raise UsageError(str(exc)) from exc
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
                raise UsageError(
                    f"--claims-template {args.claims_template}: {exc.message}"
                ) from exc
        server.app = create_app(
            issuer=issuer,
            base_url=public,
            dpop_nonces=args.dpop_nonces,
            mtls_cert_header=args.mtls_cert_header,
        )
        with server:
            print(_banner(server, issuer, args.db, public), flush=True)
            _wait_for_shutdown(server)
    finally:
        server.stop()
        if in_main:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        issuer.close()
    return 0


# -- keys -----------------------------------------------------------------


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """Make a new signing key; the old one stays published for the grace period."""
    with open_existing(args.db) as issuer:
        old = next(key for key in issuer.signing_keys() if key.is_signing)
        kid = issuer.rotate_keys(args.grace)
        retire_at = next(key.retire_at for key in issuer.signing_keys() if key.kid == old.kid)
    print(f"new signing key: {kid}")
    print(f"previous key {old.kid} stays in the JWKS until {when(retire_at or 0)}")
    return 0


def cmd_keys_retire(args: argparse.Namespace) -> int:
    """Remove old keys from the JWKS now."""
    with open_existing(args.db) as issuer:
        retired = issuer.retire_keys(args.kid)
    print(f"retired {len(retired)} key(s)" + "".join(f"\n  {kid}" for kid in retired))
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    """Show the key ring."""
    import time

    with open_existing(args.db) as issuer:
        keys = issuer.signing_keys()
    now = time.time()
    for key in keys:
        if key.retire_at is None:
            state = "signing"
        else:
            state = f"published until {when(key.retire_at)} ({_left(key.retire_at - now)})"
        print(f"{key.kid}  created {when(key.created_at)}  {state}")
    return 0


def _left(delta: float) -> str:
    return f"{duration(delta)} left" if delta > 0 else "due for retirement"


# -- wiring ---------------------------------------------------------------


def add_issuer(commands: Any) -> None:
    """The ``issuer`` command."""
    parser = commands.add_parser(
        "issuer",
        help="run a local Stytch-compatible M2M issuer",
        description="Serve Stytch's M2M API (clients, tokens, JWKS) from a local SQLite file.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port, 0 for any (default: 8787)")
    add_db(parser)
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
        "--dpop-nonces",
        action="store_true",
        help="DPoP token requests must carry a nonce the issuer hands out (RFC 9449 §8)",
    )
    parser.add_argument(
        "--mtls-cert-header",
        metavar="NAME",
        help="bind tokens to the client certificate a trusted mTLS proxy forwards in this "
        "header (e.g. X-Forwarded-Client-Cert); the proxy must strip it from clients",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="uvicorn's log level (default: warning)",
    )
    parser.set_defaults(func=cmd_issuer)
