"""The verified-token cache: fast hits that never outlive the token or its key."""

from __future__ import annotations

import json
import threading
from typing import Any

import anyio
import httpx
import pytest

from m2m_guard import (
    ConfigurationError,
    ExpiredTokenError,
    InsufficientScopeError,
    MalformedTokenError,
    TokenTooOldError,
    UnknownKeyError,
    Verifier,
)
from m2m_guard._sansio.jwks import JWKSPolicy
from tests.core._helpers import static_verifier as make
from tests.support.clock import FakeClock
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims


def test_second_verification_is_a_hit_without_signature_check(
    rsa_key: SigningKey, clock: FakeClock, signature_checks: list[str]
) -> None:
    """A token seen before returns the same claims without verifying again."""
    verifier = make(rsa_key, clock)
    token = rsa_key.sign(stytch_claims(clock()))
    first = verifier.verify(token)
    second = verifier.verify(token)
    assert second is first
    assert signature_checks == ["RS256"]


def test_hit_rechecks_expiry_and_drops_the_entry(
    rsa_key: SigningKey, clock: FakeClock, signature_checks: list[str]
) -> None:
    """An entry lives no longer than the token's exp (plus leeway)."""
    verifier = make(rsa_key, clock, leeway=5)
    token = rsa_key.sign(stytch_claims(clock(), exp=int(clock()) + 60))
    verifier.verify(token)
    clock.advance(64.9)
    verifier.verify(token)
    assert len(signature_checks) == 1
    clock.advance(0.1)
    with pytest.raises(ExpiredTokenError):
        verifier.verify(token)
    assert verifier._engine.tokens is not None
    assert len(verifier._engine.tokens) == 0


def test_hit_rechecks_max_token_age_per_call(
    rsa_key: SigningKey, clock: FakeClock, signature_checks: list[str]
) -> None:
    """max_token_age applies on hits, as a default and per call, without evicting."""
    verifier = make(rsa_key, clock, max_token_age=120)
    token = rsa_key.sign(stytch_claims(clock()))
    verifier.verify(token)
    clock.advance(60)
    with pytest.raises(TokenTooOldError):
        verifier.verify(token, max_token_age=30)
    assert verifier.verify(token) is verifier.verify(token, max_token_age=90)
    clock.advance(60)
    with pytest.raises(TokenTooOldError):
        verifier.verify(token)
    assert verifier.verify(token, max_token_age=600).client_id
    assert len(signature_checks) == 3  # first, and the two full paths that raised


def test_scopes_are_checked_on_every_hit(rsa_key: SigningKey, clock: FakeClock) -> None:
    """A cached token still answers 403 for a scope it lacks."""
    verifier = make(rsa_key, clock)
    token = rsa_key.sign(stytch_claims(clock(), scope="read:users"))
    verifier.verify(token, ["read:users"])
    with pytest.raises(InsufficientScopeError):
        verifier.verify(token, ["write:users"])
    with pytest.raises(InsufficientScopeError):
        verifier.verify(token, any_scopes=["write:users", "admin:x"])
    assert verifier.verify(token, any_scopes=["write:users", "read:users"]).client_id


def test_failures_are_not_cached(
    rsa_key: SigningKey, other_rsa_key: SigningKey, clock: FakeClock
) -> None:
    """A rejected token is rejected every time and leaves no entry."""
    verifier = make(rsa_key, clock)
    forged = SigningKey("RS256", kid=rsa_key.kid, private=other_rsa_key.private).sign(
        stytch_claims(clock())
    )
    for _ in range(2):
        with pytest.raises(Exception, match="signature"):
            verifier.verify(forged)
    assert verifier._engine.tokens is not None
    assert len(verifier._engine.tokens) == 0


def test_cache_is_bounded_and_evicts_the_oldest(rsa_key: SigningKey, clock: FakeClock) -> None:
    """At most token_cache_size entries; the first one in is the first out."""
    verifier = make(rsa_key, clock, token_cache_size=3)
    tokens = [rsa_key.sign(stytch_claims(clock(), jti=f"t{i}")) for i in range(4)]
    for token in tokens:
        verifier.verify(token)
    cache = verifier._engine.tokens
    assert cache is not None
    assert len(cache) == 3
    assert cache.get(tokens[0]) is None
    assert all(cache.get(token) is not None for token in tokens[1:])
    verifier.verify(tokens[3])  # re-verifying a present token evicts nothing
    assert len(cache) == 3


