"""The shape every service keeps: no import circles between a service's modules (imports under
TYPE_CHECKING included), thin servicers, and the same top-level layout in all three."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SERVICES = ("router", "growth", "rewards")
API_MAX_LINES = 350
LAYOUT = ("domain", "service", "store", "api.py", "workers.py", "app.py", "sim")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Modules of `known` that path imports, anywhere in the file (TYPE_CHECKING blocks included)."""
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(name for name in names if name in known)
    return found


def import_graph(service: str) -> dict[str, set[str]]:
    root = REPO / "services" / service
    files = [p for p in root.rglob("*.py") if "migrations" not in p.parts]
    known = {module_name(p) for p in files}
    graph = {module_name(p): imported_modules(p, known) for p in files}
    # A package's __init__ importing its own modules is not a circle through the package.
    return {m: {d for d in deps if not m.startswith(f"{d}.") and d != m} for m, deps in graph.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


@pytest.mark.parametrize("service", SERVICES)
def test_no_import_circles(service: str) -> None:
    cycle = find_cycle(import_graph(service))
    assert cycle == [], " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("service", SERVICES)
def test_servicers_are_thin_and_hold_no_sql(service: str) -> None:
    api = REPO / "services" / service / "api.py"
    text = api.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= API_MAX_LINES
    tree = ast.parse(text)
    sql = {"select", "insert", "update", "delete", "text"}
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy")
        for alias in node.names
    }
    assert not imported & sql, f"{api.name} builds SQL: {sorted(imported & sql)}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_layout(service: str) -> None:
    root = REPO / "services" / service
    missing = [name for name in LAYOUT if not (root / name).exists() and not (root / f"{name}.py").exists()]
    assert missing == []
