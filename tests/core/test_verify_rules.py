"""The verification rules (SECURITY.md, "Guarantees"), through the public Verifier."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from m2m_guard import (
    BadSignatureError,
    DisallowedAlgorithmError,
    ExpiredTokenError,
    InsufficientScopeError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidIssuerError,
    InvalidRequestError,
    M2MClaims,
    MalformedTokenError,
    MissingTokenError,
    TokenNotYetValidError,
    TokenTooLargeError,
    TokenTooOldError,
    UnknownKeyError,
    UnsupportedHeaderError,
    Verifier,
)
from tests.support.clock import FakeClock
from tests.support.keys import (
    CLIENT_ID,
    ISSUER,
    PROJECT_ID,
    SigningKey,
    b64json,
    b64url,
    forge,
    jwks_of,
    stytch_claims,
)

Verify = Callable[..., M2MClaims]


@pytest.fixture(params=["sync", "async"])
def verify(request: pytest.FixtureRequest, verifier: Verifier) -> Verify:
    """verifier.verify, or verify_async run to completion: one algorithm, two drivers."""
    if request.param == "sync":
        return verifier.verify

    def run(*args: Any, **kwargs: Any) -> M2MClaims:
        async def main() -> M2MClaims:
            return await verifier.verify_async(*args, **kwargs)

        return anyio.run(main)

    return run


def test_stytch_token_yields_client_scopes_and_custom_claims(
    verify: Verify, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """A Stytch-shaped token gives client_id (sub), scopes and custom claims."""
    claims = stytch_claims(clock(), extra={"nested": [1, 2]})
    result = verify(rsa_key.sign(claims), ["read:users"])
    assert result.client_id == CLIENT_ID
    assert result.scopes == ("read:users", "write:users")
    assert dict(result.custom_claims) == {"tenant": "acme", "extra": {"nested": [1, 2]}}
    assert dict(result.claims) == claims
    assert result.issuer == ISSUER
    assert result.audience == (PROJECT_ID,)
    assert result.expires_at == claims["exp"]
    assert result.issued_at == claims["iat"]
    assert result.token_id == "jti-1"


def test_claims_are_read_only(verifier: Verifier, rsa_key: SigningKey, clock: FakeClock) -> None:
    """Handlers cannot alter the claims other code will see."""
    result = verifier.verify(rsa_key.sign(stytch_claims(clock())))
    with pytest.raises(TypeError):
        result.custom_claims["tenant"] = "evil"  # type: ignore[index]
    with pytest.raises(AttributeError):
        result.client_id = "evil"  # type: ignore[misc]


@pytest.mark.parametrize(
    "alg",
    ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"],
)
def test_every_asymmetric_algorithm_verifies(alg: str, clock: FakeClock) -> None:
    """The allow-list can hold RSA, RSA-PSS, ECDSA and EdDSA algorithms."""
    key = SigningKey(alg, kid=f"k-{alg}")
    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(key), algorithms=[alg], clock=clock
    )
    assert verifier.verify(key.sign(stytch_claims(clock()))).client_id == CLIENT_ID


def test_algorithm_outside_the_allow_list_is_rejected(clock: FakeClock) -> None:
    """A token signed with a valid key but an algorithm not configured is refused."""
    key = SigningKey("ES256", kid="ec")
    verifier = Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(key), clock=clock)
    with pytest.raises(DisallowedAlgorithmError):
        verifier.verify(key.sign(stytch_claims(clock())))


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", "", None, 42])
def test_alg_none_in_any_spelling_is_rejected(
    verify: Verify, rsa_key: SigningKey, clock: FakeClock, alg: object
) -> None:
    """Unsigned tokens are refused, with or without the original signature."""
    header = {"alg": alg, "kid": rsa_key.kid, "typ": "JWT"}
    original = rsa_key.sign(stytch_claims(clock())).rsplit(".", 1)[1]
    for signature in (b"", b"x"):
        token = forge(header, stytch_claims(clock()), signature)
        with pytest.raises((DisallowedAlgorithmError, MalformedTokenError)):
            verify(token)
    with pytest.raises(DisallowedAlgorithmError):
        verify(f"{b64json(header)}.{b64json(stytch_claims(clock()))}.{original}")


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_signed_with_the_public_key_is_rejected(
    verify: Verify, rsa_key: SigningKey, clock: FakeClock, alg: str
) -> None:
    """Algorithm confusion: HS* keyed with the public key PEM is never accepted."""
    pem = rsa_key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": alg, "kid": rsa_key.kid, "typ": "JWT"}
    signing_input = f"{b64json(header)}.{b64json(stytch_claims(clock()))}"
    import hashlib
    import hmac

    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signature = hmac.new(pem, signing_input.encode(), digest).digest()
    with pytest.raises(DisallowedAlgorithmError):
        verify(f"{signing_input}.{b64url(signature)}")


def test_signature_by_another_key_with_the_same_kid_fails(
    verify: Verify, rsa_key: SigningKey, other_rsa_key: SigningKey, clock: FakeClock
) -> None:
    """A forger who copies the kid still needs the private key."""
    forger = SigningKey("RS256", kid=rsa_key.kid, private=other_rsa_key.private)
    with pytest.raises(BadSignatureError):
        verify(forger.sign(stytch_claims(clock())))


def test_tampered_payload_fails(verify: Verify, rsa_key: SigningKey, clock: FakeClock) -> None:
    """Changing one claim after signing breaks the signature."""
    header, _, signature = rsa_key.sign(stytch_claims(clock())).split(".")
    tampered = b64json(stytch_claims(clock(), scope="admin:*"))
    with pytest.raises(BadSignatureError):
        verify(f"{header}.{tampered}.{signature}")


def test_unknown_kid_with_static_keys_is_an_unknown_key(
    verify: Verify, other_rsa_key: SigningKey, clock: FakeClock
) -> None:
    """A kid that is not in the configured set is rejected as unknown."""
    with pytest.raises(UnknownKeyError):
        verify(other_rsa_key.sign(stytch_claims(clock())))


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ({"crit": ["exp"]}, "critical"),
        ({"crit": []}, "critical"),
        ({"jku": "http://127.0.0.1:9/jwks"}, "own key"),
        ({"x5u": "http://127.0.0.1:9/cert"}, "own key"),
        ({"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}}, "own key"),
        ({"x5c": ["MIIB"]}, "own key"),
        ({"enc": "A256GCM"}, "JWE"),
        ({"zip": "DEF"}, "JWE"),
        ({"cty": "JWT"}, "Nested"),
        ({"kid": 7}, "kid"),
        ({"typ": "JOSE"}, "type"),
        ({"typ": "dpop+jwt"}, "type"),
        ({"typ": 1}, "type"),
    ],
)
def test_unacceptable_headers_are_rejected(
    verify: Verify, rsa_key: SigningKey, clock: FakeClock, header: dict[str, Any], fragment: str
) -> None:
    """Headers that bring their own keys, critical extensions or other token types are refused."""
    with pytest.raises(UnsupportedHeaderError) as info:
        verify(rsa_key.sign(stytch_claims(clock()), header))
    assert fragment in info.value.description


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt", None])
def test_access_token_types_are_accepted_by_default(
    verifier: Verifier, rsa_key: SigningKey, clock: FakeClock, typ: str | None
) -> None:
    """typ JWT, at+jwt, application/at+jwt or none at all pass by default."""
    token = rsa_key.sign(stytch_claims(clock()), {"typ": ... if typ is None else typ})
    assert verifier.verify(token).client_id == CLIENT_ID


def test_strict_rfc9068_requires_at_jwt_and_its_claims(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Strict mode wants typ at+jwt and iss exp aud sub client_id iat jti."""
    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), strict_rfc9068=True, clock=clock
    )
    claims = stytch_claims(clock(), client_id=CLIENT_ID)
    assert verifier.verify(rsa_key.sign(claims, {"typ": "at+jwt"})).client_id == CLIENT_ID
    with pytest.raises(UnsupportedHeaderError):
        verifier.verify(rsa_key.sign(claims, {"typ": "JWT"}))
    with pytest.raises(UnsupportedHeaderError):
        verifier.verify(rsa_key.sign(claims, {"typ": ...}))
    with pytest.raises(InvalidClaimError) as info:
        verifier.verify(rsa_key.sign(stytch_claims(clock()), {"typ": "at+jwt"}))
    assert info.value.claim == "client_id"


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", ["1800000000", True, False, None, 1e20, -1, [1], {"a": 1}])
def test_time_claims_must_be_sane_numbers(
    verify: Verify, rsa_key: SigningKey, clock: FakeClock, name: str, value: object
) -> None:
    """exp, nbf and iat are JSON numbers within year 0..9999, never strings or booleans."""
    with pytest.raises(InvalidClaimError) as info:
        verify(rsa_key.sign(stytch_claims(clock(), **{name: value})))
    assert info.value.claim == name


