"""Server-provided DPoP nonces without server-side storage (RFC 9449 §8, §9).

A nonce is an HMAC of the current time window under a secret: any replica
that shares the secret computes it and checks it, nothing is stored. The
nonce of the current window and of the previous one are accepted, so a
nonce handed out just before a window ends keeps working for at least one
full window; older ones are refused with a fresh nonce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from dataclasses import dataclass

__all__ = ["NonceSource"]


@dataclass(frozen=True, slots=True)
class NonceSource:
    """Makes and checks the nonces of one secret and one window length."""

    secret: bytes
    lifetime: float

    def _of(self, window: int) -> str:
        digest = hmac.new(
            self.secret, b"m2m_guard dpop nonce " + str(window).encode(), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode("ascii")

    def _window(self, now: float) -> int:
        return math.floor(now / self.lifetime)

    def current(self, now: float) -> str:
        """The nonce to hand out at ``now``."""
        return self._of(self._window(now))

    def accepts(self, nonce: object, now: float) -> bool:
        """Whether ``nonce`` is this window's or the previous window's."""
        if not isinstance(nonce, str) or len(nonce) != 24:
            return False
        window = self._window(now)
        encoded = nonce.encode("ascii", "replace")
        current = hmac.compare_digest(encoded, self._of(window).encode())
        previous = hmac.compare_digest(encoded, self._of(window - 1).encode())
        return current or previous
