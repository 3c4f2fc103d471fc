"""``m2m-guard token`` sends the caller side's own token request and checks its answer alike."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest

from m2m_guard.cli import main
from m2m_guard.client import _state
from tests.support.token_endpoint import TokenEndpointServer

TOKEN = {"access_token": "tok-1", "token_type": "bearer", "expires_in": 60, "scope": "read"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def token_argv(url: str, *extra: str) -> list[str]:
    return ["token", "--url", url, "--client-id", "cli-client", "--client-secret", "s3cret", *extra]


def test_the_request_is_the_clients_own(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The body sent is build_request's: client_secret_post, form-encoded, scopes and claims."""
    built: list[_state.TokenRequest] = []
    real = _state.build_request

    def spy(config: _state.TokenConfig) -> _state.TokenRequest:
        built.append(real(config))
        return built[-1]

    monkeypatch.setattr(_state, "build_request", spy)
    with TokenEndpointServer(200, json.dumps(TOKEN).encode()) as endpoint:
        argv = token_argv(endpoint.url, "--scope", "read", "--scope", "write", "--claim", "a=b=c")
        status, out, err = run(capsys, *argv)
    assert (status, out, err) == (0, "tok-1\n", "")
    (request,) = built
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in request.headers
    assert dict(parse_qsl(request.content.decode())) == {
        "grant_type": "client_credentials",
        "scope": "read write",
        "a": "b=c",
        "client_id": "cli-client",
        "client_secret": "s3cret",
    }
    assert endpoint.requests == 1


def test_json_prints_the_whole_answer(capsys: pytest.CaptureFixture[str]) -> None:
    with TokenEndpointServer(200, json.dumps(TOKEN).encode()) as endpoint:
        status, out, _ = run(capsys, *token_argv(endpoint.url, "--json"))
    assert (status, json.loads(out)) == (0, TOKEN)


@pytest.mark.parametrize(
    ("status", "body", "needle"),
    [
        (599, b"", "token request refused (HTTP 599): unexpected response"),
        (400, b'{"error": "invalid_request"}', "token request refused (HTTP 400): invalid_request"),
        (200, b'{"access_token": "tok-1"}', "did not answer with an access_token"),
        (200, b'{"access_token": "a b", "expires_in": 60}', "did not answer with an access_token"),
    ],
)
def test_answers_the_client_would_refuse_are_refused(
    capsys: pytest.CaptureFixture[str], status: int, body: bytes, needle: str
) -> None:
    """Odd statuses, OAuth errors and tokens without a lifetime or with header-breaking text."""
    with TokenEndpointServer(status, body) as endpoint:
        code, out, err = run(capsys, *token_argv(endpoint.url))
    assert (code, out) == (1, "")
    assert needle in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (token_argv("ftp://issuer.invalid/token"), "must be an http(s) URL"),
        (token_argv("http://127.0.0.1:9/t", "--claim", "grant_type=password"), "grant_type"),
        (token_argv("http://127.0.0.1:9/t", "--scope", 'read"'), "Invalid scope"),
        (token_argv("http://127.0.0.1:9/t", "--timeout", "0"), "timeout must be"),
    ],
)
def test_bad_settings_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    """The client's own configuration checks, reported as one line and exit 1."""
    status, out, err = run(capsys, *argv)
    assert (status, out) == (1, "")
    assert needle in err
    assert err.count("\n") == 1


def test_the_http_variable_does_not_count_as_verifier_configuration(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """M2M_GUARD_HTTP picks the HTTP package; it does not make verify read M2M_GUARD_* settings."""
    for name in list(__import__("os").environ):
        if name.startswith("M2M_GUARD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("M2M_GUARD_HTTP", "httpx")
    status, _, err = run(capsys, "verify", "some.token.here")
    assert status == 2  # a usage error
    assert "say whose token it is" in err