def test_fractional_time_claims_are_accepted(
    verify: Verify, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """NumericDate may be a non-integer number (RFC 7519 §2)."""
    now = clock()
    claims = stytch_claims(now, iat=now - 0.5, nbf=now - 0.5, exp=now + 10.25)
    assert verify(rsa_key.sign(claims)).expires_at == now + 10.25


def test_expiry_is_exclusive_and_leeway_extends_it(rsa_key: SigningKey, clock: FakeClock) -> None:
    """A token is expired at exp itself; leeway tolerates clock skew."""
    token = rsa_key.sign(stytch_claims(clock(), exp=int(clock()) + 10))
    strict = Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock)
    lenient = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock, leeway=5
    )
    clock.advance(9.9)
    strict.verify(token)
    clock.advance(0.1)
    with pytest.raises(ExpiredTokenError):
        strict.verify(token)
    lenient.verify(token)
    clock.advance(5)
    with pytest.raises(ExpiredTokenError):
        lenient.verify(token)


def test_not_before_and_future_issued_at_are_rejected(
    verify: Verify, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """nbf in the future and iat in the future (beyond leeway) are not valid yet."""
    now = clock()
    with pytest.raises(TokenNotYetValidError):
        verify(rsa_key.sign(stytch_claims(now, nbf=now + 5)))
    with pytest.raises(TokenNotYetValidError) as info:
        verify(rsa_key.sign(stytch_claims(now, iat=now + 5, nbf=now)))
    assert "future" in info.value.description


def test_leeway_tolerates_small_future_nbf_and_iat(rsa_key: SigningKey, clock: FakeClock) -> None:
    """Clock skew within the leeway is tolerated for nbf and iat."""
    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock, leeway=10
    )
    now = clock()
    verifier.verify(rsa_key.sign(stytch_claims(now, iat=now + 9, nbf=now + 9)))


