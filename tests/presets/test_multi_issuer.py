"""Verifier.combine: one verifier (and one middleware) for several issuers.

Issuer A is a Stytch project (key ``rsa_key``), issuer B an Auth0 tenant
(key ``other_rsa_key``), each on its own server on 127.0.0.1 with its own
audience and claim mapping. The token's unverified ``iss`` only picks the
issuer; everything else is checked against that issuer alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import m2m_guard._multi
import m2m_guard._sansio.engine
from m2m_guard import (
    BadSignatureError,
    ConfigurationError,
    ExpiredTokenError,
    InsufficientScopeError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidRequestError,
    MalformedTokenError,
    MissingTokenError,
    MultiIssuerVerifier,
    TokenTooOldError,
    TokenVerifier,
    UnknownKeyError,
    Verifier,
)
from m2m_guard._http import httpx
from m2m_guard._sansio.jws import parse_token
from m2m_guard._sansio.keys import verify_signature
from tests.core._helpers import Flavor, unused_loopback_url
from tests.integrations._harness import Harness
from tests.presets.conftest import Track
from tests.presets.support import MIDDLEWARES, IssuerServer
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, PROJECT_ID, SigningKey, jwks_of, stytch_claims

pytestmark = pytest.mark.anyio

STYTCH_JWKS = f"/v1/sessions/jwks/{PROJECT_ID}"
AUTH0_JWKS = "/.well-known/jwks.json"
AUTH0_API = "https://orders.example.com/api"
AUTH0_CLIENT = "tN8Jz0fVw3QmK4pR7sXy2uBcDe5gHiJk"


@dataclass
class Issuers:
    """The two issuers' servers, keys and verifiers, and token factories for each."""

    a: IssuerServer  # Stytch
    b: IssuerServer  # Auth0
    key_a: SigningKey
    key_b: SigningKey
    clock: FakeClock

    def verifiers(self, **kwargs: Any) -> tuple[Verifier, Verifier]:
        stytch = Verifier.for_stytch(
            PROJECT_ID, environment=self.a.base_url, clock=self.clock, **kwargs
        )
        auth0 = Verifier.for_auth0(self.b.base_url, audience=AUTH0_API, clock=self.clock, **kwargs)
        return stytch, auth0

    def stytch_token(self, key: SigningKey | None = None, **claims: Any) -> str:
        return (key or self.key_a).sign(stytch_claims(self.clock(), **claims))

    def auth0_token(
        self, key: SigningKey | None = None, headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        now = int(self.clock())
        document = {
            "iss": f"{self.b.base_url}/",
            "sub": f"{AUTH0_CLIENT}@clients",
            "aud": AUTH0_API,
            "iat": now,
            "exp": now + 86400,
            "scope": "read:orders",
            "permissions": ["read:orders", "write:orders"],
            "gty": "client-credentials",
            "azp": AUTH0_CLIENT,
            **claims,
        }
        return (key or self.key_b).sign(document, headers)

    def requests(self) -> int:
        return len(self.a.paths) + len(self.b.paths)


@pytest.fixture
def issuers(
    issuer_server: IssuerServer,
    other_server: IssuerServer,
    rsa_key: SigningKey,
    other_rsa_key: SigningKey,
    clock: FakeClock,
) -> Issuers:
    issuer_server.serve_keys(STYTCH_JWKS, rsa_key)
    other_server.serve_keys(AUTH0_JWKS, other_rsa_key)
    return Issuers(issuer_server, other_server, rsa_key, other_rsa_key, clock)


@pytest.fixture
def combined(issuers: Issuers, track: Track[MultiIssuerVerifier]) -> MultiIssuerVerifier:
    return track(Verifier.combine(*issuers.verifiers()))


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts signature verifications (the cold path's expensive step)."""
    calls: list[str] = []

    def counting(*args: Any) -> bool:
        calls.append(args[1])
        return verify_signature(*args)

    monkeypatch.setattr(m2m_guard._sansio.engine, "verify_signature", counting)
    return calls


@pytest.fixture
def issuer_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the tokens the combined verifier parses to read their iss."""
    calls: list[str] = []

    def counting(token: str, **kwargs: Any) -> Any:
        calls.append(token)
        return parse_token(token, **kwargs)

    monkeypatch.setattr(m2m_guard._multi, "parse_token", counting)
    return calls


# -- routing by issuer ------------------------------------------------------------------------


async def test_each_issuers_token_verifies_with_that_issuers_keys_and_mapping(
    flavor: Flavor, issuers: Issuers, combined: MultiIssuerVerifier
) -> None:
    """Stytch's token: sub and scope; Auth0's: azp and scope + permissions; each from its JWKS."""
    stytch = await flavor.verify(combined, issuers.stytch_token())  # type: ignore[arg-type]
    auth0 = await flavor.verify(combined, issuers.auth0_token())  # type: ignore[arg-type]
    assert (stytch.client_id, stytch.scopes) == (CLIENT_ID, ("read:users", "write:users"))
    assert stytch.audience == (PROJECT_ID,)
    assert (auth0.client_id, auth0.scopes) == (AUTH0_CLIENT, ("read:orders", "write:orders"))
    assert auth0.audience == (AUTH0_API,)
    assert issuers.a.paths == [STYTCH_JWKS]
    assert issuers.b.paths == [AUTH0_JWKS]
    assert combined.issuers == {
        f"stytch.com/{PROJECT_ID}",
        issuers.a.base_url,
        f"{issuers.b.base_url}/",
    }


@pytest.mark.parametrize(
    ("kid", "error"),
    [("jwk-test-secondary", BadSignatureError), ("jwk-test-primary", UnknownKeyError)],
    ids=["auth0-kid", "stytch-kid"],
)
async def test_token_naming_one_issuer_but_signed_with_the_others_key_is_refused(
    flavor: Flavor,
    issuers: Issuers,
    combined: MultiIssuerVerifier,
    kid: str,
    error: type[Exception],
) -> None:
    """Auth0's iss signed with Stytch's key is checked against Auth0's JWKS only, and refused."""
    forged = issuers.auth0_token(key=issuers.key_a, headers={"kid": kid})
    outcome = await flavor.outcome(combined, forged)  # type: ignore[arg-type]
    assert isinstance(outcome, error), outcome
    assert issuers.a.paths == []
    assert issuers.b.paths == [AUTH0_JWKS]


async def test_token_naming_one_issuer_with_the_others_audience_is_refused_unfetched(
    flavor: Flavor, issuers: Issuers, combined: MultiIssuerVerifier
) -> None:
    """Stytch's iss with Auth0's audience: Stytch's rules apply (401), and nothing is fetched."""
    token = issuers.stytch_token(aud=AUTH0_API)
    assert isinstance(await flavor.outcome(combined, token), InvalidAudienceError)  # type: ignore[arg-type]
    assert issuers.requests() == 0


@pytest.mark.parametrize(
    "iss",
    ["https://evil.example/", "stytch.com/project-test-other", ..., ["stytch.com/x"], 42, ""],
    ids=["foreign", "other-project", "absent", "list", "number", "empty"],
)
async def test_token_with_an_unknown_issuer_is_refused_without_any_request(
    flavor: Flavor, issuers: Issuers, combined: MultiIssuerVerifier, iss: Any
) -> None:
    """An iss no child accepts, or no usable iss at all: InvalidIssuerError, zero requests."""
    token = issuers.stytch_token(iss=iss)
    outcome = await flavor.outcome(combined, token)  # type: ignore[arg-type]
    assert isinstance(outcome, InvalidIssuerError), outcome
    assert outcome.status_code == 401
    assert issuers.requests() == 0


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "x" * 9000, 42], ids=str)
async def test_malformed_token_is_refused_without_any_request(
    flavor: Flavor, issuers: Issuers, combined: MultiIssuerVerifier, token: Any
) -> None:
    """Junk, an oversized token or a non-string is MalformedTokenError before any fetch."""
    outcome = await flavor.outcome(combined, token)  # type: ignore[arg-type]
    assert isinstance(outcome, MalformedTokenError), outcome
    assert issuers.requests() == 0


