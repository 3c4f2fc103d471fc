"""Explain a verification in plain words (``m2m-guard verify``).

The token is verified by the ordinary ``Verifier.verify``; this module only
decodes it for display and says which checks passed, which one failed and
why, and which were not reached. The order of ``STEPS`` mirrors the order of
``Engine.flow``.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from m2m_guard._sansio.claims import M2MClaims
from m2m_guard._sansio.errors import (
    BadSignatureError,
    DisallowedAlgorithmError,
    ExpiredTokenError,
    InsufficientScopeError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidIssuerError,
    KeysUnavailableError,
    M2MGuardError,
    MalformedTokenError,
    TokenNotYetValidError,
    TokenTooOldError,
    UnknownKeyError,
    UnsupportedHeaderError,
)
from m2m_guard._sansio.jws import parse_token
from m2m_guard._text import inert
from m2m_guard._verifier import Verifier

__all__ = ["STEPS", "Explanation", "explain"]

#: (step, what it checks, the errors that mean it failed), in engine order.
STEPS: tuple[tuple[str, str, tuple[type[M2MGuardError], ...]], ...] = (
    ("format", "a compact JWS within the size cap", (MalformedTokenError,)),
    (
        "header",
        "an allowed alg and an acceptable header",
        (DisallowedAlgorithmError, UnsupportedHeaderError),
    ),
    ("required", "every required claim is present", ()),
    ("issuer", "iss is an accepted issuer", (InvalidIssuerError,)),
    ("audience", "aud names an accepted audience", (InvalidAudienceError,)),
    ("key", "a key for the token's kid", (UnknownKeyError, KeysUnavailableError)),
    ("signature", "the signature verifies", (BadSignatureError,)),
    (
        "time",
        "exp, nbf, iat and the age limits",
        (ExpiredTokenError, TokenNotYetValidError, TokenTooOldError),
    ),
    ("claims", "client id, scopes and other claim types", (InvalidClaimError,)),
    ("scopes", "the required scopes are granted", (InsufficientScopeError,)),
)
_TIME_CLAIMS = frozenset({"exp", "nbf", "iat"})


@dataclass
class Explanation:
    """What ``explain`` found."""

    header: dict[str, Any] | None
    claims: dict[str, Any] | None
    steps: list[tuple[str, str, str]] = field(default_factory=list)
    result: M2MClaims | None = None
    error: M2MGuardError | None = None

    @property
    def valid(self) -> bool:
        return self.result is not None

    def render(self) -> str:
        """A plain-text report."""
        lines = []
        for title, value in (("Header", self.header), ("Claims", self.claims)):
            if value is not None:
                lines.append(f"{title} (decoded, not trusted until verified):")
                lines.extend("  " + line for line in json.dumps(value, indent=2).splitlines())
        lines.append("Checks:")
        lines.extend(f"  {status:<4}  {name:<9}  {detail}" for name, status, detail in self.steps)
        if self.result is not None:
            scopes = " ".join(self.result.scopes) or "(none)"
            lines.append(f"Result: VALID - client {self.result.client_id}, scopes {scopes}")
            lines.append(f"  expires {_when(self.result.expires_at)}")
        elif self.error is not None:
            lines.append(f"Result: INVALID ({self.error.status_code}) - {self.error.description}")
        # Claim values are the token's text: no line of the report may carry a raw control.
        return "\n".join(inert(line) for line in lines)


def _when(timestamp: float) -> str:
    try:
        moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    except (OverflowError, ValueError, OSError):
        return "never"
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _failed_step(error: M2MGuardError, claims: dict[str, Any] | None) -> str:
    if isinstance(error, InvalidClaimError) and not isinstance(
        error, InvalidIssuerError | InvalidAudienceError
    ):
        if claims is not None and error.claim not in claims:
            return "required"
        return "time" if error.claim in _TIME_CLAIMS else "claims"
    for name, _, errors in STEPS:
        if isinstance(error, errors):
            return name
    return "format"  # pragma: no cover - every error class is listed above


def explain(verifier: Verifier, token: str, required_scopes: Iterable[str] = ()) -> Explanation:
    """Verify ``token`` and describe each check."""
    header: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None
    try:
        parsed = parse_token(token, max_size=verifier._engine.max_token_size)
        header, claims = parsed.header, parsed.claims
    except M2MGuardError:
        pass  # verify() below reports why
    explanation = Explanation(header=header, claims=claims)
    try:
        explanation.result = verifier.verify(token, tuple(required_scopes))
        failed = None
    except M2MGuardError as exc:
        explanation.error = exc
        failed = _failed_step(exc, claims)
    reached = True
    for name, what, _ in STEPS:
        if name == failed:
            assert explanation.error is not None
            explanation.steps.append((name, "FAIL", explanation.error.description))
            reached = False
        else:
            explanation.steps.append((name, "pass" if reached else "-", what))
    return explanation
