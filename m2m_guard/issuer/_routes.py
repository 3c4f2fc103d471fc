"""Stytch's M2M client management API over HTTP (project Basic auth).

| call            | route                                                  |
|-----------------|--------------------------------------------------------|
| create          | POST   /v1/m2m/clients                                 |
| search          | POST   /v1/m2m/clients/search                          |
| get             | GET    /v1/m2m/clients/{client_id}                     |
| update          | PUT or POST /v1/m2m/clients/{client_id}                |
| delete          | DELETE /v1/m2m/clients/{client_id}                     |
| rotate start    | POST   /v1/m2m/clients/{client_id}/secrets/rotate/start  |
| rotate complete | POST   /v1/m2m/clients/{client_id}/secrets/rotate        |
| rotate cancel   | POST   /v1/m2m/clients/{client_id}/secrets/rotate/cancel |
| M2M template    | GET or PUT /pwa/v3/projects/{project_id}/environments/{env}/jwt_templates/M2M |

Every call authenticates with the project's Basic credentials. Every call
but a GET must say ``Content-Type: application/json``, with a body or
without one (as Stytch's SDKs always do): an HTML form or a ``text/plain``
fetch, which browsers send cross-site without a preflight, can then never
change state with credentials the browser cached. Unknown body fields are
refused (a typo must not silently do nothing); a ``client_id`` in the body,
which Stytch's SDKs send, must match the path.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._errors import BadRequestError, NotFoundError, UnauthorizedError
from ._http import (
    basic_credentials,
    endpoint,
    is_json,
    media_type,
    ok,
    parse_json_object,
    read_body,
)
from ._local import LocalIssuer

__all__ = ["ManagementRoutes", "run_blocking"]

T = TypeVar("T")

#: sender-constrained tokens, per client (RFC 9449 §5.2, RFC 8705 §3.4)
_BINDINGS = ("dpop_bound_access_tokens", "tls_client_certificate_bound_access_tokens")
_CREATE = frozenset(
    {
        "scopes",
        "client_id",
        "client_secret",
        "client_name",
        "client_description",
        "trusted_metadata",
        *_BINDINGS,
    }
)
_UPDATE = frozenset(
    {"client_name", "client_description", "status", "scopes", "trusted_metadata", *_BINDINGS}
)
_SEARCH = frozenset({"cursor", "limit", "query"})
_TEMPLATE = frozenset({"template_content", "custom_audience", "template_type"})
_ENVIRONMENTS = ("test", "live")
_NONE: frozenset[str] = frozenset()


async def run_blocking(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run SQLite / scrypt work in a worker thread, off the event loop."""
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))


