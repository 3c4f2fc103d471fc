"""gRPC interceptors and call credentials on real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from m2m_guard import ConfigurationError, M2MClaims, RequestContext, Verifier
from m2m_guard.client import ClientCredentialsAuth
from m2m_guard.grpc import (
    AsyncM2MServerInterceptor,
    M2MAuthMetadataPlugin,
    M2MServerInterceptor,
    MethodScopes,
    call_credentials,
    get_claims,
)
from tests.integrations._grpc_servers import HEALTH, SERVERS, WHOAMI, Served, call
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims
from tests.support.token_endpoint import TokenEndpointServer

pytestmark = pytest.mark.slow

INTERCEPTORS = {"sync": M2MServerInterceptor, "aio": AsyncM2MServerInterceptor}


@pytest.fixture(params=sorted(SERVERS))
def kind(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def verifier(rsa_key: SigningKey, clock: FakeClock) -> Verifier:
    return Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock)


@pytest.fixture
def sign(rsa_key: SigningKey, clock: FakeClock) -> Any:
    def make(scope: str = "read:orders") -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {rsa_key.sign(stytch_claims(clock(), scope=scope))}")]

    return make


@pytest.fixture
def serve(kind: str) -> Iterator[Any]:
    started: list[Served] = []

    def start(verifier: Any, **options: Any) -> Served:
        served = SERVERS[kind]([INTERCEPTORS[kind](verifier, **options)])
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


def test_per_method_scopes_exact_names_win_over_service_globs(
    serve: Any, verifier: Verifier, sign: Any
) -> None:
    served = serve(
        verifier,
        methods={
            "/test.Probe/*": "read:orders",
            WHOAMI: MethodScopes(any_of=["admin:orders", "write:orders"]),
        },
        default="never:granted",
        public_methods=[HEALTH],
    )
    reader = sign("read:orders")
    assert call(served.target, WHOAMI, reader).code == grpc.StatusCode.PERMISSION_DENIED
    assert call(served.target, WHOAMI, sign("write:orders")).code == grpc.StatusCode.OK
    # Ticks falls under the service glob: read:orders is enough there
    with grpc.insecure_channel(served.target) as channel:
        ticks = list(channel.unary_stream("/test.Probe/Ticks")(b"", metadata=reader))
    assert ticks == [b"0", b"1", b"2", CLIENT_ID.encode()]
    denied = call(served.target, "/other.Service/Thing", reader)  # unlisted: the default
    assert denied.code == grpc.StatusCode.PERMISSION_DENIED
    assert 'scope="never:granted"' in denied.trailing["www-authenticate"]
    health = call(served.target, HEALTH)
    assert (health.code, health.json) == (grpc.StatusCode.OK, {"client_id": None})


def test_the_servicer_reads_the_callers_claims(serve: Any, verifier: Verifier, sign: Any) -> None:
    served = serve(verifier)
    outcome = call(served.target, WHOAMI, sign("read:orders write:orders"))
    assert outcome.json == {
        "client_id": CLIENT_ID,
        "scopes": ["read:orders", "write:orders"],
        "custom_claims": {"tenant": "acme"},
    }
    assert get_claims(object()) is None  # outside a call: nothing


def test_a_sync_servicer_on_an_aio_server_reads_the_claims_in_its_thread_pool(
    verifier: Verifier, sign: Any
) -> None:
    served = SERVERS["aio"]([AsyncM2MServerInterceptor(verifier)], sync_servicer=True)
    try:
        outcome = call(served.target, WHOAMI, sign())
        with grpc.insecure_channel(served.target) as channel:
            echo = channel.stream_stream("/test.Probe/Echo")
            echoed = list(echo(iter([b"x"]), metadata=sign(), timeout=10))
    finally:
        served.stop()
    assert outcome.json["client_id"] == CLIENT_ID
    assert echoed == [b"x", CLIENT_ID.encode()]


def test_streaming_calls_are_refused_before_their_first_message(
    serve: Any, verifier: Verifier, sign: Any
) -> None:
    served = serve(verifier, default="write:orders")
    with grpc.insecure_channel(served.target) as channel:
        count = channel.stream_unary("/test.Probe/Count")
        echo = channel.stream_stream("/test.Probe/Echo")
        for metadata, code in (
            ([], grpc.StatusCode.UNAUTHENTICATED),
            (sign(), grpc.StatusCode.PERMISSION_DENIED),
        ):
            with pytest.raises(grpc.RpcError) as refused:
                count(iter([b"a", b"b"]), metadata=metadata, timeout=10)
            assert refused.value.code() == code
            with pytest.raises(grpc.RpcError) as refused:
                list(echo(iter([b"a"]), metadata=metadata, timeout=10))
            assert refused.value.code() == code
        assert (served.probe.ran, served.probe.read) == ([], 0)

        writer = sign("write:orders")
        assert count(iter([b"a", b"b", b"c"]), metadata=writer, timeout=10) == b"3"
        echoed = list(echo(iter([b"x", b"y"]), metadata=writer, timeout=10))
    assert echoed == [b"x", b"y", CLIENT_ID.encode()]


def test_unknown_methods_are_refused_to_strangers(
    serve: Any, verifier: Verifier, sign: Any
) -> None:
    served = serve(verifier)
    assert call(served.target, "/test.Probe/Missing").code == grpc.StatusCode.UNAUTHENTICATED
    assert call(served.target, "/test.Probe/Missing", sign()).code == grpc.StatusCode.UNIMPLEMENTED


def test_a_refused_unary_call_never_parses_its_request(serve: Any, verifier: Verifier) -> None:
    """The refusal handler has no deserializer: junk bytes cannot turn it into INTERNAL."""
    served = serve(verifier)
    with grpc.insecure_channel(served.target) as channel:
        stub = channel.unary_unary(WHOAMI, request_serializer=lambda _: b"\xff\x00junk")
        with pytest.raises(grpc.RpcError) as refused:
            stub(None, timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


class Exploding:
    """A TokenVerifier with a bug: every call raises something unexpected."""

    needs_request = False

    def verify(self, *args: Any, **kwargs: Any) -> M2MClaims:
        raise RuntimeError("a bug")

    async def verify_async(self, *args: Any, **kwargs: Any) -> M2MClaims:
        raise RuntimeError("a bug")

    def verify_authorization(self, *args: Any, **kwargs: Any) -> M2MClaims | None:
        raise RuntimeError("a bug")

    async def verify_authorization_async(self, *args: Any, **kwargs: Any) -> M2MClaims | None:
        raise RuntimeError("a bug")

    def warm_up(self, *, strict: bool = False) -> bool:
        return True

    async def warm_up_async(self, *, strict: bool = False) -> bool:
        return True

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


def test_an_unexpected_failure_is_unavailable_never_unknown(
    serve: Any, sign: Any, caplog: pytest.LogCaptureFixture
) -> None:
    served = serve(Exploding())
    with caplog.at_level(logging.ERROR, logger="m2m_guard.grpc"):
        outcome = call(served.target, WHOAMI, sign())
    assert outcome.code == grpc.StatusCode.UNAVAILABLE
    assert outcome.trailing["retry-after"] == "5"
    assert served.probe.ran == []
    assert "could not be authenticated" in caplog.text
    assert "Bearer" not in caplog.text  # the token is never logged


def test_binary_and_odd_metadata_are_refused_cleanly(
    serve: Any, rsa_key: SigningKey, clock: FakeClock
) -> None:
    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock, max_token_size=4096
    )
    served = serve(verifier)
    for metadata in (
        [("authorization", "Bearer")],
        [("authorization", "bearer  x y")],
        [("authorization-bin", b"\x00\x01")],
        [("authorization", "Bearer " + "a" * 5000)],  # over the verifier's size cap
    ):
        outcome = call(served.target, WHOAMI, metadata)  # type: ignore[arg-type]
        assert outcome.code == grpc.StatusCode.UNAUTHENTICATED, metadata
    # over gRPC's own metadata limit (8 KiB soft, 16 KiB hard): the transport refuses
    outcome = call(served.target, WHOAMI, [("authorization", "Bearer " + "a" * 20000)])
    assert outcome.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert served.probe.ran == []


def test_async_checks_run_on_the_aio_interceptor(verifier: Verifier, sign: Any) -> None:
    async def tenant_acme(claims: M2MClaims, request: RequestContext | None) -> None:
        from m2m_guard import InsufficientScopeError

        assert request is not None
        if request.header("x-tenant") != claims.custom_claims.get("tenant"):
            raise InsufficientScopeError(("tenant",), claims.scopes)

    with pytest.raises(ConfigurationError, match="async def check"):
        M2MServerInterceptor(verifier, checks=[tenant_acme])
    served = SERVERS["aio"]([AsyncM2MServerInterceptor(verifier, checks=[tenant_acme])])
    try:
        good = call(served.target, WHOAMI, [*sign(), ("x-tenant", "acme")])
        bad = call(served.target, WHOAMI, [*sign(), ("x-tenant", "globex")])
    finally:
        served.stop()
    assert (good.code, bad.code) == (grpc.StatusCode.OK, grpc.StatusCode.PERMISSION_DENIED)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"methods": {"test.Probe/Whoami": "a"}}, "look like"),
        ({"methods": {"/test.*/Whoami": "a"}}, "trailing"),
        ({"public_methods": ["health"]}, "look like"),
        ({"methods": ["/a.B/C"]}, "must map"),
        ({"methods": {"/a.B/C": 3}}, "invalid scopes"),
    ],
)
def test_invalid_rules_are_refused_at_construction(
    verifier: Verifier, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        M2MServerInterceptor(verifier, **options)


# -- call credentials ----------------------------------------------------------


@pytest.fixture
def token_endpoint(rsa_key: SigningKey, clock: FakeClock) -> Iterator[TokenEndpointServer]:
    token = rsa_key.sign(stytch_claims(clock(), scope="read:orders"))
    answer = {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
    with TokenEndpointServer(200, json.dumps(answer).encode()) as server:
        yield server


def local_channel(target: str, auth: ClientCredentialsAuth, aio: bool = False) -> Any:
    credentials = grpc.composite_channel_credentials(
        grpc.local_channel_credentials(), call_credentials(auth)
    )
    if aio:
        return grpc.aio.secure_channel(target, credentials)
    return grpc.secure_channel(target, credentials)


def test_call_credentials_fetch_cache_and_refresh_the_token(
    kind: str, verifier: Verifier, token_endpoint: TokenEndpointServer
) -> None:
    now = [0.0]
    auth = ClientCredentialsAuth(
        token_endpoint.url, "client-id", "client-secret", clock=lambda: now[0]
    )
    served = SERVERS[kind](
        [INTERCEPTORS[kind](verifier, default="read:orders")],
        credentials=grpc.local_server_credentials(),
    )
    try:
        with local_channel(served.target, auth) as channel:
            whoami = channel.unary_unary(WHOAMI)
            assert json.loads(whoami(b"", timeout=10))["client_id"] == CLIENT_ID
            whoami(b"", timeout=10)
            assert token_endpoint.requests == 1  # cached
            now[0] = 3600.0  # past expiry: fetched again
            whoami(b"", timeout=10)
            assert token_endpoint.requests == 2

        async def over_aio() -> bytes:
            async with local_channel(served.target, auth, aio=True) as channel:
                return await channel.unary_unary(WHOAMI)(b"", timeout=10)  # type: ignore[no-any-return]

        assert json.loads(asyncio.run(over_aio()))["client_id"] == CLIENT_ID
        assert token_endpoint.requests == 2
    finally:
        served.stop()
        auth.close()


def test_a_failed_token_request_fails_the_call_unavailable(verifier: Verifier) -> None:
    with TokenEndpointServer(401, b'{"error": "invalid_client"}') as endpoint:
        auth = ClientCredentialsAuth(endpoint.url, "client-id", "s3cret-value")
        served = SERVERS["sync"](
            [M2MServerInterceptor(verifier)], credentials=grpc.local_server_credentials()
        )
        try:
            with (
                local_channel(served.target, auth) as channel,
                pytest.raises(grpc.RpcError) as failed,
            ):
                channel.unary_unary(WHOAMI)(b"", timeout=10)
        finally:
            served.stop()
            auth.close()
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "s3cret-value" not in str(failed.value.details())
    assert served.probe.ran == []


def test_the_plugin_takes_only_a_client_credentials_auth() -> None:
    with pytest.raises(TypeError, match="ClientCredentialsAuth"):
        M2MAuthMetadataPlugin("a token")  # type: ignore[arg-type]


def test_events_name_the_method_as_their_path(
    kind: str, rsa_key: SigningKey, clock: FakeClock, sign: Any, serve: Any
) -> None:
    from m2m_guard.events import TokenVerified, VerificationFailed

    seen: list[Any] = []
    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock, on_event=seen.append
    )
    served = serve(verifier)
    token = sign()
    call(served.target, WHOAMI, token)
    call(served.target, WHOAMI, token)  # the token-cache hit reports too
    call(served.target, WHOAMI, [("authorization", "Bearer junk")])
    verified = [e for e in seen if isinstance(e, TokenVerified)]
    failed = [e for e in seen if isinstance(e, VerificationFailed)]
    assert [(e.path, e.cached) for e in verified] == [(WHOAMI, False), (WHOAMI, True)]
    assert [(e.path, e.status_code) for e in failed] == [(WHOAMI, 401)]


def test_a_sender_constrained_token_is_refused(
    serve: Any, verifier: Verifier, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """A token bound to a key (``cnf``) is no bearer token, over gRPC either."""
    bound = rsa_key.sign(stytch_claims(clock(), scope="read:orders", cnf={"jkt": "A" * 43}))
    served = serve(verifier)
    for scheme in ("Bearer", "DPoP"):
        outcome = call(served.target, WHOAMI, [("authorization", f"{scheme} {bound}")])
        assert outcome.code == grpc.StatusCode.UNAUTHENTICATED, scheme
    assert served.probe.ran == []
