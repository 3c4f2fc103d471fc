"""The gRPC and Lambda examples, run as written against the local issuer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from m2m_guard._tools.server import ServerThread
from m2m_guard.issuer import LocalIssuer, ScryptParams, create_app
from tests.examples._launcher import ROOT, running_example
from tests.support.lambda_events import http_api_event, token_event

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def issuer() -> Iterator[tuple[LocalIssuer, str]]:
    with (
        LocalIssuer(":memory:", scrypt=ScryptParams.insecure_fast()) as local,
        ServerThread(create_app(issuer=local)) as server,
    ):
        yield local, server.base_url


def settings_of(local: LocalIssuer, base_url: str) -> dict[str, str]:
    return {
        "M2M_GUARD_STYTCH_PROJECT_ID": local.project_id,
        "M2M_GUARD_STYTCH_ENVIRONMENT": base_url,
    }


def run_script(args: list[str], env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("M2M_GUARD_")}
    result = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_the_grpc_example_serves_and_its_client_calls_by_scope(
    issuer: tuple[LocalIssuer, str], tmp_path: Path
) -> None:
    local, base_url = issuer
    client, secret = local.create_client(scopes=["read:settings"])
    token_url = f"{base_url}/v1/public/{local.project_id}/oauth2/token"
    with running_example(
        "grpc_service", settings_of(local, base_url), tmp_path / "server.log"
    ) as url:
        target = url.removeprefix("http://")
        caller = {"TOKEN_URL": token_url, "CLIENT_ID": client.client_id, "CLIENT_SECRET": secret}
        who = json.loads(run_script(["examples/grpc_client.py", target, "Whoami"], caller))
        assert who == {"client_id": client.client_id, "scopes": ["read:settings"]}
        assert json.loads(run_script(["examples/grpc_client.py", target, "Get"], caller)) == {
            "theme": "dark"
        }
        refused = run_script(["examples/grpc_client.py", target, "Put", '{"theme": "x"}'], caller)
        assert refused.startswith("PERMISSION_DENIED: insufficient_scope: ")
        # without call credentials: refused, the health check public
        with grpc.secure_channel(target, grpc.local_channel_credentials()) as channel:
            with pytest.raises(grpc.RpcError) as anonymous:
                channel.unary_unary("/settings.Settings/Get")(b"", timeout=10)
            health = channel.unary_unary("/grpc.health.v1.Health/Check")(b"", timeout=10)
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert json.loads(health) == {"status": "SERVING"}


def test_the_lambda_example_authorizes_events_by_route(
    issuer: tuple[LocalIssuer, str], tmp_path: Path
) -> None:
    local, base_url = issuer
    client, secret = local.create_client(scopes=["read:settings"])
    token_url = f"{base_url}/v1/public/{local.project_id}/oauth2/token"
    with httpx.Client(timeout=10) as http:
        grant = {"grant_type": "client_credentials", "scope": "read:settings"}
        answer = http.post(token_url, json=grant, auth=(client.client_id, secret))
    bearer = f"Bearer {answer.json()['access_token']}"

    def authorize(event: dict[str, object]) -> dict[str, object]:
        path = tmp_path / "event.json"
        path.write_text(json.dumps(event), encoding="utf-8")
        output = run_script(
            ["examples/aws_lambda_authorizer.py", str(path)], settings_of(local, base_url)
        )
        return json.loads(output)  # type: ignore[no-any-return]

    allowed = authorize(token_event(bearer, "GET", "/settings"))
    assert allowed["principalId"] == client.client_id
    assert allowed["context"] == {"client_id": client.client_id, "scopes": "read:settings"}
    denied = authorize(token_event(bearer, "PUT", "/settings"))
    assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny"  # type: ignore[index]
    assert authorize(token_event("Bearer not-a-token")) == {
        "raised": "Exception",
        "message": "Unauthorized",
    }
    simple = authorize(http_api_event("GET", "/settings/theme", [("authorization", bearer)]))
    assert simple["isAuthorized"] is True