def test_cache_can_be_turned_off(
    rsa_key: SigningKey, clock: FakeClock, signature_checks: list[str]
) -> None:
    """token_cache_size=0 verifies every time."""
    verifier = make(rsa_key, clock, token_cache_size=0)
    token = rsa_key.sign(stytch_claims(clock()))
    verifier.verify(token)
    verifier.verify(token)
    assert len(signature_checks) == 2
    assert verifier._engine.tokens is None


@pytest.mark.parametrize("size", [-1, True, 1.5, "10"])
def test_invalid_cache_size_is_a_configuration_error(rsa_key: SigningKey, size: object) -> None:
    """The size must be a whole number >= 0."""
    with pytest.raises(ConfigurationError):
        Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), token_cache_size=size)  # type: ignore[arg-type]


def test_unhashable_token_is_malformed_not_a_crash(rsa_key: SigningKey, clock: FakeClock) -> None:
    """The cache lookup never raises TypeError for odd inputs."""
    with pytest.raises(MalformedTokenError):
        make(rsa_key, clock).verify(["not", "a", "token"])  # type: ignore[arg-type]


def test_tokens_without_exp_are_never_cached(rsa_key: SigningKey, clock: FakeClock) -> None:
    """With exp not required, a token without it is verified every time."""
    verifier = make(rsa_key, clock, required_claims=["iss", "aud"])
    verifier.verify(rsa_key.sign(stytch_claims(clock(), exp=...)))
    assert verifier._engine.tokens is not None
    assert len(verifier._engine.tokens) == 0


class SwitchableJWKS:
    """A MockTransport JWKS whose document can change between fetches."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.fetches = 0
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        return httpx.Response(200, content=json.dumps(self.document).encode())


def remote(jwks: SwitchableJWKS, clock: FakeClock) -> Verifier:
    return Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks_url="https://issuer.example/jwks",
        http_client=httpx.Client(transport=jwks.transport),
        jwks_policy=JWKSPolicy(default_max_age=600, cooldown=30),
        clock=clock,
    )


def test_entries_die_with_their_key(
    rsa_key: SigningKey, other_rsa_key: SigningKey, clock: FakeClock
) -> None:
    """When a refresh (caused by another token) drops a key, its cached tokens stop answering."""
    jwks = SwitchableJWKS(jwks_of(rsa_key))
    verifier = remote(jwks, clock)
    token = rsa_key.sign(stytch_claims(clock()))
    verifier.verify(token)
    jwks.document = jwks_of(other_rsa_key)
    clock.advance(31)  # past the cooldown, keys still fresh
    verifier.verify(other_rsa_key.sign(stytch_claims(clock())))  # unknown kid: refetch
    assert jwks.fetches == 2
    with pytest.raises(UnknownKeyError):
        verifier.verify(token)
    assert verifier._engine.tokens is not None
    assert verifier._engine.tokens.get(token) is None


def test_stale_keys_send_hits_down_the_full_path(
    rsa_key: SigningKey, other_rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Past max-age a cached token triggers the refresh that finds its key gone."""
    jwks = SwitchableJWKS(jwks_of(rsa_key))
    verifier = remote(jwks, clock)
    token = rsa_key.sign(stytch_claims(clock()))
    verifier.verify(token)
    jwks.document = jwks_of(other_rsa_key)
    clock.advance(601)
    with pytest.raises(UnknownKeyError):
        verifier.verify(token)
    assert jwks.fetches == 2


def test_entries_survive_a_refresh_that_keeps_their_key(
    rsa_key: SigningKey, other_rsa_key: SigningKey, clock: FakeClock, signature_checks: list[str]
) -> None:
    """An unchanged JWK keeps its key object, so its tokens stay cached across refreshes."""
    jwks = SwitchableJWKS(jwks_of(rsa_key))
    verifier = remote(jwks, clock)
    token = rsa_key.sign(stytch_claims(clock()))
    verifier.verify(token)
    jwks.document = jwks_of(rsa_key, other_rsa_key)
    clock.advance(31)
    verifier.verify(other_rsa_key.sign(stytch_claims(clock())))  # new kid: refetch
    assert jwks.fetches == 2
    verifier.verify(token)
    assert len(signature_checks) == 2  # the first token once, the new one once


