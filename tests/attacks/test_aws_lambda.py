"""The attack catalog through the Lambda authorizer, with AWS-shaped events.

Each attack's ``Authorization`` values go into an HTTP API (payload 2.0)
event and into a REST API event (TOKEN for one value, REQUEST for several):
a 403 attack gets a deny (HTTP API ``isAuthorized: false``, REST a ``Deny``
policy), a 400/401 attack ``Exception("Unauthorized")`` on REST and
``isAuthorized: false`` on HTTP API, whose context carries the catalog's
error and description. Never an allow; the attacker's listener is never
contacted; the issuer's JWKS is fetched only when the catalog says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from m2m_guard.aws_lambda import lambda_authorizer
from tests.attacks.catalog import Attack, Kit, params
from tests.attacks.conftest import MakeVerifier
from tests.support.jwks_server import JWKSServer
from tests.support.lambda_events import http_api_event, request_event, token_event


def rest_event(values: list[str]) -> dict[str, Any]:
    if len(values) == 1:
        return token_event(values[0])
    return request_event(headers=[("authorization", value) for value in values])


@pytest.mark.parametrize("api", ["http-api", "rest"])
@pytest.mark.parametrize("attack", params())
def test_lambda_authorizer_refuses_attack(
    attack: Attack,
    api: str,
    kit: Kit,
    make_verifier: MakeVerifier,
    issuer_jwks: JWKSServer,
    attacker_listener: JWKSServer,
    forbid_parsing: Callable[[], None],
) -> None:
    values = attack.build(kit)
    handler = lambda_authorizer(make_verifier(attack.profile), default=attack.required_scopes)
    event = (
        http_api_event(headers=[("authorization", value) for value in values])
        if api == "http-api"
        else rest_event(values)
    )
    if api == "http-api" and len(values) > 1:
        # API Gateway joins repeated headers with commas: one malformed value, refused
        assert handler(event, None)["isAuthorized"] is False
        assert attacker_listener.paths == []
        return
    fetches = issuer_jwks.fetches
    if attack.unparsed:
        forbid_parsing()

    try:
        answer: Any = handler(event, None)
    except Exception as exc:
        answer = exc
    if isinstance(answer, Exception):
        assert str(answer) == "Unauthorized"
        assert api == "rest"
        assert attack.status in (400, 401)
    else:
        context = answer["context"]
        if api == "http-api":
            assert answer["isAuthorized"] is False
        else:
            assert attack.status == 403
            assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
        assert context["error"] == (attack.error or "unauthorized")
        assert attack.fragment in context["error_description"]
    assert attacker_listener.paths == []
    assert issuer_jwks.fetches - fetches == (1 if attack.reaches_keys else 0)
