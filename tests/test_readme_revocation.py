"""The README's "Revocation" snippet runs as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def run(name: str) -> dict[str, Any]:
    (block,) = re.findall(rf"```python\n# readme: {name}\n(.*?)```", README, flags=re.DOTALL)
    namespace: dict[str, Any] = {"__name__": "readme"}
    exec(compile(block, f"README:{name}", "exec"), namespace)  # noqa: S102 - the README's own code
    return namespace


def test_the_revocation_snippet_refuses_a_revoked_token_and_client() -> None:
    """Its own asserts: the cached token and the revoked client's token are refused."""
    names = run("revocation")
    assert names["revocations"].state.clients.keys() == {"m2m-client-leaked"}
