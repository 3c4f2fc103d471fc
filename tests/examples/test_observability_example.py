"""examples/observability.py: counters from the event hook, and readiness."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import anyio
import httpx

from m2m_guard.testing import TokenFactory

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "observability.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("observability_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop(spec.name, None)
    spec.loader.exec_module(module)
    return module


def test_metrics_count_accepted_and_refused_tokens(m2m_env: TokenFactory) -> None:
    """/metrics counts verified tokens (cached or not) and refusals by reason; /ready is 200."""
    example = load_example()

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=example.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            header = m2m_env.auth_header()
            answers = [await client.get("/whoami", headers=header) for _ in range(2)]
            answers.append(await client.get("/whoami", headers=m2m_env.auth_header(expires_in=-10)))
            answers.append(await client.get("/ready"))
            answers.append(await client.get("/metrics"))
            return answers

    first, second, expired, ready, metrics = anyio.run(main)
    assert (first.status_code, second.status_code, expired.status_code) == (200, 200, 401)
    assert ready.json() == {"ready": True}
    assert metrics.text.splitlines() == [
        'm2m_tokens_refused_total{reason="ExpiredTokenError"} 1',
        'm2m_tokens_verified_total{cached="false"} 1',
        'm2m_tokens_verified_total{cached="true"} 1',
    ]
