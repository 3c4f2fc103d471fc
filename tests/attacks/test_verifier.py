"""The attack catalog through the verifier itself: ``verify_header`` and ``verify_header_async``.

Each attack must raise exactly its documented exception class, with its
status, RFC 6750 error and description; none may reach the attacker's
listener; and those the cheap checks refuse must not cost a JWKS fetch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import anyio
import pytest

from m2m_guard import M2MClaims, M2MGuardError, Verifier
from tests.attacks.catalog import CONTROLS, PROFILES, Attack, Kit, params
from tests.attacks.conftest import MakeVerifier
from tests.support.jwks_server import JWKSServer
from tests.support.keys import CLIENT_ID

Verify = Callable[[Verifier, Sequence[str], Sequence[str]], M2MClaims]


def verify_sync(verifier: Verifier, values: Sequence[str], scopes: Sequence[str]) -> M2MClaims:
    return verifier.verify_header(list(values), scopes)


def verify_async(verifier: Verifier, values: Sequence[str], scopes: Sequence[str]) -> M2MClaims:
    async def main() -> M2MClaims:
        try:
            return await verifier.verify_header_async(list(values), scopes)
        finally:
            await verifier.aclose()

    return anyio.run(main)


@pytest.fixture(params=[verify_sync, verify_async], ids=["sync", "async"])
def verify(request: pytest.FixtureRequest) -> Verify:
    """One algorithm, two drivers: every attack goes through both."""
    return request.param  # type: ignore[no-any-return]


@pytest.mark.parametrize("attack", params())
def test_verifier_refuses_attack_with_its_documented_error(
    attack: Attack,
    verify: Verify,
    kit: Kit,
    make_verifier: MakeVerifier,
    issuer_jwks: JWKSServer,
    attacker_listener: JWKSServer,
    forbid_parsing: Callable[[], None],
) -> None:
    """The exact exception class, status, error code and description of the catalog."""
    values = attack.build(kit)
    verifier = make_verifier(attack.profile)
    fetches = issuer_jwks.fetches
    if attack.unparsed:
        forbid_parsing()

    with pytest.raises(M2MGuardError) as info:
        verify(verifier, values, attack.required_scopes)

    error = info.value
    assert type(error) is attack.exception, error
    assert (error.status_code, error.error) == (attack.status, attack.error)
    assert attack.fragment in error.description
    assert attacker_listener.paths == []
    assert issuer_jwks.fetches - fetches == (1 if attack.reaches_keys else 0)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_each_profile_accepts_its_control_token(
    profile: str, verify: Verify, kit: Kit, make_verifier: MakeVerifier
) -> None:
    """A genuine token passes every profile: refusals are the defences' doing."""
    token = CONTROLS[profile](kit)
    claims = verify(make_verifier(profile), [f"Bearer {token}"], ["read:users"])
    assert claims.client_id == CLIENT_ID
