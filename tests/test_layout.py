"""The package's layout rules (issue 10): small modules, no private imports, no import circle.

Imports inside functions count: a late import hides a circle, it does not break it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "cnaps_rag"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """Return (imported module, names taken from it) for every import in the module, at any depth."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if submodule in MODULES:  # `from . import text` takes a module, not a name
                    found.append((submodule, []))
                else:
                    found.append((target, [alias.name]))
    return [(target, names) for target, names in found if target in MODULES]


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_no_module_imports_another_modules_private_names():
    private = [
        f"{name} imports {target}.{taken}"
        for name, imports in GRAPH.items()
        for target, names in imports
        for taken in names
        if taken.startswith("_") and not taken.startswith("__") and target != name
    ]
    assert not private, private


def test_no_import_circle():
    """A package's __init__ may re-export its modules; apart from that, imports point one way."""

    def edges(name: str) -> set[str]:
        # A module importing its own package's __init__ is how it reaches a sibling: follow the
        # sibling, not the package, or every re-exporting __init__ would look like a circle.
        return {t for t, _ in GRAPH[name] if t != name and not name.startswith(t + ".")}

    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(edges(name)):
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in MODULES:
        if name not in state:
            visit(name, [name])
    assert not circles, [" -> ".join(circle) for circle in circles]


def test_the_checks_see_imports_inside_functions():
    """The graph holds a late import (doctor imports the local backend only when it runs)."""
    late = {t for t, _ in GRAPH["cnaps_rag.cli"]}
    assert "cnaps_rag.pipeline" in late or "cnaps_rag.batch" in late, sorted(late)
