"""The README's "Running on many replicas" snippet runs as written, on a real Redis."""

from __future__ import annotations

import pytest
import redis

from m2m_guard._sansio.revocation import redis_keys
from tests.support.redis_server import RedisServer
from tests.test_readme_revocation import run

pytestmark = pytest.mark.slow


def test_the_replicas_snippet_revokes_in_redis_and_claims_once(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against the test's redis-server: the client cut-off and the proof key land in Redis."""
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    run("replicas")
    raw = redis.Redis.from_url(redis_server.url, socket_timeout=1)
    assert raw.hkeys(redis_keys("orders-api").clients) == [b"m2m-client-leaked"]
    assert raw.exists("m2m_guard:replay:orders-api:proof-key") == 1
    raw.close()
