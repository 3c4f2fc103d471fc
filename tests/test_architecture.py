"""The rules of the house (ARCHITECTURE.md), checked on the source itself.

* The sans-I/O core (``m2m_guard/_sansio``) and the caller side's token
  state (``m2m_guard/client/_state.py``) import no HTTP client, event loop,
  thread, socket or web framework; the core nothing of the package outside
  itself.
* The package's import graph has no cycle, counting every import: top
  level, inside functions and under ``TYPE_CHECKING``.
* The local issuer (``m2m_guard/issuer``) stands on its own: of the rest of
  the package it may use only the sans-I/O core and the extras check.
* No module is longer than 400 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "m2m_guard"

#: What the core may never import (top-level package names).
IO_PACKAGES = frozenset(
    {
        "anyio",
        "asyncio",
        "threading",
        "socket",
        "selectors",
        "ssl",
        "httpx",
        "httpx2",
        "httpcore",
        "httpcore2",
        "urllib3",
        "requests",
        "starlette",
        "fastapi",
        "flask",
        "werkzeug",
        "django",
        "uvicorn",
        "concurrent",
        "multiprocessing",
        "subprocess",
    }
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, name: str | None = None) -> Iterator[tuple[str, int]]:
    """Every module ``path`` (module ``name``) imports, absolute, with the
    line: all of them, wherever they sit (functions, ``TYPE_CHECKING``
    blocks, ``try``)."""
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target, node.lineno
            for alias in node.names:  # ``from . import x`` imports module x
                yield f"{target}.{alias.name}", node.lineno


def internal_edges() -> dict[str, set[str]]:
    """module -> the package modules it imports (a submodule import counts
    as importing the module that defines the name)."""
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for target, _ in imports_of(path):
            if target in known and target != name:
                graph[name].add(target)
    return graph


#: the pure modules, and what of the package each may use besides itself
SANS_IO = {
    "m2m_guard._sansio": ("m2m_guard._sansio",),
    "m2m_guard.client._state": ("m2m_guard._sansio", "m2m_guard._text"),
}


def test_the_core_does_no_io() -> None:
    offences = []
    for name, path in modules().items():
        pure = [allowed for prefix, allowed in SANS_IO.items() if name.startswith(prefix)]
        if not pure:
            continue
        for target, line in imports_of(path):
            top = target.split(".")[0]
            outside = top == "m2m_guard" and not target.startswith((name, *pure[0]))
            if top in IO_PACKAGES or outside:
                offences.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not offences, "the sans-I/O core must stay pure:\n" + "\n".join(offences)


def test_the_import_graph_has_no_cycle() -> None:
    graph = internal_edges()
    # A package's __init__ importing its own submodules is how packages work;
    # a submodule importing its package's __init__ back is the cycle to catch.
    for name in graph:
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    cycles = []
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_cycle_check_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    """The graph counts imports inside functions and TYPE_CHECKING blocks."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ._b import B\n"
        "def f():\n    from ._c import C\n"
        "from . import _d\n"
    )
    probe = tmp_path / "probe.py"
    probe.write_text(source)
    found = {target for target, _ in imports_of(probe, "m2m_guard.probe")}
    assert {"m2m_guard._b", "m2m_guard._c", "m2m_guard._d"} <= found


def test_the_issuer_stands_on_its_own() -> None:
    allowed = ("m2m_guard.issuer", "m2m_guard._sansio", "m2m_guard._extras")
    offences = []
    for name, path in modules().items():
        if not name.startswith("m2m_guard.issuer"):
            continue
        for target, line in imports_of(path):
            if target.split(".")[0] == "m2m_guard" and not target.startswith(allowed):
                offences.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not offences, "\n".join(offences)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_no_module_is_longer_than_400_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= 400, f"{path.relative_to(PACKAGE.parent)} has {lines} lines; split it"
