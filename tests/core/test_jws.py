"""Bearer extraction and JWS compact parsing."""

from __future__ import annotations

import pytest

from m2m_guard import (
    InvalidRequestError,
    MalformedTokenError,
    MissingTokenError,
    TokenTooLargeError,
    extract_bearer_token,
)
from m2m_guard._sansio.jws import parse_token
from tests.support.keys import b64json, b64url

HEADER = {"alg": "RS256", "kid": "k", "typ": "JWT"}
CLAIMS = {"sub": "c"}
H, C = b64json(HEADER), b64json(CLAIMS)
GOOD = f"{H}.{C}.{b64url(b'signature')}"


def seg(raw: bytes) -> str:
    return b64url(raw)


BAD_UTF8 = seg(b"\xff\xfe")
DUP_CLAIMS = seg(b'{"a":1,"a":2}')
DUP_ALG = seg(b'{"alg":"RS256","alg":"none"}')
NAN = seg(b'{"exp":NaN}')
INF = seg(b'{"exp":Infinity}')
DEEP = seg(b"[" * 3000 + b"]" * 3000)
BIG_INT = seg(b'{"n":' + b"9" * 5000 + b"}")


@pytest.mark.parametrize(
    "value", [None, [], "", "Basic dXNlcjpwYXNz", "Digest x", "Bearertoken", "Bearer\tabc"]
)
def test_header_without_bearer_credentials_is_a_missing_token(value: object) -> None:
    """No header, an empty one or another scheme means no bearer token (RFC 6750 §3.1)."""
    with pytest.raises(MissingTokenError):
        extract_bearer_token(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_is_case_insensitive(scheme: str) -> None:
    """The auth scheme compares case-insensitively (RFC 7235 §2.1)."""
    assert extract_bearer_token(f"{scheme} abc.def.ghi") == "abc.def.ghi"


def test_single_header_in_a_list_is_accepted() -> None:
    """Frameworks hand over all header values; one value is the normal case."""
    assert extract_bearer_token(["Bearer abc"]) == "abc"


@pytest.mark.parametrize(
    "value",
    [
        ["Bearer a", "Bearer b"],
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer a, Bearer b",
        "Bearer a,b",
        "Bearer tok\u00e9n",
        "Bearer a;b",
    ],
)
def test_malformed_bearer_credentials_are_an_invalid_request(value: object) -> None:
    """Several credentials or bad token68 syntax answer 400 invalid_request."""
    with pytest.raises(InvalidRequestError) as info:
        extract_bearer_token(value)  # type: ignore[arg-type]
    assert info.value.status_code == 400


def test_parse_returns_header_claims_signing_input_and_signature() -> None:
    """A well-formed token is split and decoded once."""
    parsed = parse_token(GOOD, max_size=8192)
    assert parsed.header == HEADER
    assert parsed.claims == CLAIMS
    assert parsed.signing_input == GOOD.rsplit(".", 1)[0].encode()
    assert parsed.signature == b"signature"


def test_oversized_token_is_rejected_before_parsing() -> None:
    """The size cap is the first check: a huge token is never split or decoded."""
    with pytest.raises(TokenTooLargeError):
        parse_token("x" * 8193, max_size=8192)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("a.b", "signed JWT"),
        ("a.b.c.d", "signed JWT"),
        ("a.b.c.d.e", "JWE"),
        ("..", "empty part"),
        (f"{H}..sig", "empty part"),
        (f"{H}.{C}.", "empty part"),
        (f"{b64json(HEADER)}=.{b64json(CLAIMS)}.c2ln", "base64url"),
        (f"{H}.{C}.c2ln+", "base64url"),
        (f"{H}.{C}.c2l/", "base64url"),
        (f"{H}.{C}.c 2ln", "base64url"),
        (f"{H}.{C}.A", "base64url"),
        (f"{H}.{C}.AB", "canonical"),
        (f"{H}.{C}.ABC", "canonical"),
        (f"{seg(b'not json')}.{C}.c2ln", "not valid JSON"),
        (f"{seg(b'[1]')}.{C}.c2ln", "not a JSON object"),
        (f"{H}.{seg(b'null')}.c2ln", "not a JSON object"),
        (f"{H}.{BAD_UTF8}.c2ln", "not valid JSON"),
        (f"{H}.{DUP_CLAIMS}.c2ln", "duplicate"),
        (f"{DUP_ALG}.{C}.c2ln", "duplicate"),
        (f"{H}.{NAN}.c2ln", "non-finite"),
        (f"{H}.{INF}.c2ln", "non-finite"),
        (f"{H}.{DEEP}.c2ln", "not valid JSON"),
        (f"{H}.{BIG_INT}.c2ln", "not valid JSON"),
    ],
)
def test_malformed_tokens_are_rejected_with_a_reason(token: str, reason: str) -> None:
    """Every malformation is a 401 invalid_token whose description names the problem."""
    with pytest.raises(MalformedTokenError) as info:
        parse_token(token, max_size=1024 * 1024)
    assert reason in info.value.description
    assert info.value.status_code == 401


def test_canonical_base64_with_zero_trailing_bits_is_accepted() -> None:
    """One and two bytes of tail (segments of length 4n+2 and 4n+3) decode."""
    for payload in (b"a", b"ab", b"abc"):
        token = f"{H}.{C}.{b64url(payload)}"
        assert parse_token(token, max_size=8192).signature == payload
