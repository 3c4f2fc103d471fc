"""Token endpoint failures become clear TokenRequestErrors that leak no secrets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from m2m_guard._http import httpx
from m2m_guard._sansio.errors import M2MGuardError
from m2m_guard.client import ClientCredentialsAuth, TokenRequestError

from .conftest import CLIENT_SECRET, Api, FakeClock, TokenEndpoint

MakeAuth = Callable[..., ClientCredentialsAuth]
ApiClient = Callable[[ClientCredentialsAuth], httpx.Client]


def answering(endpoint: TokenEndpoint, response: httpx.Response) -> None:
    endpoint.answer = lambda request: response


def test_refusal_carries_oauth_error_description_and_status(
    make_auth: MakeAuth, endpoint: TokenEndpoint
) -> None:
    """An OAuth2 error answer (RFC 6749 §5.2) is raised with its code, text and status."""
    answering(
        endpoint,
        httpx.Response(401, json={"error": "invalid_client", "error_description": "bad secret"}),
    )
    with pytest.raises(TokenRequestError) as info:
        make_auth().get_token()
    error = info.value
    assert (error.upstream_error, error.error_description, error.http_status) == (
        "invalid_client",
        "bad secret",
        401,
    )
    assert "HTTP 401" in str(error)
    assert "invalid_client: bad secret" in str(error)


def test_refusal_without_a_json_body_still_reports_the_status(
    make_auth: MakeAuth, endpoint: TokenEndpoint
) -> None:
    """A bare 500 page is reported with its status and no OAuth2 error code."""
    answering(endpoint, httpx.Response(500, text="<h1>oops</h1>"))
    with pytest.raises(TokenRequestError) as info:
        make_auth().get_token()
    assert (info.value.upstream_error, info.value.http_status) == (None, 500)


def test_redirects_are_refused_not_followed(make_auth: MakeAuth, endpoint: TokenEndpoint) -> None:
    """A redirecting token endpoint is an error; the credentials are not re-sent elsewhere."""
    answering(endpoint, httpx.Response(302, headers={"location": "https://evil.invalid/token"}))
    with pytest.raises(TokenRequestError) as info:
        make_auth().get_token()
    assert info.value.http_status == 302
    assert endpoint.fetches == 1


GARBAGE: dict[str, Any] = {
    "not json": b"access_token=abc",
    "a JSON list": [{"access_token": "abc"}],
    "no access_token": {"expires_in": 3600},
    "a numeric access_token": {"access_token": 12345, "expires_in": 3600},
    "an empty access_token": {"access_token": "", "expires_in": 3600},
    "a header-breaking access_token": {"access_token": "abc\r\nX-Evil: 1", "expires_in": 3600},
    "a non-bearer token_type": {"access_token": "abc", "token_type": "mac", "expires_in": 3600},
    "no expires_in": {"access_token": "abc"},
    "a zero expires_in": {"access_token": "abc", "expires_in": 0},
    "a negative expires_in": {"access_token": "abc", "expires_in": -5},
    "a boolean expires_in": {"access_token": "abc", "expires_in": True},
    "a non-numeric expires_in": {"access_token": "abc", "expires_in": "soon"},
    "an infinite expires_in": b'{"access_token": "abc", "expires_in": Infinity}',
}


@pytest.mark.parametrize("body", GARBAGE.values(), ids=GARBAGE.keys())
def test_unusable_success_answers_are_errors(
    make_auth: MakeAuth, endpoint: TokenEndpoint, body: Any
) -> None:
    """A 200 whose body is no usable bearer token raises instead of caching garbage."""
    if isinstance(body, bytes):
        answering(endpoint, httpx.Response(200, content=body))
    else:
        answering(endpoint, httpx.Response(200, json=body))
    with pytest.raises(TokenRequestError) as info:
        make_auth().get_token()
    assert info.value.http_status == 200


def test_error_in_a_200_answer_is_reported(make_auth: MakeAuth, endpoint: TokenEndpoint) -> None:
    """A 200 carrying an OAuth2 error instead of a token reports that error."""
    answering(endpoint, httpx.Response(200, json={"error": "invalid_scope"}))
    with pytest.raises(TokenRequestError) as info:
        make_auth().get_token()
    assert info.value.upstream_error == "invalid_scope"


def test_endpoint_error_text_is_truncated(make_auth: MakeAuth, endpoint: TokenEndpoint) -> None:
    """A huge error_description is cut, so it cannot flood logs."""
    answering(endpoint, httpx.Response(400, json={"error": "x", "error_description": "d" * 10_000}))
    with pytest.raises(TokenRequestError) as info:
        make_auth().get_token()
    assert info.value.error_description == "d" * 200
    assert len(str(info.value)) < 400


def test_transport_failure_is_a_token_request_error(clock: FakeClock) -> None:
    """A connection failure raises TokenRequestError (no HTTP status) chained to the cause."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(refuse)) as http:
        auth = ClientCredentialsAuth(
            "https://issuer.invalid/token", "id", "secret", clock=clock, http_client=http
        )
        with pytest.raises(TokenRequestError) as info:
            auth.get_token()
    assert info.value.http_status is None
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert "ConnectError" in str(info.value)