def test_max_token_age_follows_stytch_rule(rsa_key: SigningKey, clock: FakeClock) -> None:
    """Rejected when now - iat >= max_token_age; a per-call value overrides the default."""
    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock, max_token_age=60
    )
    token = rsa_key.sign(stytch_claims(clock()))
    clock.advance(59)
    verifier.verify(token)
    with pytest.raises(TokenTooOldError):
        verifier.verify(token, max_token_age=30)
    clock.advance(1)
    with pytest.raises(TokenTooOldError):
        verifier.verify(token)
    assert verifier.verify(token, max_token_age=120).client_id == CLIENT_ID


def test_max_token_age_needs_iat(rsa_key: SigningKey, clock: FakeClock) -> None:
    """Without iat the age cannot be checked, so the token is refused."""
    verifier = Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks=jwks_of(rsa_key),
        clock=clock,
        required_claims=["exp"],
    )
    token = rsa_key.sign(stytch_claims(clock(), iat=...))
    verifier.verify(token)
    with pytest.raises(InvalidClaimError) as info:
        verifier.verify(token, max_token_age=60)
    assert info.value.claim == "iat"


def test_max_lifetime_caps_exp_minus_iat(rsa_key: SigningKey, clock: FakeClock) -> None:
    """An optional cap refuses tokens that live longer than allowed."""
    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock, max_lifetime=3600
    )
    now = int(clock())
    verifier.verify(rsa_key.sign(stytch_claims(now, exp=now + 3600)))
    with pytest.raises(InvalidClaimError):
        verifier.verify(rsa_key.sign(stytch_claims(now, exp=now + 3601)))


@pytest.mark.parametrize(
    "iss",
    [
        f"{ISSUER}x",
        f"x{ISSUER}",
        f"{ISSUER}/",
        ISSUER.upper(),
        f" {ISSUER}",
        "stytch.com/",
        "",
        None,
        [ISSUER],
        {"iss": ISSUER},
    ],
)
def test_issuer_must_match_exactly(
    verify: Verify, rsa_key: SigningKey, clock: FakeClock, iss: object
) -> None:
    """Prefix, suffix, case and type tricks on iss are all refused."""
    with pytest.raises(InvalidIssuerError):
        verify(rsa_key.sign(stytch_claims(clock(), iss=iss)))


