"""The README's gRPC and Lambda authorizer snippets run as written."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from m2m_guard import Verifier
from tests.integrations._grpc_servers import call
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, SigningKey, stytch_claims
from tests.support.lambda_events import token_event
from tests.test_readme import python_blocks, section


def run_block(title: str, index: int, **names: Any) -> dict[str, Any]:
    block = python_blocks(section(title))[index]
    namespace: dict[str, Any] = {"__name__": "readme_snippet", **names}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    return namespace


@pytest.fixture
def sign(rsa_key: SigningKey, clock: FakeClock) -> Any:
    def make(scope: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {rsa_key.sign(stytch_claims(clock(), scope=scope))}")]

    return make


@pytest.mark.slow
def test_the_grpc_server_snippet_serves_by_scope(
    verifier: Verifier, sign: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the test verifier in place of the preset's, on 127.0.0.1."""
    monkeypatch.setattr(Verifier, "for_stytch", lambda *args, **kwargs: verifier)
    names = run_block("gRPC", 0)
    server = names["server"]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        target = f"127.0.0.1:{port}"
        assert call(target, "/orders.Orders/Get").code == grpc.StatusCode.UNAUTHENTICATED
        answer = call(target, "/orders.Orders/Get", sign("read:orders"))
        assert answer.answer == f"an order for {CLIENT_ID}".encode()
        create = call(target, "/orders.Orders/Create", sign("read:orders"))
        assert create.code == grpc.StatusCode.PERMISSION_DENIED
        health = call(target, "/grpc.health.v1.Health/Check")
        assert health.code == grpc.StatusCode.UNIMPLEMENTED  # public, and not served here
    finally:
        server.stop(None)


def test_the_grpc_client_snippet_builds_a_channel_with_call_credentials() -> None:
    """No call is made: gRPC channels connect on their first call."""
    names = run_block(
        "gRPC",
        1,
        token_url="http://127.0.0.1:9/token",
        client_id="client",
        client_secret="secret",
    )
    assert isinstance(names["credentials"], grpc.ChannelCredentials)
    names["channel"].close()
    names["auth"].close()


def test_the_lambda_snippet_authorizes_by_route(
    verifier: Verifier, sign: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Verifier.from_env`` stands for the function's configuration: the test verifier."""
    monkeypatch.setattr(Verifier, "from_env", lambda *args, **kwargs: verifier)
    handler = run_block("AWS Lambda authorizer", 0)["handler"]

    def effect(scope: str, method: str, path: str) -> str:
        bearer = sign(scope)[0][1]
        answer = handler(token_event(bearer, method, path), None)
        return answer["policyDocument"]["Statement"][0]["Effect"]  # type: ignore[no-any-return]

    assert effect("read:orders", "GET", "/orders/42") == "Allow"
    assert effect("read:orders", "POST", "/orders") == "Deny"
    assert effect("admin:orders", "POST", "/orders") == "Allow"
    assert effect("read:orders", "DELETE", "/admin/users") == "Deny"
    assert effect("admin:all", "DELETE", "/admin/users") == "Allow"