@pytest.mark.anyio
async def test_async_transport_failure_is_a_token_request_error(clock: FakeClock) -> None:
    """The async path also turns a connection failure into TokenRequestError."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        auth = ClientCredentialsAuth(
            "https://issuer.invalid/token", "id", "secret", clock=clock, async_http_client=http
        )
        with pytest.raises(TokenRequestError) as info:
            await auth.aget_token()
    assert info.value.http_status is None
    assert isinstance(info.value.__cause__, httpx.ConnectTimeout)


def test_error_is_safe_to_render_by_an_integration(
    make_auth: MakeAuth, endpoint: TokenEndpoint
) -> None:
    """If it escapes into a web integration, the response shows no upstream details."""
    answering(endpoint, httpx.Response(401, json={"error": "invalid_client"}))
    with pytest.raises(M2MGuardError) as info:
        make_auth().get_token()
    error = info.value
    assert error.status_code == 502
    assert error.www_authenticate() is None
    assert "invalid_client" not in error.description
    assert "invalid_client" not in str(error.to_dict())
    assert error.to_dict()["error"] == "temporarily_unavailable"


def test_secret_and_full_token_never_reach_logs_or_errors(
    make_auth: MakeAuth,
    endpoint: TokenEndpoint,
    api: Api,
    api_client: ApiClient,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Across fetch, 401 retry, failed refresh and error, only a token prefix is logged."""
    long_tokens = iter(["A" * 40 + "first", "B" * 40 + "second"])

    def answer(request: httpx.Request) -> httpx.Response:
        token = next(long_tokens, None)
        if token is None:
            return httpx.Response(401, json={"error": "invalid_client"})
        return httpx.Response(200, json={"access_token": token, "expires_in": 3600})

    endpoint.answer = answer
    api.refused.add("A" * 40 + "first")
    auth = make_auth(auth_method="client_secret_post")
    with caplog.at_level(logging.DEBUG, logger="m2m_guard.client"):
        api_client(auth).get("https://api.invalid/things")  # fetch, 401, refetch
        clock.advance(3550)
        auth.get_token()  # the refresh fails; the current token is kept
        clock.advance(100)
        with pytest.raises(TokenRequestError) as info:
            auth.get_token()
    texts = [caplog.text, str(info.value), repr(info.value), repr(auth)]
    assert "token refresh failed" in caplog.text
    assert "AAAAAAAA..." in caplog.text
    for text in texts:
        assert CLIENT_SECRET not in text
        assert "first" not in text
        assert "second" not in text


def test_short_tokens_are_not_logged_whole(
    make_auth: MakeAuth, endpoint: TokenEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    """Even a short token is logged only by a fraction of its length."""
    answering(endpoint, httpx.Response(200, json={"access_token": "shorttok", "expires_in": 60}))
    with caplog.at_level(logging.DEBUG, logger="m2m_guard.client"):
        make_auth().get_token()
    assert "fetched token sh..." in caplog.text
    assert "shorttok" not in caplog.text


FORGERIES = {
    "newline": "bad secret\n2026-01-01 INFO token issued to admin",
    "carriage-return": "bad\r\nsecret",
    "ansi-escape": "\x1b[2J\x1b[31mbad",
    "nul": "bad\x00secret",
    "bidi-override": "bad \u202eterces",
    "line-separator": "bad\u2028secret",
    "del": "bad\x7fsecret",
}


@pytest.mark.parametrize("text", FORGERIES.values(), ids=FORGERIES.keys())
def test_control_characters_from_the_endpoint_never_reach_logs_raw(
    make_auth: MakeAuth,
    endpoint: TokenEndpoint,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    text: str,
) -> None:
    """error and error_description are escaped in str(exc), its attributes and log lines."""
    answers = iter(
        [httpx.Response(200, json={"access_token": "tok", "expires_in": 3600})],
    )
    refusal = httpx.Response(400, json={"error": f"invalid{text}", "error_description": text})
    endpoint.answer = lambda request: next(answers, refusal)
    auth = make_auth()
    with caplog.at_level(logging.DEBUG, logger="m2m_guard.client"):
        auth.get_token()
        clock.advance(3550)
        auth.get_token()  # the refresh fails and is logged; the token is kept
        clock.advance(100)
        with pytest.raises(TokenRequestError) as info:
            auth.get_token()
    error = info.value
    assert "token refresh failed" in caplog.text
    shown = [str(error), error.upstream_error or "", error.error_description or ""]
    shown += [record.getMessage() for record in caplog.records]
    for line in shown:
        assert line.isprintable(), repr(line)
    assert repr(text)[1:-1] in str(error)  # escaped, not dropped


def test_an_absurdly_nested_answer_is_a_token_request_error(
    make_auth: MakeAuth, endpoint: TokenEndpoint
) -> None:
    """JSON nested past Python's recursion limit is an unusable answer, not a RecursionError."""
    answering(endpoint, httpx.Response(200, content=b"[" * 100_000 + b"]" * 100_000))
    with pytest.raises(TokenRequestError, match="did not answer with a JSON object"):
        make_auth().get_token()
