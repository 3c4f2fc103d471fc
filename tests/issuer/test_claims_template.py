"""The M2M custom-claims template: the only way request parameters become claims.

A client allowed ``read:users`` must never mint itself ``scp=admin:all``,
``permissions``, ``roles`` or another client's identity by adding
parameters to its token request; m2m_guard's generic ``Verifier`` reads
``scp`` as scopes, so such a claim would be real authority.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from m2m_guard import InsufficientScopeError, Verifier
from m2m_guard.issuer import BadRequestError, CreatedClient, LocalIssuer
from m2m_guard.issuer._validate import AUTHORITY_CLAIMS
from tests.issuer._helpers import FAST, body_for, decode
from tests.support.clock import FakeClock

Auth = tuple[str, str]
JSON = {"content-type": "application/json"}

FORGED: dict[str, Any] = {
    "scp": "admin:all",
    "permissions": ["admin:all"],
    "roles": ["admin"],
    "azp": "m2m-client-other",
    "cid": "m2m-client-other",
    "appid": "m2m-client-other",
    "client_id_claim": "x",
    "realm_access": {"roles": ["admin"]},
    "resource_access": {"api": {"roles": ["admin"]}},
    "cnf": {"jkt": "forged"},
    "act": {"sub": "root"},
    "gty": "password",
    "token_use": "id",
    "uid": "user-1",
    "iss": "https://evil.example",
    "sub": "m2m-client-other",
}


@pytest.fixture
def client(issuer: LocalIssuer) -> CreatedClient:
    """A client allowed only read:users."""
    return issuer.create_client(scopes=["read:users"])


@pytest.fixture
def token_url(issuer: LocalIssuer) -> str:
    """The project's token endpoint path."""
    return f"/v1/public/{issuer.project_id}/oauth2/token"


@pytest.fixture
def template_url(issuer: LocalIssuer) -> str:
    """The project's M2M template route, shaped like Stytch's management API."""
    return f"/pwa/v3/projects/{issuer.project_id}/environments/test/jwt_templates/M2M"


def token_claims(
    http: httpx.Client, issuer: LocalIssuer, token_url: str, client: CreatedClient, **extra: Any
) -> dict[str, Any]:
    """Request a token (JSON body) with extra parameters; its verified claims."""
    response = http.post(token_url, json=body_for(client, **extra))
    assert response.status_code == 200, response.text
    return decode(response.json()["access_token"], issuer)


def verifier_for(issuer: LocalIssuer, clock: FakeClock) -> Verifier:
    """m2m_guard's generic verifier, reading scopes from scope and scp (the default)."""
    return Verifier(
        issuer=issuer.issuer, audience=issuer.project_id, jwks=issuer.jwks(), clock=clock
    )


# -- without a template, nothing is minted --------------------------------------


def test_without_a_template_extra_parameters_mint_nothing(
    http: httpx.Client, issuer: LocalIssuer, client: CreatedClient, token_url: str
) -> None:
    """Forged authority parameters are ignored; the token is the plain Stytch claim set."""
    claims = token_claims(http, issuer, token_url, client, user_id="u-1", **FORGED)
    assert set(claims) == {"sub", "iss", "aud", "scope", "iat", "nbf", "exp", "jti"}
    assert (claims["sub"], claims["iss"], claims["scope"]) == (
        client.client.client_id,
        issuer.issuer,
        "read:users",
    )


def test_forged_scp_gives_no_power_to_the_generic_verifier(
    http: httpx.Client,
    issuer: LocalIssuer,
    client: CreatedClient,
    token_url: str,
    clock: FakeClock,
) -> None:
    """The end-to-end hole: a read:users client asks for scp=admin:all and is refused admin."""
    body = body_for(client, scp="admin:all", permissions=["admin:all"])
    token = http.post(token_url, data=body).json()["access_token"]
    verifier = verifier_for(issuer, clock)
    assert verifier.verify(token, ["read:users"]).scopes == ("read:users",)
    with pytest.raises(InsufficientScopeError):
        verifier.verify(token, ["admin:all"])


# -- through the template ------------------------------------------------------


