"""Construction, presets (Stytch, discovery) and configuration from the environment."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from m2m_guard import ConfigurationError, JWKSPolicy, Verifier
from m2m_guard.client import ClientCredentialsAuth
from tests.support.clock import FakeClock
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of, stytch_claims

JWKS_URL = "https://issuer.example/jwks"


def test_constructing_a_remote_verifier_does_no_io() -> None:
    """A verifier for an unreachable JWKS builds fine; keys come later."""
    verifier = Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks_url="http://127.0.0.1:9/jwks")
    assert not verifier.ready
    assert "127.0.0.1:9" in repr(verifier)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one key source"),
        ({"jwks_url": JWKS_URL, "jwks": {"keys": []}}, "exactly one key source"),
        ({"jwks_url": JWKS_URL, "algorithms": ["HS256"]}, "never allowed"),
        ({"jwks_url": JWKS_URL, "algorithms": ["none"]}, "never allowed"),
        ({"jwks_url": JWKS_URL, "algorithms": []}, "algorithms"),
        ({"jwks_url": JWKS_URL, "leeway": -1}, "leeway"),
        ({"jwks_url": JWKS_URL, "max_token_age": 0}, "max_token_age"),
        ({"jwks_url": JWKS_URL, "max_lifetime": -5}, "max_lifetime"),
        ({"jwks_url": JWKS_URL, "max_token_size": 10}, "max_token_size"),
        ({"jwks_url": "ftp://issuer.example/jwks"}, "http(s) URL"),
        ({"jwks_url": "https:///jwks"}, "http(s) URL"),
        ({"jwks_url": "http://127.0.0.1:abc/jwks"}, "not a valid URL"),
        ({"jwks_url": "http://[::1/jwks"}, "not a valid URL"),
        ({"jwks": {"keys": []}}, "no usable"),
        ({"jwks": {"nokeys": 1}}, "keys"),
        ({"jwks": "not json"}, "invalid static keys"),
        ({"jwks": "[" * 100_000 + "]" * 100_000}, "invalid static keys"),
        ({"jwks": "[1]"}, "JWKS object"),
        ({"jwks_url": JWKS_URL, "issuer": ""}, "issuer"),
        ({"jwks_url": JWKS_URL, "issuer": []}, "issuer"),
        ({"jwks_url": JWKS_URL, "audience": [""]}, "audience"),
        ({"jwks_url": JWKS_URL, "client_id_claims": []}, "client_id_claims"),
        ({"discovery_url": "https://a.example", "issuer": ["a", "b"]}, "exactly one issuer"),
    ],
)
def test_invalid_configuration_fails_at_construction(kwargs: dict[str, Any], message: str) -> None:
    """Bad settings raise ConfigurationError naming the problem, never per request."""
    settings = {"issuer": ISSUER, "audience": PROJECT_ID, **kwargs}
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Verifier(**settings)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_max_age": 0},
        {"default_max_age": 10, "min_max_age": 60},
        {"cooldown": 120, "min_max_age": 60},
        {"stale_if_error": -1},
        {"max_bytes": 0},
    ],
)
def test_invalid_jwks_policy_is_rejected(kwargs: dict[str, Any]) -> None:
    """JWKS cache bounds must be coherent."""
    with pytest.raises(ConfigurationError):
        JWKSPolicy(**kwargs)


def test_plain_http_to_a_remote_host_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """http:// works, but outside loopback it earns a warning."""
    with caplog.at_level(logging.WARNING, logger="m2m_guard"):
        Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks_url="http://issuer.example/jwks")
    assert "plain http" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="m2m_guard"):
        for host in ("127.0.0.1", "localhost", "[::1]", "127.0.0.2"):
            Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks_url=f"http://{host}:8787/jwks")
    assert caplog.text == ""


LIVE_PROJECT_ID = PROJECT_ID.replace("project-test-", "project-live-")


