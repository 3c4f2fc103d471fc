"""The in-process LocalIssuer API: clients, secret rotation and tokens."""

from __future__ import annotations

import base64
import re
from typing import Any

import jwt
import pytest

from m2m_guard.issuer import (
    BadRequestError,
    ClientNotFoundError,
    IssuerConfigError,
    LocalIssuer,
    OAuthError,
)
from tests.issuer._helpers import FAST, decode
from tests.support.clock import FakeClock

CLIENT_ID = re.compile(r"m2m-client-test-[0-9a-f-]{36}")


def test_a_created_client_is_active_and_shows_its_secret_once(issuer: LocalIssuer) -> None:
    """create returns the secret; later reads never do."""
    client, secret = issuer.create_client(
        scopes=["read:users", "write:users"],
        client_name="billing",
        client_description="the billing service",
        trusted_metadata={"team": "payments"},
    )
    assert CLIENT_ID.fullmatch(client.client_id)
    assert client.status == "active"
    assert client.is_active
    assert client.client_secret_last_four == secret[-4:]
    assert client.next_client_secret_last_four is None
    assert issuer.get_client(client.client_id) == client
    assert "client_secret" not in client.to_json()


def test_scopes_keep_their_order_and_lose_duplicates(issuer: LocalIssuer) -> None:
    """Duplicate scopes are dropped, order is kept."""
    client = issuer.create_client(scopes=["b", "a", "b"]).client
    assert client.scopes == ("b", "a")


def test_an_imported_client_keeps_its_id_and_secret(issuer: LocalIssuer) -> None:
    """client_id and client_secret may be imported from elsewhere."""
    created = issuer.create_client(scopes=["s"], client_id="legacy.svc-1", client_secret="12345678")
    assert created.client.client_id == "legacy.svc-1"
    assert issuer.issue_token("legacy.svc-1", "12345678").client_id == "legacy.svc-1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scopes": "read"}, "scopes must be a list"),
        ({"scopes": ["has space"]}, "Invalid scope"),
        ({"scopes": [""]}, "Invalid scope"),
        ({"scopes": [1]}, "Invalid scope"),
        ({"scopes": ["s"] * 201}, "at most 200"),
        ({"scopes": [], "client_secret": "short"}, "at least|between 8"),
        ({"scopes": [], "client_secret": 12345678}, "client_secret must be a string"),
        ({"scopes": [], "client_id": "a/b"}, "client_id must be"),
        ({"scopes": [], "client_id": 7}, "client_id must be a string"),
        ({"scopes": [], "client_name": 5}, "client_name must be a string"),
        ({"scopes": [], "client_name": "x" * 1025}, "at most 1024"),
        ({"scopes": [], "trusted_metadata": []}, "trusted_metadata must be an object"),
        ({"scopes": [], "trusted_metadata": {"x": float("nan")}}, "JSON-serializable"),
        ({"scopes": [], "trusted_metadata": {"x": "y" * 70000}}, "64 KiB"),
    ],
)
def test_invalid_client_fields_are_refused(
    issuer: LocalIssuer, kwargs: dict[str, Any], message: str
) -> None:
    """Every create field is type- and range-checked; nothing is stored."""
    with pytest.raises(BadRequestError, match=message):
        issuer.create_client(**kwargs)
    assert issuer.search_clients().total == 0


def test_an_unknown_client_is_not_found(issuer: LocalIssuer) -> None:
    """get, update, delete and rotations all report an unknown id."""
    for call in (
        issuer.get_client,
        issuer.delete_client,
        issuer.start_secret_rotation,
        issuer.complete_secret_rotation,
        issuer.cancel_secret_rotation,
        lambda cid: issuer.update_client(cid, client_name="x"),
    ):
        with pytest.raises(ClientNotFoundError) as info:
            call("m2m-client-test-missing")
        assert info.value.status_code == 404
        assert info.value.error_type == "m2m_client_not_found"


def test_update_changes_only_the_given_fields(issuer: LocalIssuer) -> None:
    """None leaves a field alone; given fields are replaced."""
    client = issuer.create_client(
        scopes=["a"], client_name="n", client_description="d", trusted_metadata={"k": 1}
    ).client
    updated = issuer.update_client(client.client_id, scopes=["b"], trusted_metadata={"z": 2})
    assert updated.scopes == ("b",)
    assert updated.trusted_metadata == {"z": 2}
    assert (updated.client_name, updated.client_description) == ("n", "d")
    assert issuer.update_client(client.client_id) == updated


