"""Hostile inputs for property tests and the fuzz harness (fuzz/fuzz_parser.py).

Strategies for ``Authorization`` header values and token-shaped strings,
a ``Target`` (a verifier over static keys at a fixed time and a token it
accepts), and the contract every refusal must meet: an ``M2MGuardError``
whose status is one of the documented ones and whose rendering is safe to
put on the wire. Anything else escaping the verifier is a bug.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st

from m2m_guard import M2MGuardError, MalformedTokenError, Verifier
from m2m_guard._sansio.jws import parse_token
from tests.support.clock import FakeClock
from tests.support.keys import (
    ISSUER,
    PROJECT_ID,
    SigningKey,
    b64json,
    b64url,
    jwks_of,
    stytch_claims,
)

# -- settings ------------------------------------------------------------------

settings.register_profile(
    "m2m-guard",
    max_examples=200,
    deadline=None,  # verification timing varies; servers and apps are involved
    database=None,  # nothing written into the working tree
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("m2m-guard-long", settings.get_profile("m2m-guard"), max_examples=5000)
#: The profile the property tests use; M2M_GUARD_HYPOTHESIS_PROFILE=m2m-guard-long for more.
PROFILE = settings.get_profile(os.environ.get("M2M_GUARD_HYPOTHESIS_PROFILE", "m2m-guard"))

# -- the contract ------------------------------------------------------------------

DOCUMENTED_STATUSES = frozenset({400, 401, 403, 503})


def check_refusal(error: M2MGuardError) -> None:
    """A refusal has a documented status and renders safely (no header injection)."""
    assert error.status_code in DOCUMENTED_STATUSES, error
    assert error.description
    json.dumps(error.to_dict())
    for value in error.response_headers().values():
        value.encode("latin-1")
        assert "\r" not in value
        assert "\n" not in value


# -- the target --------------------------------------------------------------------


@dataclass
class Target:
    """A Stytch-shaped verifier over static keys at a fixed time, and a valid token."""

    key: SigningKey
    verifier: Verifier
    now: float
    token: str  # accepted
    other: str  # accepted too: another token of the same key

    @classmethod
    def create(cls) -> Target:
        key = SigningKey("RS256", kid="jwk-test-primary")
        clock = FakeClock()
        verifier = Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks=jwks_of(key), clock=clock)
        now = clock()
        token = key.sign(stytch_claims(now))
        other = key.sign(stytch_claims(now, jti="jti-2", scope="admin:*"))
        return cls(key, verifier, now, token, other)

    def sign(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        """Sign any header and claims with the trusted key, as they are."""
        return self.key.sign(claims, dict.fromkeys(("alg", "kid", "typ"), ...) | header)


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """Run a verifier call: ("accepted", result) or ("refused", error), checked.

    Anything but an ``M2MGuardError`` propagates.
    """
    try:
        return "accepted", call()
    except M2MGuardError as error:
        check_refusal(error)
        return "refused", error


def parse_outcome(token: str) -> str:
    """The parser alone: a ParsedToken or a MalformedTokenError (checked), nothing else."""
    try:
        parse_token(token, max_size=8192)
    except MalformedTokenError as error:  # TokenTooLargeError included
        check_refusal(error)
        return type(error).__name__
    return "parsed"


# -- Authorization header values -------------------------------------------------------

B64URL_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
JUNK_CHARS = '=+/.~ ,*!"\\%\t\x00\x7f\xe9\u2028\U0001f511'

any_text = st.text(st.characters(exclude_categories=()), max_size=80)  # with surrogates
latin1_text = st.text(st.characters(max_codepoint=255), max_size=80)
segment = st.text(st.sampled_from(B64URL_CHARS * 3 + JUNK_CHARS), max_size=60)
token_shaped = st.lists(segment, min_size=1, max_size=6).map(".".join)
schemes = st.sampled_from(
    ["Bearer ", "bearer ", "BEARER ", "Bearer  ", " Bearer ", "Bearer", "Bearer\t", "Basic ", ""]
)
with_scheme = st.tuples(schemes, st.one_of(token_shaped, latin1_text)).map("".join)
one_value = st.one_of(any_text, latin1_text, with_scheme)
#: What ``verify_header`` accepts: None, one value, or every value of a repeated header.
authorization = st.one_of(st.none(), one_value, st.lists(one_value, max_size=4))

# -- token-shaped strings ------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


@st.composite
def near(
    draw: st.DrawFn, good: dict[str, Any], alternatives: dict[str, tuple[Any, ...]]
) -> dict[str, Any]:
    """A JSON object close to ``good``: up to three members dropped, swapped for a
    plausible alternative or for any JSON, and maybe a random extra member."""
    obj = dict(good)
    for name in draw(st.lists(st.sampled_from(sorted(alternatives)), max_size=3, unique=True)):
        how = draw(st.sampled_from(["drop", "alternative", "alternative", "any"]))
        if how == "drop":
            obj.pop(name, None)
        elif how == "alternative":
            obj[name] = draw(st.sampled_from(alternatives[name]))
        else:
            obj[name] = draw(json_values)
    return draw(st.dictionaries(st.text(max_size=6), json_values, max_size=1)) | obj


def header_objects(kid: str) -> st.SearchStrategy[dict[str, Any]]:
    """JOSE headers near a valid one."""
    good = {"alg": "RS256", "kid": kid, "typ": "JWT"}
    return near(
        good,
        {
            "alg": ("RS512", "PS256", "ES256", "none", "None", "HS256", ""),
            "kid": ("jwk-test-other", "", None, f"../{kid}"),
            "typ": ("at+jwt", "application/at+jwt", "dpop+jwt", None),
            "crit": (["exp"], []),
            "jku": ("http://127.0.0.1:9/jwks",),
            "jwk": ({"kty": "RSA", "n": "AQAB", "e": "AQAB"},),
            "cty": ("JWT",),
            "enc": ("A256GCM",),
        },
    )


def claim_objects(now: float) -> st.SearchStrategy[dict[str, Any]]:
    """Claims near valid ones."""
    good = stytch_claims(now)
    return near(
        good,
        {
            "iss": (f"{ISSUER}/", ISSUER.upper(), [ISSUER]),
            "aud": (PROJECT_ID, "other", [], [PROJECT_ID, 1]),
            "sub": ("", 7),
            "exp": (now, now - 1, "1800003600", True, 1e20, 10**400),
            "iat": (now + 60, now - 86400, None, False),
            "nbf": (now + 60, "now"),
            "scope": ("read:* write:x", "", ["a:b", 1], 42),
            "scp": (["read:users"], "admin:*"),
            "jti": (5, None),
        },
    )


@st.composite
def json_tokens(draw: st.DrawFn, target: Target) -> tuple[str, bool]:
    """A token of random JSON objects; ``True`` when the trusted key signed it."""
    header = draw(header_objects(target.key.kid))
    claims = draw(claim_objects(target.now))
    if draw(st.booleans()):
        return target.sign(header, claims), True
    signature = draw(st.binary(min_size=1, max_size=300))
    return f"{b64json(header)}.{b64json(claims)}.{b64url(signature)}", False


# -- mutated valid tokens ----------------------------------------------------------------


@st.composite
def mutants(draw: st.DrawFn, target: Target) -> str:
    """The target's valid token changed in one way an attacker or a broken proxy might."""
    token = target.token
    segments = token.split(".")
    kind = draw(
        st.sampled_from(
            [
                "flip",
                "truncate",
                "drop",
                "insert",
                "swap",
                "pad",
                "respell",
                "case",
                "repeat",
                "splice",
            ]
        )
    )
    index = draw(st.integers(0, len(token) - 1))
    char = draw(st.sampled_from(B64URL_CHARS + "=."))
    if kind == "flip":
        mutant = token[:index] + char + token[index + 1 :]
    elif kind == "truncate":
        mutant = token[:index]
    elif kind == "drop":
        mutant = token[:index] + token[index + 1 :]
    elif kind == "insert":
        mutant = token[:index] + char + token[index:]
    elif kind == "swap":
        mutant = ".".join(segments[i] for i in draw(st.permutations(range(3))))
    elif kind == "pad":  # re-encoded with padding
        which = draw(st.integers(0, 2))
        segments[which] += "=" * draw(st.integers(1, 3))
        mutant = ".".join(segments)
    elif kind == "respell":  # same bytes, non-zero unused bits in the last character
        which = draw(st.integers(0, 2))
        last = B64URL_CHARS.index(segments[which][-1])
        spare = {2: 15, 3: 3}.get(len(segments[which]) % 4, 0)  # unused-bit values
        segments[which] = segments[which][:-1] + B64URL_CHARS[last + draw(st.integers(0, spare))]
        mutant = ".".join(segments)
    elif kind == "case":
        mutant = token[:index] + token[index].swapcase() + token[index + 1 :]
    elif kind == "repeat":
        which = draw(st.integers(0, 2))
        mutant = ".".join(segments[: which + 1] + segments[which:])
    else:  # one segment taken from another genuine token of the same key
        which = draw(st.integers(0, 2))
        segments[which] = target.other.split(".")[which]
        mutant = ".".join(segments)
    assume(mutant != token)
    return mutant
