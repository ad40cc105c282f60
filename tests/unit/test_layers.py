"""The floors of the core (docs/architecture.md): every module imports only from its own floor or the ones below,
and no modules import each other in a loop. Imports inside functions count; `if TYPE_CHECKING:` blocks don't."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tinygrad_core"
FLOORS = {
    1: ["dtype", "ops", "view", "flags", "errors", "helpers"],
    2: ["kernel", "runtime", "reference", "cache"],
    3: ["devices", "hookspecs", "lazy", "multi", "schedule"],
    4: ["codegen", "function"],
    5: ["tensor", "jit", "nn", "distributed"],
}
FLOOR = {name: floor for floor, names in FLOORS.items() for name in names}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[0] in ("testing", "__main__") or parts == ("__init__",):
            continue  # the conformance kit and the package's public face sit above every floor
        found[".".join(("tinygrad_core", *parts)).removesuffix(".__init__")] = path
    return found


def imported(path: Path, known: dict[str, Path]) -> set[str]:
    """The tinygrad_core modules `path` imports (the package's own re-exports resolved to their module)."""
    tree = ast.parse(path.read_text())
    skipped = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for statement in block.body
        for node in ast.walk(statement)
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name in known}


def floor_of(module: str) -> int:
    return FLOOR[module.split(".")[1]]


def test_every_module_has_a_floor():
    assert {name.split(".")[1] for name in modules()} <= set(FLOOR)


def test_imports_go_down_or_across_never_up():
    known = modules()
    upward = [
        f"{module} (floor {floor_of(module)}) imports {other} (floor {floor_of(other)})"
        for module, path in known.items()
        for other in imported(path, known)
        if floor_of(other) > floor_of(module)
    ]
    assert not upward, upward


def test_no_import_loops():
    known = modules()
    graph = {module: imported(path, known) - {module} for module, path in known.items()}
    # a package imports its own modules to re-export them: only its submodules' imports of it would close a loop
    loops = []
    for start in graph:
        stack, seen = [(start, (start,))], set()
        while stack:
            module, route = stack.pop()
            for other in graph[module]:
                if other == start:
                    loops.append(" -> ".join((*route, other)))
                elif other not in seen:
                    seen.add(other)
                    stack.append((other, (*route, other)))
    assert not loops, loops[:5]