@pytest.mark.parametrize("status", ["suspended", "ACTIVE", "", 1])
def test_an_unknown_status_is_refused(issuer: LocalIssuer, status: Any) -> None:
    """status is exactly 'active' or 'inactive'."""
    cid = issuer.create_client(scopes=[]).client.client_id
    with pytest.raises(BadRequestError, match="status"):
        issuer.update_client(cid, status=status)


def test_delete_removes_the_client(issuer: LocalIssuer) -> None:
    """A deleted client is gone for good."""
    cid = issuer.create_client(scopes=[]).client.client_id
    issuer.delete_client(cid)
    with pytest.raises(ClientNotFoundError):
        issuer.get_client(cid)


def test_a_token_carries_stytchs_claims(issuer: LocalIssuer, clock: FakeClock) -> None:
    """sub, iss, aud, scope, iat, nbf, exp = iat + 3600, jti; RS256 with kid and typ."""
    client, secret = issuer.create_client(scopes=["read:users", "write:users"])
    issued = issuer.issue_token(client.client_id, secret)
    assert (issued.expires_in, issued.token_type) == (3600, "bearer")
    header = jwt.get_unverified_header(issued.access_token)
    assert header == {"alg": "RS256", "kid": header["kid"], "typ": "JWT"}
    claims = decode(issued.access_token, issuer)
    assert claims == {
        "sub": client.client_id,
        "iss": f"stytch.com/{issuer.project_id}",
        "aud": [issuer.project_id],
        "scope": "read:users write:users",
        "iat": int(clock.now),
        "nbf": int(clock.now),
        "exp": int(clock.now) + 3600,
        "jti": claims["jti"],
    }
    assert issuer.issue_token(client.client_id, secret).access_token != issued.access_token


def test_requested_scopes_must_be_a_subset(issuer: LocalIssuer) -> None:
    """Asking for a scope the client lacks is invalid_scope; a subset is granted."""
    client, secret = issuer.create_client(scopes=["a", "b"])
    token = issuer.issue_token(client.client_id, secret, scopes=["b"])
    assert decode(token.access_token, issuer)["scope"] == "b"
    with pytest.raises(OAuthError) as info:
        issuer.issue_token(client.client_id, secret, scopes=["a", "c"])
    assert (info.value.error, info.value.status_code) == ("invalid_scope", 400)


def test_an_empty_scope_request_grants_no_scopes(issuer: LocalIssuer) -> None:
    """An explicit empty list grants nothing, unlike an omitted one."""
    client, secret = issuer.create_client(scopes=["a"])
    token = issuer.issue_token(client.client_id, secret, scopes=[])
    assert decode(token.access_token, issuer)["scope"] == ""


def test_custom_claims_land_at_the_top_level(issuer: LocalIssuer) -> None:
    """Extra claims appear next to the standard ones."""
    client, secret = issuer.create_client(scopes=[])
    token = issuer.issue_token(
        client.client_id, secret, custom_claims={"user_id": "u-1", "tier": {"level": 2}}
    )
    claims = decode(token.access_token, issuer)
    assert (claims["user_id"], claims["tier"]) == ("u-1", {"level": 2})


@pytest.mark.parametrize("claim", ["aud", "exp", "iat", "iss", "jti", "nbf", "sub", "scope"])
def test_custom_claims_cannot_override_reserved_claims(issuer: LocalIssuer, claim: str) -> None:
    """A reserved claim name is invalid_request, never silently applied."""
    client, secret = issuer.create_client(scopes=[])
    with pytest.raises(OAuthError) as info:
        issuer.issue_token(client.client_id, secret, custom_claims={claim: "evil"})
    assert info.value.error == "invalid_request"


def test_wrong_secret_or_unknown_client_is_invalid_client(issuer: LocalIssuer) -> None:
    """Both fail alike, with invalid_client and 401."""
    client, _ = issuer.create_client(scopes=[])
    for client_id, secret in ((client.client_id, "wrong-secret"), ("m2m-client-test-x", "s")):
        with pytest.raises(OAuthError) as info:
            issuer.issue_token(client_id, secret)
        assert (info.value.error, info.value.status_code) == ("invalid_client", 401)
        assert info.value.message == "Client authentication failed."


def test_an_inactive_client_gets_no_token_until_reactivated(issuer: LocalIssuer) -> None:
    """Deactivation stops new tokens; reactivation restores them."""
    client, secret = issuer.create_client(scopes=[])
    issuer.update_client(client.client_id, status="inactive")
    with pytest.raises(OAuthError, match="inactive"):
        issuer.issue_token(client.client_id, secret)
    issuer.update_client(client.client_id, status="active")
    assert issuer.issue_token(client.client_id, secret).client_id == client.client_id


