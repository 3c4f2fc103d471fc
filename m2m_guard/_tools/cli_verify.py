"""``m2m-guard verify``: verify a token and explain each check."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from m2m_guard.events import Event, JWKSFetched

from .cli_common import UsageError, print_json

if TYPE_CHECKING:
    from m2m_guard._verifier import Verifier

__all__ = ["add_verify"]


class _FetchFailures(list[str]):
    """An ``on_event`` hook keeping why each key fetch failed."""

    def __call__(self, event: Event) -> None:
        if isinstance(event, JWKSFetched) and not event.ok:
            where = f" from {event.url}" if event.url else ""
            self.append(f"fetching keys{where} failed: {event.reason or 'no usable keys'}")


def _check_options(args: argparse.Namespace) -> None:
    """Options of one way to name the issuer must not be mixed with the other's."""
    if args.stytch_project and args.issuer:
        raise UsageError(
            "--stytch-project and --issuer are two ways to say whose token it is; pick one"
        )
    generic = [name for name in ("audience", "jwks_url", "jwks") if getattr(args, name)]
    if generic and not args.issuer:
        flags = ", ".join("--" + name.replace("_", "-") for name in generic)
        raise UsageError(f"{flags} go(es) with --issuer")
    stytch = [
        flag for flag, used in (("--environment", args.environment), ("--b2b", args.b2b)) if used
    ]
    if stytch and not args.stytch_project:
        raise UsageError(f"{', '.join(stytch)} go(es) with --stytch-project")
    if args.jwks and args.jwks_url:
        raise UsageError("give --jwks FILE or --jwks-url URL, not both")


def _verifier_for(
    args: argparse.Namespace, on_event: Any = None, *, dpop: bool = False
) -> Verifier:
    from m2m_guard._verifier import Verifier

    _check_options(args)
    extra: dict[str, Any] = {"leeway": args.leeway, "on_event": on_event}
    if dpop:
        extra["dpop"] = "allowed"
    if args.algorithm:
        extra["algorithms"] = args.algorithm
    if args.stytch_project:
        return Verifier.for_stytch(
            args.stytch_project, environment=args.environment, b2b=args.b2b, **extra
        )
    if args.issuer:
        if not args.audience:
            raise UsageError("--issuer needs --audience")
        if args.jwks:
            try:
                with open(args.jwks, encoding="utf-8") as handle:
                    extra["jwks"] = handle.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"cannot read {args.jwks}: {exc}") from exc
        elif args.jwks_url:
            extra["jwks_url"] = args.jwks_url
        else:
            extra["discovery_url"] = args.issuer
        return Verifier(issuer=args.issuer, audience=args.audience, **extra)
    if any(_sets_the_verifier(name) for name in os.environ):
        return Verifier.from_env(**extra)
    raise UsageError("say whose token it is: --stytch-project ID, or --issuer and --audience")


def _sets_the_verifier(name: str) -> bool:
    """An ``M2M_GUARD_*`` variable of ``Verifier.from_env``, not the CLI's or the seam's."""
    from m2m_guard._settings.environment import ELSEWHERE

    return name.startswith("M2M_GUARD_") and name[len("M2M_GUARD_") :] not in ELSEWHERE


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify an access token and explain each check; exit 0 if valid, 1 if not."""
    from .explain import explain

    if (args.method is not None or args.url is not None) and args.dpop is None:
        raise UsageError("--method and --url go with --dpop PROOF")
    if args.dpop is not None and args.url is None:
        raise UsageError("--dpop needs --url, the URL the proof was made for")
    raw = sys.stdin.read() if args.token == "-" else args.token  # noqa: S105 - "-" means stdin
    scheme, _, rest = raw.strip().partition(" ")
    token = rest.strip() if scheme.lower() in ("bearer", "dpop") else raw.strip()
    failures = _FetchFailures()
    request = None
    if args.dpop is not None:
        from .explain_dpop import request_for

        request = request_for(args.method or "GET", args.url, args.dpop.strip())
    with _verifier_for(args, failures, dpop=request is not None) as verifier:
        explanation = explain(
            verifier, token, args.scope or (), fetch_failures=failures, request=request
        )
    if request is not None:
        from .explain_dpop import explain_proof

        explain_proof(
            explanation,
            token,
            args.dpop.strip(),
            method=request.method,
            url=args.url,
            leeway=args.leeway,
        )
    if args.json:
        print_json(explanation.to_json())
    else:
        print(explanation.render())
    return 0 if explanation.valid else 1


def add_verify(commands: Any) -> None:
    """The ``verify`` command."""
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
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    dpop = parser.add_argument_group("a DPoP proof (RFC 9449) sent with the token")
    dpop.add_argument("--dpop", metavar="PROOF", help="the DPoP header's value; explain its checks")
    dpop.add_argument("--method", help="the request's method (default: GET)")
    dpop.add_argument("--url", help="the request's URL (the query is ignored)")
    parser.set_defaults(func=cmd_verify)
