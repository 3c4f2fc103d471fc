"""Properties of arbitrary authorizer events: an answer or ``Unauthorized``, never a crash.

Whatever JSON API Gateway (or a misconfigured test event) hands the
authorizer, it answers with an allow, a deny, ``Exception("Unauthorized")``
(REST: 401) or ``AuthorizerUnavailable``, and never lets a ``TypeError``,
``KeyError`` … through (which API Gateway would answer with a 500 it
cannot tell from an outage).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from m2m_guard.aws_lambda import AuthorizerUnavailable, lambda_authorizer
from tests.properties.strategies import PROFILE, Target
from tests.support.lambda_events import arn

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
arns = st.sampled_from([arn("GET", "/orders"), "arn:aws:execute-api:r:a:api/stage", "", "arn:"])
keys = st.sampled_from(
    [
        "version",
        "type",
        "routeArn",
        "methodArn",
        "authorizationToken",
        "headers",
        "multiValueHeaders",
        "rawPath",
        "rawQueryString",
        "path",
        "requestContext",
    ]
)
events = st.dictionaries(
    keys, json_values | arns | st.sampled_from(["2.0", "TOKEN", "REQUEST"]), max_size=8
)


def answer_of(handler: Any, event: Any) -> str:
    try:
        answer = handler(event, None)
    except AuthorizerUnavailable:
        return "unavailable"
    except Exception as exc:
        if type(exc) is not Exception or str(exc) != "Unauthorized":
            raise
        return "unauthorized"
    assert isinstance(answer, dict)
    return "answered"


@settings(PROFILE, max_examples=min(PROFILE.max_examples, 200))
@given(event=events | json_values)
def test_any_event_is_answered_or_unauthorized(target: Target, event: Any) -> None:
    assert answer_of(lambda_authorizer(target.verifier), event) in (
        "answered",
        "unauthorized",
        "unavailable",
    )


@settings(PROFILE, max_examples=min(PROFILE.max_examples, 100))
@given(headers=json_values, multi=json_values, context=json_values)
def test_odd_header_shapes_never_crash(
    target: Target, headers: Any, multi: Any, context: Any
) -> None:
    for event in (
        {"type": "REQUEST", "methodArn": arn("GET", "/x"), "headers": headers,
         "multiValueHeaders": multi, "requestContext": context},
        {"version": "2.0", "type": "REQUEST", "routeArn": arn("GET", "/x"), "headers": headers,
         "requestContext": context, "rawPath": multi},
    ):  # fmt: skip
        answer_of(lambda_authorizer(target.verifier), event)  # raises on any other outcome
