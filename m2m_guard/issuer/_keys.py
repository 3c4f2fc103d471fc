"""The signing key ring: RSA-2048 keys, rotation with a grace period, JWKS.

Exactly one key signs (``retire_at IS NULL``). :meth:`KeyRing.rotate` makes a
new key the signer and schedules the old one for retirement ``grace``
seconds later; until then it stays in the JWKS so tokens it signed keep
verifying. :meth:`KeyRing.retire` removes old keys at once.

Keys are read from the database on every use, so a rotation done by another
process (``m2m-guard keys rotate``) takes effect in a running server; parsed
keys are cached by kid, which never changes meaning.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from ._db import Database
from ._errors import BadRequestError, IssuerConfigError, NotFoundError
from ._models import SigningKeyInfo

__all__ = ["DEFAULT_GRACE_SECONDS", "KeyRing", "generate_rsa_key"]

logger = logging.getLogger("m2m_guard.issuer")

# Longer than a token's lifetime plus any sane JWKS cache age.
DEFAULT_GRACE_SECONDS = 24 * 3600.0


def generate_rsa_key() -> rsa.RSAPrivateKey:
    """A fresh RSA-2048 private key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _new_kid() -> str:
    return f"jwk-test-{uuid.uuid4()}"


def _to_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


class KeyRing:
    """Signing keys stored in a :class:`Database`."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], float],
        key_factory: Callable[[], rsa.RSAPrivateKey] = generate_rsa_key,
    ) -> None:
        self._db = db
        self._clock = clock
        self._key_factory = key_factory
        self._parsed: dict[str, tuple[rsa.RSAPrivateKey, dict[str, Any]]] = {}
        self._ensure_signing_key()

    def _ensure_signing_key(self) -> None:
        with self._db.reading() as conn:
            if conn.execute("SELECT 1 FROM signing_keys WHERE retire_at IS NULL").fetchone():
                return
        pem = _to_pem(self._key_factory())  # slow: outside any lock
        with self._db.transaction() as conn:
            # Another process may have won the race while we generated.
            if conn.execute("SELECT 1 FROM signing_keys WHERE retire_at IS NULL").fetchone():
                return
            kid = _new_kid()
            conn.execute(
                "INSERT INTO signing_keys (kid, private_key_pem, created_at) VALUES (?, ?, ?)",
                (kid, pem, self._clock()),
            )
        logger.info("created signing key %s", kid)

    def _parse(self, kid: str, pem: str) -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
        cached = self._parsed.get(kid)
        if cached is None:
            key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):  # pragma: no cover - we store RSA only
                raise IssuerConfigError(f"signing key {kid!r} is not an RSA key")
            public = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            jwk = {"kty": "RSA", "use": "sig", "key_ops": ["verify"], "alg": "RS256", "kid": kid}
            jwk.update(n=public["n"], e=public["e"])
            cached = self._parsed[kid] = (key, jwk)
        return cached

    def signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        """The kid and private key that sign new tokens."""
        with self._db.reading() as conn:
            kid, pem = conn.execute(
                "SELECT kid, private_key_pem FROM signing_keys WHERE retire_at IS NULL"
            ).fetchone()
        return kid, self._parse(kid, pem)[0]

    def keys(self) -> list[SigningKeyInfo]:
        """Every key in the ring, newest first."""
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT kid, created_at, retire_at FROM signing_keys "
                "ORDER BY retire_at IS NOT NULL, created_at DESC"
            ).fetchall()
        return [SigningKeyInfo(kid, created_at, retire_at) for kid, created_at, retire_at in rows]

    def jwks(self) -> dict[str, Any]:
        """The public JWKS: the signing key and old keys still in their grace period."""
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT kid, private_key_pem FROM signing_keys "
                "WHERE retire_at IS NULL OR retire_at > ? "
                "ORDER BY retire_at IS NOT NULL, created_at DESC",
                (self._clock(),),
            ).fetchall()
        return {"keys": [self._parse(kid, pem)[1] for kid, pem in rows]}

    def rotate(self, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> str:
        """Make a new key the signer; the old one stays published for the grace period."""
        if not (isinstance(grace_seconds, (int, float)) and math.isfinite(grace_seconds)):
            raise BadRequestError("grace_seconds must be a finite number.")
        if grace_seconds < 0:
            raise BadRequestError("grace_seconds must not be negative.")
        pem = _to_pem(self._key_factory())
        kid = _new_kid()
        now = self._clock()
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM signing_keys WHERE retire_at <= ?", (now,))
            conn.execute(
                "UPDATE signing_keys SET retire_at = ? WHERE retire_at IS NULL",
                (now + grace_seconds,),
            )
            conn.execute(
                "INSERT INTO signing_keys (kid, private_key_pem, created_at) VALUES (?, ?, ?)",
                (kid, pem, now),
            )
        logger.info("rotated signing keys: %s now signs", kid)
        return kid

    def retire(self, kid: str | None = None) -> list[str]:
        """Remove old keys from the JWKS now: one (``kid``) or all of them."""
        with self._db.transaction() as conn:
            if kid is None:
                rows = conn.execute(
                    "SELECT kid FROM signing_keys WHERE retire_at IS NOT NULL"
                ).fetchall()
            else:
                row = conn.execute(
                    "SELECT retire_at FROM signing_keys WHERE kid = ?", (kid,)
                ).fetchone()
                if row is None:
                    raise NotFoundError(f"No key with kid {kid!r}.", error_type="key_not_found")
                if row[0] is None:
                    raise BadRequestError(
                        f"Key {kid!r} is the signing key; rotate before retiring it."
                    )
                rows = [(kid,)]
            retired = [row[0] for row in rows]
            conn.executemany("DELETE FROM signing_keys WHERE kid = ?", rows)
        for old in retired:
            self._parsed.pop(old, None)
        if retired:
            logger.info("retired signing keys: %s", ", ".join(retired))
        return retired
