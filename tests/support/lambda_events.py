"""API Gateway Lambda authorizer events, in the shapes AWS documents.

HTTP API payload format 2.0 (a REQUEST authorizer), REST API TOKEN and REST
API REQUEST authorizer inputs; the values are made up, the shapes are AWS's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ACCOUNT = "123456789012"
API = "abcdef123"
STAGE = "test"
ARN_PREFIX = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{API}/{STAGE}"


def arn(method: str, path: str) -> str:
    """The execute-api ARN of ``method path`` (``path`` starts with ``/``)."""
    return f"{ARN_PREFIX}/{method}{path}"


def http_api_event(
    method: str = "GET", path: str = "/orders", headers: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) REQUEST authorizer event. Header names are
    lower case; repeated headers are joined with commas, as API Gateway does."""
    joined: dict[str, str] = {}
    for name, value in headers:
        name = name.lower()
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": arn(method, path),
        "identitySource": [joined["authorization"]] if "authorization" in joined else [],
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "page=1",
        "cookies": [],
        "headers": {"host": f"{API}.execute-api.us-east-1.amazonaws.com", **joined},
        "queryStringParameters": {"page": "1"},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API,
            "domainName": f"{API}.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": API,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "agent",
            },
            "requestId": "id",
            "routeKey": f"{method} {path}",
            "stage": STAGE,
            "time": "12/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390,
        },
        "pathParameters": {},
        "stageVariables": {},
    }


def token_event(
    authorization: str | None, method: str = "GET", path: str = "/orders"
) -> dict[str, Any]:
    """A REST API TOKEN authorizer event (``authorizationToken``: the header's value)."""
    event: dict[str, Any] = {"type": "TOKEN", "methodArn": arn(method, path)}
    if authorization is not None:
        event["authorizationToken"] = authorization
    return event


def request_event(
    method: str = "GET", path: str = "/orders", headers: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    """A REST API REQUEST authorizer event: ``headers`` keeps the last value of
    each header, ``multiValueHeaders`` all of them, as API Gateway sends them."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        display = "Authorization" if name.lower() == "authorization" else name
        single[display] = value
        multi.setdefault(display, []).append(value)
    return {
        "type": "REQUEST",
        "methodArn": arn(method, path),
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": {},
        "multiValueQueryStringParameters": {},
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {
            "path": f"/{STAGE}{path}",
            "accountId": ACCOUNT,
            "resourceId": "05c7jb",
            "stage": STAGE,
            "requestId": "...",
            "identity": {"sourceIp": "192.0.2.1", "userAgent": "agent"},
            "resourcePath": path,
            "httpMethod": method,
            "domainName": f"{API}.execute-api.us-east-1.amazonaws.com",
            "apiId": API,
        },
    }