def test_several_issuers_and_audiences_may_be_accepted(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """issuer and audience accept lists; aud may be a string or a list."""
    verifier = Verifier(
        issuer=[ISSUER, "http://127.0.0.1:8787"],
        audience=["other", PROJECT_ID],
        jwks=jwks_of(rsa_key),
        clock=clock,
    )
    for iss in (ISSUER, "http://127.0.0.1:8787"):
        for aud in (PROJECT_ID, [PROJECT_ID], ["x", "other"]):
            verifier.verify(rsa_key.sign(stytch_claims(clock(), iss=iss, aud=aud)))


@pytest.mark.parametrize("aud", ["someone-else", ["a", "b"], [], 42, [PROJECT_ID, 1], None, {}])
def test_audience_mismatch_or_malformed_is_rejected(
    verify: Verify, rsa_key: SigningKey, clock: FakeClock, aud: object
) -> None:
    """The token must name our audience, as a string or a list of strings."""
    with pytest.raises(InvalidAudienceError):
        verify(rsa_key.sign(stytch_claims(clock(), aud=aud)))


@pytest.mark.parametrize("name", ["iss", "aud", "exp", "iat", "nbf", "sub"])
def test_required_claims_must_be_present(
    verify: Verify, rsa_key: SigningKey, clock: FakeClock, name: str
) -> None:
    """Every claim Stytch's SDK requires is required."""
    with pytest.raises(InvalidClaimError) as info:
        verify(rsa_key.sign(stytch_claims(clock(), **{name: ...})))
    assert info.value.claim == name


def test_client_id_falls_back_through_configured_claims(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """The first present of client_id_claims names the client."""
    verifier = Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks=jwks_of(rsa_key),
        clock=clock,
        client_id_claims=["client_id", "azp", "sub"],
    )
    now = clock()
    assert verifier.verify(rsa_key.sign(stytch_claims(now, azp="from-azp"))).client_id == "from-azp"
    assert (
        verifier.verify(rsa_key.sign(stytch_claims(now, client_id="cid", azp="a"))).client_id
        == "cid"
    )
    assert verifier.verify(rsa_key.sign(stytch_claims(now))).client_id == CLIENT_ID
    with pytest.raises(InvalidClaimError):
        verifier.verify(rsa_key.sign(stytch_claims(now, client_id=123)))
    with pytest.raises(InvalidClaimError):
        verifier.verify(rsa_key.sign(stytch_claims(now, client_id="")))
    with pytest.raises(InvalidClaimError) as info:
        verifier.verify(rsa_key.sign(stytch_claims(now, sub=...)))
    assert "name its client" in info.value.description


def test_scopes_merge_scope_and_scp(verify: Verify, rsa_key: SigningKey, clock: FakeClock) -> None:
    """scope (string) and scp (list or string) are both read and merged."""
    token = rsa_key.sign(stytch_claims(clock(), scope="a:x b:y", scp=["b:y", "c:z"]))
    assert verify(token).scopes == ("a:x", "b:y", "c:z")
    assert verify(rsa_key.sign(stytch_claims(clock(), scope=...))).scopes == ()


@pytest.mark.parametrize("scope", [42, {"a": 1}, ["a", 1], True])
def test_scope_claim_of_odd_type_makes_the_token_invalid(
    verify: Verify, rsa_key: SigningKey, clock: FakeClock, scope: object
) -> None:
    """Scope claims of unexpected types are refused, never crash."""
    with pytest.raises(InvalidClaimError):
        verify(rsa_key.sign(stytch_claims(clock(), scope=scope)))


def test_required_scopes_all_of_and_any_of(
    verify: Verify, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Missing scopes raise 403 carrying what was required and what was granted."""
    token = rsa_key.sign(stytch_claims(clock(), scope="read:* write:users"))
    verify(token, ["read:users", "write:users"])
    verify(token, "read:orders write:users")
    verify(token, any_scopes=["admin:x", "write:users"])
    with pytest.raises(InsufficientScopeError) as info:
        verify(token, ["read:users", "admin:users"])
    assert info.value.required_scopes == ("read:users", "admin:users")
    assert info.value.granted_scopes == ("read:*", "write:users")
    assert info.value.status_code == 403
    with pytest.raises(InsufficientScopeError) as info:
        verify(token, any_scopes=["admin:x", "delete:y"])
    assert info.value.any_of


def test_jti_must_be_a_string(verify: Verify, rsa_key: SigningKey, clock: FakeClock) -> None:
    """A non-string jti is malformed; an absent one is None."""
    with pytest.raises(InvalidClaimError):
        verify(rsa_key.sign(stytch_claims(clock(), jti=5)))
    assert verify(rsa_key.sign(stytch_claims(clock(), jti=...))).token_id is None


@pytest.mark.parametrize("token", [None, 42, b"abc.def.ghi", ["a"]])
def test_non_string_token_is_malformed(verify: Verify, token: object) -> None:
    """Only strings are tokens."""
    with pytest.raises(MalformedTokenError):
        verify(token)


def test_default_size_cap_is_8_kib(verify: Verify, rsa_key: SigningKey, clock: FakeClock) -> None:
    """Tokens over 8 KiB are rejected; just under passes the cap."""
    with pytest.raises(TokenTooLargeError):
        verify("a" * 8193)
    claims = stytch_claims(clock(), pad="x" * 5000)
    assert verify(rsa_key.sign(claims)).custom_claims["pad"] == "x" * 5000


def test_ecdsa_der_and_zero_signatures_are_rejected(clock: FakeClock) -> None:
    """ES256 wants raw r||s: DER-encoded or all-zero signatures fail."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = SigningKey("ES256", kid="ec")
    verifier = Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(key), algorithms="ES256", clock=clock
    )
    header = {"alg": "ES256", "kid": "ec", "typ": "JWT"}
    signing_input = f"{b64json(header)}.{b64json(stytch_claims(clock()))}"
    der = key.private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    for signature in (der, bytes(64), bytes(63)):
        with pytest.raises(BadSignatureError):
            verifier.verify(f"{signing_input}.{b64url(signature)}")


def test_rsa_signature_longer_than_modulus_fails_cleanly(
    verify: Verify, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Odd signature sizes are a bad signature, not a crash."""
    header, payload, _ = rsa_key.sign(stytch_claims(clock())).split(".")
    for size in (1, 255, 257, 1024):
        with pytest.raises(BadSignatureError):
            verify(f"{header}.{payload}.{b64url(b'x' * size)}")


def test_verify_header_extracts_the_bearer_token(
    verifier: Verifier, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """The raw Authorization value can be passed directly."""
    token = rsa_key.sign(stytch_claims(clock()))
    assert verifier.verify_header(f"Bearer {token}", ["read:users"]).client_id == CLIENT_ID
    assert anyio.run(verifier.verify_header_async, [f"bearer {token}"]).client_id == CLIENT_ID
    with pytest.raises(MissingTokenError):
        verifier.verify_header(None)
    with pytest.raises(InvalidRequestError):
        verifier.verify_header([f"Bearer {token}", f"Bearer {token}"])


class CountingTransport(httpx.MockTransport):
    """A JWKS endpoint that counts requests."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.calls = 0

        def handler(request: httpx.Request) -> httpx.Response:
            self.calls += 1
            return httpx.Response(200, content=json.dumps(document).encode())

        super().__init__(handler)


def test_cheap_checks_never_fetch_keys(rsa_key: SigningKey, clock: FakeClock) -> None:
    """Disallowed alg, foreign iss, wrong aud, junk and oversized tokens cost no JWKS fetch."""
    transport = CountingTransport(jwks_of(rsa_key))
    verifier = Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks_url="https://issuer.example/jwks",
        http_client=httpx.Client(transport=transport),
        clock=clock,
    )
    now = clock()
    bad = [
        forge({"alg": "HS256", "kid": "x"}, stytch_claims(now)),
        forge({"alg": "none"}, stytch_claims(now)),
        rsa_key.sign(stytch_claims(now, iss="https://evil.example")),
        rsa_key.sign(stytch_claims(now, aud="someone-else")),
        rsa_key.sign(stytch_claims(now, sub=...)) + "x" * 9000,
        "garbage",
        rsa_key.sign(stytch_claims(now), {"jku": "https://evil.example/jwks"}),
        rsa_key.sign(stytch_claims(now, exp=...)),
    ]
    for token in bad:
        with pytest.raises(Exception):  # noqa: B017, PT011 - the type is not the point here
            verifier.verify(token)
    assert transport.calls == 0
    verifier.verify(rsa_key.sign(stytch_claims(now)))
    assert transport.calls == 1


def test_claim_values_and_forbidden_claims_are_checked_before_any_fetch(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Required claim values and forbidden claims refuse tokens without a key lookup."""
    transport = CountingTransport(jwks_of(rsa_key))
    verifier = Verifier(
        issuer=ISSUER,
        audience=PROJECT_ID,
        jwks_url="https://issuer.example/jwks",
        http_client=httpx.Client(transport=transport),
        claim_values={"gty": "client-credentials"},
        forbidden_claims=["scp"],
        clock=clock,
    )
    now = clock()
    for claims in (stytch_claims(now), stytch_claims(now, gty="password")):
        with pytest.raises(InvalidClaimError) as info:
            verifier.verify(rsa_key.sign(claims))
        assert info.value.claim == "gty"
    with pytest.raises(InvalidClaimError) as info:
        verifier.verify(rsa_key.sign(stytch_claims(now, gty="client-credentials", scp="x")))
    assert info.value.claim == "scp"
    assert transport.calls == 0
    verifier.verify(rsa_key.sign(stytch_claims(now, gty="client-credentials")))
    assert transport.calls == 1
