"""Client secrets: generation, salted scrypt hashing and constant-time checks.

A stored hash is self-describing (``scrypt$n$r$p$salt$hash``), so changing
the cost parameters later still verifies every secret stored before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

__all__ = ["ScryptParams", "generate_secret", "hash_secret", "verify_secret"]

_SALT_BYTES = 16
_KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost parameters (RFC 7914).

    The default (n=2**14, r=8, p=1, about 16 MiB and tens of milliseconds)
    suits a development server; :meth:`insecure_fast` is for test suites.
    """

    n: int = 2**14
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1):
            raise ValueError("scrypt n must be a power of two greater than 1")
        if self.r < 1 or self.p < 1:
            raise ValueError("scrypt r and p must be at least 1")

    @classmethod
    def insecure_fast(cls) -> ScryptParams:
        """A negligible cost, for tests only: hashes are still salted and checked."""
        return cls(n=2, r=1, p=1)

    @property
    def maxmem(self) -> int:
        """Enough memory for these parameters (scrypt needs 128 * n * r bytes)."""
        return 128 * self.n * self.r * (self.p + 2) + 1024 * 1024


def generate_secret() -> str:
    """A new random client secret (256 bits, URL-safe, never starting with ``-``).

    A secret is pasted into shells and command lines, where a leading ``-``
    reads as an option (``--client-secret -x`` is an argparse error), so the
    rare draw that starts with one is drawn again.
    """
    while (secret := secrets.token_urlsafe(32)).startswith("-"):
        pass
    return secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(secret: str, salt: bytes, params: ScryptParams) -> bytes:
    return hashlib.scrypt(
        secret.encode("utf-8"),
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=params.maxmem,
        dklen=_KEY_BYTES,
    )


def hash_secret(secret: str, params: ScryptParams) -> str:
    """Hash a secret with a fresh random salt."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _derive(secret, salt, params)
    return f"scrypt${params.n}${params.r}${params.p}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    """Whether ``secret`` matches a hash made by :func:`hash_secret`.

    The comparison is constant-time; a malformed stored hash never matches.
    """
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        params = ScryptParams(n=int(n), r=int(r), p=int(p))
        expected = _unb64(digest)
        actual = _derive(secret, _unb64(salt), params)
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)
