"""Every parameter that takes claim names or origins reads a single string as one name."""

from __future__ import annotations

import json

import pytest

from m2m_guard import ConfigurationError, InvalidClaimError, Verifier
from m2m_guard._settings.environment import settings_from_mapping
from tests.support.clock import FakeClock
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims


def _verifier(key: SigningKey, clock: FakeClock, **options: object) -> Verifier:
    return Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(key), clock=clock, **options)


def test_forbidden_claims_given_as_one_string_forbids_that_claim(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """forbidden_claims="scp" refuses a token with scp (it used to forbid s, c and p)."""
    verifier = _verifier(rsa_key, clock, forbidden_claims="scp")
    with pytest.raises(InvalidClaimError, match="scp"):
        verifier.verify(rsa_key.sign(stytch_claims(clock.now, scp="admin:all")))
    assert verifier.verify(rsa_key.sign(stytch_claims(clock.now, s="x", c="y", p="z")))


def test_required_claims_given_as_one_string_requires_that_claim(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """required_claims="jti" requires jti (not the claims j, t and i)."""
    verifier = _verifier(rsa_key, clock, required_claims="jti")
    claims = stytch_claims(clock.now)
    claims.pop("jti", None)
    with pytest.raises(InvalidClaimError, match="jti"):
        verifier.verify(rsa_key.sign(claims))
    assert verifier.verify(rsa_key.sign({**claims, "jti": "abc"})).client_id


@pytest.mark.parametrize(
    "option",
    ["forbidden_claims", "required_claims", "required_any_claims", "trusted_jwks_origins"],
)
def test_name_lists_refuse_empty_and_non_string_entries(
    option: str, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """A list entry that is empty or not a string is a configuration error, not a silent no-op."""
    with pytest.raises(ConfigurationError, match=option):
        _verifier(rsa_key, clock, **{option: ["", 3]})


def test_environment_lists_are_split_on_commas_into_whole_names(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """M2M_GUARD_FORBIDDEN_CLAIMS=scp forbids scp; REQUIRED_CLAIMS="sub, jti" names two claims."""
    settings = settings_from_mapping(
        {
            "M2M_GUARD_ISSUER": ISSUER,
            "M2M_GUARD_AUDIENCE": PROJECT_ID,
            "M2M_GUARD_JWKS": json.dumps(jwks_of(rsa_key)),
            "M2M_GUARD_FORBIDDEN_CLAIMS": "scp",
            "M2M_GUARD_REQUIRED_CLAIMS": "sub, jti",
            "M2M_GUARD_REQUIRED_ANY_CLAIMS": "client_id",
        },
        "M2M_GUARD_",
        {"clock": clock},
    )
    verifier = Verifier(**settings.kwargs)
    assert verifier.policy.forbidden_claims == ("scp",)
    assert verifier.policy.required_claims == ("sub", "jti")
    assert verifier.policy.required_any_claims == ("client_id",)


def test_required_any_claims_needs_one_of_them(rsa_key: SigningKey, clock: FakeClock) -> None:
    """required_any_claims="client_id" (one string, one name): a token without it is refused."""
    verifier = _verifier(rsa_key, clock, required_any_claims=["client_id", "clientId"])
    claims = stytch_claims(clock.now)
    with pytest.raises(InvalidClaimError, match="not a machine token"):
        verifier.verify(rsa_key.sign(claims))
    assert verifier.verify(rsa_key.sign({**claims, "clientId": "c"})).client_id
