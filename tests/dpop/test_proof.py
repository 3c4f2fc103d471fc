"""The proof check of RFC 9449 §4.3, its vectors, thumbprints, nonces and htu."""

from __future__ import annotations

from typing import Any

import pytest

from m2m_guard import (
    ConfigurationError,
    DPoPPolicy,
    InvalidDPoPProofError,
    UseDPoPNonceError,
    access_token_hash,
    jwk_thumbprint,
)
from m2m_guard._sansio.dpop import check_proof
from m2m_guard._sansio.dpop_nonce import NonceSource
from m2m_guard._sansio.htu import normalize_htu
from tests.support.dpop import DPoPKey
from tests.support.keys import SigningKey

# RFC 9449 §4.1 (figure 2) and §7.1 (figure 13): the proofs, their key, the token.
RFC_HEADER = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0Vj"
    "NoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5"
    "VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19"
)
RFC_TOKEN_PROOF = (
    RFC_HEADER
    + ".eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1w"
    "bGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4Pt"
    "FLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
)
RFC_RESOURCE_PROOF = (
    RFC_HEADER
    + ".eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFt"
    "cGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05y"
    "V0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6"
    "-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
)
RFC_JWK = {
    "kty": "EC",
    "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
    "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
    "crv": "P-256",
}
RFC_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
RFC_ACCESS_TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
RFC_RESOURCE = "https://resource.example.org/protectedresource"
# RFC 7638 §3.1
RFC7638_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1"
        "L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4"
        "QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbO"
        "pbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csF"
        "Cur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}

NOW = 1_800_000_000.0
URL = "https://api.example.com/orders"
TOKEN = "the.access.token"


def check(proof: str, **kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "method": "GET",
        "url": URL,
        "access_token": TOKEN,
        "policy": DPoPPolicy(),
        "now": NOW,
    }
    options.update(kwargs)
    return check_proof(proof, **options)


def test_rfc9449_token_request_proof_verifies() -> None:
    """The token endpoint proof of RFC 9449 figure 2 passes, with figure 4's key."""
    proof = check(
        RFC_TOKEN_PROOF,
        method="POST",
        url="https://server.example.com/token",
        access_token=None,
        now=1562262616,
    )
    assert proof.jkt == RFC_JKT
    assert proof.jti == "-BwC3ESc6acc2lTc"
    assert proof.replay_key == f"{RFC_JKT}:-BwC3ESc6acc2lTc"
    assert proof.replay_until == 1562262616 + 300


def test_rfc9449_resource_proof_verifies_with_its_ath() -> None:
    """The resource request proof of RFC 9449 figure 13 passes for its token, no other."""
    proof = check(
        RFC_RESOURCE_PROOF, url=RFC_RESOURCE, access_token=RFC_ACCESS_TOKEN, now=1562262618
    )
    assert proof.claims["ath"] == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    with pytest.raises(InvalidDPoPProofError, match="ath"):
        check(RFC_RESOURCE_PROOF, url=RFC_RESOURCE, access_token="other", now=1562262618)


def test_rfc_thumbprints_and_access_token_hash() -> None:
    """RFC 7638 §3.1's thumbprint, RFC 9449 §6.1's jkt and §7.1's ath."""
    assert jwk_thumbprint(RFC7638_JWK) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    assert jwk_thumbprint(RFC_JWK) == RFC_JKT
    assert access_token_hash(RFC_ACCESS_TOKEN) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


@pytest.mark.parametrize(
    "jwk",
    [{"kty": "oct", "k": "c2VjcmV0"}, {"kty": "EC", "crv": "P-256", "x": "AA"}, "EC", {}],
    ids=["symmetric", "missing member", "not an object", "empty"],
)
def test_thumbprint_refuses_what_is_no_public_key(jwk: Any) -> None:
    """Only EC, RSA and OKP keys with their members have a thumbprint."""
    with pytest.raises(ValueError, match="JWK"):
        jwk_thumbprint(jwk)


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "EdDSA", "PS256", "RS256"])
def test_every_default_algorithm_verifies(alg: str) -> None:
    """Proofs of each asymmetric algorithm are accepted; the thumbprint is the jwk's."""
    key = DPoPKey(SigningKey(alg).private, alg)
    proof = check(key.proof("GET", URL, now=NOW, token=TOKEN))
    assert proof.jkt == key.jkt


KEY = DPoPKey()


def made(**options: Any) -> str:
    """A proof by ``KEY`` for ``GET URL`` now, members overridden."""
    return KEY.proof("GET", URL, now=NOW, token=TOKEN, **options)


@pytest.mark.parametrize(
    ("proof", "message"),
    [
        (made(header={"crit": ["x"]}), "crit"),
        (made(header={"jwk": ...}), "jwk"),
        (made(header={"alg": "RS256"}), "fit"),
        (made(header={"typ": ...}), "typ"),
        (
            made(header={"jwk": {"kty": "EC", "crv": "P-256"}}),
            "usable",
        ),
        (made(jti=...), "jti"),
        (made(jti="x" * 257), "jti"),
        (made(iat=True), "iat"),
        (made(iat="1800000000"), "iat"),
        (made(htu="/orders"), "htu"),
        (made(htu="https://api.example.com/orders#x"), "htu"),
        (made(htu="https://u@api.example.com/orders"), "htu"),
        (made(htm="get"), "htm"),
        ("a.b", "signed JWT"),
        ("x" * 5000, "too large"),
        ("e30.!!!.e30", "signed JWT"),
        ("bm90IGpzb24.e30.e30", "header"),
        (made()[:-4] + "AAAA", "signature"),
    ],
    ids=[
        "crit", "no jwk", "alg of another key type", "no typ", "jwk without its members",
        "no jti", "long jti", "boolean iat", "string iat", "relative htu", "fragment in htu",
        "user info in htu", "lower-case htm", "two parts", "oversized", "bad base64",
        "header not json", "bad signature",
    ],
)  # fmt: skip
def test_proof_rules_refuse(proof: str, message: str) -> None:
    """Each broken rule of RFC 9449 §4.3 is an ``invalid_dpop_proof`` saying which."""
    with pytest.raises(InvalidDPoPProofError, match=message) as caught:
        check(proof)
    assert caught.value.error == "invalid_dpop_proof"
    assert caught.value.status_code == 401