# -- configuration ------------------------------------------------------------------------------


def test_combine_refuses_an_issuer_and_audience_configured_twice(issuers: Issuers) -> None:
    """Two verifiers accepting the same iss for the same audience is a ConfigurationError."""
    stytch, auth0 = issuers.verifiers()
    again = Verifier(
        issuer=["https://other.example/", f"{issuers.b.base_url}/"],
        audience=sorted(auth0.policy.audiences),
        jwks_url=issuers.b.url,
    )
    with pytest.raises(ConfigurationError, match="twice"):
        Verifier.combine(stytch, auth0, again)
    with pytest.raises(ConfigurationError, match="twice"):
        Verifier.combine(stytch, stytch)


@pytest.mark.parametrize(
    "children",
    [(), ("not a verifier",), (None,)],
    ids=["none", "a-string", "none-value"],
)
def test_combine_needs_verifiers(children: tuple[Any, ...]) -> None:
    """combine() with nothing, or with something other than a Verifier, is refused."""
    with pytest.raises(ConfigurationError):
        Verifier.combine(*children)


async def test_combined_verifier_is_a_token_verifier(combined: MultiIssuerVerifier) -> None:
    """It satisfies the TokenVerifier protocol the integrations accept; repr names the issuers."""
    assert isinstance(combined, TokenVerifier)
    assert "stytch.com/" in repr(combined)


