"""Explain a DPoP proof's checks (``m2m-guard verify --dpop PROOF --method M --url U``).

The token and its proof are verified as a request would be
(``Verifier.verify_authorization`` with ``Authorization: DPoP`` and the
proof, so the verifier's own binding check runs: the core's ``check_proof``
and the ``cnf.jkt`` comparison); this module only says which of RFC 9449
§4.3's checks passed, which failed and why, and which were not reached. When
the token itself fails, the proof is still explained on its own (the core's
``check_proof``), and the binding is not reached. The order of
``PROOF_STEPS`` mirrors ``check_proof``. The one check it cannot make
offline is the ``jti`` replay: that needs the server's replay store.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from m2m_guard._sansio.dpop import DPoPPolicy, check_proof
from m2m_guard._sansio.errors import M2MGuardError
from m2m_guard._sansio.request import RequestContext

from .explain import Explanation

__all__ = ["PROOF_STEPS", "explain_proof", "request_for"]

#: (step, what it checks, words of the core's messages that mean it failed), in check order.
PROOF_STEPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("proof", "one compact JWS within the size cap", ("too large", "signed JWT", "payload")),
    (
        "proof-hdr",
        "typ dpop+jwt, an allowed asymmetric alg, a public jwk",
        ("header", "typ", "asymmetric", "crit", "jwk", "algorithm"),
    ),
    ("jti", "a jti (single use is the server's replay store's to check)", ("jti",)),
    ("htm", "htm is the request method", ("htm",)),
    ("htu", "htu is the request URL without query and fragment", ("htu",)),
    ("iat", "iat within the proof window", ("future", "too old", "iat")),
    ("ath", "ath is the hash of this access token", ("ath",)),
    ("proof-sig", "the proof's signature verifies with its jwk", ("signature",)),
    ("binding", "the token's cnf.jkt is the proof key's thumbprint", ("bound", "DPoP-bound")),
)


def request_for(method: str, url: str, proof: str) -> RequestContext:
    """The request the proof was made for, carrying it."""
    parts = urlsplit(url)
    return RequestContext(
        method=method.upper(),
        scheme=parts.scheme,
        host=parts.netloc,
        path=parts.path or "/",
        raw_path=parts.path or "/",
        query=parts.query,
        headers=(("dpop", proof),),
    )


def _failed_step(error: M2MGuardError) -> str:
    text = (error.description or "").lower()
    for name, _, words in PROOF_STEPS:
        if any(word.lower() in text for word in words):
            return name
    return "proof"


def explain_proof(
    explanation: Explanation,
    token: str,
    proof: str,
    *,
    method: str,
    url: str,
    leeway: float = 0.0,
) -> Explanation:
    """Add the proof's checks to ``explanation`` (made by ``explain`` with ``request_for``)."""
    token_failed = any(status == "FAIL" for _, status, _ in explanation.steps)
    failure = None if token_failed else explanation.error
    if token_failed:
        try:
            check_proof(
                proof,
                method=method.upper(),
                url=url,
                access_token=token,
                policy=DPoPPolicy(leeway=leeway),
                now=time.time(),
            )
        except M2MGuardError as exc:
            failure = exc
    failed = None if failure is None else _failed_step(failure)
    reached = True
    for name, what, _ in PROOF_STEPS:
        if name == failed:
            assert failure is not None
            explanation.steps.append((name, "FAIL", failure.description))
            reached = False
        elif name == "binding" and token_failed:
            explanation.steps.append((name, "-", what))
        else:
            explanation.steps.append((name, "pass" if reached else "-", what))
    return explanation
