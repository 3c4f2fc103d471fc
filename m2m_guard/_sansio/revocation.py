"""Revocation: the state every replica holds, its check, and its Redis wire format.

Three kinds of revocation, each a map (README, "Revocation"):

- a token's ``jti`` -> its ``exp``: that token is refused until it expires
  (then it would be refused anyway, and the entry is pruned);
- a client id -> ``issued_before``: every token of that client whose ``iat``
  is earlier is refused (the answer to "a deactivated client's tokens stay
  valid until they expire");
- an issuer -> ``issued_before``: the same for every token of an issuer.

A token without ``iat`` cannot prove it was issued after a cut-off: when its
client or issuer has one, it is refused (when in doubt, reject).

``RevocationState`` is the local copy the verifier reads on every request,
cold path and token-cache hit alike, so the check is a few dictionary
lookups and never a network round trip. Its ``epoch`` changes with every
change of state: a cached token checked at the current epoch needs no
lookup at all (``Engine._hit``). ``fresh_until`` is when the copy stops
being trustworthy (the backend could not reach its store for ``max_stale``
seconds); from then on every token is answered 503 with ``Retry-After``
(``RevocationsUnavailableError``) until the backend catches up.

Revocations only grow (until a jti's ``exp`` passes): a later cut-off
replaces an earlier one, never the other way round, so events and resyncs
merge the same in any order, and a store that lost its data is refilled
from any replica that remembers (``merge``).

One writer at a time: the backends serialise their writes (a lock); readers
need none (every read is one atomic dictionary or attribute access).

The Redis wire format, for every replica and for the local issuer, which
publishes revocations (``m2m-guard issuer --revocations redis://…``)::

    m2m_guard:revocations:{namespace}:jti       hash  jti       -> exp
    m2m_guard:revocations:{namespace}:clients   hash  client_id -> issued_before
    m2m_guard:revocations:{namespace}:issuers   hash  iss       -> issued_before
    m2m_guard:revocations:{namespace}:events    pub/sub channel of JSON events:
        {"kind": "jti", "value": "<jti>", "until": <exp>}
        {"kind": "client", "value": "<client_id>", "issued_before": <t>}
        {"kind": "issuer", "value": "<iss>", "issued_before": <t>}

Numbers are seconds since the epoch (JSON numbers; in the hashes, their
decimal text). A writer stores the hash field, then publishes the event
(``revocation_commands`` gives both commands): a replica that misses the
event (disconnected) finds the field at its next full resync.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .claims import M2MClaims
from .errors import ConfigurationError, InvalidTokenError, KeysUnavailableError

__all__ = [
    "KEY_PREFIX",
    "RedisKeys",
    "RevocationEvent",
    "RevocationState",
    "RevocationsUnavailableError",
    "TokenRevokedError",
    "decode_event",
    "encode_event",
    "parse_hash",
    "redis_keys",
    "revocation_commands",
]

KEY_PREFIX = "m2m_guard:revocations"

Kind = Literal["jti", "client", "issuer"]
_KINDS: frozenset[str] = frozenset({"jti", "client", "issuer"})

#: The longest value (jti, client id, issuer) an event may carry.
MAX_VALUE_LENGTH = 1024


class TokenRevokedError(InvalidTokenError):
    """The token, its client or its issuer has been revoked (401 ``invalid_token``)."""

    default_description = "The token has been revoked."


class RevocationsUnavailableError(KeysUnavailableError):
    """The revocation state is older than ``max_stale`` allows (its store is
    unreachable): 503 with ``Retry-After``, as for keys that cannot be fetched."""

    default_description = "The token cannot be checked for revocation right now; try again later."


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """The Redis names of one revocation namespace."""

    jti: str
    clients: str
    issuers: str
    events: str

    def hash_of(self, kind: Kind) -> str:
        """The hash that stores revocations of ``kind``."""
        return {"jti": self.jti, "client": self.clients, "issuer": self.issuers}[kind]


def redis_keys(namespace: str = "default") -> RedisKeys:
    """The keys and channel of ``namespace`` (module doc).

    Raises:
        ConfigurationError: ``namespace`` is empty or holds ``:``, spaces or
            control characters.
    """
    if (
        not isinstance(namespace, str)
        or not namespace
        or len(namespace) > 128
        or any(c == ":" or not c.isprintable() or c.isspace() for c in namespace)
    ):
        raise ConfigurationError.of(
            "namespace", "must be 1-128 printable characters without ':' or spaces"
        )
    base = f"{KEY_PREFIX}:{namespace}"
    return RedisKeys(f"{base}:jti", f"{base}:clients", f"{base}:issuers", f"{base}:events")


@dataclass(frozen=True, slots=True)
class RevocationEvent:
    """One revocation: ``kind``, the revoked ``value`` and its time ``at``
    (``until`` for a jti: its ``exp``; ``issued_before`` otherwise)."""

    kind: Kind
    value: str
    at: float

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown revocation kind {self.kind!r}")
        if not isinstance(self.value, str) or not 0 < len(self.value) <= MAX_VALUE_LENGTH:
            raise ValueError("a revocation names a non-empty text value of at most 1024 characters")
        at = self.at
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
            raise ValueError("a revocation time is a finite number of seconds since the epoch")


def _time_field(kind: str) -> str:
    return "until" if kind == "jti" else "issued_before"


def encode_event(event: RevocationEvent) -> str:
    """The JSON text published on the events channel."""
    return json.dumps(
        {"kind": event.kind, "value": event.value, _time_field(event.kind): event.at},
        separators=(",", ":"),
    )


def decode_event(raw: str | bytes) -> RevocationEvent:
    """The event a message carries.

    Raises:
        ValueError: not JSON, or not an event of this format.
    """
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("a revocation event is JSON") from exc
    if not isinstance(data, dict) or data.get("kind") not in _KINDS:
        raise ValueError("a revocation event names its kind: jti, client or issuer")
    kind = data["kind"]
    return RevocationEvent(kind, data.get("value"), data.get(_time_field(kind)))  # type: ignore[arg-type]


def revocation_commands(keys: RedisKeys, event: RevocationEvent) -> tuple[tuple[str, ...], ...]:
    """The Redis commands that record and announce ``event``: ``HSET`` the
    field, then ``PUBLISH`` the event (run them in this order, e.g. in one
    ``MULTI``/pipeline: ``client.execute_command(*command)``)."""
    return (
        ("HSET", keys.hash_of(event.kind), event.value, repr(float(event.at))),
        ("PUBLISH", keys.events, encode_event(event)),
    )


def parse_hash(raw: Mapping[str | bytes, str | bytes]) -> dict[str, float]:
    """A hash as read by ``HGETALL``, fields that are not numbers dropped."""
    parsed: dict[str, float] = {}
    for field, value in raw.items():
        name = field.decode("utf-8", "replace") if isinstance(field, bytes) else field
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            parsed[name] = number
    return parsed


class RevocationState:
    """The revoked jtis, client and issuer cut-offs one process holds.

    Attributes:
        epoch: changes with every change of the maps (a cached token checked
            at this epoch needs no new lookup).
        fresh_until: when the copy stops being trusted (``math.inf``: always).
        retry_after: the ``Retry-After`` of the 503 once it is not.
    """

    __slots__ = ("clients", "epoch", "fresh_until", "issuers", "jtis", "retry_after")

    def __init__(self) -> None:
        self.jtis: dict[str, float] = {}
        self.clients: dict[str, float] = {}
        self.issuers: dict[str, float] = {}
        self.epoch = 0
        self.fresh_until = math.inf
        self.retry_after = 5.0

    def apply(self, event: RevocationEvent) -> None:
        """Record one revocation. Revocations only ever grow: a jti's ``until``
        and a cut-off take the later of the known and the new time, so
        events and resyncs merge the same in any order."""
        target = self._map(event.kind)
        at = float(event.at)
        known = target.get(event.value)
        if known is None or at > known:
            target[event.value] = at
            self.epoch += 1

    def _map(self, kind: str) -> dict[str, float]:
        return {"jti": self.jtis, "client": self.clients, "issuer": self.issuers}[kind]

    def merge(
        self, jtis: dict[str, float], clients: dict[str, float], issuers: dict[str, float]
    ) -> list[RevocationEvent]:
        """Take in a full snapshot of the store (a resync).

        Returns what the snapshot lacks and this copy knows (a store that lost
        its data, e.g. a Redis restarted without persistence): the backend
        writes it back, so no revocation is forgotten while one replica
        remembers it.
        """
        missing: list[RevocationEvent] = []
        for kind, theirs in (("jti", jtis), ("client", clients), ("issuer", issuers)):
            ours = self._map(kind)
            for value, at in ours.items():
                known = theirs.get(value)
                if known is None or known < at:
                    missing.append(RevocationEvent(kind, value, at))  # type: ignore[arg-type]
            merged = dict(ours)
            changed = False
            for value, at in theirs.items():
                known = merged.get(value)
                if known is None or at > known:
                    merged[value] = at
                    changed = True
            if changed:  # swapped whole: readers never see a dict change size
                setattr(
                    self, {"jti": "jtis", "client": "clients", "issuer": "issuers"}[kind], merged
                )
                self.epoch += 1
        return missing

    def prune(self, now: float, leeway: float = 0.0) -> list[str]:
        """Forget jtis past their ``exp`` (plus ``leeway``); returns them."""
        gone = [jti for jti, until in list(self.jtis.items()) if until + leeway < now]
        if gone:
            jtis = dict(self.jtis)
            for jti in gone:
                jtis.pop(jti, None)
            self.jtis = jtis  # swapped whole: readers never see a dict change size
            self.epoch += 1
        return gone

    def revoked(self, claims: M2MClaims) -> bool:
        """Whether ``claims`` fall under a revocation (freshness aside)."""
        jti = claims.token_id
        if jti is not None and jti in self.jtis:
            return True
        issued = claims.issued_at
        cut = self.clients.get(claims.client_id)
        if cut is not None and (issued is None or issued < cut):
            return True
        cut = self.issuers.get(claims.issuer)
        return cut is not None and (issued is None or issued < cut)

    def check(self, claims: M2MClaims, now: float) -> None:
        """Raise unless ``claims`` may pass now.

        Raises:
            RevocationsUnavailableError: the copy is too stale to decide.
            TokenRevokedError: the token falls under a revocation.
        """
        if now >= self.fresh_until:
            raise RevocationsUnavailableError(retry_after=self.retry_after)
        if self.revoked(claims):
            raise TokenRevokedError()
