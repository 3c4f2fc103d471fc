"""``m2m-guard clients``: Stytch's client management, over HTTP or on the database."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from m2m_guard import cli
from m2m_guard.issuer import LocalIssuer, generate_rsa_key
from m2m_guard.testing import LiveIssuer

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Call main() and return (status, stdout, stderr)."""

    def invoke(*argv: str) -> tuple[int, str, str]:
        status = cli.main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return invoke


@pytest.fixture(scope="module")
def module_key() -> Any:
    return generate_rsa_key()


@pytest.fixture
def db_path(tmp_path: Path, module_key: Any) -> str:
    path = tmp_path / "issuer.db"
    LocalIssuer(path, key_factory=lambda: module_key).close()
    return str(path)


class Target:
    """The options that point ``clients`` at an issuer, and that issuer in-process."""

    def __init__(self, argv: list[str], local: LocalIssuer) -> None:
        self.argv = argv
        self.local = local


@pytest.fixture(params=["http", "db"])
def target(
    request: pytest.FixtureRequest, db_path: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Target]:
    """Each test runs once over HTTP (a live issuer) and once on a database file."""
    for name in ("ISSUER_URL", "PROJECT_ID", "PROJECT_SECRET", "ISSUER_DB"):
        monkeypatch.delenv(f"M2M_GUARD_{name}", raising=False)
    if request.param == "http":
        live: LiveIssuer = request.getfixturevalue("m2m_issuer")
        argv = ["--issuer", live.base_url, "--project-id", live.project_id]
        yield Target([*argv, "--secret", live.project_secret], live.local)
    else:
        with LocalIssuer(db_path) as local:
            yield Target(["--db", db_path], local)


def clients(run: Run, target: Target, action: str, *args: str) -> tuple[int, str, str]:
    return run("clients", action, *args, *target.argv)


def test_create_prints_the_secret_once_and_it_works(run: Run, target: Target) -> None:
    """create shows the client and its secret, once; the secret gets tokens."""
    status, out, err = clients(
        run, target, "create", "--scope", "read:x write:x", "--scope", "admin",
        "--name", "orders", "--description", "the orders service",
        "--metadata", '{"team": "ops"}',
    )  # fmt: skip
    assert (status, err) == (0, "")
    (client,) = target.local.search_clients().clients
    secret = out.split("client_secret: ")[1].split()[0]
    assert out.count(secret) == 1
    assert "shown only now" in out
    assert f"client_id:    {client.client_id}" in out
    assert "scopes:       read:x write:x admin" in out
    assert 'metadata:     {"team": "ops"}' in out
    assert client.client_name == "orders"
    assert client.client_description == "the orders service"
    assert dict(client.trusted_metadata) == {"team": "ops"}
    assert target.local.issue_token(client.client_id, secret).scopes == (
        "read:x",
        "write:x",
        "admin",
    )
    _, shown, _ = clients(run, target, "get", client.client_id, "--json")
    assert json.loads(shown)["client_name"] == "orders"
    assert "client_secret" not in json.loads(shown)
    for action in ("get", "update"):
        extra = ["--name", "renamed"] if action == "update" else []
        _, shown, _ = clients(run, target, action, client.client_id, *extra)
        assert secret not in shown
        assert f"secret:       ...{secret[-4:]}" in shown


def test_create_json_is_stytchs_client_with_its_secret(run: Run, target: Target) -> None:
    """--json prints M2MClientWithClientSecret; --client-id chooses the id."""
    status, out, _ = clients(run, target, "create", "--client-id", "m2m-client-own", "--json")
    body = json.loads(out)
    assert status == 0
    assert body["client_id"] == "m2m-client-own"
    assert body["scopes"] == []
    assert target.local.authenticate_client("m2m-client-own", body["client_secret"])


def test_list_shows_every_page_and_filters(run: Run, target: Target) -> None:
    """list follows the cursor through all pages; --scope, --name and --limit narrow it."""
    made = [target.local.create_client(scopes=[f"s{i % 2}"], client_name=f"n{i}") for i in range(5)]
    ids = [c.client.client_id for c in made]
    status, out, _ = clients(run, target, "list", "--json")
    assert status == 0
    assert [c["client_id"] for c in json.loads(out)["m2m_clients"]] == ids
    status, out, _ = clients(run, target, "list")
    lines = out.splitlines()
    assert len(lines) == 5
    assert lines[0].split() == [ids[0], "active", "s0", "n0"]
    _, out, _ = clients(run, target, "list", "--scope", "s1", "--json")
    assert [c["client_id"] for c in json.loads(out)["m2m_clients"]] == ids[1::2]
    _, out, _ = clients(run, target, "list", "--name", "n3", "--name", "n4", "--json")
    assert [c["client_id"] for c in json.loads(out)["m2m_clients"]] == ids[3:]
    _, out, _ = clients(run, target, "list", "--limit", "2", "--json")
    assert [c["client_id"] for c in json.loads(out)["m2m_clients"]] == ids[:2]


