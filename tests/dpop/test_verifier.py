"""The verifier's binding rules: DPoP modes, bound tokens everywhere else, mTLS."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import anyio
import pytest

from m2m_guard import (
    ConfigurationError,
    DPoPPolicy,
    InsufficientScopeError,
    InvalidDPoPProofError,
    InvalidRequestError,
    InvalidTokenError,
    KeysUnavailableError,
    M2MGuardError,
    MemoryReplayStore,
    MissingTokenError,
    RequestContext,
    Verifier,
    error_response,
)
from tests.support.certs import CA
from tests.support.clock import FakeClock
from tests.support.dpop import DPoPKey
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims

CA_ = CA()
ALICE = CA_.issue("alice")
MALLORY = CA_.issue("mallory")


def make(rsa_key: SigningKey, clock: FakeClock, **options: Any) -> Verifier:
    return Verifier(
        issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(rsa_key), clock=clock, **options
    )


def request(
    authorization: str | None,
    *,
    proof: str | None = None,
    cert: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    host: str = "api.example.com",
    scheme: str = "https",
) -> RequestContext:
    sent = list(headers)
    if authorization is not None:
        sent.append(("authorization", authorization))
    if proof is not None:
        sent.append(("dpop", proof))
    return RequestContext("GET", scheme, host, "/orders", "/orders", "", tuple(sent), cert)


def values(context: RequestContext) -> tuple[str, ...]:
    return context.header_values("authorization")


def test_dpop_off_refuses_bound_tokens_at_every_entry_point(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """With DPoP off (the default) a ``cnf`` token is refused, never cached as bearer."""
    verifier = make(rsa_key, clock)
    bound = rsa_key.sign(stytch_claims(clock(), cnf={"jkt": DPoPKey().jkt}))
    for _ in range(2):  # the second time, no cache lets it through
        with pytest.raises(InvalidTokenError, match="bound"):
            verifier.verify(bound)
        with pytest.raises(InvalidTokenError, match="bound"):
            verifier.verify_header(f"Bearer {bound}")
        with pytest.raises(MissingTokenError):
            verifier.verify_header(f"DPoP {bound}")
    assert not verifier.needs_request
    assert verifier.dpop == "off"


def test_bound_tokens_without_a_request_are_refused_in_dpop_mode(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """``verify(token)`` cannot check a proof: a bound token is refused there."""
    key = DPoPKey()
    verifier = make(rsa_key, clock, dpop="allowed")
    bound = rsa_key.sign(stytch_claims(clock(), cnf={"jkt": key.jkt}))
    url = "https://api.example.com/orders"
    context = request(f"DPoP {bound}", proof=key.proof("GET", url, now=clock(), token=bound))
    assert verifier.verify_authorization(values(context), request=context) is not None
    with pytest.raises(InvalidTokenError, match="bound"):
        verifier.verify(bound)  # now cached as bound: still refused without a proof
    assert verifier.needs_request
    assert verifier.dpop == "allowed"


def test_async_binding_path_checks_proof_and_replay(rsa_key: SigningKey, clock: FakeClock) -> None:
    """``verify_authorization_async`` claims the jti in the store's async method."""
    key = DPoPKey()
    verifier = make(rsa_key, clock, dpop="required")
    bound = rsa_key.sign(stytch_claims(clock(), cnf={"jkt": key.jkt}))
    proof = key.proof("GET", "https://api.example.com/orders", now=clock(), token=bound)
    context = request(f"DPoP {bound}", proof=proof)

    async def main() -> None:
        claims = await verifier.verify_authorization_async(values(context), request=context)
        assert claims is not None
        assert claims.dpop_jkt == key.jkt
        with pytest.raises(InvalidDPoPProofError, match="used before"):
            await verifier.verify_authorization_async(values(context), request=context)
        with pytest.raises(MissingTokenError):
            await verifier.verify_authorization_async((), request=context)
        anonymous = await verifier.verify_authorization_async(
            (), optional=True, request=request(None)
        )
        assert anonymous is None

    anyio.run(main)


