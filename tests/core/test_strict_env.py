"""Configuration from the environment (or Flask's app.config) is strict.

An unknown ``M2M_GUARD_*`` name, a value that does not pass, a setting
without its partner and settings that contradict each other are each a
``ConfigurationError`` that names the variables involved, never a Python
argument the user did not write.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import Flask

import m2m_guard
from m2m_guard import ConfigurationError, Verifier
from m2m_guard._settings.environment import ELSEWHERE, VARIABLES
from m2m_guard.flask import M2MGuard
from tests.support.keys import ISSUER, PROJECT_ID, SigningKey, jwks_of

GENERIC = {"M2M_GUARD_ISSUER": ISSUER, "M2M_GUARD_AUDIENCE": PROJECT_ID}
STYTCH = {"M2M_GUARD_STYTCH_PROJECT_ID": PROJECT_ID}


def refused(env: dict[str, object]) -> str:
    with pytest.raises(ConfigurationError) as caught:
        Verifier.from_env(environ=env)
    return str(caught.value)


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("M2M_GUARD_LEWAY", "M2M_GUARD_LEEWAY"),
        ("M2M_GUARD_AUDIANCE", "M2M_GUARD_AUDIENCE"),
        ("M2M_GUARD_JWKS_URI", "M2M_GUARD_JWKS_URL"),
        ("M2M_GUARD_STYTCH_PROJECT", "M2M_GUARD_STYTCH_PROJECT_ID"),
        ("M2M_GUARD_MAX_TOKEN_AGES", "M2M_GUARD_MAX_TOKEN_AGE"),
    ],
)
def test_an_unknown_variable_is_refused_with_a_suggestion(typo: str, meant: str) -> None:
    message = refused({**STYTCH, typo: "1"})
    assert f"unknown setting {typo}" in message
    assert f"did you mean {meant}?" in message


def test_an_unknown_variable_far_from_any_name_gets_no_guess() -> None:
    message = refused({**STYTCH, "M2M_GUARD_COLOUR": "blue"})
    assert "unknown setting M2M_GUARD_COLOUR" in message
    assert "did you mean" not in message


def test_a_custom_prefix_is_strict_about_its_own_names_only() -> None:
    env = {"ORDERS_STYTCH_PROJECT_ID": PROJECT_ID, "M2M_GUARD_WHATEVER": "x"}
    assert Verifier.from_env("ORDERS_", environ=env).policy.audiences == {PROJECT_ID}
    assert "ORDERS_LEWAY" in refused_with_prefix({**env, "ORDERS_LEWAY": "5"}, "ORDERS_")


def refused_with_prefix(env: dict[str, object], prefix: str) -> str:
    with pytest.raises(ConfigurationError) as caught:
        Verifier.from_env(prefix, environ=env)
    return str(caught.value)


@pytest.mark.parametrize("name", sorted(ELSEWHERE))
def test_variables_other_parts_of_the_package_read_are_not_unknown(name: str) -> None:
    """The CLI's and the client's variables share the prefix; they are tolerated."""
    assert Verifier.from_env(environ={**STYTCH, f"M2M_GUARD_{name}": "x"})


def test_empty_variables_count_as_unset() -> None:
    assert Verifier.from_env(environ={**STYTCH, "M2M_GUARD_LEWAY": ""})


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("LEEWAY", "-1", "must be between 0 and 3600 seconds"),
        ("LEEWAY", "soon", "must be a number"),
        ("MAX_TOKEN_AGE", "0", "must be positive"),
        ("MAX_LIFETIME", "-5", "must be positive"),
        ("MAX_TOKEN_SIZE", "10", "must be between 256 and 1048576"),
        ("TOKEN_CACHE_SIZE", "-1", "must be a whole number >= 0"),
        ("ALGORITHMS", "HS256", "unsupported algorithm"),
        ("STRICT_RFC9068", "maybe", "must be true or false"),
        ("CLIENT_ID_CLAIMS", ",", "must be a non-empty string"),
        ("TRUSTED_JWKS_ORIGINS", "ftp://x", "must be an http(s) URL"),
        ("AUDIENCE", ",", "must be a non-empty string"),
    ],
)
def test_a_bad_value_is_reported_under_its_variable(
    variable: str, value: str, problem: str
) -> None:
    """The message names M2M_GUARD_<VARIABLE>, not the Python argument."""
    env = {**GENERIC, "M2M_GUARD_JWKS_URL": "https://issuer.example/jwks"}
    message = refused({**env, f"M2M_GUARD_{variable}": value})
    assert message.startswith(f"M2M_GUARD_{variable} ")
    argument = VARIABLES[variable][0]
    assert not re.search(rf"(?<![A-Z_]){argument}\b", message), message
    assert problem in message


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("JWKS_URL", "ftp://issuer.example/jwks", "must be an http(s) URL"),
        ("DISCOVERY_URL", "http://127.0.0.1:abc", "is not a valid URL"),
        ("JWKS", "not json", "holds invalid static keys"),
        ("JWKS", '{"keys": []}', "holds no usable verification key"),
    ],
)
def test_a_bad_key_source_is_reported_under_its_variable(
    variable: str, value: str, problem: str
) -> None:
    message = refused({**GENERIC, f"M2M_GUARD_{variable}": value})
    assert message.startswith(f"M2M_GUARD_{variable} {problem}")


def test_issuer_without_audience_names_the_missing_partner() -> None:
    message = refused({"M2M_GUARD_ISSUER": ISSUER})
    assert message == "M2M_GUARD_ISSUER is set but M2M_GUARD_AUDIENCE is missing"


def test_audience_without_issuer_names_the_missing_partner() -> None:
    message = refused({"M2M_GUARD_AUDIENCE": PROJECT_ID})
    assert message == "M2M_GUARD_AUDIENCE is set but M2M_GUARD_ISSUER is missing"


@pytest.mark.parametrize("variable", ["STYTCH_ENVIRONMENT", "STYTCH_B2B"])
def test_stytch_options_without_a_project_are_refused(variable: str) -> None:
    message = refused({**GENERIC, f"M2M_GUARD_{variable}": "true"})
    assert f"M2M_GUARD_{variable} need M2M_GUARD_STYTCH_PROJECT_ID" in message


@pytest.mark.parametrize("variable", ["ISSUER", "JWKS_URL", "DISCOVERY_URL", "JWKS"])
def test_a_stytch_project_contradicts_a_generic_issuer(variable: str) -> None:
    """The preset decides issuer and keys; a second answer is refused, not merged."""
    message = refused({**STYTCH, f"M2M_GUARD_{variable}": "https://other.example"})
    assert "M2M_GUARD_STYTCH_PROJECT_ID" in message
    assert f"M2M_GUARD_{variable}" in message


def test_two_key_sources_are_refused_naming_no_python_argument(rsa_key: SigningKey) -> None:
    env = {
        **GENERIC,
        "M2M_GUARD_JWKS_URL": "https://issuer.example/jwks",
        "M2M_GUARD_JWKS": json.dumps(jwks_of(rsa_key)),
    }
    assert "exactly one key source" in refused(env)


def test_python_overrides_keep_their_own_names() -> None:
    """An error in an argument passed to from_env names that argument."""
    with pytest.raises(ConfigurationError, match=r"^leeway must be between"):
        Verifier.from_env(environ={**STYTCH, "M2M_GUARD_LEEWAY": "5"}, leeway=-1)


def test_a_valid_environment_still_builds_the_verifier(rsa_key: SigningKey) -> None:
    env = {**GENERIC, "M2M_GUARD_JWKS": json.dumps(jwks_of(rsa_key)), "M2M_GUARD_LEEWAY": "5"}
    verifier = Verifier.from_env(environ=env)
    assert verifier.ready
    assert verifier.policy.leeway == 5.0


def test_flask_app_config_follows_the_same_rules() -> None:
    app = Flask(__name__)
    app.config.update({**STYTCH, "M2M_GUARD_LEWAY": 5})
    with pytest.raises(ConfigurationError, match="did you mean M2M_GUARD_LEEWAY"):
        M2MGuard(app)
    app = Flask(__name__)
    app.config.update(
        {**GENERIC, "M2M_GUARD_JWKS_URL": "https://x.example/j", "M2M_GUARD_LEEWAY": -1}
    )
    with pytest.raises(ConfigurationError, match=r"^M2M_GUARD_LEEWAY must be between"):
        M2MGuard(app)


def test_every_variable_the_package_reads_is_known() -> None:
    """A variable read anywhere in m2m_guard but unknown to from_env would make
    from_env refuse an environment the package itself asked for."""
    package = Path(m2m_guard.__file__).parent
    source = "\n".join(p.read_text() for p in package.rglob("*.py"))
    read = set(re.findall(r"M2M_GUARD_([A-Z][A-Z0-9_]*[A-Z0-9])\b", source))
    read |= set(re.findall(r'\b_env\("([A-Z][A-Z0-9_]*)"\)', source))
    known = {*VARIABLES, *ELSEWHERE, "STYTCH_PROJECT_ID", "STYTCH_ENVIRONMENT", "STYTCH_B2B"}
    assert read - known == set()
    assert read >= ELSEWHERE  # and nothing is tolerated that nobody reads
