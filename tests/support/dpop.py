"""DPoP keys and proofs for tests: sign whatever a caller (or an attacker) could."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from m2m_guard import access_token_hash, jwk_thumbprint
from tests.support.keys import b64json, b64url

_counter = itertools.count()


@dataclass
class DPoPKey:
    """A caller's DPoP key pair (ES256 unless told otherwise)."""

    private: Any = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    alg: str = "ES256"

    def jwk(self) -> dict[str, Any]:
        """The public JWK, as a proof header carries it."""
        algorithm = jwt.get_algorithm_by_name(self.alg)
        return dict(algorithm.to_jwk(self.private.public_key(), as_dict=True))  # type: ignore[attr-defined]

    @property
    def jkt(self) -> str:
        """The RFC 7638 thumbprint a bound token's ``cnf.jkt`` carries."""
        return jwk_thumbprint(self.jwk())

    def proof(
        self,
        method: str,
        url: str,
        *,
        now: float,
        token: str | None = None,
        header: dict[str, Any] | None = None,
        signer: DPoPKey | None = None,
        **claims: Any,
    ) -> str:
        """A proof for ``method url`` at ``now`` (``ath`` of ``token``).

        ``header`` and ``claims`` override members (``...`` removes one);
        ``signer`` signs with another key than the one in the header.
        """
        made: dict[str, Any] = {
            "jti": f"proof-{next(_counter)}",
            "htm": method,
            "htu": url,
            "iat": int(now),
        }
        if token is not None:
            made["ath"] = access_token_hash(token)
        made.update(claims)
        protected = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.jwk(), **(header or {})}
        protected = {k: v for k, v in protected.items() if v is not ...}
        made = {k: v for k, v in made.items() if v is not ...}
        signing_input = f"{b64json(protected)}.{b64json(made)}"
        key = (signer or self).private
        alg = (signer or self).alg
        signature = jwt.get_algorithm_by_name(alg).sign(signing_input.encode(), key)
        return f"{signing_input}.{b64url(signature)}"