def test_two_stytch_projects_of_one_environment_can_be_combined() -> None:
    """Projects A and B have distinct issuers (stytch.com/A, stytch.com/B); combining works."""
    combined = Verifier.combine(
        Verifier.for_stytch("project-test-aaaa"), Verifier.for_stytch("project-test-bbbb")
    )
    assert "stytch.com/project-test-aaaa" in combined.issuers


# -- warm path ----------------------------------------------------------------------------------


async def test_second_verify_of_a_token_is_served_from_its_issuers_token_cache(
    flavor: Flavor,
    issuers: Issuers,
    combined: MultiIssuerVerifier,
    signature_checks: list[str],
    issuer_lookups: list[str],
) -> None:
    """Warm path: the children's token caches answer; no parse, signature check or request."""
    tokens = [issuers.stytch_token(), issuers.auth0_token()]
    for token in tokens:
        await flavor.verify(combined, token)  # type: ignore[arg-type]
    assert len(signature_checks) == 2
    assert issuer_lookups == tokens
    for token in tokens * 3:
        await flavor.verify(combined, token)  # type: ignore[arg-type]
    assert len(signature_checks) == 2
    assert issuer_lookups == tokens
    assert issuers.requests() == 2
    assert combined.verify_authorization([f"Bearer {tokens[1]}"]) is not None
    assert issuer_lookups == tokens


async def test_warm_path_still_checks_scopes_and_expiry(
    flavor: Flavor, issuers: Issuers, combined: MultiIssuerVerifier
) -> None:
    """A cached token is re-checked: a missing scope is 403, an expired token 401."""
    token = issuers.auth0_token(exp=int(issuers.clock()) + 60)
    await flavor.verify(combined, token)  # type: ignore[arg-type]
    with pytest.raises(InsufficientScopeError):
        combined.verify(token, "delete:orders")
    with pytest.raises(InsufficientScopeError):
        await combined.verify_async(token, any_scopes=["delete:orders", "refund:orders"])
    assert combined.verify(token, any_scopes="write:orders delete:orders").client_id
    issuers.clock.advance(60)
    assert isinstance(await flavor.outcome(combined, token), ExpiredTokenError)  # type: ignore[arg-type]


async def test_the_fast_lane_answers_from_the_issuers_token_cache(
    issuers: Issuers,
    combined: MultiIssuerVerifier,
    signature_checks: list[str],
    issuer_lookups: list[str],
) -> None:
    """verify_authorization: a verified token sent as exactly 'Bearer <token>' is
    answered by its issuer's token cache before any parsing or issuer selection;
    other spellings are parsed out first, then hit the same cache."""
    token = issuers.stytch_token()
    header = f"Bearer {token}"
    claims = combined.verify_authorization([header])
    assert claims is not None
    assert claims.client_id == CLIENT_ID
    assert (issuer_lookups, len(signature_checks)) == ([token], 1)
    assert combined.verify_authorization([header]) is claims
    assert await combined.verify_authorization_async([header]) is claims
    assert combined.verify_authorization([f"bearer {token}"]) is claims
    assert await combined.verify_authorization_async([f"Bearer  {token}"]) is claims
    assert (issuer_lookups, len(signature_checks)) == ([token], 1)
    with pytest.raises(InvalidRequestError):
        combined.verify_authorization([header, header])
    with pytest.raises(MissingTokenError):
        await combined.verify_authorization_async([])
    assert combined.verify_authorization([], optional=True) is None
    with pytest.raises(InsufficientScopeError):
        combined.verify_authorization([header], ("admin:all",))
    assert combined.verify_authorization([header], (), ("admin:all", "read:users")) is claims


