"""The Lambda authorizer, invoked in process with events in AWS's documented shapes.

The shared case table runs through all three event kinds (HTTP API payload
2.0, REST TOKEN, REST REQUEST) mapped to what API Gateway does with the
answer: an allow, a deny (403), ``Exception("Unauthorized")`` (REST: 401) or
``AuthorizerUnavailable`` (500, not cached).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from m2m_guard import ConfigurationError, M2MClaims, RequestContext, Verifier
from m2m_guard.aws_lambda import (
    AuthorizerUnavailable,
    LambdaAuthorizer,
    RouteScopes,
    lambda_authorizer,
)
from tests.integrations.test_cases import CASES, Case, Tokens, make_verifier
from tests.integrations.test_cases import tokens as tokens  # the shared fixture
from tests.support.clock import FakeClock
from tests.support.jwks_server import JWKSServer, running_jwks_server
from tests.support.keys import CLIENT_ID, ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims
from tests.support.lambda_events import arn, http_api_event, request_event, token_event

Headers = Sequence[tuple[str, str]]
EVENTS: dict[str, Callable[[Headers], dict[str, Any]]] = {
    "http-api": lambda headers: http_api_event("GET", "/whoami", headers),
    "rest-request": lambda headers: request_event("GET", "/whoami", headers),
    "rest-token": lambda headers: token_event(
        next((value for name, value in headers if name == "authorization"), None),
        "GET",
        "/whoami",
    ),
}


def decide(handler: LambdaAuthorizer, event: dict[str, Any]) -> tuple[str, Any]:
    """What API Gateway makes of the answer: allow, deny (403), 401, or 500."""
    try:
        answer = handler(event, None)
    except AuthorizerUnavailable as exc:
        return "unavailable", exc
    except Exception as exc:
        answer = exc
    if isinstance(answer, Exception):
        assert str(answer) == "Unauthorized"  # the exact message API Gateway maps to 401
        return "unauthorized", None
    if "isAuthorized" in answer:
        assert set(answer) == {"isAuthorized", "context"}
        return ("allow" if answer["isAuthorized"] else "deny"), answer
    (statement,) = answer["policyDocument"]["Statement"]
    assert answer["policyDocument"]["Version"] == "2012-10-17"
    assert statement["Action"] == "execute-api:Invoke"
    assert statement["Resource"] == event["methodArn"]
    return ("allow" if statement["Effect"] == "Allow" else "deny"), answer


def applies(case: Case, kind: str) -> bool:
    """Cases an authorizer can meet: no public paths or optional tokens (routes
    without the authorizer), no other token places; TOKEN events carry one header."""
    route = case.route or {}
    if case.path != "/whoami" or case.optional or {"token_header", "token_cookie"} & set(route):
        return False
    if kind == "rest-token":
        names = [name for name, _ in case.headers(DUMMY)]
        return names.count("authorization") <= 1 and set(names) <= {"authorization"}
    return True


DUMMY = Tokens("a.b.c", "a.b.c", "a.b.c", "a.b.c")
LAMBDA_CASES = [
    pytest.param(case, kind, id=f"{kind}-{case.id}")
    for case in CASES
    for kind in sorted(EVENTS)
    if applies(case, kind)
]


@pytest.mark.parametrize(("case", "kind"), LAMBDA_CASES)
def test_authorizer_answers_case_as_api_gateway_expects(
    case: Case, kind: str, tokens: Tokens, rsa_key: SigningKey, clock: FakeClock
) -> None:
    handler = lambda_authorizer(
        make_verifier(case, rsa_key, clock),
        default=case.required_scopes,
        context_claims=["tenant"],
        **(case.route or {}),
    )
    event = EVENTS[kind](case.headers(tokens))
    outcome, answer = decide(handler, event)
    if case.route is not None:  # a second time: the token-cache hit is held to the route too
        assert decide(handler, event)[0] == outcome

    if case.status == 200:
        assert outcome == "allow"
        context = answer["context"]
        assert context["client_id"] == CLIENT_ID
        assert context["scopes"] == "read:settings write:settings"
        assert context["tenant"] == "acme"
        if kind != "http-api":
            assert answer["principalId"] == CLIENT_ID
        return
    if case.status == 503:
        assert outcome == "unavailable"
        assert answer.retry_after >= 1
        return
    if case.status == 403 or kind == "http-api":
        assert outcome == "deny"
        context = answer["context"]
        assert context["error"] == (case.error or "unauthorized")
        if case.error is not None:
            assert f'error="{case.error}"' in context["www_authenticate"]
        if case.scope_attr is not None:
            assert context["www_authenticate"].endswith(f', scope="{case.scope_attr}"')
        return
    assert outcome == "unauthorized"


# -- routes ----------------------------------------------------------------------


@pytest.fixture
def verifier(rsa_key: SigningKey, clock: FakeClock) -> Verifier:
    return Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock)


@pytest.fixture
def bearer(rsa_key: SigningKey, clock: FakeClock) -> Callable[..., str]:
    def make(scope: str = "read:orders", **claims: Any) -> str:
        return f"Bearer {rsa_key.sign(stytch_claims(clock(), scope=scope, **claims))}"

    return make


def test_routes_match_arns_exact_first_then_the_most_literal_pattern(
    verifier: Verifier, bearer: Callable[..., str]
) -> None:
    handler = lambda_authorizer(
        verifier,
        routes={
            "GET/orders*": "read:orders",
            "GET/orders/*/items": "read:items",
            "POST/orders": RouteScopes(any_of=["write:orders", "admin:orders"]),
            "*/admin/*": "admin:all",
        },
        default="never:granted",
    )
    reader = bearer("read:orders")
    assert decide(handler, token_event(reader, "GET", "/orders"))[0] == "allow"
    assert decide(handler, token_event(reader, "GET", "/orders/42"))[0] == "allow"
    assert decide(handler, token_event(reader, "GET", "/orders/42/items"))[0] == "deny"
    assert (
        decide(handler, token_event(bearer("read:items"), "GET", "/orders/4/items"))[0] == "allow"
    )
    assert decide(handler, token_event(reader, "POST", "/orders"))[0] == "deny"
    assert decide(handler, token_event(bearer("admin:orders"), "POST", "/orders"))[0] == "allow"
    assert decide(handler, token_event(bearer("admin:all"), "DELETE", "/admin/x"))[0] == "allow"
    outcome, answer = decide(handler, token_event(reader, "GET", "/users"))
    assert outcome == "deny"  # unlisted: the default
    assert answer["principalId"] == "anonymous"
    assert 'scope="never:granted"' in answer["context"]["www_authenticate"]


def test_http_api_events_get_policies_without_simple_responses(
    verifier: Verifier, bearer: Callable[..., str]
) -> None:
    handler = lambda_authorizer(verifier, routes={"PUT/*": "write:orders"}, simple_responses=False)
    route = http_api_event("GET", "/orders", [("authorization", bearer())])
    answer = handler(route, None)
    assert answer["principalId"] == CLIENT_ID
    assert answer["policyDocument"]["Statement"][0] == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": route["routeArn"],
    }
    for event in (
        http_api_event("PUT", "/orders", [("authorization", bearer())]),
        http_api_event("GET", "/orders", [("authorization", "Bearer not-a-token")]),
    ):
        answer = handler(event, None)
        assert answer["principalId"] == "anonymous"
        assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
        assert answer["context"]["error"] in ("insufficient_scope", "invalid_token")


def test_context_claims_are_strings_numbers_or_booleans(
    verifier: Verifier, bearer: Callable[..., str]
) -> None:
    handler = lambda_authorizer(verifier, context_claims=["tenant", "org", "tier", "beta", "nope"])
    token = bearer(org={"id": "o1", "teams": ["a", "b"]}, tier=3, beta=True)
    for event in (token_event(token), http_api_event(headers=[("authorization", token)])):
        outcome, answer = decide(handler, event)
        assert outcome == "allow"
        assert answer["context"] == {
            "client_id": CLIENT_ID,
            "scopes": "read:orders",
            "tenant": "acme",
            "org": '{"id":"o1","teams":["a","b"]}',
            "tier": 3,
            "beta": True,
        }


@pytest.fixture
def jwks(rsa_key: SigningKey) -> Iterator[JWKSServer]:
    with running_jwks_server() as server:
        server.document = jwks_of(rsa_key)
        yield server


def test_the_verifier_is_built_once_and_its_keys_survive_warm_invocations(
    jwks: JWKSServer, bearer: Callable[..., str], clock: FakeClock
) -> None:
    built: list[Verifier] = []

    def build() -> Verifier:
        built.append(Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks_url=jwks.url, clock=clock))
        return built[-1]

    handler = lambda_authorizer(build)
    assert (built, jwks.fetches) == ([], 0)  # nothing happens at import time
    for scope in ("read:orders", "write:orders", "read:orders"):  # two distinct tokens
        assert decide(handler, token_event(bearer(scope)))[0] == "allow"
    assert len(built) == 1
    assert jwks.fetches == 1


def test_unreachable_keys_raise_authorizer_unavailable(
    bearer: Callable[..., str], clock: FakeClock
) -> None:
    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks_url="http://127.0.0.1:9/jwks", clock=clock
    )
    for event in (token_event(bearer()), http_api_event(headers=[("authorization", bearer())])):
        with pytest.raises(AuthorizerUnavailable, match="Retry after") as raised:
            lambda_authorizer(verifier)(event, None)
        assert raised.value.retry_after >= 1


def test_a_crashing_check_is_unavailable_not_allowed(
    verifier: Verifier, bearer: Callable[..., str]
) -> None:
    def broken(claims: M2MClaims, request: RequestContext | None) -> None:
        raise RuntimeError("the revocation list is down")

    with pytest.raises(AuthorizerUnavailable):
        lambda_authorizer(verifier, checks=[broken])(token_event(bearer()), None)


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        {},
        {"type": "TOKEN", "authorizationToken": "Bearer x"},
        {"type": "TOKEN", "methodArn": "not-an-arn"},
        {"type": "TOKEN", "methodArn": "arn:aws:execute-api:r:a:api/stage"},
        {"version": "2.0", "type": "REQUEST"},
        {"type": "REQUEST", "methodArn": arn("GET", "/x"), "headers": None},
        {
            "type": "REQUEST",
            "methodArn": arn("GET", "/x"),
            "multiValueHeaders": {"Authorization": 3},
        },
    ],
)
def test_odd_events_are_unauthorized(verifier: Verifier, event: Any) -> None:
    assert decide(lambda_authorizer(verifier), event)[0] == "unauthorized"


def test_a_missing_token_in_a_token_event_is_unauthorized(verifier: Verifier) -> None:
    handler = lambda_authorizer(verifier)
    assert decide(handler, token_event(None))[0] == "unauthorized"
    assert decide(handler, token_event(""))[0] == "unauthorized"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"routes": {"/orders": "a"}}, "routes are named"),
        ({"routes": {"GET": "a"}}, "routes are named"),
        ({"routes": ["GET/x"]}, "mapping"),
        ({"routes": {"GET/x": 3}}, "invalid scopes"),
        ({"context_claims": ["client_id"]}, "context_claims"),
        ({"context_claims": ["tenant", ""]}, "context_claims"),
        ({"context_claims": [3]}, "context_claims"),
    ],
)
def test_invalid_routes_are_refused_at_construction(
    verifier: Verifier, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        lambda_authorizer(verifier, **options)
    with pytest.raises(ConfigurationError, match=message):  # a factory: checked as early
        lambda_authorizer(lambda: verifier, **options)


def test_a_verifier_is_required(verifier: Verifier) -> None:
    async def later(claims: M2MClaims, request: RequestContext | None) -> None:
        return None

    with pytest.raises(ConfigurationError, match="Verifier or a factory"):
        lambda_authorizer("not a verifier")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="async def check"):
        lambda_authorizer(verifier, checks=[later])


def test_events_name_the_route_as_their_path(
    rsa_key: SigningKey, clock: FakeClock, bearer: Callable[..., str]
) -> None:
    from m2m_guard.events import TokenVerified, VerificationFailed

    seen: list[Any] = []
    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock, on_event=seen.append
    )
    handler = lambda_authorizer(verifier)
    decide(handler, token_event(bearer(), "GET", "/orders/7"))
    decide(handler, token_event("Bearer junk", "POST", "/orders"))
    assert [e.path for e in seen if isinstance(e, TokenVerified)] == ["GET/orders/7"]
    assert [e.path for e in seen if isinstance(e, VerificationFailed)] == ["POST/orders"]


def test_a_sender_constrained_token_is_refused(
    verifier: Verifier, rsa_key: SigningKey, clock: FakeClock
) -> None:
    bound = rsa_key.sign(stytch_claims(clock(), scope="read:orders", cnf={"jkt": "A" * 43}))
    handler = lambda_authorizer(verifier)
    for scheme in ("Bearer", "DPoP"):
        assert decide(handler, token_event(f"{scheme} {bound}"))[0] == "unauthorized"
        event = http_api_event(headers=[("authorization", f"{scheme} {bound}")])
        assert decide(handler, event)[0] == "deny"