class ManagementRoutes:
    """The client management endpoints of one :class:`LocalIssuer`."""

    def __init__(self, issuer: LocalIssuer, *, max_body_bytes: int) -> None:
        self.issuer = issuer
        self.max_body_bytes = max_body_bytes

    def routes(self) -> list[BaseRoute]:
        """Starlette routes; ``search`` precedes the ``{client_id}`` routes."""
        base = "/v1/m2m/clients"
        one = base + "/{client_id}"
        return [
            Route(base, endpoint()(self.create), methods=["POST"]),
            Route(base + "/search", endpoint()(self.search), methods=["POST"]),
            Route(one, endpoint()(self.get), methods=["GET"]),
            Route(one, endpoint()(self.update), methods=["PUT", "POST"]),
            Route(one, endpoint()(self.delete), methods=["DELETE"]),
            Route(one + "/secrets/rotate/start", endpoint()(self.rotate_start), methods=["POST"]),
            Route(one + "/secrets/rotate", endpoint()(self.rotate_complete), methods=["POST"]),
            Route(one + "/secrets/rotate/cancel", endpoint()(self.rotate_cancel), methods=["POST"]),
            Route(
                "/pwa/v3/projects/{project_id}/environments/{environment}/jwt_templates/M2M",
                endpoint()(self.template),
                methods=["GET", "PUT"],
            ),
        ]

    def _authorize(self, request: Request) -> None:
        try:
            credentials = basic_credentials(request)
        except BadRequestError:
            credentials = None
        expected = (self.issuer.project_id, self.issuer.project_secret)
        if credentials is None or not (
            credentials[0] == expected[0]
            and hmac.compare_digest(credentials[1].encode(), expected[1].encode())
        ):
            raise UnauthorizedError(
                "Unauthorized credentials: use HTTP Basic with the project id and secret."
            )

    async def _body(
        self, request: Request, allowed: frozenset[str], *, echo: str = "client_id"
    ) -> dict[str, Any]:
        self._authorize(request)
        if not is_json(media_type(request)):
            # Browsers send text/plain and form bodies (empty ones too)
            # cross-origin without a preflight; with cached Basic credentials
            # that would be CSRF. A JSON media type forces a preflight.
            raise BadRequestError(
                "State-changing requests must say Content-Type: application/json "
                "(with or without a body).",
                error_type="invalid_content_type",
            )
        body = parse_json_object(await read_body(request, self.max_body_bytes))
        unknown = sorted(set(body) - allowed - {echo})
        if unknown:
            raise BadRequestError(f"Unknown field(s): {', '.join(unknown)}.")
        path_id = request.path_params.get("client_id")
        if path_id is not None and body.get("client_id", path_id) != path_id:
            raise BadRequestError("The client_id in the body does not match the one in the path.")
        return body

    async def create(self, request: Request) -> Response:
        """Create a client; the response is the only time its secret is shown."""
        body = await self._body(request, _CREATE)
        if "scopes" not in body:
            raise BadRequestError("scopes is required.")
        created = await run_blocking(self.issuer.create_client, **{k: body.get(k) for k in _CREATE})
        return ok({"m2m_client": created.to_json()})

    async def search(self, request: Request) -> Response:
        """Search clients with cursor pagination."""
        body = await self._body(request, _SEARCH)
        page = await run_blocking(
            self.issuer.search_clients,
            cursor=body.get("cursor"),
            limit=body.get("limit"),
            query=body.get("query"),
        )
        return ok(page.to_json())

    async def template(self, request: Request) -> Response:
        """Read (GET) or replace (PUT) the project's M2M custom-claims template."""
        self._authorize(request)
        params = request.path_params
        if params["project_id"] != self.issuer.project_id or params["environment"] not in (
            _ENVIRONMENTS
        ):
            raise NotFoundError("No such project or environment.", error_type="project_not_found")
        if request.method == "GET":
            template = await run_blocking(self.issuer.get_m2m_template)
        else:
            body = await self._body(request, _TEMPLATE, echo="template_type")
            if body.get("template_type", "M2M") != "M2M":
                raise BadRequestError("template_type must be 'M2M' on this route.")
            template = await run_blocking(
                self.issuer.set_m2m_template,
                body.get("template_content", ""),
                body.get("custom_audience"),
            )
        return ok({"jwt_template": template.to_json()})

    async def get(self, request: Request) -> Response:
        """Read one client (the Python SDK repeats the id as a query parameter)."""
        self._authorize(request)
        client_id = request.path_params["client_id"]
        if request.query_params.get("client_id", client_id) != client_id:
            raise BadRequestError("The client_id query parameter does not match the path.")
        client = await run_blocking(self.issuer.get_client, client_id)
        return ok({"m2m_client": client.to_json()})

    async def update(self, request: Request) -> Response:
        """Change name, description, status, scopes or trusted_metadata."""
        body = await self._body(request, _UPDATE)
        client = await run_blocking(
            self.issuer.update_client,
            request.path_params["client_id"],
            **{k: body.get(k) for k in _UPDATE},
        )
        return ok({"m2m_client": client.to_json()})

    async def delete(self, request: Request) -> Response:
        """Delete a client; its tokens stay valid until they expire."""
        await self._body(request, _NONE)
        client_id = request.path_params["client_id"]
        await run_blocking(self.issuer.delete_client, client_id)
        return ok({"client_id": client_id})

    async def rotate_start(self, request: Request) -> Response:
        """Start a secret rotation; the next secret is shown only here."""
        await self._body(request, _NONE)
        rotating = await run_blocking(
            self.issuer.start_secret_rotation, request.path_params["client_id"]
        )
        return ok({"m2m_client": rotating.to_json()})

    async def rotate_complete(self, request: Request) -> Response:
        """Complete a rotation: the next secret becomes the only one."""
        await self._body(request, _NONE)
        client = await run_blocking(
            self.issuer.complete_secret_rotation, request.path_params["client_id"]
        )
        return ok({"m2m_client": client.to_json()})

    async def rotate_cancel(self, request: Request) -> Response:
        """Cancel a rotation: only the original secret keeps working."""
        await self._body(request, _NONE)
        client = await run_blocking(
            self.issuer.cancel_secret_rotation, request.path_params["client_id"]
        )
        return ok({"m2m_client": client.to_json()})
