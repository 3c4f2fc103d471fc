"""Signing keys: created once, rotated with a grace period, retired on demand."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from m2m_guard.issuer import BadRequestError, LocalIssuer, NotFoundError
from tests.issuer._helpers import FAST, decode
from tests.support.clock import FakeClock

KID = re.compile(r"jwk-test-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def kids(issuer: LocalIssuer) -> list[str]:
    """The kids currently published in the JWKS."""
    return [key["kid"] for key in issuer.jwks()["keys"]]


def signing_kid(issuer: LocalIssuer) -> str:
    """The kid that signs new tokens."""
    return str(jwt.get_unverified_header(issuer.mint_token("probe"))["kid"])


def test_a_new_issuer_publishes_one_stytch_shaped_rsa_key(issuer: LocalIssuer) -> None:
    """The JWKS holds one RS256 signing key with Stytch's fields."""
    (key,) = issuer.jwks()["keys"]
    assert KID.fullmatch(key["kid"])
    assert {k: key[k] for k in ("kty", "use", "key_ops", "alg", "e")} == {
        "kty": "RSA",
        "use": "sig",
        "key_ops": ["verify"],
        "alg": "RS256",
        "e": "AQAB",
    }
    public = jwt.PyJWK(key).key
    assert public.key_size == 2048
    assert signing_kid(issuer) == key["kid"]


def test_the_generated_key_is_rsa_2048(clock: FakeClock) -> None:
    """Without a key factory the issuer makes a fresh RSA-2048 key."""
    with LocalIssuer(scrypt=FAST, clock=clock) as issuer:
        assert jwt.PyJWK(issuer.jwks()["keys"][0]).key.key_size == 2048


def test_rotation_signs_with_the_new_key_and_keeps_the_old_one_published(
    issuer: LocalIssuer,
) -> None:
    """After rotate, new tokens use the new kid and old tokens still verify."""
    old_kid = signing_kid(issuer)
    old_token = issuer.mint_token("svc")
    new_kid = issuer.rotate_keys(grace_seconds=600)
    assert KID.fullmatch(new_kid)
    assert new_kid != old_kid
    assert signing_kid(issuer) == new_kid
    assert kids(issuer) == [new_kid, old_kid]
    assert decode(old_token, issuer)["sub"] == "svc"
    assert decode(issuer.mint_token("svc"), issuer)["sub"] == "svc"


def test_an_old_key_leaves_the_jwks_when_its_grace_period_ends(
    issuer: LocalIssuer, clock: FakeClock
) -> None:
    """The grace period bounds how long an old key is served."""
    new_kid = issuer.rotate_keys(grace_seconds=600)
    clock.advance(599)
    assert len(kids(issuer)) == 2
    clock.advance(1)
    assert kids(issuer) == [new_kid]


def test_the_default_grace_period_comes_from_the_issuer(
    clock: FakeClock, key_factory: Callable[[], rsa.RSAPrivateKey]
) -> None:
    """key_grace_seconds is used when rotate_keys gets no grace."""
    with LocalIssuer(
        scrypt=FAST, clock=clock, key_factory=key_factory, key_grace_seconds=30
    ) as issuer:
        issuer.rotate_keys()
        (old,) = [key for key in issuer.signing_keys() if not key.is_signing]
        assert old.retire_at == clock.now + 30


def test_retire_removes_every_old_key_at_once(issuer: LocalIssuer) -> None:
    """Retiring drops old keys from the JWKS before their grace ends."""
    first = signing_kid(issuer)
    second = issuer.rotate_keys()
    third = issuer.rotate_keys()
    assert sorted(issuer.retire_keys()) == sorted([first, second])
    assert kids(issuer) == [third]
    assert issuer.retire_keys() == []


def test_retire_can_target_one_key(issuer: LocalIssuer) -> None:
    """Retiring by kid leaves the other old keys published."""
    first = signing_kid(issuer)
    second = issuer.rotate_keys()
    third = issuer.rotate_keys()
    assert issuer.retire_keys(first) == [first]
    assert kids(issuer) == [third, second]


def test_the_signing_key_cannot_be_retired(issuer: LocalIssuer) -> None:
    """Retiring the signer would leave nothing to sign with."""
    with pytest.raises(BadRequestError, match="rotate before"):
        issuer.retire_keys(signing_kid(issuer))


def test_retiring_an_unknown_kid_is_not_found(issuer: LocalIssuer) -> None:
    """An unknown kid is reported, not ignored."""
    with pytest.raises(NotFoundError):
        issuer.retire_keys("jwk-test-nope")


@pytest.mark.parametrize("grace", [-1, float("inf"), float("nan"), "60"])
def test_an_invalid_grace_period_is_refused(issuer: LocalIssuer, grace: object) -> None:
    """Grace must be a finite, non-negative number; nothing rotates otherwise."""
    before = kids(issuer)
    with pytest.raises(BadRequestError, match="grace_seconds"):
        issuer.rotate_keys(grace)  # type: ignore[arg-type]
    assert kids(issuer) == before


def test_rotation_deletes_keys_whose_grace_ended(issuer: LocalIssuer, clock: FakeClock) -> None:
    """Expired keys are purged from storage at the next rotation."""
    issuer.rotate_keys(grace_seconds=10)
    clock.advance(11)
    issuer.rotate_keys(grace_seconds=10)
    assert len(issuer.signing_keys()) == 2


def test_a_rotation_by_another_process_is_seen_by_a_running_issuer(
    tmp_path: Path, key_factory: Callable[[], rsa.RSAPrivateKey]
) -> None:
    """Keys are read from the database, so `m2m-guard keys rotate` applies live."""
    path = tmp_path / "issuer.db"
    with LocalIssuer(path, scrypt=FAST, key_factory=key_factory) as running:
        with LocalIssuer(path, scrypt=FAST, key_factory=key_factory) as cli:
            new_kid = cli.rotate_keys()
        assert signing_kid(running) == new_kid
        assert kids(running)[0] == new_kid


def test_signing_keys_lists_the_signer_first(issuer: LocalIssuer, clock: FakeClock) -> None:
    """The key listing shows the signer, then old keys with their retirement time."""
    old = signing_kid(issuer)
    new = issuer.rotate_keys(grace_seconds=100)
    listing = issuer.signing_keys()
    assert [(key.kid, key.is_signing) for key in listing] == [(new, True), (old, False)]
    assert listing[1].retire_at == clock.now + 100


def test_two_issuers_starting_on_a_new_file_agree_on_one_key(
    tmp_path: Path, rsa_pool: list[rsa.RSAPrivateKey]
) -> None:
    """If another process creates the first key while we generate ours, we use theirs."""
    path = tmp_path / "issuer.db"
    other_kids: list[str] = []

    def racing_factory() -> rsa.RSAPrivateKey:
        with LocalIssuer(path, scrypt=FAST, key_factory=lambda: rsa_pool[1]) as other:
            other_kids.extend(kids(other))
        return rsa_pool[0]

    with LocalIssuer(path, scrypt=FAST, key_factory=racing_factory) as issuer:
        assert kids(issuer) == other_kids
        assert len(issuer.signing_keys()) == 1
