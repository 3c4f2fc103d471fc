"""The shared case table through the gRPC interceptors, on real servers.

Each case of tests/integrations/test_cases.py is sent as a unary call to a
``grpc.Server`` and to a ``grpc.aio.Server`` on 127.0.0.1; the HTTP answer
the table specifies maps to gRPC's status model: 400 and 401
``UNAUTHENTICATED``, 403 ``PERMISSION_DENIED``, 503 ``UNAVAILABLE``, each with
``"<error>: <description>"`` as details, the same RFC 6750 challenge as the
``www-authenticate`` trailer, and the retry hint as ``retry-after`` (and
``grpc-retry-pushback-ms``).
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from m2m_guard.grpc import AsyncM2MServerInterceptor, M2MServerInterceptor
from tests.integrations._grpc_servers import HEALTH, SERVERS, WHOAMI, Served, call
from tests.integrations.test_cases import CASES, CHALLENGE, Case, Tokens, make_verifier
from tests.integrations.test_cases import tokens as tokens  # the shared fixture
from tests.support.clock import FakeClock
from tests.support.keys import SigningKey

CODES = {
    200: grpc.StatusCode.OK,
    400: grpc.StatusCode.UNAUTHENTICATED,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    503: grpc.StatusCode.UNAVAILABLE,
}

#: route options of HTTP only: a token in another header or a cookie
HTTP_ONLY = {"token_header", "token_cookie"}

#: the table's cases a gRPC call can carry
GRPC_CASES = [case for case in CASES if not HTTP_ONLY & set(case.route or {})]

pytestmark = pytest.mark.slow


@pytest.fixture(params=sorted(SERVERS))
def kind(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def servers() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for served in started:
        served.stop()


@pytest.mark.parametrize("case", GRPC_CASES, ids=lambda c: c.id)
def test_grpc_answers_case_with_its_status_code(
    kind: str,
    case: Case,
    tokens: Tokens,
    rsa_key: SigningKey,
    clock: FakeClock,
    servers: list[Served],
) -> None:
    """Status code, details and trailers as the table says, sync and aio alike."""
    route = dict(case.route or {})
    factory = AsyncM2MServerInterceptor if kind == "aio" else M2MServerInterceptor
    interceptor = factory(
        make_verifier(case, rsa_key, clock),
        default=case.required_scopes,
        optional=case.optional,
        public_methods=[HEALTH],
        **route,
    )
    served = SERVERS[kind]([interceptor])
    servers.append(served)
    method = HEALTH if case.path == "/health" else WHOAMI
    metadata = case.headers(tokens)

    outcome = call(served.target, method, metadata)
    if case.route is not None:  # a second time: the token-cache hit is held to the route too
        assert call(served.target, method, metadata).code == outcome.code

    assert outcome.code == CODES[case.status], outcome
    challenge = outcome.trailing.get("www-authenticate")
    if case.status == 200:
        assert challenge is None
        for key, value in (case.body or {}).items():
            if key != "status":  # /health answers the (absent) claims here
                assert outcome.json[key] == value
        return
    assert served.probe.ran == []  # a refused call never reaches the servicer
    assert outcome.details is not None
    assert outcome.details.startswith(f"{case.error or 'unauthorized'}: ")
    if case.status == 503:
        assert challenge is None
        assert int(outcome.trailing["retry-after"]) >= 1
        pushback = int(outcome.trailing["grpc-retry-pushback-ms"])
        assert pushback == 1000 * int(outcome.trailing["retry-after"])
        return
    if case.error is None:
        assert challenge == CHALLENGE
        return
    assert challenge is not None
    assert challenge.startswith(f'{CHALLENGE}, error="{case.error}", error_description="')
    if case.scope_attr is not None:
        assert challenge.endswith(f', scope="{case.scope_attr}"')
