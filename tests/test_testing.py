"""m2m_guard.testing and the pytest plugin, as users' test suites use them."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import httpx
import pytest

from m2m_guard import (
    ExpiredTokenError,
    InsufficientScopeError,
    InvalidTokenError,
    TokenNotYetValidError,
    TokenTooOldError,
    Verifier,
)
from m2m_guard.client import TokenRequestError
from m2m_guard.testing import IssuerHost, LiveIssuer, TokenFactory, live_issuer
from tests.support.clock import FakeClock

pytest_plugins = ["pytester"]


def test_factory_tokens_verify_through_its_verifier(m2m_tokens: TokenFactory) -> None:
    """Minted tokens carry the given client, scopes and custom claims."""
    token = m2m_tokens.token(
        "read:settings write:settings", client_id="m2m-client-x", custom_claims={"tenant": "acme"}
    )
    claims = m2m_tokens.verifier().verify(token, ["read:settings"])
    assert claims.client_id == "m2m-client-x"
    assert claims.scopes == ("read:settings", "write:settings")
    assert dict(claims.custom_claims) == {"tenant": "acme"}
    assert claims.issuer == m2m_tokens.issuer
    assert claims.audience == (m2m_tokens.project_id,)


def test_factory_can_mint_expired_tokens(m2m_signing_key: object) -> None:
    """A negative expires_in mints a token that is already expired."""
    factory = TokenFactory(private_key=m2m_signing_key, clock=FakeClock())  # type: ignore[arg-type]
    with pytest.raises(ExpiredTokenError):
        factory.verifier().verify(factory.token(expires_in=-1))


def test_factory_refuses_reserved_custom_claims(m2m_tokens: TokenFactory) -> None:
    """custom_claims cannot smuggle reserved claims; overrides go through **claims."""
    with pytest.raises(ValueError, match="reserved"):
        m2m_tokens.token(custom_claims={"sub": "x"})
    token = m2m_tokens.token(aud=["other"])
    assert "other" in m2m_tokens.verifier(audience="other").verify(token).audience


def test_auth_header_is_a_bearer_header(m2m_tokens: TokenFactory, m2m_verifier: Verifier) -> None:
    """auth_header() gives a ready Authorization header."""
    header = m2m_tokens.auth_header(["read:x"])["Authorization"]
    assert m2m_verifier.verify_header(header, ["read:x"]).client_id == m2m_tokens.client_id
    with pytest.raises(InsufficientScopeError):
        m2m_verifier.verify_header(header, ["write:x"])


def test_m2m_env_configures_from_env(m2m_env: TokenFactory) -> None:
    """With m2m_env, Verifier.from_env() trusts the factory's key."""
    verifier = Verifier.from_env()
    assert verifier.verify(m2m_env.token("read:x")).client_id == m2m_env.client_id


