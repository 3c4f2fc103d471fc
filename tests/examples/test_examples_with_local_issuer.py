"""Each example protects its routes with tokens from the local Stytch-compatible issuer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from m2m_guard._tools.server import ServerThread
from m2m_guard.issuer import LocalIssuer, ScryptParams, create_app
from tests.examples._launcher import running_example

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def issuer() -> Iterator[tuple[LocalIssuer, str]]:
    """The local issuer, served over HTTP on 127.0.0.1."""
    with (
        LocalIssuer(":memory:", scrypt=ScryptParams.insecure_fast()) as local,
        ServerThread(create_app(issuer=local)) as server,
    ):
        yield local, server.base_url


@pytest.mark.parametrize(
    "example",
    [
        "fastapi_app",
        "starlette_app",
        "flask_app",
        "django_app/serve",
        "django_app/serve_wsgi",
        "drf_app/serve",
        "aiohttp_app",
        "litestar_app",
    ],
)
def test_example_accepts_issuer_tokens_by_scope(
    example: str, issuer: tuple[LocalIssuer, str], tmp_path: Path
) -> None:
    """Configured only with the Stytch project id and the issuer's URL, each example
    verifies the issuer's tokens and enforces their scopes."""
    local, base_url = issuer
    client, secret = local.create_client(scopes=["read:settings", "write:settings"])
    token_url = f"{base_url}/v1/public/{local.project_id}/oauth2/token"
    settings = {
        "M2M_GUARD_STYTCH_PROJECT_ID": local.project_id,
        "M2M_GUARD_STYTCH_ENVIRONMENT": base_url,
    }
    with (
        running_example(example, settings, tmp_path / "server.log") as api,
        httpx.Client(timeout=10) as http,
    ):

        def token(scope: str) -> dict[str, str]:
            grant = {"grant_type": "client_credentials", "scope": scope}
            answer = http.post(token_url, json=grant, auth=(client.client_id, secret))
            assert answer.status_code == 200, answer.text
            return {"Authorization": f"Bearer {answer.json()['access_token']}"}

        reader = token("read:settings")
        whoami = http.get(f"{api}/whoami", headers=reader)
        read = http.get(f"{api}/settings", headers=reader)
        refused = http.post(f"{api}/settings", headers=reader)
        written = http.post(f"{api}/settings", headers=token("write:settings"))

    assert whoami.status_code == 200
    assert whoami.json()["client_id"] == client.client_id
    assert whoami.json()["scopes"] == ["read:settings"]
    assert read.status_code == 200
    assert refused.status_code == 403
    assert 'scope="write:settings"' in refused.headers["www-authenticate"]
    assert written.status_code == 200
