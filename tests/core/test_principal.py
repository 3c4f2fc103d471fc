"""Typed principals: built once per token from its claims, cached with it, never a 500."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import anyio
import attrs
import pydantic
import pytest

from m2m_guard import (
    ConfigurationError,
    InvalidTokenError,
    M2MClaims,
    Verifier,
)
from m2m_guard._sansio import engine as _engine
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims

pytestmark = pytest.mark.anyio


@dataclasses.dataclass(frozen=True)
class Caller:
    client_id: str
    scopes: tuple[str, ...]
    tenant: str
    region: str = "eu"


@attrs.frozen
class AttrsCaller:
    client_id: str
    tenant: str
    _jti: str = attrs.field(alias="jti", default="")


class PydanticCaller(pydantic.BaseModel):
    client_id: str
    scopes: list[str]
    tenant_id: str = pydantic.Field(alias="tenant")
    issued_at: float | None = None
    seats: int = 1


def make(key: SigningKey, clock: FakeClock, principal: Any, **kwargs: Any) -> Verifier:
    return Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks=jwks_of(key),
        clock=clock,
        principal=principal,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        (Caller, Caller(CLIENT_ID, ("read:users", "write:users"), "acme")),
        (AttrsCaller, AttrsCaller(CLIENT_ID, "acme", "jti-1")),
        (
            PydanticCaller,
            PydanticCaller(
                client_id=CLIENT_ID,
                scopes=["read:users", "write:users"],
                tenant="acme",
                issued_at=1_800_000_000.0,
            ),
        ),
        (lambda claims: ("custom", claims.client_id), ("custom", CLIENT_ID)),
    ],
    ids=["dataclass", "attrs", "pydantic", "callable"],
)
def test_the_principal_is_built_from_claims_by_field_name(
    rsa_key: SigningKey, clock: FakeClock, principal: Any, expected: Any
) -> None:
    """Fields come from M2MClaims attributes, then claims; defaults fill what is absent."""
    verifier = make(rsa_key, clock, principal)
    claims = verifier.verify(rsa_key.sign(stytch_claims(clock())))
    assert claims.principal == expected
    assert verifier.principal_target is principal


def test_a_cache_hit_returns_the_same_principal_and_builds_nothing(
    rsa_key: SigningKey, clock: FakeClock, signature_checks: list[str]
) -> None:
    """Built once per token: every later use, in every entry point, hands out that object."""
    built: list[M2MClaims] = []

    def principal(claims: M2MClaims) -> object:
        built.append(claims)
        return object()

    verifier = make(rsa_key, clock, principal)
    token = rsa_key.sign(stytch_claims(clock()))
    first = verifier.verify(token).principal
    assert verifier.verify(token).principal is first
    assert verifier.verify_authorization([f"Bearer {token}"]).principal is first  # type: ignore[union-attr]
    assert anyio.run(verifier.verify_async, token).principal is first
    assert len(built) == 1
    assert signature_checks == ["RS256"]


@pytest.mark.parametrize(
    ("principal", "claims"),
    [
        (Caller, {"tenant": ...}),  # a required field without a value
        (PydanticCaller, {"scope": 7}),  # odd scopes are refused by the verifier already
        (PydanticCaller, {"tenant": ["not", "a", "string"]}),  # pydantic validation
        (lambda claims: 1 / 0, {}),  # the converter raising
    ],
    ids=["missing-field", "bad-scope", "validation", "converter-raises"],
)
def test_claims_that_do_not_fit_are_a_401_with_a_clear_log_line(
    rsa_key: SigningKey,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    principal: Any,
    claims: dict[str, Any],
) -> None:
    """Never a 500: invalid_token, a warning naming the principal, and no token in the log."""
    verifier = make(rsa_key, clock, principal)
    token = rsa_key.sign(stytch_claims(clock(), **claims))
    with (
        caplog.at_level(logging.WARNING, logger="m2m_guard"),
        pytest.raises(InvalidTokenError) as info,
    ):
        verifier.verify(token)
    assert info.value.status_code == 401
    assert info.value.error == "invalid_token"
    assert token not in caplog.text
    assert token.split(".")[1] not in caplog.text
    if "scope" not in claims:
        assert "principal" in caplog.text
        assert "do not fit" in info.value.description
    # nothing was cached: the next use is refused again, not let through
    with pytest.raises(InvalidTokenError):
        verifier.verify_authorization([f"Bearer {token}"])


def test_a_principal_setting_that_is_no_class_nor_callable_is_refused(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """principal=42 fails at construction, naming the setting."""
    with pytest.raises(ConfigurationError, match="principal"):
        make(rsa_key, clock, 42)


def test_without_a_principal_claims_carry_none(rsa_key: SigningKey, clock: FakeClock) -> None:
    """The default is no principal: nothing built, nothing changed."""
    verifier = make(rsa_key, clock, None)
    assert verifier.verify(rsa_key.sign(stytch_claims(clock()))).principal is None
    assert verifier.principal_target is None
    assert M2MClaims("c", ()).principal is None


def test_combined_and_multi_tenant_verifiers_build_principals_too(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Every member of a combined verifier, and every tenant, builds the same principal type."""
    combined = Verifier.combine(make(rsa_key, clock, Caller))
    assert combined.principal_target is Caller
    assert isinstance(combined.verify(rsa_key.sign(stytch_claims(clock()))).principal, Caller)
    assert (
        Verifier.combine(
            make(rsa_key, clock, Caller),
            Verifier(
                issuer="other", audience=PROJECT_ID, jwks=jwks_of(rsa_key), principal=AttrsCaller
            ),
        ).principal_target
        is None
    )
    tenants = Verifier.multi_tenant(
        issuer="https://{tenant}.example.com/",
        audience=PROJECT_ID,
        jwks_url="https://keys.example.com/jwks",
        tenants={"acme"},
        principal=Caller,
    )
    assert tenants.principal_target is Caller


def test_the_principal_costs_nothing_on_the_warm_path(
    rsa_key: SigningKey, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hit never calls the builder nor verifies a signature."""
    verifier = make(rsa_key, clock, Caller)
    token = rsa_key.sign(stytch_claims(clock()))
    verifier.verify(token)

    def boom(*args: Any) -> bool:
        raise AssertionError("a cache hit verified a signature")

    monkeypatch.setattr(_engine, "verify_signature", boom)
    monkeypatch.setattr(verifier.policy.principal, "_build", boom)
    assert isinstance(verifier.verify(token).principal, Caller)
    assert repr(verifier.policy.principal) == "<PrincipalBuilder Caller>"
