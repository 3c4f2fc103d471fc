"""Explain a verification in plain words (``m2m-guard verify``).

The token is verified by the ordinary ``Verifier.verify``; this module only
decodes it for display and says which checks passed, which one failed and
why, and which were not reached, when the token was issued and when it
expires in words ("expired 1 h 3 m ago"), and, when no keys could be had,
why the fetch failed. The order of ``STEPS`` mirrors the order of
``Engine.flow``. ``render()`` is the report for people, ``to_json()`` the
same facts for machines (``verify --json``).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
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
from m2m_guard._sansio.request import RequestContext
from m2m_guard._sansio.scopes import normalize_scopes
from m2m_guard._text import inert
from m2m_guard._verifier import Verifier

from .cli_common import duration

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
_JSON_STATUS = {"pass": "pass", "FAIL": "fail", "-": "skipped"}


def _relative(claim: str, delta: float) -> str:
    """``delta`` = the claim's time minus now, in words."""
    span = duration(delta)
    if claim == "iat":
        return f"issued {span} ago" if delta <= 0 else f"issued {span} in the future"
    if claim == "nbf":
        return f"valid since {span} ago" if delta <= 0 else f"not valid for another {span}"
    return f"expired {span} ago" if delta <= 0 else f"expires in {span}"


def _plain(value: Any) -> Any:
    """JSON-ready copies of read-only claim values."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


@dataclass
class Explanation:
    """What ``explain`` found."""

    header: dict[str, Any] | None
    claims: dict[str, Any] | None
    steps: list[tuple[str, str, str]] = field(default_factory=list)
    result: M2MClaims | None = None
    error: M2MGuardError | None = None
    now: float | None = None
    #: Why the keys could not be fetched, when they could not (a 503).
    keys_reason: str | None = None

    @property
    def valid(self) -> bool:
        return self.result is not None

    def times(self) -> list[tuple[str, float, str]]:
        """``(claim, timestamp, in words)`` for the token's numeric exp, nbf and iat."""
        found = []
        for claim in ("iat", "nbf", "exp"):
            value = (self.claims or {}).get(claim)
            if self.now is None or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if _when(value) != "never":
                found.append((claim, float(value), _relative(claim, value - self.now)))
        return found

    def to_json(self) -> dict[str, Any]:
        """The facts of the report, for machines."""
        result = error = None
        if self.result is not None:
            result = {
                "client_id": self.result.client_id,
                "scopes": list(self.result.scopes),
                "issuer": self.result.issuer,
                "audience": list(self.result.audience),
                "expires_at": self.result.expires_at,
                "issued_at": self.result.issued_at,
                "token_id": self.result.token_id,
                "custom_claims": _plain(self.result.custom_claims),
            }
        if self.error is not None:
            error = {
                "type": type(self.error).__name__,
                "status_code": self.error.status_code,
                "error": self.error.error,
                "description": self.error.description,
            }
        return {
            "valid": self.valid,
            "header": _plain(self.header),
            "claims": _plain(self.claims),
            "checks": [
                {"check": name, "status": _JSON_STATUS[status], "detail": detail}
                for name, status, detail in self.steps
            ],
            "times": {
                claim: {"at": value, "utc": _when(value), "text": text}
                for claim, value, text in self.times()
            },
            "now": self.now,
            "result": result,
            "error": error,
            "keys_reason": self.keys_reason,
        }

    def render(self) -> str:
        """A plain-text report."""
        lines = []
        for title, value in (("Header", self.header), ("Claims", self.claims)):
            if value is not None:
                lines.append(f"{title} (decoded, not trusted until verified):")
                lines.extend("  " + line for line in json.dumps(value, indent=2).splitlines())
        times = self.times()
        if times:
            lines.append("Times:")
            lines.extend(f"  {claim}  {_when(value)}  {text}" for claim, value, text in times)
        lines.append("Checks:")
        lines.extend(f"  {status:<4}  {name:<9}  {detail}" for name, status, detail in self.steps)
        if self.result is not None:
            scopes = " ".join(self.result.scopes) or "(none)"
            lines.append(f"Result: VALID - client {self.result.client_id}, scopes {scopes}")
            expires = f"  expires {_when(self.result.expires_at)}"
            if self.now is not None:
                expires += f" (in {duration(self.result.expires_at - self.now)})"
            lines.append(expires)
        elif self.error is not None:
            lines.append(f"Result: INVALID ({self.error.status_code}) - {self.error.description}")
            if self.keys_reason:
                lines.append(f"  why: {self.keys_reason}")
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


def explain(
    verifier: Verifier,
    token: str,
    required_scopes: Iterable[str] = (),
    *,
    fetch_failures: Iterable[str] = (),
    request: RequestContext | None = None,
) -> Explanation:
    """Verify ``token`` and describe each check.

    ``fetch_failures`` is read after the verification: the reasons of the
    key fetches that failed meanwhile (the command collects them with the
    verifier's ``on_event`` hook), shown when the keys were unavailable.
    With ``request`` (one carrying a DPoP proof), the token goes the way of
    a request, ``Authorization: DPoP``, binding included; a failure of the
    binding leaves every token check passed (``explain_dpop`` names it).
    """
    header: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None
    try:
        parsed = parse_token(token, max_size=verifier._engine.max_token_size)
        header, claims = parsed.header, parsed.claims
    except M2MGuardError:
        pass  # verify() below reports why
    explanation = Explanation(header=header, claims=claims, now=verifier._engine.clock())
    try:
        if request is None:
            explanation.result = verifier.verify(token, tuple(required_scopes))
        else:
            scopes = normalize_scopes(tuple(required_scopes))
            found = verifier.verify_authorization([f"DPoP {token}"], scopes, request=request)
            explanation.result = found
        failed = None
    except M2MGuardError as exc:
        explanation.error = exc
        failed = _failed_step(exc, claims)
        if request is not None and not any(isinstance(exc, errs) for _, _, errs in STEPS):
            failed = None  # the proof or the binding: not one of the token's checks
        if isinstance(exc, KeysUnavailableError):
            explanation.keys_reason = "; ".join(fetch_failures) or None
    reached = True
    for name, what, _ in STEPS:
        if name == failed:
            assert explanation.error is not None
            explanation.steps.append((name, "FAIL", explanation.error.description))
            reached = False
        else:
            explanation.steps.append((name, "pass" if reached else "-", what))
    return explanation
