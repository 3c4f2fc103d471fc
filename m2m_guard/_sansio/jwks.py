"""The JWKS cache policy, as state without I/O.

The drivers in ``_drivers.py`` do the HTTP; this module decides when a fetch
is due and what a response means. The rules (README, "The JWKS cache"):

* Keys are fresh for ``Cache-Control: max-age`` (clamped to
  ``[min_max_age, max_max_age]``), or ``default_max_age`` without one.
* Any fetch attempt, good or bad, starts a cooldown: no further fetch until
  it has passed. A flood of unknown ``kid`` values or an outage therefore
  costs at most one fetch per cooldown window.
* A failed refresh keeps the last good keys usable for ``stale_if_error``
  seconds past their freshness; after that, or with no keys at all, the
  verifier answers 503 (``KeysUnavailableError``), never 401.
* Only a 200 with a JSON object holding a ``keys`` list is a key set; a 304
  answers a conditional GET made with the stored ETag.
* One cache makes one fetch at a time, whatever mix of threads and event
  loops asks: the drivers run a refresh only through the cache's gate
  (``m2m_guard._gate``), and whoever waited re-checks ``should_fetch``
  (has ``generation`` moved?) and skips its own. ``refresh_budget`` bounds
  how long a refresh may take, and so how long anyone waits for one.

Nothing here takes a lock: state is one immutable ``_State`` swapped whole.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass

from jwt.exceptions import InvalidKeyError

from .discovery import jwks_uri_from_metadata, token_endpoint_from_metadata
from .errors import ConfigurationError, KeysUnavailableError, UnknownKeyError
from .events import EventHook, JWKSFetched, StaleKeysServed, emit
from .fetch import FetchResponse, HttpGet
from .keys import KeySet, VerificationKey

__all__ = ["JWKSCache", "JWKSPolicy", "Need", "Refresh"]

logger = logging.getLogger("m2m_guard.jwks")

_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)\"?", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|[,\s])(?:no-cache|no-store)(?:$|[,\s=])", re.IGNORECASE)


class Need(enum.Enum):
    """Whether a lookup wants the key set refreshed first."""

    NOTHING = 0
    #: the keys are stale but usable: refresh if nobody else is doing it
    OPPORTUNISTIC = 1
    #: the key is missing or the set unusable: wait for a refresh
    REQUIRED = 2


@dataclass(frozen=True, slots=True)
class JWKSPolicy:
    """Tunable numbers of the JWKS cache, in seconds and bytes."""

    default_max_age: float = 600.0
    min_max_age: float = 60.0
    max_max_age: float = 86_400.0
    cooldown: float = 30.0
    stale_if_error: float = 3_600.0
    timeout: float = 5.0
    max_bytes: int = 512 * 1024

    def __post_init__(self) -> None:
        for name in ("default_max_age", "min_max_age", "max_max_age", "cooldown", "timeout"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"jwks {name} must be positive")
        if self.stale_if_error < 0 or self.max_bytes <= 0:
            raise ConfigurationError("jwks stale_if_error must be >= 0 and max_bytes > 0")
        if not self.min_max_age <= self.default_max_age <= self.max_max_age:
            raise ConfigurationError("jwks max-age bounds must satisfy min <= default <= max")
        if self.cooldown > self.min_max_age:
            raise ConfigurationError("jwks cooldown must not exceed min_max_age")


@dataclass(frozen=True, slots=True)
class Refresh:
    """Yielded by a verification to ask its driver for a key-set refresh.

    ``generation`` is the cache generation the verification saw, so a driver
    that got the lock after another fetch completed can skip its own.
    """

    cache: JWKSCache
    generation: int
    wait: bool


@dataclass(frozen=True, slots=True)
class _State:
    keys: KeySet | None = None
    fresh_until: float = float("-inf")
    last_attempt: float = float("-inf")
    #: why the last attempt failed; empty when it succeeded
    failure: str = ""
    etag: str | None = None


def _log_fields(url: str | None, response: FetchResponse) -> dict[str, object]:
    # Structured fields for log handlers that keep them (JSON formatters …).
    return {
        "jwks_url": url,
        "http_status": response.status,
        "duration_ms": round(response.duration * 1000, 1),
    }


class JWKSCache:
    """Key set, freshness and cooldown of one JWKS URL (or of static keys).

    All state lives in one immutable ``_State`` swapped atomically, so the
    lookup path needs no lock. Refreshes are single-flight across threads and
    event loops: a driver runs one only after claiming the cache's gate.
    """

    def __init__(
        self,
        url: str | None,
        *,
        policy: JWKSPolicy,
        clock: Callable[[], float],
        static_keys: KeySet | None = None,
        discover_from: str | None = None,
        metadata_urls: tuple[str, ...] = (),
        trusted_origins: tuple[str, ...] = (),
    ) -> None:
        self.url = url
        #: an issuer whose metadata names the JWKS URL, resolved on first fetch
        self.discover_from = discover_from if url is None else None
        #: where that metadata is published, tried in order until one is not 404
        self.metadata_urls = metadata_urls
        #: origins the discovered jwks_uri may use: the issuer's, and these
        self.trusted_origins = trusted_origins
        #: until when the discovered jwks_uri is fresh (metadata max-age)
        self.metadata_fresh_until = float("-inf")
        #: the metadata's ``token_endpoint`` (documentation only, e.g. OpenAPI)
        self.token_endpoint: str | None = None
        self.policy = policy
        self._clock = clock
        self._state = (
            _State(keys=static_keys, fresh_until=float("inf")) if static_keys else _State()
        )
        #: incremented by every completed fetch attempt (single-flight check)
        self.generation = 0
        #: receives ``JWKSFetched`` and ``StaleKeysServed`` (``m2m_guard.events``)
        self.on_event: EventHook | None = None

    @property
    def keys(self) -> KeySet | None:
        """The current key set, or ``None`` before the first good fetch."""
        return self._state.keys

    def _usable(self, state: _State, now: float) -> bool:
        return state.keys is not None and now < state.fresh_until + self.policy.stale_if_error

    def _may_fetch(self, state: _State, now: float) -> bool:
        remote = self.url is not None or self.discover_from is not None
        return remote and now >= state.last_attempt + self.policy.cooldown

    def has_usable_keys(self) -> bool:
        """Whether a non-empty key set is cached and within its stale bound."""
        state = self._state
        return bool(state.keys and state.keys.keys) and self._usable(state, self._clock())

    def warm_up_request(self) -> Refresh | None:
        """A refresh to run at start-up, or ``None`` when keys are fresh."""
        state, now = self._state, self._clock()
        if now < state.fresh_until or not self._may_fetch(state, now):
            return None
        return Refresh(self, self.generation, wait=True)

    def still_serves(self, key: VerificationKey, now: float) -> bool:
        """Whether ``key`` is in the current key set and no refresh is due.

        The verified-token cache asks this on every hit, so that a key that
        left the set, or keys past their freshness, send the request down
        the full path (which refreshes them).
        """
        state = self._state
        if state.keys is None or key not in state.keys.keys:
            return False
        if now < state.fresh_until:
            return True
        if self._usable(state, now) and not self._may_fetch(state, now):
            emit(self.on_event, StaleKeysServed(self.url, now - state.fresh_until))
            return True
        return False

    def lookup(self, kid: str | None, alg: str) -> tuple[VerificationKey | None, Need]:
        """Find the key for a token and say whether a refresh is wanted."""
        state, now = self._state, self._clock()
        key = state.keys.select(kid, alg) if self._usable(state, now) and state.keys else None
        if key is not None:
            if now < state.fresh_until:
                return key, Need.NOTHING
            if not self._may_fetch(state, now):
                emit(self.on_event, StaleKeysServed(self.url, now - state.fresh_until))
                return key, Need.NOTHING
            return key, Need.OPPORTUNISTIC
        return None, Need.REQUIRED if self._may_fetch(state, now) else Need.NOTHING

    def should_fetch(self, generation: int) -> bool:
        """Whether a driver that claimed the refresh should still fetch.

        ``False`` when another thread or task completed a fetch since the
        caller looked (single-flight) or the cooldown has not passed.
        """
        return generation == self.generation and self._may_fetch(self._state, self._clock())

    def refresh_budget(self) -> float:
        """Seconds a whole refresh may take, which bounds how long others wait.

        The drivers bound each request by the policy's timeout; a refresh
        makes at most one per metadata URL and one for the JWKS. One more
        timeout is grace.
        """
        return self.policy.timeout * (len(self.metadata_urls) + 2)

    def refresh_flow(self) -> Generator[HttpGet, FetchResponse, None]:
        """One refresh attempt: the metadata if due, then the JWKS.

        Drivers run it while they hold the cache's refresh gate,
        answering each ``HttpGet``.
        A metadata refresh that fails keeps the known ``jwks_uri`` (the same
        stale-if-error rule as keys); without one, the attempt has failed.
        """
        if self.discover_from is not None and self._clock() >= self.metadata_fresh_until:
            reason = yield from self._discover()
            if reason and self.url is None:
                self.apply(FetchResponse(None, {}, reason=f"discovery: {reason}"))
                return
            if reason:
                logger.warning(
                    "discovery for %s failed: %s; keeping %s", self.discover_from, reason, self.url
                )
        assert self.url is not None
        self.apply((yield HttpGet(self.url, self.request_headers())))

    def _discover(self) -> Generator[HttpGet, FetchResponse, str]:
        """Fetch the issuer's metadata; ``""`` on success, else why not."""
        assert self.discover_from is not None
        response = FetchResponse(None, {})
        for url in self.metadata_urls:
            response = yield HttpGet(url, {"accept": "application/json"})
            if response.status != 404:
                break
        if response.status != 200:
            return response.reason or f"HTTP {response.status}"
        jwks_uri, reason = jwks_uri_from_metadata(
            response.body, self.discover_from, self.trusted_origins
        )
        if jwks_uri is None:
            return reason
        if jwks_uri != self.url:
            logger.info("discovered JWKS URL %r for issuer %r", jwks_uri, self.discover_from)
        self.url = jwks_uri
        self.token_endpoint = token_endpoint_from_metadata(response.body)
        self.metadata_fresh_until = self._clock() + self._max_age(
            response.headers, default=self.policy.max_max_age
        )
        return ""

    def request_headers(self) -> dict[str, str]:
        """Headers for the next fetch: a conditional GET when an ETag is known."""
        headers = {"accept": "application/json"}
        if self._state.etag and self._state.keys is not None:
            headers["if-none-match"] = self._state.etag
        return headers

    def unavailable_reason(self) -> str:
        """Why ``has_usable_keys`` is false, in words for a start-up check."""
        state = self._state
        source = self.url or self.discover_from or "static keys"
        if state.failure:
            reason = state.failure
        elif state.keys is None:
            reason = "no key set fetched yet"
        elif not state.keys.keys:
            reason = "the key set holds no keys"
        else:
            reason = "the cached keys are too old (past stale_if_error)"
        return f"no usable keys from {source}: {reason}"

    def missing_key_error(self) -> Exception:
        """The error for a token whose key could not be found."""
        state, now = self._state, self._clock()
        retry_after = max(1.0, state.last_attempt + self.policy.cooldown - now)
        if not self._usable(state, now) or not state.keys or not state.keys.keys:
            return KeysUnavailableError(retry_after=retry_after)
        if state.failure:
            # The kid may be a freshly rotated key we could not fetch.
            return KeysUnavailableError(retry_after=retry_after)
        return UnknownKeyError()

    def apply(self, response: FetchResponse) -> None:
        """Record the outcome of one fetch attempt (drivers: under the refresh gate)."""
        now = self._clock()
        state = self._state
        keys, reason = self._parse(response, state)
        if keys is None:
            logger.warning(
                "JWKS fetch from %s failed: %s; %s",
                self.url or self.discover_from,
                reason,
                "serving cached keys" if self._usable(state, now) else "no usable keys",
                extra=_log_fields(self.url or self.discover_from, response),
            )
            new = _State(state.keys, state.fresh_until, now, reason or "failed", state.etag)
            count = 0
        else:
            max_age = self._max_age(response.headers)
            etag = response.headers.get("etag") or (state.etag if response.status == 304 else None)
            new = _State(keys, now + max_age, now, "", etag)
            count = len(keys.keys)
            logger.info(
                "JWKS from %s: %d key(s), fresh for %.0fs",
                self.url,
                count,
                max_age,
                extra=_log_fields(self.url, response),
            )
        self._state = new
        url = self.url or self.discover_from
        ok = keys is not None
        emit(
            self.on_event,
            JWKSFetched(url, response.status, response.duration, ok, reason, count),
        )
        self.generation += 1

    def _parse(self, response: FetchResponse, state: _State) -> tuple[KeySet | None, str]:
        if response.status is None:
            return None, response.reason or "no response"
        if response.status == 304 and state.keys is not None:
            return state.keys, ""
        if response.status != 200:
            return None, f"HTTP {response.status}"
        try:
            document = json.loads(response.body)
        except (ValueError, RecursionError):
            return None, "body is not JSON"
        if not isinstance(document, dict):
            return None, "body is not a JSON object"
        try:
            keys = KeySet.from_jwks(document, previous=state.keys)
        except InvalidKeyError as exc:
            return None, str(exc)
        if document["keys"] and not keys.keys:
            return None, "no usable key in the set"
        return keys, ""

    def _max_age(self, headers: Mapping[str, str], default: float | None = None) -> float:
        cache_control = headers.get("cache-control", "")
        policy = self.policy
        if _NO_CACHE.search(cache_control):
            return policy.min_max_age
        match = _MAX_AGE.search(cache_control)
        max_age = float(match.group(1)) if match else (default or policy.default_max_age)
        return min(max(max_age, policy.min_max_age), policy.max_max_age)
