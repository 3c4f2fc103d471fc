"""The README's "Sender-constrained tokens" snippets run as written."""

from __future__ import annotations

from typing import Any

import anyio

from m2m_guard import Verifier
from tests.integrations._harness_asgi import call
from tests.test_readme import python_blocks, section


def run(blocks: list[str]) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "readme"}
    for block in blocks:
        exec(compile(block, "README.md", "exec", dont_inherit=True), namespace)  # noqa: S102
    return namespace


def test_the_dpop_snippet_serves_a_bound_token_with_its_proof_only() -> None:
    """The app answers 200 to the proof made there, 401 to its replay and to Bearer."""
    namespace = run(python_blocks(section("Sender-constrained tokens")))
    app, headers, token = namespace["app"], namespace["headers"], namespace["token"]
    proof = namespace["proof"]

    def get(sent: dict[str, str]) -> Any:
        return anyio.run(call, app, "GET", "/orders", list(sent.items()))

    first = get(headers)
    assert first.status_code == 200, first.text
    assert first.json()["jkt"] == namespace["jwk_thumbprint"](namespace["jwk"])
    assert get(headers).json()["error"] == "invalid_dpop_proof"  # replayed
    fresh = {
        "Authorization": f"Bearer {token}",
        "DPoP": proof("GET", "https://orders.example.com/orders"),
    }
    assert get(fresh).json()["error"] == "invalid_token"  # a bound token as Bearer
    assert isinstance(namespace["mtls_verifier"], Verifier)
    assert namespace["mtls_verifier"].needs_request
