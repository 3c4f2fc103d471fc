"""The catalog itself: consistent, complete, and mirrored in SECURITY.md."""

from __future__ import annotations

from pathlib import Path

from m2m_guard import KeysUnavailableError
from tests.attacks.catalog import ATTACKS, PROFILES

SECURITY_MD = Path(__file__).resolve().parents[2] / "SECURITY.md"

#: The attack classes the hardening issue lists; each needs at least one attack.
REQUIRED_CATEGORIES = {
    "alg none",
    "HMAC key confusion",
    "key-bearing headers",
    "kid injection",
    "ECDSA signatures",
    "token shape",
    "non-canonical base64url",
    "oversized tokens",
    "deeply nested JSON",
    "duplicate JSON members",
    "crit",
    "typ confusion",
    "claim types",
    "time claims",
    "issuer tricks",
    "audience mismatch",
    "scope claims",
}


def test_attack_ids_are_unique() -> None:
    """Every attack can be named on the command line (-k) unambiguously."""
    ids = [attack.id for attack in ATTACKS]
    assert len(ids) == len(set(ids))


def test_expected_answers_agree_with_the_exception_classes() -> None:
    """The status and error code in each row are what its exception class renders."""
    for attack in ATTACKS:
        assert attack.exception.status_code == attack.status, attack.id
        assert attack.exception.error == attack.error, attack.id
        assert attack.profile in PROFILES, attack.id


def test_no_attack_earns_a_503() -> None:
    """503 means "try again later": an attack must never be told its token may be fine."""
    assert all(attack.exception is not KeysUnavailableError for attack in ATTACKS)


def test_every_attack_class_of_the_issue_is_covered() -> None:
    """Each attack class of the hardening issue has at least one attack."""
    assert {attack.category for attack in ATTACKS} >= REQUIRED_CATEGORIES


def test_security_md_lists_every_attack_class() -> None:
    """SECURITY.md's table names every category of the catalog."""
    text = SECURITY_MD.read_text(encoding="utf-8")
    missing = {attack.category for attack in ATTACKS if f"| {attack.category} |" not in text}
    assert not missing
