"""Fixtures the core tests share: verifiers on the fake clock, counted signature checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from m2m_guard import Verifier
from m2m_guard._sansio import engine as _engine
from tests.core._helpers import MakeVerifier
from tests.support.clock import FakeClock
from tests.support.keys import ISSUER, PROJECT_ID


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts real signature verifications (a cache hit does none)."""
    calls: list[str] = []
    real = _engine.verify_signature

    def counting(key: Any, alg: str, message: bytes, signature: bytes) -> bool:
        calls.append(alg)
        return real(key, alg, message, signature)

    monkeypatch.setattr(_engine, "verify_signature", counting)
    return calls


@pytest.fixture
async def make_verifier(clock: FakeClock) -> AsyncIterator[MakeVerifier]:
    """Builds verifiers on the fake clock; closes their own HTTP clients afterwards."""
    made: list[Verifier] = []

    def make(
        jwks_url: str | None = None, *, discover: str | None = None, **kwargs: Any
    ) -> Verifier:
        kwargs.setdefault("clock", clock)
        if discover is not None:
            verifier = Verifier.from_discovery(discover, audience=PROJECT_ID, **kwargs)
        else:
            verifier = Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks_url=jwks_url, **kwargs)
        made.append(verifier)
        return verifier

    yield make
    for verifier in made:
        verifier.close()
        await verifier.aclose()
