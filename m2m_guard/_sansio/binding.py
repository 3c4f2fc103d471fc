"""Sender-constrained tokens: what a request must show for a bound token.

A token is *bound* when it carries a ``cnf`` claim (RFC 7800): ``cnf.jkt``
binds it to a DPoP key (RFC 9449), ``cnf["x5t#S256"]`` to a TLS client
certificate (RFC 8705 §3). ``Binding`` holds a verifier's settings and checks
one request: its ``Authorization`` scheme (``Bearer`` or ``DPoP``), its DPoP
proof against the method, the URL and the token, and its client certificate
against the token's thumbprint. Everything here is pure: the proof's replay
key is claimed by the caller, in its ``ReplayStore``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .claims import M2MClaims
from .dpop import DPoPPolicy, DPoPProof, check_proof
from .dpop_errors import InvalidDPoPProofError
from .errors import ConfigurationError, InvalidRequestError, InvalidTokenError, MissingTokenError
from .jws import B64TOKEN
from .replay import ReplayStore
from .request import RequestContext

__all__ = ["DPOP_MODES", "Binding", "cert_thumbprint"]

#: What ``Verifier(dpop=...)`` accepts.
DPOP_MODES = ("off", "allowed", "required")
_SCHEME = re.compile(r"(?i:bearer|dpop)")
_XFCC_CERT = re.compile(r'(?:^|;)Cert="?([^";]+)"?')
_CERTS: dict[str, str] = {}
_MAX_CERTS = 256


def cert_thumbprint(pem: str) -> str:
    """The RFC 8705 ``x5t#S256`` of a PEM certificate: base64url(SHA-256(DER)).

    Raises:
        ValueError: not a PEM certificate.
    """
    known = _CERTS.get(pem)
    if known is None:
        der = x509.load_pem_x509_certificate(pem.encode("ascii")).public_bytes(Encoding.DER)
        known = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
        if len(_CERTS) >= _MAX_CERTS:
            _CERTS.clear()
        _CERTS[pem] = known
    return known


@dataclass(frozen=True, slots=True)
class Binding:
    """A verifier's rules for bound tokens (``Verifier(dpop=..., mtls=...)``)."""

    dpop: str
    policy: DPoPPolicy
    store: ReplayStore
    leeway: float = 0.0
    mtls: bool = False
    #: a header a trusted proxy sets to the caller's certificate (URL-encoded
    #: PEM, as nginx's ``$ssl_client_escaped_cert``, or Envoy's XFCC)
    cert_header: str | None = None

    def __post_init__(self) -> None:
        if self.dpop not in DPOP_MODES:
            raise ConfigurationError.of("dpop", 'must be "off", "allowed" or "required"')
        header = self.cert_header
        if header is not None and (not isinstance(header, str) or not header.strip()):
            raise ConfigurationError.of("mtls_cert_header", "must be a header name")

    @property
    def challenge_algs(self) -> str:
        """The ``algs`` of the ``DPoP`` challenge."""
        return " ".join(self.policy.algorithms)

    def challenge(self, scheme: str | None) -> tuple[str, str, str | None] | None:
        """What a refusal's ``WWW-Authenticate`` says (``None``: plain Bearer)."""
        if self.dpop == "off":
            return None
        return (self.dpop, self.challenge_algs, scheme)

    def credentials(self, values: Sequence[str]) -> tuple[str, str]:
        """The scheme (``"Bearer"`` or ``"DPoP"``) and token of the request.

        Raises:
            MissingTokenError: no credentials, or of a scheme not taken here.
            InvalidRequestError: several or malformed credentials.
        """
        if not values:
            raise MissingTokenError()
        if len(values) > 1:
            raise InvalidRequestError("The request carries more than one Authorization header.")
        scheme, _, token = values[0].strip(" \t").partition(" ")
        if not _SCHEME.fullmatch(scheme):
            raise MissingTokenError()
        scheme = "DPoP" if scheme.lower() == "dpop" else "Bearer"
        if scheme == "DPoP" and self.dpop == "off":
            raise MissingTokenError()
        token = token.strip(" ")
        if not token:
            raise InvalidRequestError(f"The {scheme} credentials are empty.")
        if "," in token or " " in token:
            raise InvalidRequestError("The Authorization header carries more than one credential.")
        if not B64TOKEN.fullmatch(token):
            raise InvalidRequestError(f"The {scheme} credentials contain invalid characters.")
        if scheme == "Bearer" and self.dpop == "required":
            raise InvalidTokenError(
                "This resource takes DPoP-bound tokens only: send 'Authorization: DPoP' "
                "with a DPoP proof."
            )
        return scheme, token

    def url(self, request: RequestContext) -> str:
        """The URL the caller addressed, as its proof's ``htu`` must name it."""
        base = self.policy.public_url
        if base is not None:
            return base.rstrip("/") + request.raw_path
        if self.policy.trust_forwarded_headers:
            proto = _first(request.header("x-forwarded-proto")) or request.scheme
            host = _first(request.header("x-forwarded-host")) or request.host
            return f"{proto}://{host}{request.raw_path}"
        return request.url

    def check(
        self, claims: M2MClaims, scheme: str, token: str, request: RequestContext, now: float
    ) -> DPoPProof | None:
        """Check that ``request`` proves possession for the verified ``claims``.

        Returns the DPoP proof (its replay key still to claim), or ``None``.

        Raises:
            InvalidTokenError: the token is bound and the request does not
                fit the binding (scheme, certificate).
            InvalidDPoPProofError: the DPoP proof is missing or invalid.
        """
        jkt, x5t = claims.dpop_jkt, claims.cert_thumbprint
        if claims.confirmation is not None and jkt is None and x5t is None:
            raise InvalidTokenError("The token's confirmation method (cnf) is not supported.")
        proof = None
        if scheme == "DPoP":
            if jkt is None:
                raise InvalidTokenError("The token is not DPoP-bound: send it as a Bearer token.")
            proof = self._proof(request, token, now)
            if not hmac.compare_digest(proof.jkt, jkt):
                raise InvalidDPoPProofError(
                    "The DPoP proof is signed by a key the token is not bound to."
                )
        elif jkt is not None:
            raise InvalidTokenError(
                "The token is DPoP-bound: send it as 'Authorization: DPoP' with a DPoP proof."
            )
        if x5t is not None:
            self._check_certificate(x5t, request)
        return proof

    def _proof(self, request: RequestContext, token: str, now: float) -> DPoPProof:
        proofs = request.header_values("dpop")
        if not proofs:
            raise InvalidDPoPProofError("The request lacks its DPoP proof header.")
        if len(proofs) > 1:
            raise InvalidDPoPProofError("The request carries more than one DPoP header.")
        return check_proof(
            proofs[0],
            method=request.method,
            url=self.url(request),
            access_token=token,
            policy=self.policy,
            now=now,
            leeway=self.leeway,
        )

    def _check_certificate(self, x5t: str, request: RequestContext) -> None:
        if not self.mtls:
            raise InvalidTokenError("The token is bound to a TLS client certificate.")
        pem = self._certificate(request)
        try:
            actual = None if pem is None else cert_thumbprint(pem)
        except (ValueError, UnicodeEncodeError):
            actual = None
        if actual is None or not hmac.compare_digest(
            actual.encode(), x5t.encode("ascii", "replace")
        ):
            raise InvalidTokenError(
                "The token is bound to a TLS client certificate this request does not present."
            )

    def _certificate(self, request: RequestContext) -> str | None:
        header = self.cert_header
        if header is None:
            return request.client_cert
        values = request.header_values(header)
        if len(values) != 1:
            return None  # none, or a caller's own next to the proxy's: refuse
        value: Any = values[0]
        found = _XFCC_CERT.search(value)
        if found is not None:  # Envoy: Hash=…;Cert="<URL-encoded PEM>"
            value = found.group(1)
        text = unquote(value)
        return text if "-----BEGIN CERTIFICATE-----" in text else None


def _first(value: str | None) -> str | None:
    if value is None:
        return None
    first = value.split(",", 1)[0].strip()
    return first or None
