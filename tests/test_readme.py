"""The README's code that users copy must work as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


@pytest.mark.slow
def test_testing_section_examples_pass_as_written(pytester: pytest.Pytester) -> None:
    """The pytest-plugin examples of 'Testing your service' run green against the examples."""
    blocks = [b for b in python_blocks(section("Testing your service")) if "def test_" in b]
    assert len(blocks) == 4
    pytester.makeconftest(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n")
    for index, block in enumerate(blocks):
        pytester.makepyfile(**{f"test_readme_{index}": block})
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"
    )
    result.assert_outcomes(passed=len(blocks))


def test_quickstart_has_exactly_two_commands() -> None:
    """The Quickstart is two copy-paste commands: the demo, then the tests."""
    blocks = re.findall(r"```sh\n(.*?)```", section("Quickstart"), flags=re.DOTALL)
    commands = [line for block in blocks for line in block.splitlines() if line.strip()]
    assert len(commands) == 2
    assert commands[0].endswith("m2m-guard demo")
    assert "pytest" in commands[1]


def test_the_clients_commands_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each line of 'Managing clients' runs, in order, against a new issuer database."""
    import shlex

    from m2m_guard import cli
    from m2m_guard.issuer import LocalIssuer

    text = section("Local issuer and CLI")
    text = text[text.index("### Managing clients") :]
    (block,) = re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)[:1]
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == 7
    monkeypatch.chdir(tmp_path)
    LocalIssuer("dev.db").close()
    for line in lines:
        argv = shlex.split(line)
        assert argv[0] == "m2m-guard"
        assert cli.main(argv[1:]) == 0, line
    out = capsys.readouterr().out
    with LocalIssuer("dev.db") as issuer:
        assert issuer.search_clients().total == 0
    assert "client_secret: " in out
    assert "next_client_secret: " in out


@pytest.mark.slow
def test_dependencies_section_snippets_run_against_a_local_issuer() -> None:
    """The httpx2 snippets of 'Dependencies' work as written: a Verifier fetching keys with
    the user's httpx2.Client, and ClientCredentialsAuth as an httpx2.Client's auth."""
    pytest.importorskip("httpx2")
    from m2m_guard import Verifier
    from m2m_guard._tools.demo import protected_app
    from m2m_guard._tools.server import ServerThread
    from m2m_guard.issuer import LocalIssuer, ScryptParams, create_app

    blocks = python_blocks(section("Dependencies"))
    assert len(blocks) == 2
    with (
        LocalIssuer(":memory:", scrypt=ScryptParams.insecure_fast()) as issuer,
        ServerThread(create_app(issuer=issuer)) as issuer_server,
        Verifier.for_stytch(issuer.project_id, environment=issuer_server.base_url) as verifier,
        ServerThread(protected_app(verifier)) as api_server,
    ):
        client, secret = issuer.create_client(scopes=["read:settings"])
        names = {
            "PROJECT_ID": issuer.project_id,
            "ISSUER_URL": issuer_server.base_url,
            "API_URL": api_server.base_url,
            "client_id": client.client_id,
            "client_secret": secret,
            "token": issuer.issue_token(client.client_id, secret).access_token,
        }
        for block in blocks:
            exec(compile(block, "README.md", "exec"), names)  # noqa: S102 - our own README
    assert names["claims"].client_id == client.client_id


def test_the_fastapi_and_starlette_idioms_run_as_written() -> None:
    """The OpenAPI/Swagger UI and the requires/lifespan snippets of 'Protect a web
    application' run as written (building the apps does no I/O; the asserts are theirs)."""
    blocks = python_blocks(section("Protect a web application"))
    idioms = [b for b in blocks if "lifespan=lifespan(verifier)" in b]
    assert len(idioms) == 2
    for block in idioms:
        namespace: dict[str, Any] = {"__name__": "readme_snippet"}
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
        app = namespace["app"]
        assert app.router.lifespan_context is not None
