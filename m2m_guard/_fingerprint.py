"""A token's identity for security decisions: what the issuer signed, not how.

A compact JWS is not a unique spelling of what its issuer signed. ECDSA
signatures are malleable: when ``(r, s)`` is valid so is ``(r, n - s)``
(SEC 1 §4.1.4), and every standard ES256 signer may produce either, so
m2m_guard accepts both spellings. RSA-PSS signatures are randomised: the
issuer signing the same claims twice yields two valid tokens. Anything that
must recognise "the same token" across spellings — a revocation list, a
replay store, an audit trail — therefore keys on the *signing input*
(``BASE64URL(header) "." BASE64URL(payload)``, RFC 7515 §5.1), which only
the issuer's key can produce and which m2m_guard's parser already requires
to be canonical base64url, or on the ``jti`` claim where the issuer sets one.

The verified-token cache keys on the exact token string, which is sound: a
second spelling is a cache miss and is verified in full; it never inherits
anything it would not earn on its own.
"""

from __future__ import annotations

import hashlib

__all__ = ["token_fingerprint"]


def token_fingerprint(token: str) -> str:
    """The SHA-256 of a compact JWS's signing input, as 64 hex digits.

    Two tokens have the same fingerprint exactly when they carry the same
    signed header and claims, whatever their signature's spelling. Call it
    on a token that has been verified; for anything else it only names the
    bytes it was given.
    """
    if token.count(".") != 2:
        raise ValueError("not a compact JWS: expected three dot-separated segments")
    signing_input = token.rpartition(".")[0]
    return hashlib.sha256(signing_input.encode("utf-8", "surrogatepass")).hexdigest()
