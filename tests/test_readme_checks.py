"""The README's "Custom checks and per-route rules" snippets run as written,
and their apps answer as the section says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.integrations._harness_asgi import request

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def run(name: str) -> dict[str, Any]:
    (block,) = re.findall(rf"```python\n# readme: {name}\n(.*?)```", README, flags=re.DOTALL)
    namespace: dict[str, Any] = {"__name__": "readme"}
    exec(compile(block, f"README:{name}", "exec"), namespace)  # noqa: S102 - the README's own code
    return namespace


def test_the_custom_checks_snippet_runs() -> None:
    """Its own asserts: 200 for the tenant, 403 for another, 401 when revoked."""
    run("custom checks")


def test_the_route_rules_snippet_narrows_one_route() -> None:
    """A token for the project passes /orders and is refused on the billing route."""
    names = run("route rules")
    token = names["factory"].token()
    auth = [("authorization", f"Bearer {token}")]
    assert request(names["app"], "/orders", auth).status_code == 200
    refused = request(names["app"], "/invoices", auth, method="POST")
    assert refused.status_code == 401
    billing = names["factory"].token(aud=[names["BILLING"]])
    assert (
        request(
            names["app"], "/invoices", [("authorization", f"Bearer {billing}")], method="POST"
        ).status_code
        == 200
    )


def test_the_token_location_snippet_reads_the_header_only() -> None:
    """200 from the header; 400 with Authorization as well; 401 from Authorization alone."""
    names = run("token location")
    token = names["factory"].token()
    app = names["app"]
    assert request(app, "/whoami", [("x-api-token", token)]).status_code == 200
    both = [("x-api-token", token), ("authorization", f"Bearer {token}")]
    assert request(app, "/whoami", both).status_code == 400
    assert request(app, "/whoami", [("authorization", f"Bearer {token}")]).status_code == 401