def test_template_parameters_become_claims_with_their_json_types(
    http: httpx.Client, issuer: LocalIssuer, client: CreatedClient, token_url: str
) -> None:
    """Whole-value placeholders keep JSON types; in-string ones interpolate text."""
    issuer.set_m2m_template(
        '{"user_id": {{ request.user_id }}, "org": {"id": {{request.org_id}}},'
        ' "label": "job-{{ request.job }}/{{ request.org_id }}", "list": [{{ request.n }}]}'
    )
    claims = token_claims(
        http, issuer, token_url, client, user_id="u-1", org_id=7, job="sync", n=[1, 2], x="y"
    )
    assert claims["user_id"] == "u-1"
    assert claims["org"] == {"id": 7}
    assert claims["label"] == "job-sync/7"
    assert claims["list"] == [[1, 2]]
    assert "x" not in claims


def test_form_parameters_are_strings_and_missing_ones_are_left_out(
    http: httpx.Client, issuer: LocalIssuer, client: CreatedClient, token_url: str
) -> None:
    """A form body gives strings; a parameter not sent leaves its member out."""
    issuer.set_m2m_template('{"tenant": {{ request.tenant }}, "user": {{ request.user }}}')
    body = body_for(client, tenant="42")
    claims = decode(http.post(token_url, data=body).json()["access_token"], issuer)
    assert claims["tenant"] == "42"
    assert "user" not in claims


@pytest.mark.parametrize(
    "value",
    [
        '", "scope": "admin:all',
        '"}, "scp": "admin:all", "x": {"',
        '\\u0022, "scp": 1',
        "{{ request.other }}",
        "\ue000",
    ],
)
def test_a_value_never_changes_the_templates_structure(
    http: httpx.Client,
    issuer: LocalIssuer,
    client: CreatedClient,
    token_url: str,
    value: str,
) -> None:
    """Parameter values are data: quotes, escapes and placeholders in them stay text."""
    issuer.set_m2m_template('{"note": "n={{ request.note }}", "raw": {{ request.note }}}')
    claims = token_claims(http, issuer, token_url, client, note=value, other="leak")
    assert claims["note"] == f"n={value}"
    assert claims["raw"] == value
    assert claims["scope"] == "read:users"
    assert "scp" not in claims


def test_custom_audience_joins_the_project_id(
    http: httpx.Client,
    issuer: LocalIssuer,
    client: CreatedClient,
    token_url: str,
    clock: FakeClock,
) -> None:
    """aud = [project_id, custom_audience]: Stytch's SDKs and an API's verifier both accept."""
    issuer.set_m2m_template("", custom_audience="https://api.example")
    claims = token_claims(http, issuer, token_url, client)
    assert claims["aud"] == [issuer.project_id, "https://api.example"]
    api = Verifier(
        issuer=issuer.issuer, audience="https://api.example", jwks=issuer.jwks(), clock=clock
    )
    token = issuer.issue_token(client.client.client_id, client.client_secret).access_token
    assert api.verify(token).client_id == client.client.client_id


