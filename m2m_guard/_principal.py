"""Typed principals: the object an application gets for a verified token.

``Verifier(..., principal=Caller)`` builds a ``Caller`` from every token's
claims once, when the token is verified; it is kept with the claims in the
token cache (``claims.principal``), so a cache hit hands out the very same
object. ``Caller`` may be:

* a dataclass, an ``attrs`` class or a pydantic model: each field (by its
  init name; for pydantic, its alias when it has one) is filled from the
  attribute of ``M2MClaims`` of that name (``client_id``, ``scopes``,
  ``issuer``, ``audience``, ``expires_at``, ``issued_at``, ``token_id``,
  ``custom_claims``, ``claims``) or else from the claim of that name
  (``tid``, ``org_id`` …); a claim the token lacks is left out, so the
  field's default applies, and a required field without a value fails;
* any other callable, called with the ``M2MClaims``.

A principal that cannot be built (a missing field, a pydantic validation
error, the converter raising) refuses the token: 401 ``invalid_token``, with
a warning naming the principal and the error's type, never a 500. Values are
the token's read-only ones (``FrozenList``, ``FrozenDict``); pydantic copies
them into its own types.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from ._sansio.claims import M2MClaims
from ._sansio.errors import ConfigurationError, InvalidTokenError
from ._text import inert

__all__ = ["PrincipalBuilder", "principal_builder"]

logger = logging.getLogger("m2m_guard")

#: ``M2MClaims`` attributes a field of these names is filled from.
_ATTRIBUTES = frozenset(
    (
        "client_id",
        "scopes",
        "issuer",
        "audience",
        "expires_at",
        "issued_at",
        "token_id",
        "custom_claims",
        "claims",
    )
)


def _field_names(target: Any) -> tuple[tuple[str, ...], Callable[[dict[str, Any]], Any]] | None:
    """The init names of a dataclass, attrs class or pydantic model, and how
    to build one from them; ``None`` for anything else."""
    if isinstance(target, type) and dataclasses.is_dataclass(target):
        names = tuple(f.name for f in dataclasses.fields(target) if f.init)
        return names, lambda values: target(**values)
    attributes = getattr(target, "__attrs_attrs__", None)
    if isinstance(target, type) and attributes is not None:
        names = tuple(getattr(a, "alias", None) or a.name for a in attributes if a.init)
        return names, lambda values: target(**values)
    fields = getattr(target, "model_fields", None)
    validate = getattr(target, "model_validate", None)
    if isinstance(target, type) and isinstance(fields, dict) and callable(validate):
        names = tuple(getattr(info, "alias", None) or name for name, info in fields.items())
        return names, validate
    return None


class PrincipalBuilder:
    """Builds ``target`` from verified claims; refuses the token when it cannot."""

    __slots__ = ("_build", "_names", "name", "target")

    def __init__(self, target: Any) -> None:
        self.target = target
        self.name = getattr(target, "__qualname__", None) or type(target).__name__
        mapped = _field_names(target)
        if mapped is None:
            if not callable(target):
                raise ConfigurationError.of(
                    "principal", "must be a dataclass, attrs class, pydantic model or callable"
                )
            self._names: tuple[str, ...] | None = None
            self._build: Callable[[Any], Any] = target
        else:
            self._names, self._build = mapped

    def __call__(self, claims: M2MClaims) -> Any:
        try:
            if self._names is None:
                return self._build(claims)
            return self._build(_values(self._names, claims))
        except Exception as exc:
            # The token verified, but it does not fit what the application
            # asked for: a refusal, never a 500. The claims' values are
            # not logged (the error's text may quote them).
            logger.warning(
                "token refused: its claims do not make a %s principal (%s, client %s)",
                self.name,
                type(exc).__name__,
                inert(claims.client_id),
            )
            raise InvalidTokenError("The token's claims do not fit this service.") from exc

    def __repr__(self) -> str:
        return f"<PrincipalBuilder {self.name}>"


def _values(names: tuple[str, ...], claims: M2MClaims) -> dict[str, Any]:
    values: dict[str, Any] = {}
    everything = claims.claims
    for name in names:
        if name in _ATTRIBUTES:
            values[name] = getattr(claims, name)
        elif name in everything:
            values[name] = everything[name]
    return values


def principal_builder(principal: Any) -> PrincipalBuilder | None:
    """The ``principal`` setting, checked (``None``: no principal)."""
    if principal is None or isinstance(principal, PrincipalBuilder):
        return principal
    return PrincipalBuilder(principal)
