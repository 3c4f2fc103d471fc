"""Custom checks and per-route rules on the warm path.

"m2m_guard warm, plain guard" checks one warm token through a ``Guard`` that
adds nothing (the integrations' fast lane); "m2m_guard warm, pure check +
route audience" does the same through a verifier with one ``@pure_check``
check and a ``Guard`` with its own ``audience=``: the check's verdict rides
in the token cache, the route's audience is re-checked on every hit.
"""

from __future__ import annotations

import itertools
from typing import Any

from benchmarks._timing import Batch, Case
from benchmarks._world import World
from m2m_guard import Guard, M2MClaims, RequestContext, pure_check

__all__ = ["rule_cases"]


@pure_check
def _known_client(claims: M2MClaims, request: RequestContext | None) -> None:
    """A pure check: it decides from the claims alone."""
    if not claims.client_id:
        raise AssertionError("every token names its client")


def _warm(guard: Guard, token: str) -> Any:
    values = [f"Bearer {token}"]
    guard.check(values)  # verified once, untimed: every timed check is a hit

    def prepare() -> Batch:
        def batch(n: int) -> None:
            check = guard.check
            for _ in itertools.repeat(None, n):
                check(values)

        return batch

    return prepare


def rule_cases(world: World) -> list[Case]:
    """The plain warm guard and the one with a pure check and a route audience."""
    token = world.tokens[0]
    plain = Guard(world.verifier())
    ruled = Guard(world.verifier(checks=[_known_client]), audience=world.project_id)
    return [
        Case("guard_warm_plain", "m2m_guard warm, plain guard", _warm(plain, token)),
        Case(
            "guard_warm_rules",
            "m2m_guard warm, pure check + route audience",
            _warm(ruled, token),
        ),
    ]
