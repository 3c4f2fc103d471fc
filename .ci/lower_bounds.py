"""Print pip constraints that pin every dependency to its lower bound in pyproject.toml.

    python .ci/lower_bounds.py test httpx2 --output oldest.txt
    pip install -c oldest.txt -e ".[test,httpx2]"

The arguments are extras; their requirements (and those of extras they name,
such as ``m2m-guard[all]``) join the core dependencies. Every requirement
must have the form ``name[extras]>=version`` (pyproject holds lower bounds
only); the constraint is ``name==version``, the oldest release it allows.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENT = re.compile(
    r"(?P<name>[A-Za-z0-9._-]+)(?:\[(?P<extras>[^\]]*)\])?\s*>=\s*(?P<version>[0-9][0-9a-z.]*)"
)
SELF = re.compile(r"m2m-guard\[(?P<extras>[^\]]*)\]")


def requirements(project: dict[str, object], extras: list[str]) -> list[str]:
    """The core dependencies and those of ``extras``, self-references expanded."""
    optional = project.get("optional-dependencies", {})
    assert isinstance(optional, dict)
    found: list[str] = list(project.get("dependencies", []))  # type: ignore[call-overload]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        if extra not in optional:
            raise SystemExit(f"no extra {extra!r} in pyproject.toml")
        for requirement in optional[extra]:
            itself = SELF.fullmatch(requirement)
            if itself:
                todo.extend(name.strip() for name in itself["extras"].split(","))
            else:
                found.append(requirement)
    return found


def lower_bounds(requirements: list[str]) -> dict[str, str]:
    """``{name: version}``, the highest lower bound where a package is named twice."""
    bounds: dict[str, str] = {}
    for requirement in requirements:
        match = REQUIREMENT.fullmatch(requirement.strip())
        if match is None:
            raise SystemExit(f"not a plain lower bound: {requirement!r}")
        name = re.sub(r"[-_.]+", "-", match["name"]).lower()
        version = match["version"]
        if name not in bounds or _key(version) > _key(bounds[name]):
            bounds[name] = version
    return bounds


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"[0-9]+", version))


def constraints(extras: list[str], pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The constraints file's text: ``name==version`` lines, sorted."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    bounds = lower_bounds(requirements(project, extras))
    return "".join(f"{name}=={version}\n" for name, version in sorted(bounds.items()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("extras", nargs="*", help="extras whose requirements to include")
    parser.add_argument("--output", type=Path, help="write here instead of to stdout")
    args = parser.parse_args(argv)
    text = constraints(args.extras)
    if args.output is None:
        print(text, end="")
    else:
        args.output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
