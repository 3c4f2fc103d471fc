"""One seam, ``m2m_guard._http``, chooses the HTTP package; nothing else imports one."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from m2m_guard import _http
from m2m_guard._sansio.errors import ConfigurationError

PACKAGE = Path(__file__).resolve().parent.parent / "m2m_guard"
HTTP_PACKAGES = {"httpx", "httpx2", "httpcore", "httpcore2"}
SEAM = PACKAGE / "_http.py"


def http_imports(path: Path) -> list[str]:
    """Every import of an HTTP package in ``path``: top level, in functions, under TYPE_CHECKING."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", ""))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        else:
            continue
        found += [
            f"{path.name}:{node.lineno}: {name}"
            for name in names
            if name.split(".")[0] in HTTP_PACKAGES
        ]
    return found


def test_no_module_but_the_seam_imports_an_http_package() -> None:
    """httpx/httpx2 (and their cores) come only through m2m_guard._http."""
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 50
    offenders = [hit for path in modules if path != SEAM for hit in http_imports(path)]
    assert offenders == []


def test_the_check_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The AST walk catches plain, from, function-local, TYPE_CHECKING and importlib imports."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "import httpx\n"
        "from httpx2 import Client\n"
        "if TYPE_CHECKING:\n"
        "    import httpcore\n"
        "def f():\n"
        "    import httpx2._auth\n"
        "    import importlib\n"
        "    return importlib.import_module('httpcore2')\n"
        "from . import httpx_helpers\n"  # relative, and another name: not an HTTP package
        "import httpxyz\n"
    )
    assert [hit.split(": ")[1] for hit in http_imports(sample)] == [
        "httpx",
        "httpx2",
        "httpcore",
        "httpx2._auth",
        "httpcore2",
    ]


def loader(*installed: str) -> object:
    modules = {name: ModuleType(name) for name in installed}
    return lambda name: modules.get(name)


@pytest.mark.parametrize(
    ("installed", "environ", "chosen"),
    [
        (("httpx", "httpx2"), {}, "httpx2"),
        (("httpx",), {}, "httpx"),
        (("httpx2",), {}, "httpx2"),
        (("httpx", "httpx2"), {"M2M_GUARD_HTTP": "httpx"}, "httpx"),
        (("httpx", "httpx2"), {"M2M_GUARD_HTTP": " httpx2 "}, "httpx2"),
        (("httpx",), {"M2M_GUARD_HTTP": ""}, "httpx"),
    ],
)
def test_httpx2_is_preferred_unless_one_is_forced(
    installed: tuple[str, ...], environ: dict[str, str], chosen: str
) -> None:
    """httpx2 when installed, else httpx; M2M_GUARD_HTTP forces either."""
    assert _http.choose(environ, loader(*installed)).__name__ == chosen  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("installed", "value", "message"),
    [
        (
            ("httpx",),
            "httpx2",
            r"M2M_GUARD_HTTP=httpx2, but httpx2 is not installed.*m2m-guard\[httpx2\]",
        ),
        (("httpx2",), "httpx", "M2M_GUARD_HTTP=httpx, but httpx is not installed"),
        (("httpx", "httpx2"), "requests", "must be 'httpx' or 'httpx2', not 'requests'"),
    ],
)
def test_a_forced_package_that_cannot_be_used_is_a_clear_error(
    installed: tuple[str, ...], value: str, message: str
) -> None:
    """A forced package that is missing (or unknown) fails with what to do about it."""
    with pytest.raises(ConfigurationError, match=message):
        _http.choose({"M2M_GUARD_HTTP": value}, loader(*installed))  # type: ignore[arg-type]


def test_without_any_http_package_the_import_fails() -> None:
    with pytest.raises(ImportError, match="needs httpx or httpx2"):
        _http.choose({}, loader())  # type: ignore[arg-type]


def run_python(code: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **environ}
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("name", ["httpx", "httpx2"])
def test_the_environment_variable_chooses_at_import(name: str) -> None:
    """A fresh interpreter with M2M_GUARD_HTTP set uses that package everywhere."""
    pytest.importorskip(name)
    code = (
        "import m2m_guard, m2m_guard.client as c, m2m_guard._http as h, m2m_guard._drivers as d\n"
        "auth = c.ClientCredentialsAuth('https://issuer.invalid/token', 'id', 'secret')\n"
        "own = type(auth._sync.client()).__module__.split('.')[0]\n"
        "print(h.NAME, h.httpx.__name__, d.httpx.__name__, own)"
    )
    result = run_python(code, M2M_GUARD_HTTP=name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [name, name, name, name]


def test_a_missing_forced_package_fails_the_import_clearly() -> None:
    """M2M_GUARD_HTTP naming nothing installable stops ``import m2m_guard`` with one clear line."""
    result = run_python("import m2m_guard", M2M_GUARD_HTTP="urllib3")
    assert result.returncode == 1
    assert "ConfigurationError: M2M_GUARD_HTTP must be 'httpx' or 'httpx2'" in result.stderr


def test_httpx_aliased_to_httpx2_counts_once() -> None:
    """After httpx2.alias_httpx() both names are one package: one Auth base, one error pair."""
    pytest.importorskip("httpx2")
    code = (
        "import httpx2; httpx2.alias_httpx()\n"
        "import httpx, m2m_guard._http as h\n"
        "from m2m_guard.client import ClientCredentialsAuth\n"
        "auth = ClientCredentialsAuth('https://issuer.invalid/token', 'id', 'secret')\n"
        "assert httpx.Client is httpx2.Client and isinstance(auth, httpx.Auth)\n"
        "print(h.NAME, len(h.INSTALLED), len(h.HTTP_ERRORS))"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["httpx2", "1", "2"]


def test_installed_puts_the_package_in_use_first() -> None:
    assert _http.INSTALLED[0] is _http.httpx
    assert _http.httpx.__name__ == _http.NAME
    assert len(_http.HTTP_ERRORS) == 2 * len(_http.INSTALLED)


@pytest.mark.parametrize("module", _http.INSTALLED, ids=lambda module: module.__name__)
def test_package_of_tells_the_package_and_refuses_the_wrong_kind(module: ModuleType) -> None:
    """A Client is sync, an AsyncClient async; anything else is a ConfigurationError."""
    with module.Client() as client:
        assert _http.package_of(client, asynchronous=False, what="http_client") is module
        with pytest.raises(ConfigurationError, match=r"async_http_client must be an .*AsyncClient"):
            _http.package_of(client, asynchronous=True, what="async_http_client")
    with pytest.raises(ConfigurationError, match=r"http_client must be an .*Client, not object"):
        _http.package_of(object(), asynchronous=False, what="http_client")