def test_concurrent_threads_share_the_cache_safely(rsa_key: SigningKey, clock: FakeClock) -> None:
    """Many threads verifying and evicting at once see only correct results."""
    verifier = make(rsa_key, clock, token_cache_size=8)
    tokens = [rsa_key.sign(stytch_claims(clock(), jti=f"t{i}", sub=f"c{i}")) for i in range(16)]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(offset: int) -> None:
        start.wait()
        try:
            for round_ in range(40):
                index = (offset + round_) % len(tokens)
                assert verifier.verify(tokens[index]).client_id == f"c{index}"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    cache = verifier._engine.tokens
    assert cache is not None
    # Lock-free: racing inserts may overshoot by one entry per thread at most,
    # and every insert trims back; one more, uncontended, is within the bound.
    assert len(cache) <= 8 + len(threads)
    verifier.verify(rsa_key.sign(stytch_claims(clock(), jti="last")))
    assert len(cache) <= 8


def test_async_verification_uses_the_same_cache(
    rsa_key: SigningKey, clock: FakeClock, signature_checks: list[str]
) -> None:
    """verify and verify_async share one cache: a token verified by one hits in the other."""
    verifier = make(rsa_key, clock)
    token = rsa_key.sign(stytch_claims(clock()))
    claims = verifier.verify(token)

    async def main() -> None:
        results: list[object] = []

        async def one() -> None:
            results.append(await verifier.verify_async(token))

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(one)
        assert all(result is claims for result in results)

    anyio.run(main)
    assert signature_checks == ["RS256"]