def test_list_pages_through_small_pages(
    run: Run, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With pages smaller than the list, every page is fetched."""
    from m2m_guard._tools import cli_clients

    monkeypatch.setattr(cli_clients, "PAGE_SIZE", 2)
    ids = [target.local.create_client(scopes=[]).client.client_id for _ in range(5)]
    _, out, _ = clients(run, target, "list", "--json")
    assert [c["client_id"] for c in json.loads(out)["m2m_clients"]] == ids
    _, out, _ = clients(run, target, "list", "--json", "--limit", "3")
    assert [c["client_id"] for c in json.loads(out)["m2m_clients"]] == ids[:3]


def test_an_empty_list_says_so(run: Run, target: Target) -> None:
    assert clients(run, target, "list") == (0, "no clients\n", "")


def test_update_changes_only_what_is_given(run: Run, target: Target) -> None:
    """update sets status, scopes, name, description, metadata; the rest stays."""
    created = target.local.create_client(scopes=["a"], client_name="keep")
    cid = created.client.client_id
    status, out, _ = clients(
        run, target, "update", cid, "--status", "inactive", "--scope", "b c", "--metadata", "{}"
    )
    assert status == 0
    assert out.startswith("updated\n")
    client = target.local.get_client(cid)
    assert (client.status, client.scopes, client.client_name) == ("inactive", ("b", "c"), "keep")
    _, out, _ = clients(run, target, "update", cid, "--description", "d", "--json")
    assert json.loads(out)["client_description"] == "d"


def test_delete_removes_the_client(run: Run, target: Target) -> None:
    cid = target.local.create_client(scopes=[]).client.client_id
    status, out, _ = clients(run, target, "delete", cid)
    assert status == 0
    assert out.startswith(f"deleted {cid}")
    assert target.local.search_clients().total == 0
    cid = target.local.create_client(scopes=[]).client.client_id
    _, out, _ = clients(run, target, "delete", cid, "--json")
    assert json.loads(out) == {"client_id": cid, "deleted": True}


def test_a_secret_rotation_end_to_end(run: Run, target: Target) -> None:
    """rotate-start prints the next secret once; rotate completes; rotate-cancel cancels."""
    created = target.local.create_client(scopes=["a"])
    cid, old = created.client.client_id, created.client_secret
    status, out, _ = clients(run, target, "rotate-start", cid)
    new = out.split("next_client_secret: ")[1].split()[0]
    assert status == 0
    assert out.count(new) == 1
    assert f"next secret:  ...{new[-4:]} (rotation pending)" in out
    assert target.local.authenticate_client(cid, old)
    assert target.local.authenticate_client(cid, new)
    status, out, _ = clients(run, target, "rotate", cid)
    assert status == 0
    assert out.startswith("rotation complete")
    assert new not in out
    assert target.local.authenticate_client(cid, new)
    _, out, _ = clients(run, target, "rotate-start", cid, "--json")
    newer = json.loads(out)["next_client_secret"]
    status, out, _ = clients(run, target, "rotate-cancel", cid, "--json")
    assert status == 0
    assert json.loads(out)["next_client_secret_last_four"] is None
    assert newer not in out
    assert target.local.authenticate_client(cid, new)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["get", "m2m-client-nope"], "not found"),
        (["delete", "m2m-client-nope"], "not found"),
        (["rotate", "m2m-client-nope"], "not found"),
        (["update", "m2m-client-nope", "--name", "x"], "not found"),
        (["create", "--scope", 'bad"scope'], "refused"),
        (["create", "--metadata", '{"a": ' * 40 + "1" + "}" * 40], "refused"),
    ],
)
def test_refusals_and_unknown_clients_exit_1(
    run: Run, target: Target, argv: list[str], needle: str
) -> None:
    """What the issuer refuses, or does not know, is one line and exit 1."""
    status, out, err = clients(run, target, *argv)
    assert (status, out) == (1, "")
    assert err.startswith(f"m2m-guard: error: {needle}")
    assert err.count("\n") == 1


def test_rotate_without_a_rotation_is_refused(run: Run, target: Target) -> None:
    cid = target.local.create_client(scopes=[]).client.client_id
    status, _, err = clients(run, target, "rotate", cid)
    assert status == 1
    assert "rotation" in err


def test_names_from_the_issuer_cannot_drive_the_terminal(run: Run, target: Target) -> None:
    """A stored name with escapes and newlines prints inert."""
    cid = target.local.create_client(scopes=[], client_name="x\x1b[2J\nstatus: active").client
    status, out, _ = clients(run, target, "get", cid.client_id)
    assert status == 0
    assert all(line.isprintable() for line in out.splitlines())
    assert "x\\x1b[2J\\nstatus: active" in out
