"""Where ``m2m-guard clients`` sends its calls: a running issuer, or its database.

Both targets answer with Stytch's wire shapes (the ``m2m_client`` object,
a search page), so the command formats one kind of answer. A refusal (a
4xx, an unknown client) is a ``CLIError`` (exit 1); an unusable target is a
``UsageError`` (exit 2).

* :class:`HTTPTarget` calls Stytch's M2M management API with the project's
  HTTP Basic credentials: ``--issuer URL --project-id ID --secret S`` (or
  ``$M2M_GUARD_ISSUER_URL``, ``$M2M_GUARD_PROJECT_ID``,
  ``$M2M_GUARD_PROJECT_SECRET``). It works against the local issuer, and
  against any service that speaks the same API.
* :class:`DatabaseTarget` opens the local issuer's SQLite file (``--db``)
  and calls :class:`~m2m_guard.issuer.LocalIssuer` in-process; a running
  issuer on the same file sees the change at once.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from .cli_common import DEFAULT_DB, CLIError, UsageError, env, open_existing

__all__ = ["DatabaseTarget", "HTTPTarget", "Target", "add_target", "target_for"]

T = TypeVar("T")


class Target(Protocol):
    """The management calls, answered in Stytch's wire shapes."""

    def create(self, fields: dict[str, Any]) -> dict[str, Any]: ...
    def search(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def get(self, client_id: str) -> dict[str, Any]: ...
    def update(self, client_id: str, fields: dict[str, Any]) -> dict[str, Any]: ...
    def delete(self, client_id: str) -> None: ...
    def rotate(self, client_id: str, step: str) -> dict[str, Any]: ...
    def close(self) -> None: ...


class HTTPTarget:
    """Stytch's management API of a running issuer, over HTTP."""

    def __init__(self, base_url: str, project_id: str, secret: str, timeout: float) -> None:
        from m2m_guard._http import httpx

        self._httpx = httpx
        try:
            self._client = httpx.Client(
                base_url=base_url.rstrip("/"),
                auth=(project_id, secret),
                timeout=timeout,
                follow_redirects=False,
            )
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise UsageError(f"--issuer {base_url!r} is not a usable URL: {exc}") from exc
        self._where = base_url

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        httpx = self._httpx
        headers = {} if method == "GET" else {"content-type": "application/json"}
        try:
            response = self._client.request(
                method, path, json=body if method != "GET" else None, headers=headers
            )
        except httpx.UnsupportedProtocol as exc:
            raise UsageError(f"--issuer {self._where!r} must be an http(s) URL") from exc
        except httpx.HTTPError as exc:
            raise CLIError(f"cannot reach {self._where}: {exc}") from exc
        try:
            answer = response.json()
        except (ValueError, RecursionError):
            answer = None
        if response.status_code != 200:
            raise CLIError(_refusal(response.status_code, answer, response.reason_phrase))
        if not isinstance(answer, dict):
            raise CLIError(f"{self._where} did not answer with a JSON object")
        return answer

    @staticmethod
    def _one(answer: dict[str, Any]) -> dict[str, Any]:
        client = answer.get("m2m_client")
        if not isinstance(client, dict):
            raise CLIError("the issuer's answer has no m2m_client object")
        return client

    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        return self._one(self._call("POST", "/v1/m2m/clients", fields))

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/v1/m2m/clients/search", body)

    def get(self, client_id: str) -> dict[str, Any]:
        return self._one(self._call("GET", _path(client_id)))

    def update(self, client_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        return self._one(self._call("PUT", _path(client_id), fields))

    def delete(self, client_id: str) -> None:
        self._call("DELETE", _path(client_id), {})

    def rotate(self, client_id: str, step: str) -> dict[str, Any]:
        suffix = {"start": "/start", "complete": "", "cancel": "/cancel"}[step]
        return self._one(self._call("POST", f"{_path(client_id)}/secrets/rotate{suffix}", {}))

    def close(self) -> None:
        self._client.close()


def _path(client_id: str) -> str:
    return f"/v1/m2m/clients/{quote(client_id, safe='')}"


def _refusal(status: int, answer: object, reason: str) -> str:
    """One line from Stytch's error body (``error_type``, ``error_message``)."""
    what = "not found" if status == 404 else "refused"
    if isinstance(answer, dict) and "error_message" in answer:
        return f"{what} (HTTP {status}): {answer.get('error_type', '')}: {answer['error_message']}"
    return f"{what} (HTTP {status}): {reason or 'unexpected response'}"


class DatabaseTarget:
    """The local issuer's database, in-process."""

    def __init__(self, db: str) -> None:
        self._issuer = open_existing(db)

    def _do(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        from m2m_guard.issuer import IssuerError, NotFoundError

        try:
            return call(*args, **kwargs)
        except IssuerError as exc:
            what = "not found" if isinstance(exc, NotFoundError) else "refused"
            raise CLIError(f"{what}: {exc.error_type}: {exc.message}") from exc

    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        return self._do(self._issuer.create_client, **fields).to_json()

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._do(self._issuer.search_clients, **body).to_json()

    def get(self, client_id: str) -> dict[str, Any]:
        return self._do(self._issuer.get_client, client_id).to_json()

    def update(self, client_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        return self._do(self._issuer.update_client, client_id, **fields).to_json()

    def delete(self, client_id: str) -> None:
        self._do(self._issuer.delete_client, client_id)

    def rotate(self, client_id: str, step: str) -> dict[str, Any]:
        issuer = self._issuer
        if step == "start":
            return self._do(issuer.start_secret_rotation, client_id).to_json()
        finish = (
            issuer.complete_secret_rotation if step == "complete" else issuer.cancel_secret_rotation
        )
        return self._do(finish, client_id).to_json()

    def close(self) -> None:
        self._issuer.close()


def target_for(args: argparse.Namespace) -> Target:
    """``--issuer`` (or ``$M2M_GUARD_ISSUER_URL``) means HTTP; otherwise the database."""
    if args.issuer and args.db:
        raise UsageError("--issuer and --db are two targets; pick one")
    url = None if args.db else args.issuer or env("ISSUER_URL")
    if url is None:
        if args.project_id or args.secret:
            raise UsageError("--project-id and --secret go with --issuer URL")
        return DatabaseTarget(args.db or env("ISSUER_DB") or DEFAULT_DB)
    project_id = args.project_id or env("PROJECT_ID")
    secret = args.secret or env("PROJECT_SECRET")
    if not (project_id and secret):
        raise UsageError(
            "--issuer needs the project's --project-id and --secret "
            "(or $M2M_GUARD_PROJECT_ID and $M2M_GUARD_PROJECT_SECRET)"
        )
    return HTTPTarget(url, project_id, secret, args.timeout)


def add_target(parser: argparse.ArgumentParser) -> None:
    """The options that choose the target."""
    group = parser.add_argument_group("target (a running issuer, or its database)")
    group.add_argument(
        "--issuer", metavar="URL", help="a running issuer's base URL (or $M2M_GUARD_ISSUER_URL)"
    )
    group.add_argument("--project-id", help="with --issuer: the project (or $M2M_GUARD_PROJECT_ID)")
    group.add_argument(
        "--secret", help="with --issuer: the project secret (or $M2M_GUARD_PROJECT_SECRET)"
    )
    group.add_argument(
        "--db",
        metavar="PATH",
        help=f"the issuer's database instead (default without --issuer: "
        f"$M2M_GUARD_ISSUER_DB or ./{DEFAULT_DB})",
    )
    group.add_argument("--timeout", type=float, default=10.0, help="HTTP seconds (default: 10)")
