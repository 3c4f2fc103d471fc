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

from m2m_guard._sansio.dpop import DEFAULT_DPOP_ALGORITHMS, DPoPPolicy, check_proof
from m2m_guard._sansio.dpop_errors import InvalidDPoPProofError, UseDPoPNonceError

from ._errors import OAuthError

__all__ = ["DEFAULT_PROOF_WINDOW", "DPOP_ALGORITHMS", "ProofChecker"]

logger = logging.getLogger("m2m_guard.issuer")

#: what proofs may be signed with: asymmetric algorithms only (RFC 9449 §4.3)
DPOP_ALGORITHMS = DEFAULT_DPOP_ALGORITHMS
DEFAULT_PROOF_WINDOW = 300.0  # seconds after its iat a proof is accepted (RFC 9449 §11.1)
_LEEWAY = 5.0  # seconds of clock skew between caller and issuer
_MAX_REMEMBERED = 100_000  # jtis kept at most; past that, refuse rather than forget


class ProofChecker:
    """Checks the token endpoint's DPoP proofs for one issuer; thread-safe.

    ``nonces`` turns on server nonces (HMAC of a time window under a
    secret of this process; nothing stored).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        nonces: bool = False,
        window: float = DEFAULT_PROOF_WINDOW,
    ) -> None:
        self._clock = clock
        self.policy = DPoPPolicy(
            iat_window=window,
            leeway=_LEEWAY,
            algorithms=DPOP_ALGORITHMS,
            nonce_secret=secrets.token_bytes(32) if nonces else None,
            nonce_lifetime=window,
        )
        self._nonces = self.policy.nonces
        self._seen: dict[str, float] = {}  # replay key -> until when it is remembered
        self._lock = threading.Lock()

    def fresh_nonce(self) -> str | None:
        """The nonce to hand out with every token endpoint answer, when nonces are on."""
        return None if self._nonces is None else self._nonces.current(self._clock())

    def check(self, headers: Sequence[str], token_url: str) -> str | None:
        """The thumbprint the token is to be bound to, or None without a ``DPoP`` header."""
        if not headers:
            return None
        if len(headers) > 1:  # §4.3 check 1: exactly one
            raise _invalid("Send exactly one DPoP header.")
        now = self._clock()
        try:
            proof = check_proof(
                headers[0],
                method="POST",
                url=token_url,
                access_token=None,  # §5: no token yet, so no ath
                policy=self.policy,
                now=now,
            )
        except UseDPoPNonceError as exc:
            error = OAuthError("use_dpop_nonce", "Send the proof again with the DPoP-Nonce.")
            error.headers = {"DPoP-Nonce": exc.nonce}
            raise error from exc
        except InvalidDPoPProofError as exc:
            logger.info("token request refused: bad DPoP proof: %s", exc)
            raise _invalid(str(exc)) from exc
        if not self._first_use(proof.replay_key, proof.replay_until, now):
            logger.info("token request refused: DPoP proof replayed")
            raise _invalid("This DPoP proof was used before.")
        return proof.jkt

    def _first_use(self, key: str, until: float, now: float) -> bool:
        with self._lock:
            if len(self._seen) >= _MAX_REMEMBERED:
                self._seen = {seen: end for seen, end in self._seen.items() if end > now}
                if len(self._seen) >= _MAX_REMEMBERED:
                    return False
            end = self._seen.get(key)
            if end is not None and end > now:
                return False
            self._seen[key] = until
            return True


def _invalid(description: str) -> OAuthError:
    return OAuthError("invalid_dpop_proof", description)