@pytest.mark.parametrize(
    ("project_id", "environment", "b2b", "base", "path"),
    [
        (PROJECT_ID, "test", False, "https://test.stytch.com", "/v1/sessions/jwks/"),
        (LIVE_PROJECT_ID, "live", False, "https://api.stytch.com", "/v1/sessions/jwks/"),
        (PROJECT_ID, "test", True, "https://test.stytch.com", "/v1/b2b/sessions/jwks/"),
        (PROJECT_ID, None, False, "https://test.stytch.com", "/v1/sessions/jwks/"),
        (LIVE_PROJECT_ID, None, False, "https://api.stytch.com", "/v1/sessions/jwks/"),
        (LIVE_PROJECT_ID, None, True, "https://api.stytch.com", "/v1/b2b/sessions/jwks/"),
        (
            PROJECT_ID,
            "http://127.0.0.1:8787/",
            False,
            "http://127.0.0.1:8787",
            "/v1/sessions/jwks/",
        ),
        (
            LIVE_PROJECT_ID,
            "https://auth.example.com",
            False,
            "https://auth.example.com",
            "/v1/sessions/jwks/",
        ),
    ],
)
def test_stytch_preset_derives_jwks_url_issuers_and_audience(
    project_id: str, environment: str | None, b2b: bool, base: str, path: str
) -> None:
    """for_stytch infers test/live from the project id as Stytch's SDKs do, or takes a base URL."""
    verifier = Verifier.for_stytch(project_id, environment=environment, b2b=b2b)
    assert verifier.cache.url == f"{base}{path}{project_id}"
    assert verifier.policy.issuers == {f"stytch.com/{project_id}", base}
    assert verifier.policy.audiences == {project_id}
    assert verifier.policy.algorithms == {"RS256"}
    assert verifier.policy.client_id_claims == ("sub",)


@pytest.mark.parametrize(
    ("project_id", "environment"), [(PROJECT_ID, "live"), (LIVE_PROJECT_ID, "test")]
)
def test_stytch_environment_contradicting_the_project_id_is_refused(
    project_id: str, environment: str
) -> None:
    """A test project with environment="live" (or the reverse) fails at start-up."""
    with pytest.raises(ConfigurationError, match="project, but environment="):
        Verifier.for_stytch(project_id, environment=environment)
    with pytest.raises(ConfigurationError, match="project, but environment="):
        ClientCredentialsAuth.for_stytch(project_id, "c", "s", environment=environment)


def test_stytch_project_id_without_an_environment_prefix_needs_an_environment() -> None:
    """An id that names neither test nor live cannot be guessed; a base URL still works."""
    with pytest.raises(ConfigurationError, match="cannot tell the Stytch environment"):
        Verifier.for_stytch("project-abc")
    assert Verifier.for_stytch("project-abc", environment="test").cache.url


def test_live_project_from_env_and_client_use_the_live_api() -> None:
    """M2M_GUARD_STYTCH_PROJECT_ID=project-live-... alone means api.stytch.com everywhere."""
    verifier = Verifier.from_env(environ={"M2M_GUARD_STYTCH_PROJECT_ID": LIVE_PROJECT_ID})
    assert verifier.cache.url == f"https://api.stytch.com/v1/sessions/jwks/{LIVE_PROJECT_ID}"
    auth = ClientCredentialsAuth.for_stytch(LIVE_PROJECT_ID, "c", "s")
    assert (
        auth._shared.state.config.token_url
        == f"https://api.stytch.com/v1/public/{LIVE_PROJECT_ID}/oauth2/token"
    )


def test_stytch_preset_accepts_overrides() -> None:
    """Any Verifier argument can refine the preset."""
    verifier = Verifier.for_stytch(PROJECT_ID, leeway=5, max_token_age=600)
    assert verifier.policy.leeway == 5
    assert verifier.policy.max_token_age == 600


@pytest.mark.parametrize(
    ("project_id", "environment"), [("", "test"), ("a/b", "test"), ("p", "staging")]
)
def test_stytch_preset_rejects_bad_input(project_id: str, environment: str) -> None:
    """An empty or path-like project id or an unknown environment fails at start-up."""
    with pytest.raises(ConfigurationError):
        Verifier.for_stytch(project_id, environment=environment)