def test_payload_that_is_not_json_is_refused() -> None:
    """A proof whose payload is not a JSON object is refused before its signature."""
    header = KEY.proof("GET", URL, now=NOW).split(".")[0]
    with pytest.raises(InvalidDPoPProofError, match="payload"):
        check(f"{header}.bm90IGpzb24.AAAA")


def test_algorithm_outside_the_policy_is_refused() -> None:
    """``DPoPPolicy(algorithms=...)`` narrows what proofs may use."""
    ed = DPoPKey(SigningKey("EdDSA").private, "EdDSA")
    with pytest.raises(InvalidDPoPProofError, match="not allowed"):
        check(ed.proof("GET", URL, now=NOW, token=TOKEN), policy=DPoPPolicy(algorithms="ES256"))


def test_iat_window_and_leeway() -> None:
    """A proof is good from ``iat - leeway`` to ``iat + window + leeway``."""
    policy = DPoPPolicy(iat_window=60, leeway=5)
    assert check(KEY.proof("GET", URL, now=NOW - 65, token=TOKEN), policy=policy)
    with pytest.raises(InvalidDPoPProofError, match="too old"):
        check(KEY.proof("GET", URL, now=NOW - 66, token=TOKEN), policy=policy)
    assert check(KEY.proof("GET", URL, now=NOW + 5, token=TOKEN), policy=policy)
    with pytest.raises(InvalidDPoPProofError, match="future"):
        check(KEY.proof("GET", URL, now=NOW + 6, token=TOKEN), policy=policy)
    # Without its own leeway the verifier's applies.
    assert check(KEY.proof("GET", URL, now=NOW + 5, token=TOKEN), leeway=5.0)


def test_htu_is_compared_normalised() -> None:
    """Case, default ports, percent-encodings and dot segments do not matter (RFC 3986 §6)."""
    proof = KEY.proof("GET", "HTTPS://API.Example.com:443/a/./b/../%7Eorders", now=NOW, token=TOKEN)
    assert check(proof, url="https://api.example.com/a/~orders?page=2")


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("HTTP://Example.COM:80", "http://example.com/"),
        ("https://example.com:8443/a%2fb%41", "https://example.com:8443/a%2FbA"),
        ("https://[::1]:443/x/..", "https://[::1]/"),
        ("https://example.com/a/b/../../..", "https://example.com/"),
        ("ftp://example.com/", None),
        ("https:///path", None),
        ("https://example.com:99999/", None),
        ("https://exa mple.com/", None),
        ("https://example.com/é", None),
    ],
)
def test_normalize_htu(url: str, normal: str | None) -> None:
    """RFC 3986 syntax- and scheme-based normalisation; anything else is refused."""
    assert normalize_htu(url) == normal


def test_nonces_rotate_and_are_checked_without_storage() -> None:
    """The current and the previous window's nonce pass; older ones and junk do not."""
    nonces = NonceSource(b"s" * 32, 300.0)
    now = 1_800_000_100.0
    assert nonces.accepts(nonces.current(now), now)
    assert nonces.accepts(nonces.current(now - 300), now)
    assert not nonces.accepts(nonces.current(now - 600), now)
    assert not nonces.accepts(NonceSource(b"t" * 32, 300.0).current(now), now)
    assert not nonces.accepts(None, now)
    assert not nonces.accepts("short", now)
    assert nonces.current(now) != nonces.current(now + 300)


def test_nonce_missing_asks_for_the_current_one() -> None:
    """With nonces on, a proof without one is ``use_dpop_nonce`` carrying a fresh nonce."""
    policy = DPoPPolicy(nonce_secret=b"s" * 32)
    with pytest.raises(UseDPoPNonceError) as caught:
        check(KEY.proof("GET", URL, now=NOW, token=TOKEN), policy=policy)
    nonce = caught.value.nonce
    assert caught.value.response_headers()["dpop-nonce"] == nonce
    assert check(made(nonce=nonce), policy=policy)


def test_dpop_errors_render_a_dpop_challenge_by_themselves() -> None:
    """Raised outside a verifier (a token endpoint), a DPoP error still answers ``DPoP``."""
    challenge = InvalidDPoPProofError("bad").www_authenticate()
    assert challenge == 'DPoP realm="api", error="invalid_dpop_proof", error_description="bad"'


@pytest.mark.parametrize(
    "options",
    [
        {"algorithms": ("HS256",)},
        {"algorithms": ()},
        {"iat_window": 0},
        {"iat_window": float("nan")},
        {"nonce_lifetime": True},
        {"leeway": -1},
        {"nonce_secret": b"short"},
        {"nonce_secret": "a string of enough length"},
        {"replay_store": object()},
        {"public_url": "https://api.example.com/v1"},
        {"public_url": "api.example.com"},
        {"max_proof_size": 10},
    ],
)
def test_policy_refuses_bad_settings(options: dict[str, Any]) -> None:
    """Every ``DPoPPolicy`` knob is checked when the policy is built."""
    with pytest.raises(ConfigurationError, match="dpop_policy"):
        DPoPPolicy(**options)
