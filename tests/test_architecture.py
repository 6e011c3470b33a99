"""The layers of the package: every import runs down (or stays inside its own package).

Reference: docs/architecture.md, which draws the same floors. The imports are read from
the source with :mod:`ast` (module level, inside functions and under ``TYPE_CHECKING``
alike), so a new upward import or an import circle fails here with the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "marketreact"

#: Floors from the ground up; a module may import its own floor's package and lower floors.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("_typing", "_version", "errors", "_lazy", "_compiled", "_memory"),
    ("_atomic", "_textio", "progress"),
    ("calendar",),
    ("prices",),
    ("events",),
    ("articles",),
    ("panel",),
    ("windows",),
    ("models", "inference"),
    ("render", "validation"),
    ("study", "backtest"),
    ("output",),
    ("cli",),
    ("__init__", "__main__"),
)
FLOOR = {room: level for level, rooms in enumerate(FLOORS) for room in rooms}


def _room(module: str) -> str:
    """The room of a dotted module name: its first part below ``marketreact``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        out[name.removesuffix(".__init__")] = path
    return out


def _imports(path: Path, module: str) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names
                      if a.name.startswith("marketreact")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            if not base.startswith("marketreact"):
                continue
            modules = _modules()
            for alias in node.names:  # "from marketreact.x import y" may name a module y
                full = f"{base}.{alias.name}"
                found.append((full if full in modules else base, node.lineno))
    return found


def test_every_room_has_a_floor():
    rooms = {_room(m) for m in _modules()}
    assert rooms <= set(FLOOR), f"rooms without a floor: {sorted(rooms - set(FLOOR))}"


def test_no_import_runs_up():
    upward = []
    for module, path in _modules().items():
        here = _room(module)
        for target, line in _imports(path, module):
            there = _room(target)
            if there == here:
                continue
            if FLOOR[there] > FLOOR[here] or (FLOOR[there] == FLOOR[here]):
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} {module} -> {target}")
    assert not upward, "imports that run up or sideways:\n" + "\n".join(upward)


def test_no_import_circle():
    graph = {m: {t for t, _ in _imports(p, m) if t != m} for m, p in _modules().items()}
    # a package's __init__ that only re-exports is a face: its own submodules don't count
    for m in list(graph):
        graph[m] = {t for t in graph[m] if not (m.startswith(t + ".") and t in graph)}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("module", sorted(_modules()))
def test_every_module_says_what_it_holds(module):
    tree = ast.parse(_modules()[module].read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{module} has no module docstring"