def test_plugin_is_registered_for_user_suites(pytester: pytest.Pytester) -> None:
    """A user's suite gets the fixtures without importing anything."""
    pytester.makepyfile(
        """
        from m2m_guard import Verifier

        def test_user(m2m_env, m2m_tokens, m2m_verifier):
            token = m2m_tokens.token(["orders:read"])
            assert m2m_verifier.verify(token, ["orders:read"]).client_id
            assert Verifier.from_env().verify(token).client_id == m2m_tokens.client_id
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


# -- tokens that must fail -------------------------------------------------------------


@pytest.fixture
def frozen(m2m_signing_key: object) -> TokenFactory:
    """A factory and its verifier on one fake clock."""
    return TokenFactory(private_key=m2m_signing_key, clock=FakeClock())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mint", "error"),
    [
        (lambda f: f.token(expires_in=-60), ExpiredTokenError),
        (lambda f: f.expired_token(seconds_ago=1), ExpiredTokenError),
        (lambda f: f.token(issued_at=f.clock() - 7200), ExpiredTokenError),
        (lambda f: f.token(not_before=f.clock() + 60), TokenNotYetValidError),
        (lambda f: f.token(issued_at=f.clock() + 60), TokenNotYetValidError),
        (lambda f: f.future_token(valid_in=1), TokenNotYetValidError),
        (lambda f: f.old_token(3600), TokenTooOldError),
        (lambda f: f.token(issued_at=f.clock() - 3600, expires_in=7200), TokenTooOldError),
    ],
    ids=[
        "expires_in",
        "expired_token",
        "issued_long_ago",
        "not_before",
        "issued_in_the_future",
        "future_token",
        "old_token",
        "issued_at",
    ],
)
def test_factory_mints_tokens_a_real_verifier_refuses(
    frozen: TokenFactory, mint: Callable[[TokenFactory], str], error: type[Exception]
) -> None:
    """Expired, not-yet-valid and too-old tokens give the verifier's own errors."""
    token = mint(frozen)
    with frozen.verifier(max_token_age=3600) as verifier, pytest.raises(error):
        verifier.verify(token)


def test_failing_tokens_are_otherwise_valid(frozen: TokenFactory) -> None:
    """Each such token is refused for its time alone: move the clock and it passes."""
    with frozen.verifier(max_token_age=3600) as verifier:
        old = frozen.old_token(3599)
        future = frozen.future_token(["read:x"], valid_in=30)
        assert verifier.verify(old).client_id == frozen.client_id
        frozen.clock.advance(30)  # type: ignore[attr-defined]
        assert verifier.verify(future, ["read:x"]).scopes == ("read:x",)


def test_the_failing_tokens_under_the_wall_clock(m2m_tokens: TokenFactory) -> None:
    """With the fixtures' real clock the helpers work the same."""
    verifier = m2m_tokens.verifier(max_token_age=60)
    for token, error in (
        (m2m_tokens.expired_token(), ExpiredTokenError),
        (m2m_tokens.future_token(), TokenNotYetValidError),
        (m2m_tokens.old_token(120), TokenTooOldError),
    ):
        with pytest.raises(error):
            verifier.verify(token)


# -- m2m_env ----------------------------------------------------------------------------


def test_m2m_env_clears_every_ambient_variable(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Variables m2m_env does not set itself (B2B, leeway, scopes …) are removed too."""
    ambient = {
        "M2M_GUARD_STYTCH_PROJECT_ID": "project-live-elsewhere",
        "M2M_GUARD_STYTCH_B2B": "true",
        "M2M_GUARD_MAX_TOKEN_AGE": "1",
        "M2M_GUARD_REQUIRED_CLAIMS": "tenant",
        "M2M_GUARD_SOMETHING_NEW": "x",
    }
    for name, value in ambient.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OTHER_VARIABLE", "kept")
    factory: TokenFactory = request.getfixturevalue("m2m_env")
    assert {n for n in os.environ if n.startswith("M2M_GUARD_")} == set(factory.env())
    assert os.environ["OTHER_VARIABLE"] == "kept"
    assert Verifier.from_env().verify(factory.old_token(5)).client_id == factory.client_id


# -- m2m_issuer -------------------------------------------------------------------------


@pytest.mark.slow
def test_m2m_issuer_mints_tokens_its_verifier_accepts(m2m_issuer: LiveIssuer) -> None:
    """A client created on the live issuer gets tokens over HTTP that its verifier accepts."""
    client = m2m_issuer.create_client(["read:settings", "write:settings"], client_name="orders")
    assert client.client_secret
    assert client.client_secret not in repr(client)
    assert m2m_issuer.project_secret not in repr(m2m_issuer)
    claims = m2m_issuer.verifier.verify(client.token("read:settings"), ["read:settings"])
    assert (claims.client_id, claims.scopes) == (client.client_id, ("read:settings",))
    assert claims.issuer == m2m_issuer.iss == f"stytch.com/{m2m_issuer.project_id}"
    header = client.auth_header()["Authorization"]
    assert m2m_issuer.verifier.verify_header(header).scopes == client.scopes


@pytest.mark.slow
def test_m2m_issuer_serves_stytchs_management_api(m2m_issuer: LiveIssuer) -> None:
    """base_url, project credentials and the token URL work for plain HTTP callers."""
    created = httpx.post(
        f"{m2m_issuer.base_url}/v1/m2m/clients",
        json={"scopes": ["read:x"]},
        auth=m2m_issuer.management_auth,
    ).json()["m2m_client"]
    response = httpx.post(
        m2m_issuer.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    token = response.json()["access_token"]
    assert m2m_issuer.verifier.verify(token, ["read:x"]).client_id == created["client_id"]
    assert httpx.get(m2m_issuer.jwks_url).json()["keys"] == m2m_issuer.local.jwks()["keys"]


@pytest.mark.slow
def test_m2m_issuer_client_auth_calls_a_protected_api(m2m_issuer: LiveIssuer) -> None:
    """auth() is a ClientCredentialsAuth for httpx; a protected API accepts it."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from m2m_guard._tools.server import ServerThread
    from m2m_guard.starlette import M2MGuardMiddleware

    def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"client_id": request.state.m2m.client_id})

    api = Starlette(
        routes=[Route("/whoami", whoami)],
        middleware=[Middleware(M2MGuardMiddleware, verifier=m2m_issuer.verifier)],
    )
    client = m2m_issuer.create_client(["read:x"])
    with ServerThread(api) as server, httpx.Client(auth=client.auth()) as http:
        answer = http.get(f"{server.base_url}/whoami")
        refused = httpx.get(f"{server.base_url}/whoami")
    assert answer.json() == {"client_id": client.client_id}
    assert refused.status_code == 401