async def test_max_token_age_applies_on_the_warm_path(
    issuers: Issuers, combined: MultiIssuerVerifier
) -> None:
    """A cached token older than the caller's max_token_age is refused, not served."""
    token = issuers.stytch_token()
    combined.verify(token)
    issuers.clock.advance(120)
    assert combined.verify(token, max_token_age=300).client_id == CLIENT_ID
    with pytest.raises(TokenTooOldError):
        await combined.verify_async(token, max_token_age=60)


# -- the rest of the verifier surface ---------------------------------------------------------


async def test_verify_header_and_its_async_twin(
    issuers: Issuers, combined: MultiIssuerVerifier
) -> None:
    """verify_header(_async) extract the bearer token, then route it by issuer."""
    stytch, auth0 = issuers.stytch_token(), issuers.auth0_token()
    assert combined.verify_header(f"Bearer {stytch}").client_id == CLIENT_ID
    assert (await combined.verify_header_async([f"Bearer {auth0}"])).client_id == AUTH0_CLIENT
    claims = combined.verify_header(f"Bearer {auth0}", "write:orders")
    assert claims.has_scopes("write:orders")
    with pytest.raises(MissingTokenError):
        combined.verify_header(None)
    with pytest.raises(InvalidRequestError):
        await combined.verify_header_async([f"Bearer {stytch}", f"Bearer {auth0}"])
    with pytest.raises(InsufficientScopeError):
        await combined.verify_header_async(f"Bearer {stytch}", "write:orders")


async def test_warm_up_fetches_every_issuers_keys_and_ready_needs_them_all(
    flavor: Flavor, issuers: Issuers, combined: MultiIssuerVerifier
) -> None:
    """warm_up fetches each JWKS once; ready only when every issuer has keys."""
    ready_before = combined.ready
    assert await flavor.warm_up(combined) is True  # type: ignore[arg-type]
    assert (ready_before, combined.ready) == (False, True)
    assert issuers.a.paths == [STYTCH_JWKS]
    assert issuers.b.paths == [AUTH0_JWKS]
    assert await flavor.warm_up(combined) is True  # type: ignore[arg-type]
    assert issuers.requests() == 2


async def test_warm_up_with_one_issuer_down_still_warms_the_others(
    flavor: Flavor,
    issuers: Issuers,
    track: Track[MultiIssuerVerifier],
    clock: FakeClock,
) -> None:
    """An unreachable first issuer: warm_up returns False, the second is warmed all the same."""
    down = Verifier(issuer="https://down.example", audience="x", jwks_url=unused_loopback_url())
    combined = track(Verifier.combine(down, issuers.verifiers()[1]))
    assert await flavor.warm_up(combined) is False  # type: ignore[arg-type]
    assert not combined.ready
    assert issuers.b.paths == [AUTH0_JWKS]
    assert combined.verifiers[1].ready
    claims = await flavor.verify(combined, issuers.auth0_token())  # type: ignore[arg-type]
    assert claims.client_id == AUTH0_CLIENT


@pytest.fixture
def made_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every httpx client the verifiers create for themselves (real transport)."""
    made: list[Any] = []
    real_client, real_async_client = httpx.Client, httpx.AsyncClient

    def client(**kwargs: Any) -> httpx.Client:
        made.append(real_client(**kwargs))
        return made[-1]  # type: ignore[no-any-return]

    def async_client(**kwargs: Any) -> httpx.AsyncClient:
        made.append(real_async_client(**kwargs))
        return made[-1]  # type: ignore[no-any-return]

    monkeypatch.setattr(httpx, "Client", client)
    monkeypatch.setattr(httpx, "AsyncClient", async_client)
    yield made
    for each in made:
        if isinstance(each, real_client):
            each.close()


def test_close_and_the_context_manager_close_every_issuers_client(
    issuers: Issuers, made_clients: list[Any]
) -> None:
    """`with combined:` closes the sync client each child created; so does close()."""
    with Verifier.combine(*issuers.verifiers()) as combined:
        combined.verify(issuers.stytch_token())
        combined.verify(issuers.auth0_token())
        assert len(made_clients) == 2
        assert not any(client.is_closed for client in made_clients)
    assert all(client.is_closed for client in made_clients)

    combined = Verifier.combine(*issuers.verifiers())
    assert combined.warm_up()
    assert len(made_clients) == 4
    combined.close()
    assert all(client.is_closed for client in made_clients)


async def test_aclose_and_the_async_context_manager_close_every_issuers_client(
    issuers: Issuers, made_clients: list[Any]
) -> None:
    """`async with combined:` and aclose() close each child's async client in this loop."""
    async with Verifier.combine(*issuers.verifiers()) as combined:
        await combined.verify_async(issuers.stytch_token())
        await combined.verify_async(issuers.auth0_token())
        assert len(made_clients) == 2
        assert not any(client.is_closed for client in made_clients)
    assert all(client.is_closed for client in made_clients)

    combined = Verifier.combine(*issuers.verifiers())
    assert await combined.warm_up_async()
    assert len(made_clients) == 4
    await combined.aclose()
    assert all(client.is_closed for client in made_clients)


