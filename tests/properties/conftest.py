"""Fixtures of the property tests (session-scoped: hypothesis reruns each test many times)."""

from __future__ import annotations

import pytest

from tests.properties.strategies import Target


@pytest.fixture(scope="session")
def target() -> Target:
    """A verifier over static keys at a fixed time, and tokens it accepts."""
    return Target.create()
