"""Warm-path cases of the policy features: typed principals and multi-tenant issuers.

Each repeats one token with one verifier (every operation after the first is
a token-cache hit), like "m2m_guard warm", through ``verify`` and through
the integrations' entry (``verify_authorization``), so the ratios to the
plain single-issuer verifier read directly:

* principal: ``Verifier(principal=Caller)``, a dataclass built once per token;
* tenants: a ``MultiTenantVerifier`` whose issuer pattern is the world's
  issuer with its project id as the tenant (one admitted tenant), keys
  fetched once from the issuer's JWKS on 127.0.0.1, untimed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from benchmarks._timing import Batch, Case
from benchmarks._world import World
from m2m_guard import Verifier

__all__ = ["policy_cases"]


@dataclass(frozen=True)
class Caller:
    """The typed principal of the benchmark."""

    client_id: str
    scopes: tuple[str, ...]


def _repeating(op: Callable[[], object]) -> Callable[[], Batch]:
    def prepare() -> Batch:
        def batch(n: int) -> None:
            for _ in itertools.repeat(None, n):
                op()

        return batch

    return prepare


def _tenant_verifier(world: World) -> Any:
    issuer = world.issuer.issuer.replace(world.project_id, "{tenant}")
    return Verifier.multi_tenant(
        issuer=issuer,
        audience=world.project_id,
        jwks_url=world.jwks_url,
        tenants={world.project_id},
        client_id_claims=("sub",),
        scope_claims=("scope",),
    )


@contextmanager
def policy_cases(world: World) -> Iterator[list[Case]]:
    """Warm verification: plain, with a principal, multi-tenant (verify and header)."""
    token = world.tokens[0]
    header = [f"Bearer {token}"]
    verifiers = {
        "plain": world.verifier(),
        "principal": world.verifier(principal=Caller),
        "tenants": _tenant_verifier(world),
    }
    for verifier in verifiers.values():
        verifier.verify(token)  # cached (and, multi-tenant, its keys fetched) untimed
    cases = []
    for name, verifier in verifiers.items():
        verify, authorize = verifier.verify, verifier.verify_authorization
        cases += [
            Case(
                f"warm_verify_{name}",
                f"warm verify(), {name}",
                _repeating(lambda verify=verify: verify(token)),
            ),
            Case(
                f"warm_header_{name}",
                f"warm verify_authorization(), {name}",
                _repeating(lambda authorize=authorize: authorize(header)),
            ),
        ]
    try:
        yield cases
    finally:
        verifiers["tenants"].close()  # the one that fetched its keys
