"""Properties of token-shaped strings: documented refusals only, and no forgery accepted.

Three and five dot-separated segments of base64url-ish text, random JSON
objects encoded as segments (signed by the trusted key or not), and
mutations of a valid token (a character flipped, dropped, inserted or
re-cased; truncated; segments swapped, repeated or taken from another
token; re-encoded with padding).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.properties.strategies import (
    PROFILE,
    Target,
    any_text,
    json_tokens,
    mutants,
    outcome,
    parse_outcome,
    segment,
    token_shaped,
)

three_or_five = st.one_of(
    st.lists(segment, min_size=3, max_size=3), st.lists(segment, min_size=5, max_size=5)
).map(".".join)


@PROFILE
@given(token=st.one_of(three_or_five, token_shaped, any_text))
def test_parser_raises_nothing_but_malformed_token_errors(token: str) -> None:
    """The parser returns a parsed token or raises a 401 MalformedTokenError."""
    assert parse_outcome(token) in {"parsed", "MalformedTokenError", "TokenTooLargeError"}


@PROFILE
@given(token=st.one_of(three_or_five, token_shaped))
def test_token_shaped_strings_get_a_documented_refusal(target: Target, token: str) -> None:
    """Random segments never verify and never escape as another exception."""
    kind, _ = outcome(lambda: target.verifier.verify(token))
    assert kind == "refused"


@PROFILE
@given(data=st.data())
def test_random_json_tokens_are_accepted_only_when_genuinely_signed(
    target: Target, data: st.DataObject
) -> None:
    """Arbitrary headers and claims: refused with a documented error unless truly valid."""
    token, genuine = data.draw(json_tokens(target))
    kind, _ = outcome(lambda: target.verifier.verify(token))
    assert kind == "refused" or genuine


@PROFILE
@given(data=st.data())
def test_a_mutated_valid_token_is_never_accepted(target: Target, data: st.DataObject) -> None:
    """Any one-step change to a valid token makes it invalid, directly and in a header."""
    mutant = data.draw(mutants(target))
    kind, error = outcome(lambda: target.verifier.verify(mutant))
    assert kind == "refused"
    assert error.status_code == 401
    kind, error = outcome(lambda: target.verifier.verify_header(f"Bearer {mutant}"))
    assert kind == "refused"
    assert error.status_code in (400, 401)


def test_the_target_accepts_its_own_tokens(target: Target) -> None:
    """The mutation property starts from tokens that really are valid."""
    assert target.verifier.verify(target.token).scopes == ("read:users", "write:users")
    assert target.verifier.verify(target.other).scopes == ("admin:*",)