def test_required_mode_refuses_unbound_tokens_even_by_hand(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """In ``"required"`` mode a token without ``cnf.jkt`` is never accepted."""
    verifier = make(rsa_key, clock, dpop="required")
    plain = rsa_key.sign(stytch_claims(clock()))
    with pytest.raises(InvalidTokenError, match="DPoP-bound tokens only"):
        verifier.verify(plain)
    context = request(f"Bearer {plain}")
    with pytest.raises(InvalidTokenError) as caught:
        verifier.verify_authorization(values(context), request=context)
    assert caught.value.www_authenticate().startswith('DPoP realm="api", algs="ES256')


def test_scope_refusal_of_a_dpop_request_challenges_with_dpop(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """A 403 for a DPoP request carries its ``scope`` on the ``DPoP`` challenge."""
    key = DPoPKey()
    verifier = make(rsa_key, clock, dpop="allowed", dpop_policy=DPoPPolicy(algorithms="ES256"))
    bound = rsa_key.sign(stytch_claims(clock(), cnf={"jkt": key.jkt}))
    proof = key.proof("GET", "https://api.example.com/orders", now=clock(), token=bound)
    context = request(f"DPoP {bound}", proof=proof)
    with pytest.raises(InsufficientScopeError) as caught:
        verifier.verify_authorization(values(context), ("admin",), request=context)
    answer = error_response(caught.value)
    challenge = dict(answer.headers)["www-authenticate"]
    assert challenge == (
        'Bearer realm="api", DPoP realm="api", algs="ES256", error="insufficient_scope", '
        'error_description="The token lacks the scopes: admin.", scope="admin"'
    )


def test_htu_from_trusted_forwarded_headers_only_when_configured(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Behind a proxy, ``X-Forwarded-Proto/Host`` count only with ``trust_forwarded_headers``."""
    key = DPoPKey()
    bound = rsa_key.sign(stytch_claims(clock(), cnf={"jkt": key.jkt}))
    forwarded = (("x-forwarded-proto", "https"), ("x-forwarded-host", "api.example.com, proxy"))

    def attempt(verifier: Verifier) -> object:
        proof = key.proof("GET", "https://api.example.com/orders", now=clock(), token=bound)
        context = request(
            f"DPoP {bound}", proof=proof, headers=forwarded, host="10.0.0.7:8000", scheme="http"
        )
        return verifier.verify_authorization(values(context), request=context)

    with pytest.raises(InvalidDPoPProofError, match="htu"):
        attempt(make(rsa_key, clock, dpop="allowed"))
    trusting = make(
        rsa_key, clock, dpop="allowed", dpop_policy=DPoPPolicy(trust_forwarded_headers=True)
    )
    assert attempt(trusting) is not None


def test_a_shared_replay_store_is_used(rsa_key: SigningKey, clock: FakeClock) -> None:
    """``DPoPPolicy(replay_store=...)``: two verifiers sharing a store see each other's proofs."""
    store = MemoryReplayStore(clock=clock)
    policy = DPoPPolicy(replay_store=store)
    first, second = (make(rsa_key, clock, dpop="allowed", dpop_policy=policy) for _ in range(2))
    key = DPoPKey()
    bound = rsa_key.sign(stytch_claims(clock(), cnf={"jkt": key.jkt}))
    proof = key.proof("GET", "https://api.example.com/orders", now=clock(), token=bound)
    context = request(f"DPoP {bound}", proof=proof)
    assert first.verify_authorization(values(context), request=context) is not None
    with pytest.raises(InvalidDPoPProofError, match="used before"):
        second.verify_authorization(values(context), request=context)
    assert len(store) == 1


def test_claims_show_the_binding(rsa_key: SigningKey, clock: FakeClock) -> None:
    """``confirmation``, ``dpop_jkt`` and ``cert_thumbprint`` read ``cnf``."""
    verifier = make(rsa_key, clock, mtls=True)
    plain = verifier.verify(rsa_key.sign(stytch_claims(clock())))
    assert (plain.confirmation, plain.dpop_jkt, plain.cert_thumbprint) == (None, None, None)
    token = rsa_key.sign(stytch_claims(clock(), cnf={"x5t#S256": ALICE.thumbprint}))
    context = request(f"Bearer {token}", cert=ALICE.cert_pem)
    claims = verifier.verify_authorization(values(context), request=context)
    assert claims is not None
    assert claims.cert_thumbprint == ALICE.thumbprint
    assert claims.confirmation == {"x5t#S256": ALICE.thumbprint}
    assert claims.dpop_jkt is None


@pytest.mark.parametrize(
    ("cert", "accepted"),
    [(ALICE.cert_pem, True), (MALLORY.cert_pem, False), (None, False), ("junk", False)],
    ids=["its certificate", "another certificate", "no certificate", "not a certificate"],
)
def test_certificate_bound_token_needs_its_certificate(
    rsa_key: SigningKey, clock: FakeClock, cert: str | None, accepted: bool
) -> None:
    """RFC 8705 §3: ``cnf["x5t#S256"]`` must be the SHA-256 of the TLS client certificate."""
    verifier = make(rsa_key, clock, mtls=True)
    token = rsa_key.sign(stytch_claims(clock(), cnf={"x5t#S256": ALICE.thumbprint}))
    context = request(f"Bearer {token}", cert=cert)
    for _ in range(2):  # a token-cache hit is held to the certificate as well
        if accepted:
            assert verifier.verify_authorization(values(context), request=context) is not None
        else:
            with pytest.raises(InvalidTokenError, match="certificate"):
                verifier.verify_authorization(values(context), request=context)


def test_certificate_bound_token_without_mtls_is_refused(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """A verifier that takes DPoP but not mTLS refuses ``x5t#S256`` tokens."""
    verifier = make(rsa_key, clock, dpop="allowed")
    token = rsa_key.sign(stytch_claims(clock(), cnf={"x5t#S256": ALICE.thumbprint}))
    context = request(f"Bearer {token}", cert=ALICE.cert_pem)
    with pytest.raises(InvalidTokenError, match="certificate"):
        verifier.verify_authorization(values(context), request=context)


def test_unknown_confirmation_method_is_refused(rsa_key: SigningKey, clock: FakeClock) -> None:
    """A ``cnf`` this library cannot check (``jwk``, ``kid`` …) is refused."""
    verifier = make(rsa_key, clock, mtls=True)
    token = rsa_key.sign(stytch_claims(clock(), cnf={"kid": "k1"}))
    context = request(f"Bearer {token}", cert=ALICE.cert_pem)
    with pytest.raises(InvalidTokenError, match="confirmation"):
        verifier.verify_authorization(values(context), request=context)


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        (quote(ALICE.cert_pem), True),  # nginx $ssl_client_escaped_cert
        (f'Hash=abc;Cert="{quote(ALICE.cert_pem)}";Subject="CN=alice"', True),  # Envoy XFCC
        (quote(MALLORY.cert_pem), False),
        ("garbage", False),
    ],
    ids=["nginx", "envoy", "another certificate", "garbage"],
)
def test_certificate_from_a_trusted_proxy_header(
    rsa_key: SigningKey, clock: FakeClock, header: str, accepted: bool
) -> None:
    """``mtls_cert_header``: the proxy's header, not the connection, names the certificate."""
    verifier = make(rsa_key, clock, mtls_cert_header="X-Client-Cert")
    token = rsa_key.sign(stytch_claims(clock(), cnf={"x5t#S256": ALICE.thumbprint}))
    context = request(f"Bearer {token}", headers=(("x-client-cert", header),), cert=ALICE.cert_pem)
    if accepted:
        assert verifier.verify_authorization(values(context), request=context) is not None
    else:
        with pytest.raises(InvalidTokenError):
            verifier.verify_authorization(values(context), request=context)


def test_two_certificate_headers_are_refused(rsa_key: SigningKey, clock: FakeClock) -> None:
    """A caller's own header next to the proxy's is no certificate at all."""
    verifier = make(rsa_key, clock, mtls_cert_header="X-Client-Cert")
    token = rsa_key.sign(stytch_claims(clock(), cnf={"x5t#S256": ALICE.thumbprint}))
    sent = (("x-client-cert", quote(ALICE.cert_pem)),) * 2
    context = request(f"Bearer {token}", headers=sent)
    with pytest.raises(InvalidTokenError):
        verifier.verify_authorization(values(context), request=context)


@pytest.mark.parametrize(
    ("options", "setting"),
    [
        ({"dpop": "sometimes"}, "dpop"),
        ({"dpop_policy": DPoPPolicy()}, "dpop_policy"),
        ({"dpop": "allowed", "dpop_policy": {"iat_window": 60}}, "dpop_policy"),
        ({"mtls_cert_header": " "}, "mtls_cert_header"),
    ],
)
def test_bad_binding_settings_are_refused(
    rsa_key: SigningKey, clock: FakeClock, options: dict[str, Any], setting: str
) -> None:
    """Wrong DPoP or mTLS settings fail when the verifier is built."""
    with pytest.raises(ConfigurationError, match=setting):
        make(rsa_key, clock, **options)


@pytest.mark.parametrize(
    ("authorization", "error"),
    [
        ("DPoP", "invalid_request"),
        ("DPoP a b", "invalid_request"),
        ("DPoP a,b", "invalid_request"),
        ("DPoP ä", "invalid_request"),
        ("Basic abc", None),
    ],
)
def test_malformed_dpop_credentials(
    rsa_key: SigningKey, clock: FakeClock, authorization: str, error: str | None
) -> None:
    """The DPoP scheme's credentials follow RFC 6750's syntax too."""
    verifier = make(rsa_key, clock, dpop="allowed")
    context = request(authorization)
    with pytest.raises(M2MGuardError) as caught:
        verifier.verify_authorization(values(context), request=context)
    assert caught.value.error == error
    context = RequestContext("GET", "https", "h", "/", "/", "", (("authorization", "a"),) * 2)
    with pytest.raises(InvalidRequestError):
        verifier.verify_authorization(("a", "b"), request=context)


def test_from_env_reads_the_binding_settings() -> None:
    """``M2M_GUARD_DPOP``, ``MTLS`` and ``MTLS_CERT_HEADER``, a bad mode named by its variable."""
    env = {
        "M2M_GUARD_ISSUER": ISSUER,
        "M2M_GUARD_AUDIENCE": PROJECT_ID,
        "M2M_GUARD_JWKS_URL": "https://issuer.example/jwks",
        "M2M_GUARD_DPOP": "required",
        "M2M_GUARD_MTLS": "true",
    }
    verifier = Verifier.from_env(environ=env, dpop_policy=DPoPPolicy(iat_window=60))
    assert verifier.dpop == "required"
    assert verifier._binding is not None
    assert verifier._binding.mtls
    assert verifier._binding.policy.iat_window == 60
    header = Verifier.from_env(environ={**env, "M2M_GUARD_MTLS_CERT_HEADER": "X-Client-Cert"})
    assert header._binding is not None
    assert header._binding.cert_header == "X-Client-Cert"
    with pytest.raises(ConfigurationError, match=r"^M2M_GUARD_DPOP "):
        Verifier.from_env(environ={**env, "M2M_GUARD_DPOP": "maybe"})


def test_combine_refuses_verifiers_that_take_bound_tokens(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """A combined verifier has no binding path: building one from a DPoP verifier fails."""
    with pytest.raises(ConfigurationError, match="combine"):
        Verifier.combine(make(rsa_key, clock), make(rsa_key, clock, dpop="allowed"))


class BrokenStore:
    """A shared store that is down."""

    def claim(self, key: str, expires_at: float) -> bool:
        raise ConnectionError("redis is down")

    async def claim_async(self, key: str, expires_at: float) -> bool:
        raise ConnectionError("redis is down")


def test_a_failing_replay_store_is_a_503_never_a_pass(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """A store that raises (unreachable) answers 503 with Retry-After, sync and async."""
    key = DPoPKey()
    policy = DPoPPolicy(replay_store=BrokenStore())
    verifier = make(rsa_key, clock, dpop="allowed", dpop_policy=policy)
    bound = rsa_key.sign(stytch_claims(clock(), cnf={"jkt": key.jkt}))

    def context() -> RequestContext:
        proof = key.proof("GET", "https://api.example.com/orders", now=clock(), token=bound)
        return request(f"DPoP {bound}", proof=proof)

    first = context()
    with pytest.raises(KeysUnavailableError) as caught:
        verifier.verify_authorization(values(first), request=first)
    assert caught.value.status_code == 503
    assert error_response(caught.value).status == 503
    second = context()
    with pytest.raises(KeysUnavailableError):
        anyio.run(lambda: verifier.verify_authorization_async(values(second), request=second))