def test_stytch_preset_verifies_tokens_with_either_issuer(
    rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Tokens naming stytch.com/{project} or the base URL both pass."""
    base = "http://127.0.0.1:8787"
    verifier = Verifier.for_stytch(
        PROJECT_ID, environment=base, jwks=jwks_of(rsa_key), jwks_url=None, clock=clock
    )
    for iss in (ISSUER, base):
        verifier.verify(rsa_key.sign(stytch_claims(clock(), iss=iss)))


def test_discovery_preset_uses_the_issuer_well_known_paths() -> None:
    """from_discovery tries OIDC then RFC 8414 metadata of the issuer."""
    verifier = Verifier.from_discovery("https://auth.example/tenant/", audience="api")
    assert verifier.cache.url is None
    assert verifier.cache.discover_from == "https://auth.example/tenant/"
    assert verifier.cache.metadata_urls == (
        "https://auth.example/tenant/.well-known/openid-configuration",
        "https://auth.example/.well-known/oauth-authorization-server/tenant",
    )


def test_explicit_metadata_url_is_used_as_is() -> None:
    """A discovery_url that already names a well-known document is fetched directly."""
    url = "https://auth.example/.well-known/openid-configuration"
    verifier = Verifier(issuer="https://auth.example", audience="api", discovery_url=url)
    assert verifier.cache.metadata_urls == (url,)


def test_env_with_stytch_project_uses_the_stytch_preset() -> None:
    """STYTCH_PROJECT_ID selects the preset; numbers and lists are parsed."""
    env = {
        "M2M_GUARD_STYTCH_PROJECT_ID": LIVE_PROJECT_ID,
        "M2M_GUARD_STYTCH_ENVIRONMENT": "live",
        "M2M_GUARD_STYTCH_B2B": "true",
        "M2M_GUARD_LEEWAY": "2.5",
        "M2M_GUARD_MAX_TOKEN_AGE": "300",
        "M2M_GUARD_MAX_TOKEN_SIZE": "4096",
    }
    verifier = Verifier.from_env(environ=env)
    assert verifier.cache.url == f"https://api.stytch.com/v1/b2b/sessions/jwks/{LIVE_PROJECT_ID}"
    assert verifier.policy.leeway == 2.5
    assert verifier.policy.max_token_age == 300
    assert verifier._engine.max_token_size == 4096


def test_env_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without environ, os.environ is read, with the given prefix."""
    monkeypatch.setenv("APP_ISSUER", "https://auth.example/")
    monkeypatch.setenv("APP_AUDIENCE", "api,other")
    monkeypatch.setenv("APP_JWKS_URL", "https://auth.example/jwks")
    monkeypatch.setenv("APP_ALGORITHMS", "RS256, ES256")
    monkeypatch.setenv("APP_STRICT_RFC9068", "yes")
    monkeypatch.setenv("APP_CLIENT_ID_CLAIMS", "client_id,azp")
    verifier = Verifier.from_env("APP_")
    assert verifier.policy.issuers == {"https://auth.example/"}
    assert verifier.policy.audiences == {"api", "other"}
    assert verifier.policy.algorithms == {"RS256", "ES256"}
    assert verifier.policy.strict_rfc9068
    assert verifier.policy.client_id_claims == ("client_id", "azp")


def test_env_without_jwks_url_uses_discovery() -> None:
    """ISSUER without JWKS_URL discovers the keys from the issuer."""
    verifier = Verifier.from_env(
        environ={"M2M_GUARD_ISSUER": "https://auth.example", "M2M_GUARD_AUDIENCE": "api"}
    )
    assert verifier.cache.discover_from == "https://auth.example"


def test_env_static_jwks(rsa_key: SigningKey) -> None:
    """JWKS holds static keys as JSON text."""
    verifier = Verifier.from_env(
        environ={
            "M2M_GUARD_ISSUER": ISSUER,
            "M2M_GUARD_AUDIENCE": PROJECT_ID,
            "M2M_GUARD_JWKS": json.dumps(jwks_of(rsa_key)),
        }
    )
    assert verifier.ready


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "M2M_GUARD_STYTCH_PROJECT_ID"),
        ({"M2M_GUARD_ISSUER": "https://a"}, "AUDIENCE"),
        ({"M2M_GUARD_STYTCH_PROJECT_ID": "p", "M2M_GUARD_LEEWAY": "soon"}, "M2M_GUARD_LEEWAY"),
        ({"M2M_GUARD_STYTCH_PROJECT_ID": "p", "M2M_GUARD_STYTCH_B2B": "maybe"}, "B2B"),
        ({"M2M_GUARD_STYTCH_PROJECT_ID": "p", "M2M_GUARD_MAX_TOKEN_SIZE": "1.5"}, "MAX_TOKEN_SIZE"),
        ({"M2M_GUARD_ISSUER": "https://a,https://b", "M2M_GUARD_AUDIENCE": "x"}, "single"),
    ],
)
def test_env_errors_name_the_variable(env: dict[str, str], message: str) -> None:
    """Missing or invalid variables give a ConfigurationError that names them."""
    with pytest.raises(ConfigurationError, match=message):
        Verifier.from_env(environ=env)


