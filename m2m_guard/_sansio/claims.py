"""The verified identity of a calling machine."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .frozen import freeze
from .scopes import ScopeSet, normalize_scopes

__all__ = ["RESERVED_CLAIMS", "CustomClaims", "M2MClaims", "verified_claims"]

#: Claims that are not custom claims (Stytch's SDKs use exactly this list).
RESERVED_CLAIMS = frozenset({"aud", "exp", "iat", "iss", "jti", "nbf", "sub", "scope"})


class CustomClaims(Mapping[str, Any]):
    """A read-only view of a token's claims without the reserved ones."""

    __slots__ = ("_claims",)

    def __init__(self, claims: Mapping[str, Any]) -> None:
        self._claims = claims

    def __getitem__(self, name: str) -> Any:
        if name in RESERVED_CLAIMS:
            raise KeyError(name)
        return self._claims[name]

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._claims if name not in RESERVED_CLAIMS)

    def __len__(self) -> int:
        return sum(1 for name in self._claims if name not in RESERVED_CLAIMS)

    def __repr__(self) -> str:
        return f"CustomClaims({dict(self)!r})"


@dataclass(frozen=True, slots=True)
class M2MClaims:
    """What a verified access token says about its caller.

    Attributes:
        client_id: the calling M2M client (``sub`` for Stytch).
        scopes: the granted scopes, in token order, without duplicates.
        custom_claims: every claim except ``aud exp iat iss jti nbf sub scope``.
        claims: every claim of the token.
        issuer: the ``iss`` claim.
        audience: the ``aud`` claim as a tuple.
        expires_at: the ``exp`` claim (seconds since the epoch).
        issued_at: the ``iat`` claim, or ``None``.
        token_id: the ``jti`` claim, or ``None``.
        principal: what the verifier's ``principal=`` built from these
            claims (a dataclass, a pydantic model …), or ``None``; built
            once per token and cached with it.
    """

    client_id: str
    scopes: tuple[str, ...]
    custom_claims: Mapping[str, Any] = field(default_factory=dict, repr=False)
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)
    issuer: str = ""
    audience: tuple[str, ...] = ()
    expires_at: float = 0.0
    issued_at: float | None = None
    token_id: str | None = None
    principal: Any = field(default=None, repr=False, compare=False)
    _scopes: ScopeSet | None = field(default=None, init=False, repr=False, compare=False)
    #: what an adapter derives from the claims once, read-only, and hands to
    #: every request of this token (Starlette's ``request.auth``/``request.user``)
    _adapted: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Read-only all the way down, so a handler cannot alter what others
        # will see. (The verifier hands over views of frozen JSON already.)
        if type(self.custom_claims) not in (MappingProxyType, CustomClaims):
            object.__setattr__(self, "custom_claims", MappingProxyType(freeze(self.custom_claims)))
        if type(self.claims) is not MappingProxyType:
            object.__setattr__(self, "claims", MappingProxyType(freeze(self.claims)))
        if type(self.scopes) is not tuple:
            object.__setattr__(self, "scopes", tuple(self.scopes))

    @property
    def _scope_set(self) -> ScopeSet:
        # Built on first use: many routes ask for no scope at all.
        scope_set = self._scopes
        if scope_set is None:
            scope_set = ScopeSet(self.scopes)
            object.__setattr__(self, "_scopes", scope_set)
        return scope_set

    @property
    def confirmation(self) -> Mapping[str, Any] | None:
        """The token's ``cnf`` claim (RFC 7800): how the caller must prove
        possession (``jkt`` for DPoP, ``x5t#S256`` for a TLS certificate), or
        ``None`` for a plain bearer token."""
        cnf = self.claims.get("cnf")
        return cnf if isinstance(cnf, Mapping) else None

    @property
    def dpop_jkt(self) -> str | None:
        """The JWK thumbprint the token is bound to (``cnf.jkt``, RFC 9449), or ``None``."""
        cnf = self.confirmation
        jkt = None if cnf is None else cnf.get("jkt")
        return jkt if isinstance(jkt, str) else None

    @property
    def cert_thumbprint(self) -> str | None:
        """The client certificate's SHA-256 thumbprint the token is bound to
        (``cnf["x5t#S256"]``, RFC 8705), or ``None``."""
        cnf = self.confirmation
        x5t = None if cnf is None else cnf.get("x5t#S256")
        return x5t if isinstance(x5t, str) else None

    def has_scopes(self, *scopes: str, any_of: bool = False) -> bool:
        """Whether the token grants ``scopes`` (all of them, or one with ``any_of``).

        Each argument may hold several space-separated scopes. Stytch's rule
        applies: a granted ``read:*`` covers ``read:users``.
        """
        wanted = normalize_scopes(scopes)
        if any_of:
            return self._scope_set.satisfies_any(wanted)
        return self._scope_set.satisfies_all(wanted)


_new = object.__new__
(
    _set_client_id,
    _set_scopes,
    _set_custom_claims,
    _set_claims,
    _set_issuer,
    _set_audience,
    _set_expires_at,
    _set_issued_at,
    _set_token_id,
    _set_principal,
    _set_scope_set,
    _set_adapted,
) = (
    getattr(M2MClaims, name).__set__
    for name in (
        "client_id",
        "scopes",
        "custom_claims",
        "claims",
        "issuer",
        "audience",
        "expires_at",
        "issued_at",
        "token_id",
        "principal",
        "_scopes",
        "_adapted",
    )
)


def verified_claims(
    client_id: str,
    scopes: tuple[str, ...],
    claims: MappingProxyType[str, Any],
    issuer: str,
    audience: tuple[str, ...],
    expires_at: float,
    issued_at: float | None,
    token_id: str | None,
    principal: Callable[[M2MClaims], Any] | None = None,
) -> M2MClaims:
    """The verifier's ``M2MClaims``, equal to ``M2MClaims(...)`` of the same values.

    Every value is final already (tuples, a read-only view of frozen JSON),
    so the slots are set directly: a frozen dataclass's ``__init__`` goes
    through ``object.__setattr__`` field by field and ``__post_init__``
    checks again what is known, about half of building the claims of a
    token never seen before. ``principal`` builds ``principal`` from the
    finished claims (its errors propagate: the token is then refused).
    """
    made: M2MClaims = _new(M2MClaims)
    _set_client_id(made, client_id)
    _set_scopes(made, scopes)
    _set_custom_claims(made, CustomClaims(claims))
    _set_claims(made, claims)
    _set_issuer(made, issuer)
    _set_audience(made, audience)
    _set_expires_at(made, expires_at)
    _set_issued_at(made, issued_at)
    _set_token_id(made, token_id)
    _set_scope_set(made, None)
    _set_adapted(made, None)
    _set_principal(made, None if principal is None else principal(made))
    return made
