"""app/api/public has no import cycle: the answer core sits below the routes and the fast path."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "app.api.public"
ROOT = Path(__file__).resolve().parents[3] / "app" / "api" / "public"
ROUTE_MODULES = {f"{PACKAGE}.{name}" for name in ("discovery", "upgrade", "assets", "licences", "reports", "manifests")}
CORES = ("answers", "licence_answers", "report_answers")  # Flask-free: what a route and the fast path share


def _module_name(path: Path) -> str:
    return PACKAGE if path.name == "__init__.py" else f"{PACKAGE}.{path.stem}"


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(tree: ast.AST, modules: set[str]) -> set[str]:
    """Modules of the package that ``tree`` imports, at any depth (deferred imports count), but
    not under ``if TYPE_CHECKING:`` (never executed)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                if target in modules:
                    found.add(target)
                elif node.module in modules:
                    found.add(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(ROOT.glob("*.py"))
    modules = {_module_name(p) for p in paths}
    return {_module_name(p): _imports(ast.parse(p.read_text()), modules) - {_module_name(p)} for p in paths}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_graph_is_computed_from_real_imports():
    graph = import_graph()
    assert f"{PACKAGE}.answers" in graph[f"{PACKAGE}.fast"]
    assert f"{PACKAGE}.blueprint" in graph[f"{PACKAGE}.discovery"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_public_package_has_no_import_cycle():
    assert _cycle(import_graph()) is None


def test_no_route_module_imports_another_and_the_fast_path_imports_none():
    graph = import_graph()
    for module in ROUTE_MODULES | {f"{PACKAGE}.fast"} | {f"{PACKAGE}.{core}" for core in CORES}:
        assert not graph[module] & ROUTE_MODULES, module


def test_the_answer_core_imports_nothing_of_the_package_and_no_flask():
    path = ROOT / "answers.py"
    tree = ast.parse(path.read_text())
    assert _imports(tree, set(import_graph())) == set()
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in imported if m and m.split(".")[0] in ("flask", "werkzeug")}


@pytest.mark.parametrize("core", CORES[1:])
def test_the_other_answer_cores_import_only_the_core_and_no_flask(core):
    tree = ast.parse((ROOT / f"{core}.py").read_text())
    assert _imports(tree, set(import_graph())) <= {f"{PACKAGE}.answers"}
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in imported if m and m.split(".")[0] in ("flask", "werkzeug")}
