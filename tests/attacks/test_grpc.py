"""The attack catalog through the gRPC interceptors, on real servers on 127.0.0.1.

Every attack is sent as the ``authorization`` metadata of a unary call to a
``grpc.Server`` and a ``grpc.aio.Server``: the catalog's HTTP status maps to
``UNAUTHENTICATED`` (400, 401) or ``PERMISSION_DENIED`` (403), with the
catalog's error and description in the details and the challenge in the
``www-authenticate`` trailer; the servicer never runs, the attacker's
listener is never contacted, and the issuer's JWKS is fetched only when the
catalog says the attack reaches the keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest

from m2m_guard.grpc import AsyncM2MServerInterceptor, M2MServerInterceptor
from tests.attacks.catalog import Attack, Kit, params
from tests.attacks.conftest import MakeVerifier
from tests.integrations._grpc_servers import SERVERS, WHOAMI, Served, call
from tests.support.jwks_server import JWKSServer

CODES = {400: grpc.StatusCode.UNAUTHENTICATED, 401: grpc.StatusCode.UNAUTHENTICATED}
CODES[403] = grpc.StatusCode.PERMISSION_DENIED
INTERCEPTORS = {"sync": M2MServerInterceptor, "aio": AsyncM2MServerInterceptor}

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


def sendable(value: str) -> bool:
    """Whether gRPC lets a client send ``value`` as text metadata (printable ASCII)."""
    return all(" " <= char <= "~" for char in value)


@pytest.mark.parametrize("attack", params())
def test_grpc_refuses_attack_with_its_documented_answer(
    attack: Attack,
    kind: str,
    kit: Kit,
    make_verifier: MakeVerifier,
    issuer_jwks: JWKSServer,
    attacker_listener: JWKSServer,
    forbid_parsing: Callable[[], None],
    servers: list[Served],
) -> None:
    values = attack.build(kit)
    interceptor = INTERCEPTORS[kind](make_verifier(attack.profile), default=attack.required_scopes)
    served = SERVERS[kind]([interceptor])
    servers.append(served)
    fetches = issuer_jwks.fetches
    if attack.unparsed:
        forbid_parsing()

    outcome = call(served.target, WHOAMI, [("authorization", value) for value in values])

    if not all(sendable(value) for value in values):
        # not text metadata: the caller's gRPC library refuses to send the call
        assert (outcome.code, outcome.details) == (grpc.StatusCode.INTERNAL, "Invalid metadata")
    elif outcome.code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        # over gRPC's metadata limit: the transport refused it before any code of ours
        assert attack.status in (400, 401)
    else:
        assert outcome.code == CODES[attack.status], outcome
        assert outcome.details is not None
        error, _, description = outcome.details.partition(": ")
        assert error == (attack.error or "unauthorized")
        assert attack.fragment in description
        challenge = outcome.trailing["www-authenticate"]
        assert challenge.startswith('Bearer realm="api"')
        if attack.error is None:
            assert "error=" not in challenge
        else:
            assert f'error="{attack.error}"' in challenge
        assert issuer_jwks.fetches - fetches == (1 if attack.reaches_keys else 0)
    assert served.probe.ran == []
    assert attacker_listener.paths == []
