"""Properties of arbitrary ``Authorization`` values: only documented refusals, never a crash.

Text of any Unicode (lone surrogates included), Latin-1 as servers decode
bytes, with and without a ``Bearer`` scheme, single or repeated: the
verifier and the middlewares answer each with an ``M2MGuardError`` of a
documented status (400, 401, 403, 503) that renders safely.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import create_environ

from m2m_guard import Verifier
from m2m_guard.asgi import M2MGuardMiddleware as ASGIMiddleware
from m2m_guard.wsgi import M2MGuardMiddleware as WSGIMiddleware
from tests.integrations._harness_asgi import http_scope, run_raw
from tests.integrations._harness_wsgi import plain_app
from tests.properties.strategies import (
    DOCUMENTED_STATUSES,
    PROFILE,
    Target,
    authorization,
    latin1_text,
    outcome,
)


@PROFILE
@given(value=authorization)
def test_verify_header_refuses_any_value_with_a_documented_error(
    target: Target, value: str | list[str] | None
) -> None:
    """Whatever the header holds, verify_header raises a documented M2MGuardError."""
    kind, _ = outcome(lambda: target.verifier.verify_header(value))
    assert kind == "refused"


@settings(PROFILE, max_examples=min(PROFILE.max_examples, 50))
@given(value=authorization)
def test_verify_header_async_refuses_any_value_with_a_documented_error(
    target: Target, value: str | list[str] | None
) -> None:
    """The async driver refuses exactly as the sync one does."""

    async def main() -> Any:
        return await target.verifier.verify_header_async(value)

    kind, _ = outcome(lambda: anyio.run(main))
    assert kind == "refused"


@functools.cache
def asgi_app(verifier: Verifier) -> ASGIMiddleware:
    async def app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - refused
        raise AssertionError("a hostile header reached the application")

    return ASGIMiddleware(app, verifier=verifier)


@settings(PROFILE, max_examples=min(PROFILE.max_examples, 60))
@given(values=st.lists(st.binary(max_size=120), max_size=3))
def test_asgi_middleware_answers_raw_header_bytes_with_a_documented_status(
    target: Target, values: Sequence[bytes]
) -> None:
    """Any bytes in any number of Authorization headers: a documented refusal, never a 500."""
    scope = http_scope("/whoami", [(b"authorization", value) for value in values])
    sent = run_raw(asgi_app(target.verifier), scope)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] in DOCUMENTED_STATUSES


@functools.cache
def wsgi_app(verifier: Verifier) -> WSGIMiddleware:
    return WSGIMiddleware(plain_app, verifier=verifier)


@settings(PROFILE, max_examples=min(PROFILE.max_examples, 60))
@given(value=latin1_text)
def test_wsgi_middleware_answers_any_latin1_header_with_a_documented_status(
    target: Target, value: str
) -> None:
    """Whatever string a WSGI server puts in HTTP_AUTHORIZATION: a documented refusal."""
    environ = create_environ("/whoami")
    environ["HTTP_AUTHORIZATION"] = value
    statuses: list[str] = []
    body = wsgi_app(target.verifier)(environ, lambda status, headers: statuses.append(status))
    b"".join(body)
    assert int(statuses[0].split()[0]) in DOCUMENTED_STATUSES
