"""Client secrets are salted scrypt hashes, checked in constant time."""

from __future__ import annotations

import pytest

from m2m_guard.issuer import ScryptParams
from m2m_guard.issuer._secrets import generate_secret, hash_secret, verify_secret
from tests.issuer._helpers import FAST


def test_a_hashed_secret_verifies_and_a_different_one_does_not() -> None:
    """The hash accepts its own secret and nothing else."""
    stored = hash_secret("correct horse", FAST)
    assert verify_secret("correct horse", stored)
    assert not verify_secret("correct horsf", stored)


def test_hashes_are_salted() -> None:
    """Hashing the same secret twice gives two different hashes."""
    assert hash_secret("same secret", FAST) != hash_secret("same secret", FAST)


def test_the_hash_does_not_contain_the_secret() -> None:
    """The stored form reveals neither the secret nor its encoding."""
    secret = generate_secret()
    stored = hash_secret(secret, FAST)
    assert secret not in stored
    assert stored.startswith("scrypt$2$1$1$")


def test_hashes_keep_verifying_after_the_cost_changes() -> None:
    """Parameters travel with the hash, so old hashes survive a new default cost."""
    stored = hash_secret("s3cret-value", ScryptParams(n=4, r=2, p=1))
    assert verify_secret("s3cret-value", stored)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "bcrypt$2$1$1$AAAA$AAAA",
        "scrypt$3$1$1$AAAA$AAAA",
        "scrypt$x$1$1$A$A",
        "scrypt$2$1$1$!!$AA",
    ],
)
def test_a_malformed_stored_hash_never_matches(stored: str) -> None:
    """Corrupt or foreign hashes are a non-match, not a crash."""
    assert not verify_secret("anything", stored)


def test_a_hash_of_another_scheme_never_matches() -> None:
    """Only the scrypt scheme is accepted, even if the digest would match."""
    stored = hash_secret("value-1234", FAST)
    assert not verify_secret("value-1234", "other" + stored[len("scrypt") :])


@pytest.mark.parametrize(("n", "r", "p"), [(1, 1, 1), (3, 1, 1), (2, 0, 1), (2, 1, 0)])
def test_invalid_scrypt_parameters_are_refused(n: int, r: int, p: int) -> None:
    """n must be a power of two above 1; r and p at least 1."""
    with pytest.raises(ValueError, match="scrypt"):
        ScryptParams(n=n, r=r, p=p)


def test_generated_secrets_are_long_and_unique() -> None:
    """Generated secrets carry 256 bits and never repeat."""
    secrets = {generate_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(len(secret) >= 43 for secret in secrets)


def test_a_generated_secret_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A draw starting with '-' (an option to every CLI) is drawn again."""
    draws = iter(["-leading-dash" + "a" * 30, "_fine" + "b" * 38])
    monkeypatch.setattr("m2m_guard.issuer._secrets.secrets.token_urlsafe", lambda n: next(draws))
    assert generate_secret() == "_fine" + "b" * 38
