"""API Gateway's Lambda authorizer events and answers, without I/O.

Three event shapes (AWS's documented input formats):

* HTTP API, payload format 2.0 (``"version": "2.0"``, ``routeArn``,
  ``headers`` with lower-case names, repeated headers joined by commas);
  answered with a *simple response*: ``{"isAuthorized": …, "context": …}``.
* REST API ``TOKEN`` (``authorizationToken``, ``methodArn``) and REST API
  ``REQUEST`` (``methodArn``, ``headers`` and ``multiValueHeaders``);
  answered with an IAM policy: ``principalId``, ``policyDocument`` and
  ``context``.

The ARN of a call is ``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}``;
routes are named by its ``{METHOD}/{path}`` part (``GET/orders/42``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._sansio.claims import M2MClaims
from ._sansio.errors import InvalidRequestError, M2MGuardError
from ._sansio.request import RequestContext

__all__ = ["Call", "allow", "claims_context", "deny", "parse_event", "route_of"]

HTTP_API = "http"
TOKEN = "token"  # noqa: S105 - an event kind, not a secret
REQUEST = "request"


@dataclass(frozen=True, slots=True)
class Call:
    """What an authorizer event says about the call to authorize."""

    kind: str  # HTTP_API, TOKEN or REQUEST
    arn: str
    route: str  # "{METHOD}/{path}" of the ARN
    authorization: tuple[str, ...]
    request: RequestContext


def route_of(arn: str) -> str:
    """The ``{METHOD}/{path}`` part of an execute-api ARN.

    Raises:
        InvalidRequestError: not an execute-api ARN of a method.
    """
    resource = arn.split(":", 5)[-1] if arn.startswith("arn:") else ""
    parts = resource.split("/", 3)  # api, stage, METHOD, path
    if arn.count(":") < 5 or len(parts) < 3 or not parts[2]:
        raise InvalidRequestError("The authorizer event names no method ARN.")
    return "/".join(parts[2:])


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _headers(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every header as (lower-case name, value); REST's multi-value ones when given."""
    headers: list[tuple[str, str]] = []
    multi = event.get("multiValueHeaders")
    if isinstance(multi, Mapping) and multi:
        for name, values in multi.items():
            for value in values if isinstance(values, list) else [values]:
                if isinstance(name, str) and isinstance(value, str):
                    headers.append((name.lower(), value))
        return headers
    single = event.get("headers")
    if isinstance(single, Mapping):
        for name, value in single.items():
            if isinstance(name, str) and isinstance(value, str):
                headers.append((name.lower(), value))
    return headers


def parse_event(event: object) -> Call:
    """The call an authorizer ``event`` asks about.

    Raises:
        InvalidRequestError: an event of none of the three shapes.
    """
    if not isinstance(event, Mapping):
        raise InvalidRequestError("The authorizer event is not an object.")
    kind_of = event.get("type")
    if event.get("version") == "2.0" and isinstance(event.get("routeArn"), str):
        arn, kind = event["routeArn"], HTTP_API
    elif kind_of in ("TOKEN", "REQUEST") and isinstance(event.get("methodArn"), str):
        arn, kind = event["methodArn"], TOKEN if kind_of == "TOKEN" else REQUEST
    else:
        raise InvalidRequestError("Not an API Gateway authorizer event.")
    route = route_of(arn)
    method, _, path = route.partition("/")
    path = "/" + path
    if kind == TOKEN:
        token = event.get("authorizationToken")
        authorization: tuple[str, ...] = (token,) if isinstance(token, str) and token else ()
        headers = [("authorization", value) for value in authorization]
        return Call(kind, arn, route, authorization, _context(method, path, "", headers, ""))
    headers = _headers(event)
    authorization = tuple(value for name, value in headers if name == "authorization")
    context = event.get("requestContext")
    domain = _text(context.get("domainName")) if isinstance(context, Mapping) else ""
    if kind == HTTP_API:
        raw_path, query = _text(event.get("rawPath")) or path, _text(event.get("rawQueryString"))
    else:
        raw_path, query = _text(event.get("path")) or path, ""
    request = _context(method, raw_path, query, headers, domain)
    return Call(kind, arn, route, authorization, request)


def _context(
    method: str, path: str, query: str, headers: list[tuple[str, str]], domain: str
) -> RequestContext:
    host = next((value for name, value in headers if name == "host"), domain)
    return RequestContext(
        method=method.upper(),
        scheme="https",
        host=host,
        path=path,
        raw_path=path,
        query=query,
        headers=tuple(headers),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _value(value: object) -> str | int | float | bool:
    """A context value API Gateway takes (a string, number or boolean)."""
    if isinstance(value, str | bool | int | float):
        return value
    return json.dumps(_plain(value), separators=(",", ":"), sort_keys=True)


def claims_context(
    claims: M2MClaims, selected: Iterable[str]
) -> dict[str, str | int | float | bool]:
    """``client_id``, ``scopes`` (space-separated) and the ``selected`` claims
    present in the token (objects and lists as JSON text)."""
    context: dict[str, str | int | float | bool] = {
        "client_id": claims.client_id,
        "scopes": " ".join(claims.scopes),
    }
    raw = claims.claims
    for name in selected:
        if name in raw:
            context[name] = _value(raw[name])
    return context


def _policy(effect: str, arn: str) -> dict[str, Any]:
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": arn}
    return {"Version": "2012-10-17", "Statement": [statement]}


def allow(
    call: Call, claims: M2MClaims | None, selected: Iterable[str], simple: bool = True
) -> dict[str, Any]:
    """The answer letting the call through, with the caller in its context
    (an HTTP API's simple response, unless ``simple`` is false: a policy)."""
    context = {} if claims is None else claims_context(claims, selected)
    if simple and call.kind == HTTP_API:
        return {"isAuthorized": True, "context": context}
    principal = claims.client_id if claims is not None else "anonymous"
    return {
        "principalId": principal,
        "policyDocument": _policy("Allow", call.arn),
        "context": context,
    }


def deny(call: Call, exc: M2MGuardError, realm: str, simple: bool = True) -> dict[str, Any]:
    """The answer refusing the call (403 at API Gateway), the refusal in its context."""
    context: dict[str, str | int | float | bool] = dict(exc.to_dict())
    challenge = exc.www_authenticate(realm)
    if challenge is not None:
        context["www_authenticate"] = challenge
    if simple and call.kind == HTTP_API:
        return {"isAuthorized": False, "context": context}
    return {
        "principalId": "anonymous",
        "policyDocument": _policy("Deny", call.arn),
        "context": context,
    }