# -- behind one middleware ---------------------------------------------------------------------


@pytest.mark.parametrize("harness_class", MIDDLEWARES)
def test_combined_verifier_protects_an_app_behind_each_middleware(
    harness_class: Callable[[], Harness],
    issuers: Issuers,
    track_sync: Track[MultiIssuerVerifier],
) -> None:
    """ASGI and WSGI: both issuers' clients get in with their identity; a stranger gets 401."""
    harness = harness_class()
    harness.build(track_sync(Verifier.combine(*issuers.verifiers())))  # type: ignore[arg-type]
    for token, client_id in [
        (issuers.stytch_token(), CLIENT_ID),
        (issuers.auth0_token(), AUTH0_CLIENT),
    ]:
        for _ in range(2):  # cold, then the warm path
            reply = harness.request("/whoami", [("authorization", f"Bearer {token}")])
            assert reply.status == 200, reply.json
            assert reply.json["client_id"] == client_id
    assert issuers.a.paths == [STYTCH_JWKS]
    assert issuers.b.paths == [AUTH0_JWKS]

    stranger = issuers.stytch_token(iss="https://evil.example/")
    reply = harness.request("/whoami", [("authorization", f"Bearer {stranger}")])
    assert reply.status == 401
    assert 'error="invalid_token"' in reply.headers["www-authenticate"]
    assert harness.request("/whoami").status == 401
    assert harness.request("/health").status == 200
    assert issuers.requests() == 2


@pytest.mark.parametrize("harness_class", MIDDLEWARES)
def test_combined_verifier_enforces_the_routes_scopes_for_every_issuer(
    harness_class: Callable[[], Harness],
    issuers: Issuers,
    track_sync: Track[MultiIssuerVerifier],
) -> None:
    """required_scopes apply to each issuer's token, cold and warm: 403 without the scope."""
    harness = harness_class()
    harness.build(
        track_sync(Verifier.combine(*issuers.verifiers())),  # type: ignore[arg-type]
        required_scopes=("write:orders",),
    )
    auth0 = [("authorization", f"Bearer {issuers.auth0_token()}")]
    stytch = [("authorization", f"Bearer {issuers.stytch_token()}")]
    assert harness.request("/whoami", auth0).status == 200
    for _ in range(2):
        reply = harness.request("/whoami", stytch)
        assert reply.status == 403
        assert 'scope="write:orders"' in reply.headers["www-authenticate"]


def test_one_issuer_with_two_audiences_is_told_apart_by_aud(rsa_key: SigningKey) -> None:
    """Two projects behind one issuer: the token's aud picks the verifier; no match is a 401."""
    first = Verifier(issuer="https://shared.example", audience="project-a", jwks=jwks_of(rsa_key))
    second = Verifier(
        issuer="https://shared.example",
        audience="project-b",
        jwks=jwks_of(rsa_key),
        client_id_claims=["azp"],
    )
    combined = Verifier.combine(first, second)
    now = time.time()
    claims = {"iss": "https://shared.example", "sub": "s", "azp": "z", "iat": now, "exp": now + 60}
    assert combined.verify(rsa_key.sign({**claims, "aud": "project-a"})).client_id == "s"
    assert combined.verify(rsa_key.sign({**claims, "aud": ["project-b"]})).client_id == "z"
    with pytest.raises(InvalidAudienceError):
        combined.verify(rsa_key.sign({**claims, "aud": "project-c"}))
