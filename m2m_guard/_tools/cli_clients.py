"""``m2m-guard clients``: Stytch's M2M client management from the command line.

``create | list | get | update | delete | rotate-start | rotate | rotate-cancel``
against a running issuer over HTTP or against its database (see
:mod:`.cli_targets`). A new secret is printed exactly once: by ``create``
(the client secret) and by ``rotate-start`` (the next secret). Output is
for people by default and one JSON document with ``--json``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from m2m_guard._text import inert

from .cli_common import PROG, UsageError, print_json
from .cli_targets import Target, add_target, target_for

__all__ = ["PAGE_SIZE", "add_clients"]

#: Clients per search request (Stytch's maximum).
PAGE_SIZE = 1000
#: sender-constrained tokens: the client field and its name (RFC 9449 §5.2, RFC 8705 §3.4)
_BOUND = (
    ("dpop_bound_access_tokens", "DPoP proof"),
    ("tls_client_certificate_bound_access_tokens", "TLS client certificate"),
)


def _show(client: dict[str, Any]) -> list[str]:
    """A client's fields, one per line."""
    lines = [
        f"client_id:    {client.get('client_id', '')}",
        f"name:         {client.get('client_name', '')}",
        f"description:  {client.get('client_description', '')}",
        f"status:       {client.get('status', '')}",
        f"scopes:       {' '.join(client.get('scopes') or []) or '(none)'}",
        f"secret:       ...{client.get('client_secret_last_four', '')}",
    ]
    if client.get("next_client_secret_last_four"):
        lines.append(
            f"next secret:  ...{client['next_client_secret_last_four']} (rotation pending)"
        )
    if client.get("trusted_metadata"):
        lines.append(f"metadata:     {json.dumps(client['trusted_metadata'], sort_keys=True)}")
    bound = [name for field, name in _BOUND if client.get(field)]
    if bound:
        lines.append(f"tokens:       bound ({' and '.join(bound)} required)")
    return lines


def _out(lines: list[str]) -> None:
    # Names and metadata are whatever someone stored: no raw control reaches the terminal.
    print("\n".join(inert(line) for line in lines))


def _scopes(values: list[str] | None) -> list[str] | None:
    """Repeatable --scope, each may hold several space-separated scopes."""
    return None if values is None else [s for value in values for s in value.split()]


def _metadata(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"--metadata wants a JSON object: {exc}") from exc
    if not isinstance(value, dict):
        raise UsageError("--metadata wants a JSON object")
    return value


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    fields = {
        "client_name": args.name,
        "client_description": args.description,
        "scopes": _scopes(args.scope),
        "trusted_metadata": _metadata(args.metadata),
        "dpop_bound_access_tokens": args.dpop_bound,
        "tls_client_certificate_bound_access_tokens": args.mtls_bound,
    }
    if getattr(args, "status", None) is not None:
        fields["status"] = args.status
    if getattr(args, "new_client_id", None) is not None:
        fields["client_id"] = args.new_client_id
    return {name: value for name, value in fields.items() if value is not None}


def _positive(text: str) -> int:
    """An argparse type: an integer >= 1."""
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return int(text)


def _create(target: Target, args: argparse.Namespace) -> None:
    fields = _fields(args)
    fields.setdefault("scopes", [])
    client = target.create(fields)
    if args.json:
        print_json(client)
        return
    _out([*_show(client), f"client_secret: {client.get('client_secret', '')}"])
    print("The client secret is shown only now: store it.")


def _list(target: Target, args: argparse.Namespace) -> None:
    operands = []
    if args.scope:
        operands.append({"filter_name": "scopes", "filter_value": _scopes(args.scope)})
    if args.name:
        operands.append({"filter_name": "client_name", "filter_value": args.name})
    body: dict[str, Any] = {"limit": min(args.limit or PAGE_SIZE, PAGE_SIZE)}
    if operands:
        body["query"] = {"operator": "AND", "operands": operands}
    clients: list[dict[str, Any]] = []
    while True:
        page = target.search(body)
        clients.extend(page.get("m2m_clients") or [])
        cursor = (page.get("results_metadata") or {}).get("next_cursor")
        if not cursor or (args.limit and len(clients) >= args.limit):
            break
        body["cursor"] = cursor
    clients = clients[: args.limit] if args.limit else clients
    if args.json:
        print_json({"m2m_clients": clients})
        return
    if not clients:
        print("no clients")
        return
    width = [max(len(c.get(key) or "") for c in clients) for key in ("client_id", "status")]
    _out(
        [
            "  ".join(
                [
                    f"{c.get('client_id') or '':<{width[0]}}",
                    f"{c.get('status') or '':<{width[1]}}",
                    " ".join(c.get("scopes") or []) or "-",
                    c.get("client_name") or "",
                ]
            ).rstrip()
            for c in clients
        ]
    )


