"""DPoP at the token endpoint (RFC 9449 §5): check the proof, bind the token to its key.

A token request may carry one ``DPoP`` header: a proof for ``POST`` to the
token endpoint's own URL, signed by the key the token is to be bound to.
The proof is checked by the core's proof check (``m2m_guard._sansio.dpop``,
the same one every resource server runs), without ``ath``: there is no
access token yet. The issuer adds what only it can: the ``htu`` it expects
(its public URL, never the request's ``Host``), a ``jti`` used once within
the proof window, and, when nonces are on, a nonce it handed out (§8),
verified without storage. A good proof yields the thumbprint for
``cnf.jkt``; a client with ``dpop_bound_access_tokens`` must send one.

Failures are ``invalid_dpop_proof`` (400), or ``use_dpop_nonce`` (400 with a
fresh ``DPoP-Nonce`` header) when the nonce is missing or stale.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Sequence

from m2m_guard._sansio import dpop as core
from m2m_guard._sansio.errors import M2MGuardError

from ._errors import OAuthError

__all__ = ["DEFAULT_PROOF_WINDOW", "DPOP_ALGORITHMS", "ProofChecker"]

logger = logging.getLogger("m2m_guard.issuer")

#: what proofs may be signed with: asymmetric algorithms only (RFC 9449 §4.3)
DPOP_ALGORITHMS = ("ES256", "ES384", "ES512", "EdDSA", "PS256", "RS256")
DEFAULT_PROOF_WINDOW = 300  # seconds a proof's iat may be off (RFC 9449 §11.1)
_MAX_REMEMBERED = 100_000  # jtis kept at most; past that, refuse rather than forget


class ProofChecker:
    """Checks the token endpoint's DPoP proofs for one issuer; thread-safe."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        nonces: bool = False,
        window: int = DEFAULT_PROOF_WINDOW,
        nonce_secret: bytes | None = None,
    ) -> None:
        self._clock = clock
        self.window = window
        self.nonces = (
            core.NonceIssuer(nonce_secret or secrets.token_bytes(32), lifetime=window)
            if nonces
            else None
        )
        self._seen: dict[str, float] = {}  # jti -> until when it is remembered
        self._lock = threading.Lock()

    def fresh_nonce(self) -> str | None:
        """A nonce to hand out with every token endpoint answer, when nonces are on."""
        return None if self.nonces is None else self.nonces.issue(self._clock())

    def check(self, headers: Sequence[str], token_url: str) -> str | None:
        """The thumbprint the token is to be bound to, or None without a ``DPoP`` header."""
        if not headers:
            return None
        if len(headers) > 1:  # §4.3 check 1: exactly one
            raise _invalid("Send exactly one DPoP header.")
        now = self._clock()
        try:
            proof = core.check_proof(
                headers[0],
                method="POST",
                url=token_url,
                now=now,
                window=self.window,
                nonces=self.nonces,
            )
        except core.NonceRequiredError as exc:
            raise self._nonce_error(str(exc)) from exc
        except M2MGuardError as exc:
            logger.info("token request refused: bad DPoP proof: %s", exc)
            raise _invalid(str(exc)) from exc
        if not self._first_use(proof.jti, now + 2 * self.window):
            logger.info("token request refused: DPoP proof replayed")
            raise _invalid("This DPoP proof was used before.")
        return proof.jkt

    def _nonce_error(self, why: str) -> OAuthError:
        error = OAuthError("use_dpop_nonce", f"{why} Send the proof again with this DPoP-Nonce.")
        error.headers = {"DPoP-Nonce": self.fresh_nonce() or ""}
        return error

    def _first_use(self, jti: str, until: float) -> bool:
        now = self._clock()
        with self._lock:
            if len(self._seen) >= _MAX_REMEMBERED:
                self._seen = {key: end for key, end in self._seen.items() if end > now}
                if len(self._seen) >= _MAX_REMEMBERED:
                    return False
            end = self._seen.get(jti)
            if end is not None and end > now:
                return False
            self._seen[jti] = until
            return True


def _invalid(description: str) -> OAuthError:
    return OAuthError("invalid_dpop_proof", description)
