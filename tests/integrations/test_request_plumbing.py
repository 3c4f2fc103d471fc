"""The request reaches the verifier only when it asks for it (``needs_request``)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from m2m_guard import M2MClaims, Verifier
from m2m_guard._sansio.request import RequestContext
from tests.integrations._harness import Harness
from tests.integrations.test_cases import HARNESSES
from tests.support.clock import FakeClock
from tests.support.keys import SigningKey, stytch_claims


@pytest.fixture(params=HARNESSES, ids=lambda spec: spec.rsplit(":", 1)[1])
def harness(request: pytest.FixtureRequest) -> Harness:
    module, name = request.param.split(":")
    built: Harness = getattr(importlib.import_module(module), name)()
    return built


class Recording:
    """A third-party ``TokenVerifier`` that declares ``needs_request`` and
    records the request each call hands it (delegating to a ``Verifier``)."""

    needs_request = True

    def __init__(self, inner: Verifier) -> None:
        self.inner = inner
        self.seen: list[RequestContext | None] = []

    def verify(
        self,
        token: str,
        required_scopes: str | Iterable[str] = (),
        *,
        any_scopes: str | Iterable[str] = (),
        max_token_age: float | None = None,
    ) -> M2MClaims:
        return self.inner.verify(token, required_scopes)  # pragma: no cover - not called

    async def verify_async(
        self,
        token: str,
        required_scopes: str | Iterable[str] = (),
        *,
        any_scopes: str | Iterable[str] = (),
        max_token_age: float | None = None,
    ) -> M2MClaims:
        return await self.inner.verify_async(token, required_scopes)  # pragma: no cover

    def verify_authorization(
        self,
        values: Sequence[str],
        required: tuple[str, ...] = (),
        any_of: tuple[str, ...] = (),
        *,
        optional: bool = False,
        request: RequestContext | None = None,
    ) -> M2MClaims | None:
        self.seen.append(request)
        return self.inner.verify_authorization(values, required, any_of, optional=optional)

    async def verify_authorization_async(
        self,
        values: Sequence[str],
        required: tuple[str, ...] = (),
        any_of: tuple[str, ...] = (),
        *,
        optional: bool = False,
        request: RequestContext | None = None,
    ) -> M2MClaims | None:
        self.seen.append(request)
        return await self.inner.verify_authorization_async(
            values, required, any_of, optional=optional
        )

    def warm_up(self, *, strict: bool = False) -> bool:
        return True  # pragma: no cover - not called

    async def warm_up_async(self, *, strict: bool = False) -> bool:
        return True  # pragma: no cover - not called

    def close(self) -> None:
        """Nothing to close."""

    async def aclose(self) -> None:
        """Nothing to close."""


class Legacy(Recording):
    """A verifier written against the protocol before ``request=`` existed."""

    needs_request = False

    def verify_authorization(  # type: ignore[override]
        self,
        values: Sequence[str],
        required: tuple[str, ...] = (),
        any_of: tuple[str, ...] = (),
        *,
        optional: bool = False,
    ) -> M2MClaims | None:
        self.seen.append(None)
        return self.inner.verify_authorization(values, required, any_of, optional=optional)

    async def verify_authorization_async(  # type: ignore[override]
        self,
        values: Sequence[str],
        required: tuple[str, ...] = (),
        any_of: tuple[str, ...] = (),
        *,
        optional: bool = False,
    ) -> M2MClaims | None:
        self.seen.append(None)
        return await self.inner.verify_authorization_async(
            values, required, any_of, optional=optional
        )


def test_every_integration_hands_the_request_to_a_verifier_that_needs_it(
    harness: Harness, verifier: Verifier, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Method, path, host and headers of the real request reach the verifier."""
    recording = Recording(verifier)
    harness.build(recording)  # type: ignore[arg-type] - any TokenVerifier
    token = rsa_key.sign(stytch_claims(clock()))
    headers = [("authorization", f"Bearer {token}"), ("x-tenant", "acme")]

    for _ in range(2):  # cold, then a token-cache hit: the request each time
        reply = harness.request("/whoami", headers)
        assert reply.status == 200, reply

    assert len(recording.seen) == 2
    for request in recording.seen:
        assert isinstance(request, RequestContext)
        assert (request.method, request.path) == ("GET", "/whoami")
        assert request.header("X-Tenant") == "acme"
        assert request.host


def test_a_verifier_without_needs_request_is_called_without_it(
    harness: Harness, verifier: Verifier, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """A verifier of the older protocol (no ``request=``) keeps working."""
    legacy = Legacy(verifier)
    harness.build(legacy)  # type: ignore[arg-type] - any TokenVerifier
    token = rsa_key.sign(stytch_claims(clock()))

    reply = harness.request("/whoami", [("authorization", f"Bearer {token}")])

    assert reply.status == 200, reply
    assert legacy.seen == [None]


def test_the_warm_path_of_a_plain_verifier_builds_no_request_context(
    harness: Harness,
    verifier: Verifier,
    rsa_key: SigningKey,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without request-dependent rules no integration builds a ``RequestContext``."""

    def refuse(*args: Any) -> RequestContext:
        raise AssertionError("a RequestContext was built")

    monkeypatch.setattr(RequestContext, "from_asgi", classmethod(refuse))
    monkeypatch.setattr(RequestContext, "from_wsgi", classmethod(refuse))
    assert verifier.needs_request is False
    assert Verifier.combine(verifier).needs_request is False
    harness.build(verifier)
    token = rsa_key.sign(stytch_claims(clock()))

    for _ in range(2):
        assert harness.request("/whoami", [("authorization", f"Bearer {token}")]).status == 200