def test_secret_rotation_accepts_both_secrets_then_only_the_new_one(issuer: LocalIssuer) -> None:
    """start: both work; complete: only the next secret works."""
    client, old = issuer.create_client(scopes=[])
    rotating = issuer.start_secret_rotation(client.client_id)
    new = rotating.next_client_secret
    assert rotating.client.next_client_secret_last_four == new[-4:]
    assert rotating.to_json()["next_client_secret"] == new
    issuer.issue_token(client.client_id, old)
    issuer.issue_token(client.client_id, new)
    done = issuer.complete_secret_rotation(client.client_id)
    assert (done.client_secret_last_four, done.next_client_secret_last_four) == (new[-4:], None)
    issuer.issue_token(client.client_id, new)
    with pytest.raises(OAuthError):
        issuer.issue_token(client.client_id, old)


def test_a_cancelled_rotation_keeps_only_the_original_secret(issuer: LocalIssuer) -> None:
    """cancel discards the next secret."""
    client, old = issuer.create_client(scopes=[])
    new = issuer.start_secret_rotation(client.client_id).next_client_secret
    cancelled = issuer.cancel_secret_rotation(client.client_id)
    assert cancelled.next_client_secret_last_four is None
    issuer.issue_token(client.client_id, old)
    with pytest.raises(OAuthError):
        issuer.issue_token(client.client_id, new)


def test_starting_a_rotation_again_replaces_the_next_secret(issuer: LocalIssuer) -> None:
    """A lost next secret is replaced by starting again."""
    client, _ = issuer.create_client(scopes=[])
    lost = issuer.start_secret_rotation(client.client_id).next_client_secret
    fresh = issuer.start_secret_rotation(client.client_id).next_client_secret
    issuer.issue_token(client.client_id, fresh)
    with pytest.raises(OAuthError):
        issuer.issue_token(client.client_id, lost)


def test_complete_or_cancel_without_a_rotation_is_refused(issuer: LocalIssuer) -> None:
    """There must be a rotation in progress."""
    cid = issuer.create_client(scopes=[]).client.client_id
    for call in (issuer.complete_secret_rotation, issuer.cancel_secret_rotation):
        with pytest.raises(BadRequestError) as info:
            call(cid)
        assert info.value.error_type == "m2m_client_secret_rotation_not_started"


def test_mint_token_signs_for_any_subject(issuer: LocalIssuer, clock: FakeClock) -> None:
    """Tests can mint tokens without a client, with a chosen age and lifetime."""
    token = issuer.mint_token(
        "anyone", scopes=["x"], custom_claims={"k": "v"}, issued_at=100, lifetime=5
    )
    claims = decode(token, issuer)
    assert (claims["sub"], claims["scope"], claims["k"]) == ("anyone", "x", "v")
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (100, 100, 105)


def test_sign_claims_signs_exactly_what_it_is_given(issuer: LocalIssuer) -> None:
    """sign_claims is the escape hatch for edge-case tokens."""
    token = issuer.sign_claims({"sub": "x", "aud": "other"}, headers={"typ": "at+jwt"})
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    assert jwt.decode(token, options={"verify_signature": False}) == {"sub": "x", "aud": "other"}


def test_the_token_lifetime_is_configurable(clock: FakeClock, key_factory: Any) -> None:
    """token_lifetime sets exp - iat and expires_in."""
    with LocalIssuer(
        scrypt=FAST, clock=clock, key_factory=key_factory, token_lifetime=60
    ) as issuer:
        client, secret = issuer.create_client(scopes=[], client_secret="12345678")
        issued = issuer.issue_token(client.client_id, secret)
        claims = decode(issued.access_token, issuer)
        assert issued.expires_in == claims["exp"] - claims["iat"] == 60