def test_env_accepts_native_values_from_app_config() -> None:
    """Mappings such as Flask's app.config may hold lists, numbers and booleans."""
    verifier = Verifier.from_env(
        environ={
            "M2M_GUARD_STYTCH_PROJECT_ID": PROJECT_ID,
            "M2M_GUARD_LEEWAY": 3,
            "M2M_GUARD_STYTCH_B2B": False,
            "M2M_GUARD_ALGORITHMS": ["RS256"],
            "M2M_GUARD_AUDIENCE": "",
        },
    )
    assert verifier.policy.leeway == 3
    assert verifier.policy.audiences == {PROJECT_ID}


def test_env_overrides_are_passed_through(clock: FakeClock) -> None:
    """Keyword overrides reach the constructor (e.g. a clock or an http client)."""
    verifier = Verifier.from_env(environ={"M2M_GUARD_STYTCH_PROJECT_ID": PROJECT_ID}, clock=clock)
    assert verifier.cache._clock is clock


def test_env_static_jwks_may_be_a_mapping_in_app_config(rsa_key: SigningKey) -> None:
    """App config can hold the JWKS as a dict rather than JSON text."""
    verifier = Verifier.from_env(
        environ={
            "M2M_GUARD_ISSUER": ISSUER,
            "M2M_GUARD_AUDIENCE": PROJECT_ID,
            "M2M_GUARD_JWKS": jwks_of(rsa_key),
        }
    )
    assert verifier.ready


def test_env_configures_audience_claim_trusted_origins_and_forbidden_claims() -> None:
    """The any-issuer knobs have environment variables too."""
    verifier = Verifier.from_env(
        environ={
            "M2M_GUARD_ISSUER": "https://auth.example",
            "M2M_GUARD_AUDIENCE": "app-client",
            "M2M_GUARD_AUDIENCE_CLAIM": "client_id",
            "M2M_GUARD_TRUSTED_JWKS_ORIGINS": "https://keys.example:443, http://127.0.0.1:9",
            "M2M_GUARD_FORBIDDEN_CLAIMS": "scp,uid",
        }
    )
    assert verifier.policy.audience_claim == "client_id"
    assert verifier.policy.forbidden_claims == ("scp", "uid")
    assert verifier.cache.trusted_origins == ("https://keys.example", "http://127.0.0.1:9")


def test_claim_values_must_be_strings() -> None:
    """claim_values maps claim names to the exact strings required."""
    with pytest.raises(ConfigurationError, match="claim_values"):
        Verifier(issuer=ISSUER, audience=PROJECT_ID, jwks_url=JWKS_URL, claim_values={"gty": 1})  # type: ignore[dict-item]


def test_from_env_keeps_the_stytch_presets_required_claims() -> None:
    """M2M_GUARD_REQUIRED_CLAIMS adds to the Stytch preset's, as for_stytch does."""
    verifier = Verifier.from_env(
        environ={"M2M_GUARD_STYTCH_PROJECT_ID": PROJECT_ID, "M2M_GUARD_REQUIRED_CLAIMS": "jti"}
    )
    assert {"nbf", "sub", "iat", "jti"} <= set(verifier.policy.required_claims)