def _get(target: Target, args: argparse.Namespace) -> None:
    client = target.get(args.client_id)
    if args.json:
        print_json(client)
    else:
        _out(_show(client))


def _update(target: Target, args: argparse.Namespace) -> None:
    fields = _fields(args)
    client = target.update(args.client_id, fields)
    if args.json:
        print_json(client)
    else:
        _out(["updated", *_show(client)])


def _delete(target: Target, args: argparse.Namespace) -> None:
    target.delete(args.client_id)
    if args.json:
        print_json({"client_id": args.client_id, "deleted": True})
    else:
        _out([f"deleted {args.client_id} (tokens it holds stay valid until they expire)"])


def _rotate_start(target: Target, args: argparse.Namespace) -> None:
    client = target.rotate(args.client_id, "start")
    if args.json:
        print_json(client)
        return
    _out([*_show(client), f"next_client_secret: {client.get('next_client_secret', '')}"])
    print(
        "The next secret is shown only now: store it. Both secrets work until "
        f"`{PROG} clients rotate {args.client_id}` (complete) or `rotate-cancel`."
    )


def _rotate(step: str, done: str) -> Any:
    def action(target: Target, args: argparse.Namespace) -> None:
        client = target.rotate(args.client_id, step)
        if args.json:
            print_json(client)
        else:
            _out([done, *_show(client)])

    return action


_ACTIONS = {
    "create": _create,
    "list": _list,
    "get": _get,
    "update": _update,
    "delete": _delete,
    "rotate-start": _rotate_start,
    "rotate": _rotate("complete", "rotation complete: only the new secret works"),
    "rotate-cancel": _rotate("cancel", "rotation cancelled: only the old secret works"),
}


def cmd_clients(args: argparse.Namespace) -> int:
    """Run one ``clients`` action against its target."""
    if args.action in ("create", "update"):
        changes = _fields(args)  # a bad option is exit 2, whatever the target
        if args.action == "update" and not changes:
            raise UsageError(
                "update needs a change: --name, --description, --status, --scope, --metadata, "
                "--dpop-bound or --mtls-bound"
            )
    target = target_for(args)
    try:
        _ACTIONS[args.action](target, args)
    finally:
        target.close()
    return 0


def _add_changes(parser: argparse.ArgumentParser, *, create: bool) -> None:
    verb = "the" if create else "the new"
    parser.add_argument(
        "--scope",
        action="append",
        help=f"{verb} client's scope(s); repeatable, or space-separated",
    )
    parser.add_argument("--name", help=f"{verb} client_name")
    parser.add_argument("--description", help=f"{verb} client_description")
    parser.add_argument("--metadata", metavar="JSON", help=f"{verb} trusted_metadata (an object)")
    parser.add_argument(
        "--dpop-bound",
        action=argparse.BooleanOptionalAction,
        help="every token request must carry a DPoP proof; tokens are bound to its key",
    )
    parser.add_argument(
        "--mtls-bound",
        action=argparse.BooleanOptionalAction,
        help="tokens only over mutual TLS, bound to the client certificate",
    )


def add_clients(commands: Any) -> None:
    """The ``clients`` command and its actions."""
    parser = commands.add_parser(
        "clients",
        help="create, list, change, rotate and delete M2M clients",
        description="Manage M2M clients of a running issuer (--issuer URL, over Stytch's "
        "management API) or of its database (--db PATH).",
    )
    common = argparse.ArgumentParser(add_help=False)
    add_target(common)
    common.add_argument("--json", action="store_true", help="print JSON (for machines)")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", dest="action", required=True)

    def action(name: str, help_text: str, *, one: bool = True) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = actions.add_parser(
            name, help=help_text, description=help_text, parents=[common]
        )
        if one:
            sub.add_argument("client_id", help="the client's id")
        sub.set_defaults(func=cmd_clients)
        return sub

    create = action("create", "create a client; prints its secret, once", one=False)
    _add_changes(create, create=True)
    create.add_argument(
        "--client-id", dest="new_client_id", help="the client's id (default: generated)"
    )
    listing = action("list", "list clients (all pages)", one=False)
    listing.add_argument("--scope", action="append", help="only clients with this scope")
    listing.add_argument("--name", action="append", help="only clients with this client_name")
    listing.add_argument("--limit", type=_positive, help="at most this many clients")
    action("get", "show one client")
    update = action("update", "change a client's name, description, status, scopes or metadata")
    _add_changes(update, create=False)
    update.add_argument("--status", choices=["active", "inactive"], help="(de)activate it")
    action("delete", "delete a client")
    action("rotate-start", "start a secret rotation; prints the next secret, once")
    action("rotate", "complete the rotation: the next secret becomes the only one")
    action("rotate-cancel", "cancel the rotation: only the old secret keeps working")