def test_a_minted_value_nested_too_deep_is_invalid_request(
    http: httpx.Client, issuer: LocalIssuer, client: CreatedClient, token_url: str
) -> None:
    """A JSON parameter can nest deeper than a claim may: refused, never a 500."""
    issuer.set_m2m_template('{"deep": {{ request.deep }}}')
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    response = http.post(
        token_url,
        json=body_for(client, deep=deep),
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"


# -- setting the template --------------------------------------------------------


@pytest.mark.parametrize("claim", sorted(AUTHORITY_CLAIMS))
def test_a_template_setting_an_authority_claim_is_refused(
    http: httpx.Client, auth: Auth, template_url: str, claim: str
) -> None:
    """Every reserved or authority claim, any case: 400 when the template is set."""
    for name in (claim, claim.upper()):
        response = http.put(
            template_url,
            json={"template_content": json.dumps({name: "{{ request.x }}"})},
            auth=auth,
        )
        assert response.status_code == 400, response.text
        assert response.json()["error_type"] == "invalid_jwt_template"
    assert http.get(template_url, auth=auth).json()["jwt_template"]["template_content"] == ""


@pytest.mark.parametrize(
    "content",
    [
        "[1]",
        '"text"',
        "{",
        '{"a": {{ user.user_id }}}',
        '{"a": {{ request }}}',
        '{"a": "{{ request.a.b }}"}',
        "{ {{ request.name }}: 1}",
        '{"x{{ request.name }}": 1}',
        '{"a": {{ request.a }}{{ request.b }}}',
        '{"a": NaN}',
        '{"a": ' + "[" * 40 + "]" * 40 + "}",
        '{"a": "' + "x" * 70_000 + '"}',
    ],
)
def test_unusable_templates_are_400_and_change_nothing(
    http: httpx.Client, issuer: LocalIssuer, auth: Auth, template_url: str, content: str
) -> None:
    """Not an object, unknown expressions, placeholder names, too deep or big: 400."""
    issuer.set_m2m_template('{"kept": {{ request.kept }}}')
    response = http.put(template_url, json={"template_content": content}, auth=auth)
    assert response.status_code in (400, 413), response.text
    if response.status_code == 400:
        assert response.json()["error_type"] in ("invalid_jwt_template", "invalid_json")
    assert issuer.get_m2m_template().template_content == '{"kept": {{ request.kept }}}'


def test_the_template_round_trips_over_the_management_api(
    http: httpx.Client, auth: Auth, template_url: str, issuer: LocalIssuer
) -> None:
    """PUT sets, GET reads, an empty template_content removes it."""
    content = '{"tenant": {{ request.tenant }}}'
    put = http.put(
        template_url,
        json={"template_content": content, "custom_audience": "api", "template_type": "M2M"},
        auth=auth,
    )
    assert put.status_code == 200, put.text
    expected = {"template_type": "M2M", "template_content": content, "custom_audience": "api"}
    assert put.json()["jwt_template"] == expected
    got = http.get(template_url, auth=auth).json()
    assert (got["status_code"], got["jwt_template"]) == (200, expected)
    http.put(template_url, json={"template_content": ""}, auth=auth)
    assert issuer.get_m2m_template().parameters == frozenset()


@pytest.mark.parametrize(
    ("method", "kwargs", "status"),
    [
        ("PUT", {"json": {"template_content": "{}"}}, 401),
        ("GET", {}, 401),
    ],
)
def test_the_template_route_needs_project_credentials(
    http: httpx.Client, template_url: str, method: str, kwargs: dict[str, Any], status: int
) -> None:
    """Without the project's Basic credentials: 401."""
    assert http.request(method, template_url, **kwargs).status_code == status


def test_the_template_route_refuses_forms_other_projects_and_unknown_fields(
    http: httpx.Client, issuer: LocalIssuer, auth: Auth, template_url: str
) -> None:
    """CSRF-shaped bodies, a foreign project or environment, and typos are refused."""
    form = http.put(template_url, data={"template_content": "{}"}, auth=auth)
    assert (form.status_code, form.json()["error_type"]) == (400, "invalid_content_type")
    empty = http.put(template_url, auth=auth)
    assert (empty.status_code, empty.json()["error_type"]) == (400, "invalid_content_type")
    foreign = template_url.replace(issuer.project_id, "project-test-other")
    assert http.get(foreign, auth=auth).status_code == 404
    staging = template_url.replace("/environments/test/", "/environments/staging/")
    assert http.get(staging, auth=auth).status_code == 404
    typo = http.put(template_url, json={"template_contents": "{}"}, auth=auth)
    assert typo.status_code == 400
    wrong_type = http.put(
        template_url, json={"template_content": "{}", "template_type": "SESSION"}, auth=auth
    )
    assert wrong_type.status_code == 400


def test_the_template_survives_a_restart(tmp_path: Path, key_factory: Any) -> None:
    """It lives in the issuer database with the clients."""
    path = tmp_path / "issuer.db"
    with LocalIssuer(path, scrypt=FAST, key_factory=key_factory) as first:
        first.set_m2m_template('{"t": {{ request.t }}}', custom_audience="api")
        created = first.create_client(scopes=["a"])
    with LocalIssuer(path, scrypt=FAST, key_factory=key_factory) as second:
        issued = second.issue_token(
            created.client.client_id, created.client_secret, params={"t": "v"}
        )
        claims = decode(issued.access_token, second)
    assert (claims["t"], claims["aud"]) == ("v", [second.project_id, "api"])


def test_in_process_set_m2m_template_checks_like_http(issuer: LocalIssuer) -> None:
    """The Python API refuses what the route refuses, with the same error type."""
    with pytest.raises(BadRequestError) as info:
        issuer.set_m2m_template('{"scp": "admin"}')
    assert info.value.error_type == "invalid_jwt_template"
    with pytest.raises(BadRequestError):
        issuer.set_m2m_template("{}", custom_audience="bad\naudience")
