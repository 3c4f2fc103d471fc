"""The README's snippets on roles as scopes, multi-tenant issuers and typed principals run."""

from __future__ import annotations

from typing import Any

import anyio

from m2m_guard import MultiTenantVerifier, ScopeClaim, Verifier
from tests.integrations._harness_asgi import call
from tests.test_readme import README, python_blocks, section


def run(blocks: list[str]) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "readme"}
    for block in blocks:
        # dont_inherit: the snippets run without this module's __future__ imports,
        # as users' modules would (FastAPI reads the route's annotations).
        code = compile(block, "README.md", "exec", dont_inherit=True)
        exec(code, namespace)  # noqa: S102 - our own README
    return namespace


def test_the_roles_as_scopes_snippet_builds_both_keycloak_verifiers() -> None:
    """Both spellings of a prefixed role claim reach the verifier's policy."""
    text = README[README.index("**Roles as scopes.**") : README.index("**Discovery.**")]
    (block,) = python_blocks(text)
    namespace = run([block])
    keycloak, client_roles = namespace["keycloak"], namespace["client_roles"]
    assert keycloak.policy.scope_claims[1] == ScopeClaim("realm_access.roles", prefix="role:")
    assert client_roles.policy.scope_claims[1].prefix == "role:"


def test_the_multi_tenant_snippets_build_verifiers_offline() -> None:
    """Entra's common keys and an Auth0 tenant template, with a set and an async resolver."""
    namespace = run(python_blocks(section("Multi-tenant issuers (Entra ID, Auth0 tenants)")))
    entra, auth0 = namespace["entra"], namespace["auth0"]
    assert isinstance(entra, MultiTenantVerifier)
    assert isinstance(auth0, MultiTenantVerifier)
    assert entra.tenant_claim == "tid"
    assert anyio.run(namespace["is_customer"], "acme")


def test_the_typed_principal_snippets_run_and_serve_a_typed_route() -> None:
    """The dataclass principal is built; the FastAPI route gets it, typed, cold and warm."""
    namespace = run(python_blocks(section("Typed principals")))
    tokens, app = namespace["tokens"], namespace["app"]
    assert isinstance(namespace["verifier"], Verifier)
    headers = [("authorization", f"Bearer {tokens.token('read:orders', tenant='acme')}")]
    for _ in range(2):
        response = anyio.run(call, app, "GET", "/orders", headers)
        assert response.status_code == 200
        assert response.json() == {"tenant": "acme", "plan": "free"}