def test_search_pages_through_every_client_once(issuer: LocalIssuer) -> None:
    """Following next_cursor visits each client exactly once, in creation order."""
    created = [issuer.create_client(scopes=[]).client.client_id for _ in range(7)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = issuer.search_clients(cursor=cursor, limit=3)
        assert page.total == 7
        seen.extend(client.client_id for client in page.clients)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == created
    assert pages == 3


def test_search_filters_combine_with_and_or(issuer: LocalIssuer) -> None:
    """client_id, client_name and scopes filters combine with AND or OR."""
    a = issuer.create_client(scopes=["read", "write"], client_name="alpha").client.client_id
    b = issuer.create_client(scopes=["read"], client_name="beta").client.client_id
    issuer.create_client(scopes=["admin"], client_name="gamma")

    def ids(operator: str, *operands: tuple[str, list[str]]) -> list[str]:
        query = {
            "operator": operator,
            "operands": [{"filter_name": n, "filter_value": v} for n, v in operands],
        }
        return [client.client_id for client in issuer.search_clients(query=query).clients]

    assert ids("AND", ("scopes", ["read"])) == [a, b]
    assert ids("AND", ("scopes", ["read"]), ("client_name", ["beta"])) == [b]
    assert ids("OR", ("client_id", [a]), ("client_name", ["beta"])) == [a, b]
    assert ids("AND", ("client_id", [a, b]), ("scopes", ["write"])) == [a]
    assert ids("AND", ("scopes", ["nothing"])) == []
    assert len(ids("OR")) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": "10"}, "limit"),
        ({"cursor": 5}, "cursor"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "bTJtLWNsaWVudDp4"}, "cursor"),
        ({"query": []}, "query must be an object"),
        ({"query": {"operator": "XOR"}}, "operator"),
        ({"query": {"operator": "AND", "extra": 1}}, "Unknown query field"),
        ({"query": {"operator": "AND", "operands": {}}}, "operands must be a list"),
        ({"query": {"operator": "AND", "operands": [1]}}, "operand"),
        (
            {"query": {"operator": "AND", "operands": [{"filter_name": "x", "filter_value": []}]}},
            "filter_name",
        ),
        (
            {
                "query": {
                    "operator": "OR",
                    "operands": [{"filter_name": "scopes", "filter_value": []}],
                }
            },
            "filter_value",
        ),
        (
            {
                "query": {
                    "operator": "OR",
                    "operands": [{"filter_name": "scopes", "filter_value": [1]}],
                }
            },
            "filter_value",
        ),
    ],
)
def test_invalid_search_requests_are_refused(
    issuer: LocalIssuer, kwargs: dict[str, Any], message: str
) -> None:
    """Limits, cursors and queries are all checked."""
    with pytest.raises(BadRequestError, match=message):
        issuer.search_clients(**kwargs)


def test_a_single_filter_value_may_be_a_string(issuer: LocalIssuer) -> None:
    """filter_value "x" is read as ["x"]."""
    cid = issuer.create_client(scopes=["x"]).client.client_id
    query = {"operator": "AND", "operands": [{"filter_name": "scopes", "filter_value": "x"}]}
    assert [c.client_id for c in issuer.search_clients(query=query).clients] == [cid]


@pytest.mark.parametrize(
    ("custom_claims", "message"),
    [
        (["user_id", "u-1"], "must be an object"),
        ({1: "x"}, "non-empty strings"),
        ({"": "x"}, "non-empty strings"),
        ({"when": object()}, "JSON-serializable"),
    ],
)
def test_malformed_custom_claims_are_refused(
    issuer: LocalIssuer, custom_claims: Any, message: str
) -> None:
    """Claims are a mapping of non-empty names to JSON values."""
    with pytest.raises(BadRequestError, match=message):
        issuer.mint_token("svc", custom_claims=custom_claims)


def test_authenticate_client_checks_credentials_without_minting(issuer: LocalIssuer) -> None:
    """authenticate_client returns the client, or raises invalid_client."""
    client, secret = issuer.create_client(scopes=["a"])
    assert issuer.authenticate_client(client.client_id, secret) == client
    with pytest.raises(OAuthError, match="authentication failed"):
        issuer.authenticate_client(client.client_id, secret + "x")


@pytest.mark.parametrize("seq", ["99999999999999999999", "\u0661", "-1", ""])
def test_forged_cursors_are_refused_not_crashing(issuer: LocalIssuer, seq: str) -> None:
    """Cursors outside SQLite's integer range or with odd digits are a 400."""
    cursor = base64.urlsafe_b64encode(f"m2m-client:{seq}".encode()).decode()
    with pytest.raises(BadRequestError, match="cursor"):
        issuer.search_clients(cursor=cursor)


@pytest.mark.parametrize("lifetime", [0, -5, 1.5, True])
def test_an_invalid_token_lifetime_is_a_configuration_error(lifetime: Any) -> None:
    """token_lifetime is a positive whole number of seconds."""
    with pytest.raises(IssuerConfigError, match="token_lifetime"):
        LocalIssuer(token_lifetime=lifetime)
