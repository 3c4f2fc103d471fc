"""The attack catalog through every integration: the same answers, over HTTP.

ASGI middleware, Starlette decorator, FastAPI dependency, WSGI middleware and
Flask extension (tests/integrations' harnesses) must each answer every
attack with the catalog's status, RFC 6750 error and description, in the
JSON body and the ``WWW-Authenticate`` challenge alike.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest

from tests.attacks.catalog import CONTROLS, PROFILES, Attack, Kit, params
from tests.attacks.conftest import MakeVerifier
from tests.integrations._harness import Harness
from tests.integrations.test_cases import HARNESSES
from tests.support.jwks_server import JWKSServer
from tests.support.keys import CLIENT_ID


@pytest.fixture(params=HARNESSES, ids=lambda spec: spec.rsplit(":", 1)[1])
def harness(request: pytest.FixtureRequest) -> Harness:
    """Each integration's harness, building the app of tests/integrations/_harness.py."""
    module, name = request.param.split(":")
    return getattr(importlib.import_module(module), name)()  # type: ignore[no-any-return]


@pytest.mark.parametrize("attack", params())
def test_integration_refuses_attack_with_its_documented_answer(
    attack: Attack,
    harness: Harness,
    kit: Kit,
    make_verifier: MakeVerifier,
    issuer_jwks: JWKSServer,
    attacker_listener: JWKSServer,
    forbid_parsing: Callable[[], None],
) -> None:
    """Status, error code, description and challenge as the catalog says, everywhere."""
    headers = [("authorization", value) for value in attack.build(kit)]
    harness.build(make_verifier(attack.profile), required_scopes=attack.required_scopes)
    fetches = issuer_jwks.fetches
    if attack.unparsed:
        forbid_parsing()

    reply = harness.request("/whoami", headers)

    wire_refuses = getattr(harness, "wire_refuses", None)
    if wire_refuses is not None and wire_refuses(headers):
        # a real server's HTTP parser refused the header itself: 400, no app code ran
        assert (reply.status, reply.json) == (400, None)
        assert attacker_listener.paths == []
        return
    assert reply.status == attack.status, reply.json
    assert reply.json["error"] == (attack.error or "unauthorized")
    assert attack.fragment in reply.json["error_description"]
    challenge = reply.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="api"')
    if attack.error is None:
        assert "error=" not in challenge
    else:
        assert f'error="{attack.error}"' in challenge
    assert reply.headers["cache-control"] == "no-store"
    assert attacker_listener.paths == []
    assert issuer_jwks.fetches - fetches == (1 if attack.reaches_keys else 0)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_each_integration_accepts_each_profiles_control_token(
    profile: str, harness: Harness, kit: Kit, make_verifier: MakeVerifier
) -> None:
    """A genuine token gets through every integration: refusals are the defences' doing."""
    harness.build(make_verifier(profile), required_scopes=["read:users"])
    reply = harness.request("/whoami", [("authorization", f"Bearer {CONTROLS[profile](kit)}")])
    assert reply.status == 200, reply.json
    assert reply.json["client_id"] == CLIENT_ID
