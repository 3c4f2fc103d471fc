"""Route options that would widen the verifier, and checks that crash, through
every integration: refused when the route is built, or answered 503, never 500."""

from __future__ import annotations

import importlib
import logging

import pytest

from m2m_guard import ConfigurationError, Verifier
from tests.attacks.catalog import ROUTE_ATTACKS, RouteAttack
from tests.integrations._harness import Harness
from tests.integrations.test_cases import ROUTE_HARNESSES
from tests.support.clock import FakeClock
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims


@pytest.fixture(params=ROUTE_HARNESSES, ids=lambda spec: spec.rsplit(":", 1)[1])
def harness(request: pytest.FixtureRequest) -> Harness:
    module, name = request.param.split(":")
    return getattr(importlib.import_module(module), name)()  # type: ignore[no-any-return]


@pytest.mark.parametrize("attack", ROUTE_ATTACKS, ids=lambda a: a.id)
def test_a_route_never_widens_its_verifier_nor_leaks_a_crash(
    attack: RouteAttack,
    harness: Harness,
    rsa_key: SigningKey,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Wider rules: ConfigurationError when the guard is built; a crash: 503."""
    verifier = Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks=jwks_of(rsa_key),
        clock=clock,
        **(attack.verifier or {}),
    )
    token = rsa_key.sign(stytch_claims(clock()))
    headers = [("authorization", f"Bearer {token}")]
    if attack.status is None:
        # At construction; a route without verifier= meets its verifier on
        # its first request (the Starlette decorator here), and refuses then.
        def build_and_call() -> None:
            harness.build(verifier, route=attack.route)
            harness.request("/whoami", headers)

        with pytest.raises(ConfigurationError, match=attack.fragment):
            build_and_call()
        return

    with caplog.at_level(logging.ERROR, logger="m2m_guard"):
        harness.build(verifier, route=attack.route)
        reply = harness.request("/whoami", headers)

    assert reply.status == attack.status, reply
    assert reply.json["error"] == attack.error
    assert attack.fragment not in str(reply.json)
    assert int(reply.headers["retry-after"]) >= 1
    assert "custom check" in caplog.text
    assert token not in caplog.text