@pytest.mark.slow
def test_m2m_issuer_refusals_are_the_real_ones(m2m_issuer: LiveIssuer) -> None:
    """A deactivated client gets no token; a rotated-out key fails verification."""
    client = m2m_issuer.create_client(["read:x"])
    token = client.token()
    m2m_issuer.local.update_client(client.client_id, status="inactive")
    with pytest.raises(TokenRequestError):
        client.token()
    verifier = m2m_issuer.new_verifier(max_token_age=3600)
    assert verifier.verify(token).client_id == client.client_id
    m2m_issuer.local.rotate_keys(0)
    m2m_issuer.local.retire_keys()
    other = m2m_issuer.new_verifier()
    with pytest.raises(InvalidTokenError):
        other.verify(token)


@pytest.mark.slow
def test_each_issuer_of_a_host_is_fresh() -> None:
    """One server, many issuers: each has its own project, clients and keys."""
    with IssuerHost() as host:
        with host.issuer() as first:
            url, project = first.base_url, first.project_id
            first.create_client(["a"])
            kid = first.local.jwks()["keys"][0]["kid"]
        with host.issuer() as second:
            assert second.base_url == url
            assert second.project_id != project
            assert second.local.search_clients().total == 0
            assert second.local.jwks()["keys"][0]["kid"] != kid
            second.local.rotate_keys()  # a later key is a new key, not the shared first one
            moduli = {key["n"] for key in second.local.jwks()["keys"]}
            assert len(moduli) == 2
        assert httpx.get(f"{url}/v1/sessions/jwks/{project}").status_code == 503


@pytest.mark.slow
def test_live_issuer_outside_pytest() -> None:
    """live_issuer() is the same thing as a context manager, for any test runner."""
    with live_issuer(project_id="project-test-live", token_lifetime=60) as issuer:
        client = issuer.create_client("read:x write:x")
        assert client.scopes == ("read:x", "write:x")
        claims = issuer.verifier.verify(client.token())
        assert claims.expires_at - claims.issued_at == 60
        assert issuer.project_id == "project-test-live"
    with pytest.raises(httpx.TransportError):
        httpx.get(issuer.jwks_url)


def test_a_host_that_is_not_started_has_no_url() -> None:
    """base_url needs a running server."""
    with pytest.raises(RuntimeError, match="not started"):
        _ = IssuerHost().base_url
    IssuerHost().stop()  # stopping a host that never started is harmless


@pytest.mark.slow
def test_plugin_gives_users_a_live_issuer(pytester: pytest.Pytester) -> None:
    """A user's suite: m2m_issuer per test, one server per session, nothing shared."""
    pytester.makepyfile(
        """
        import httpx

        seen = []

        def test_first(m2m_issuer):
            client = m2m_issuer.create_client(["orders:read"])
            claims = m2m_issuer.verifier.verify(client.token(), ["orders:read"])
            assert claims.client_id == client.client_id
            seen.append((m2m_issuer.base_url, m2m_issuer.project_id))

        def test_second(m2m_issuer):
            base_url, project_id = seen[0]
            assert m2m_issuer.base_url == base_url
            assert m2m_issuer.project_id != project_id
            answer = httpx.post(m2m_issuer.base_url + "/v1/m2m/clients/search", json={},
                                auth=m2m_issuer.management_auth)
            assert answer.json()["results_metadata"]["total"] == 0
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_m2m_issuer_without_the_issuer_extra_says_what_to_install(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without uvicorn the fixture fails with the pip command, not an ImportError."""
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    pytester.makepyfile("def test_needs_it(m2m_issuer):\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    assert "(uvicorn is missing): pip install 'm2m-guard[issuer]'" in result.stdout.str()
    assert "During handling" not in result.stdout.str()


def test_loopback_servers_answer_without_waiting_for_delayed_acks() -> None:
    """The listening socket has TCP_NODELAY (inherited by accepted sockets), so a
    response's body does not wait ~40 ms for the ACK of its headers."""
    import socket

    from m2m_guard._tools.server import ServerThread

    server = ServerThread()
    try:
        server.bind()
        sock = server._socket
        assert sock is not None
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        server.stop()


@pytest.mark.slow
def test_a_hosts_http_client_is_shared_and_closed(m2m_issuer: LiveIssuer) -> None:
    """Verifiers and auths of a live issuer fetch with the host's one client."""
    client = m2m_issuer.create_client(["a"])
    auth = client.auth()
    assert auth._sync._given is m2m_issuer.http
    assert not m2m_issuer.http.is_closed
    with IssuerHost() as host, host.issuer() as issuer:
        http = issuer.http
    assert http.is_closed