def test_custom_claims_view_hides_reserved_claims(
    verifier: Verifier, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """custom_claims is a read-only mapping of every non-reserved claim."""
    claims = verifier.verify(rsa_key.sign(stytch_claims(clock(), extra=[1])))
    custom = claims.custom_claims
    assert custom == {"tenant": "acme", "extra": [1]}
    assert len(custom) == 2
    assert sorted(custom) == ["extra", "tenant"]
    assert "sub" not in custom
    with pytest.raises(KeyError):
        custom["sub"]
    assert "tenant" in repr(custom)


def test_parser_memos_stay_bounded(rsa_key: SigningKey, clock: FakeClock) -> None:
    """Remembered headers and scope lists never grow without bound."""
    from m2m_guard._sansio import jws as _jws
    from m2m_guard._sansio import scopes as _scopes

    verifier = make(rsa_key, clock)
    for i in range(300):
        token = rsa_key.sign(stytch_claims(clock()), {"x-pad": i})
        verifier.verify(token)
    for i in range(_scopes._MAX_NORMALIZED + 10):
        assert _scopes.normalize_scopes(f"scope:{i} other") == (f"scope:{i}", "other")
    assert len(_jws._HEADERS) <= _jws._MAX_HEADERS
    assert len(_scopes._NORMALIZED) <= _scopes._MAX_NORMALIZED


def _entry_for(token: str, rsa_key: SigningKey, clock: FakeClock) -> Any:
    from m2m_guard._sansio.claims import M2MClaims
    from m2m_guard._sansio.token_cache import Entry

    key = make(rsa_key, clock).cache.keys.keys[0]  # type: ignore[union-attr]
    return Entry(token, M2MClaims(client_id="c", scopes=()), key, 0.0)


def test_lookups_compare_the_whole_token_not_just_its_tail(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Entries are indexed by the token's tail, but only the exact token hits."""
    from m2m_guard._sansio.token_cache import TAIL, TokenCache

    tail = "T" * TAIL
    first, second = "a" * 40 + tail, "b" * 40 + tail
    cache = TokenCache(10)
    entry = _entry_for(first, rsa_key, clock)
    cache.put(entry)
    assert cache.get(first) is entry
    assert cache.get(second) is None
    assert cache.get_bearer(f"Bearer {first}") is entry
    assert cache.get_bearer(f"Bearer {second}") is None
    assert cache.get_bearer(f"Bearer  {first}") is None  # not the exact header form
    assert cache.get_bearer(f"Bearer x{first}") is None
    assert cache.get_bearer(f"bearer {first}") is None  # the stored value is compared whole:
    assert cache.get_bearer(f"Beaver {first}") is None  # the scheme too, same length or not
    assert cache.get_bearer(first) is None
    assert entry.token == first
    other = _entry_for(second, rsa_key, clock)
    cache.put(other)  # same tail: replaces, never confuses
    assert cache.get(first) is None
    assert cache.get(second) is other
    cache.discard(entry)  # no longer stored: nothing happens
    assert cache.get(second) is other
    cache.discard(other)
    assert len(cache) == 0


def test_header_fast_lane_hits_only_the_exact_bearer_form(
    rsa_key: SigningKey, clock: FakeClock, signature_checks: list[str]
) -> None:
    """'Bearer <token>' of a verified token skips parsing; other spellings take the full path."""
    verifier = make(rsa_key, clock)
    token = rsa_key.sign(stytch_claims(clock()))
    claims = verifier.verify_header(f"Bearer {token}")
    assert verifier.cached_bearer([f"Bearer {token}"]) is claims
    assert verifier.cached_bearer([f"bearer {token}"]) is None
    assert verifier.cached_bearer([f"Bearer {token}", f"Bearer {token}"]) is None
    assert verifier.cached_bearer([]) is None
    assert verifier.verify_header(f"bearer {token}") is claims
    assert verifier.verify_authorization([f"Bearer {token}"]) is claims
    assert verifier.verify_authorization([f"bearer {token}"]) is claims
    assert verifier.verify_header([f"Bearer {token}"]) is claims
    assert len(signature_checks) == 1


def test_the_verification_core_takes_no_lock_and_imports_no_threading() -> None:
    """The token cache, and the sans-I/O modules the verification runs through,
    never import threading: the cache is lock-free (see its docstring)."""
    import ast
    from pathlib import Path

    import m2m_guard._sansio

    core = Path(m2m_guard._sansio.__file__).parent
    modules = ["token_cache", "engine", "policy", "jws", "keys", "claims", "scopes", "flow"]
    for name in modules:
        tree = ast.parse((core / f"{name}.py").read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}  # fmt: skip
        imported |= {node.module for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module}  # fmt: skip
        assert not imported & {"threading", "_thread"}, name


class _RacingDict(dict[str, Any]):
    """A dict another thread changes at the worst moments (simulated)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.iterations = 0
        self.steal_on_get: str | None = None

    fail_twice = False

    def __iter__(self) -> Any:
        self.iterations += 1
        if self.iterations == 1 or (self.fail_twice and self.iterations == 2):
            raise RuntimeError("dictionary changed size during iteration")
        return super().__iter__()

    def get(self, key: str, default: Any = None) -> Any:
        value = super().get(key, default)
        if key == self.steal_on_get:
            super().pop(key)  # another thread's discard, between our get and pop
        return value


def test_eviction_racing_another_thread_keeps_one_entry_too_many_for_a_while(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """An eviction that meets a concurrent change gives up (never spins, never
    raises); the cache holds one entry too many until the next insert trims it."""
    from m2m_guard._sansio.token_cache import TokenCache

    cache = TokenCache(2)
    racing = _RacingDict()
    cache._entries = racing
    entries = [_entry_for(f"token-{i:020d}", rsa_key, clock) for i in range(4)]
    cache.put(entries[0])
    cache.put(entries[1])
    cache.put(entries[2])  # full: the eviction meets the "concurrent" change
    assert len(cache) == 2  # ... and the trim after the insert restores the bound
    assert cache.get(entries[2].token) is entries[2]
    racing.iterations = 0  # the next look at the dict meets a change again, twice
    racing.fail_twice = True
    cache.put(entries[3])
    assert len(cache) == 3  # gave up both times: one too many for a while
    racing.fail_twice = False
    cache.put(entries[1])  # the next insert trims back to the bound
    assert len(cache) == 2
    assert cache.get(entries[3].token) is entries[3]
    assert cache.get(entries[0].token) is None


def test_discard_racing_another_discard_does_not_raise(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """The entry vanishing between the check and the removal is fine."""
    from m2m_guard._sansio.token_cache import TAIL, TokenCache

    cache = TokenCache(4)
    racing = _RacingDict()
    racing.iterations = 1  # no eviction trouble here
    cache._entries = racing
    entry = _entry_for("t" * 40, rsa_key, clock)
    cache.put(entry)
    racing.steal_on_get = entry.token[-TAIL:]
    cache.discard(entry)
    assert len(cache) == 0
