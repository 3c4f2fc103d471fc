"""FastAPI's OpenAPI document completed for ``M2MBearer`` schemes: the scopes
of their client-credentials flows, and the 401/403/503 answers (RFC 6750
body, ``WWW-Authenticate``, ``Retry-After``) of the operations they protect,
leaving what the app declared alone. A scheme whose verifier takes DPoP
(RFC 9449) says so (``x-dpop``: the mode and the proof algorithms), and its
operations document the ``DPoP`` proof header (required in ``"required"``
mode); OpenAPI has no DPoP scheme type of its own."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["calls", "complete"]

_ERROR_SCHEMA_NAME = "M2MGuardError"
_ERROR_SCHEMA = {
    "title": _ERROR_SCHEMA_NAME,
    "description": "An RFC 6750 error (the same body in every m2m_guard integration).",
    "type": "object",
    "properties": {
        "error": {"type": "string", "title": "Error", "examples": ["invalid_token"]},
        "error_description": {"type": "string", "title": "Error Description"},
    },
    "required": ["error", "error_description"],
}
_CHALLENGE = {
    "description": 'The RFC 6750 challenge, e.g. Bearer realm="api", error="invalid_token"',
    "schema": {"type": "string"},
}
_RETRY_AFTER = {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
_ANSWERS: dict[str, tuple[str, dict[str, Any]]] = {
    "401": (
        "No valid access token: missing, malformed, expired or not signed by the issuer.",
        {"WWW-Authenticate": _CHALLENGE},
    ),
    "403": (
        "The access token lacks a required scope (insufficient_scope).",
        {"WWW-Authenticate": _CHALLENGE},
    ),
    "503": (
        "The issuer's keys are unavailable right now; retry later.",
        {"Retry-After": _RETRY_AFTER},
    ),
}
_METHODS = frozenset(("get", "put", "post", "delete", "options", "head", "patch", "trace"))


def calls(dependant: Any) -> Iterator[object]:
    stack = [dependant]
    while stack:
        current = stack.pop()
        yield current.call
        stack.extend(current.dependencies)


def complete(document: dict[str, Any], bearers: Mapping[str, object]) -> None:
    """Complete ``document`` in place for the ``M2MBearer`` schemes named ``bearers``:
    the flows' scopes, and the 401/403/503 answers of the operations they protect."""
    schemes = document.get("components", {}).get("securitySchemes", {})
    used: dict[str, dict[str, None]] = {name: {} for name in bearers if name in schemes}
    protected = False
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _METHODS or not isinstance(operation, dict):
                continue
            mine = False
            dpop = "off"
            for requirement in operation.get("security") or ():
                for name, scopes in requirement.items():
                    if name in used:
                        mine = True
                        used[name].update(dict.fromkeys(scopes))
                        dpop = max(dpop, _dpop_of(bearers[name]), key=_DPOP_ORDER.index)
            if mine:
                protected = True
                _add_answers(operation.setdefault("responses", {}))
            if dpop != "off":
                _add_dpop(operation, dpop)
    for name, scopes in used.items():
        binding = getattr(getattr(bearers[name], "verifier", None), "_binding", None)
        if binding is not None and binding.dpop != "off":
            schemes[name]["x-dpop"] = {
                "mode": binding.dpop,
                "algs": list(binding.policy.algorithms),
            }
        flow = schemes[name].get("flows", {}).get("clientCredentials")
        if flow is not None:
            flow["scopes"] = {**{scope: scope for scope in scopes}, **flow.get("scopes", {})}
    if protected:
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas.setdefault(_ERROR_SCHEMA_NAME, copy.deepcopy(_ERROR_SCHEMA))


_DPOP_ORDER = ("off", "allowed", "required")


def _dpop_of(bearer: object) -> str:
    mode = getattr(getattr(bearer, "verifier", None), "dpop", "off")
    return mode if mode in _DPOP_ORDER else "off"


def _add_dpop(operation: dict[str, Any], mode: str) -> None:
    operation["x-dpop"] = mode
    parameters = operation.setdefault("parameters", [])
    if any(p.get("in") == "header" and str(p.get("name")).lower() == "dpop" for p in parameters):
        return
    parameters.append(
        {
            "name": "DPoP",
            "in": "header",
            "required": mode == "required",
            "description": (
                "A fresh DPoP proof (RFC 9449) for this request, sent with "
                "Authorization: DPoP <token>"
                + ("." if mode == "required" else " when the token is DPoP-bound.")
            ),
            "schema": {"type": "string"},
        }
    )


def _add_answers(responses: dict[str, Any]) -> None:
    content = {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{_ERROR_SCHEMA_NAME}"}}
    }
    for status, (description, headers) in _ANSWERS.items():
        if status not in responses:
            answer = {"description": description, "headers": headers, "content": content}
            responses[status] = copy.deepcopy(answer)
