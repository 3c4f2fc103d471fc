"""Shared state on Redis, for applications running on many processes or replicas.

- ``RedisRevocations``: one revocation truth for every replica, read from a
  local copy kept current by pub/sub (``Verifier(revocations=...)``).
- ``RedisReplayStore``: a DPoP proof is accepted once across the fleet
  (``DPoPPolicy(replay_store=...)``).

README, "Running on many replicas". Needs the ``redis`` extra:
``pip install "m2m-guard[redis]"``.
"""

from __future__ import annotations

from ._redis_replay import RedisReplayStore, ReplayStoreUnavailableError
from ._redis_revocations import RedisRevocations

__all__ = ["RedisReplayStore", "RedisRevocations", "ReplayStoreUnavailableError"]
