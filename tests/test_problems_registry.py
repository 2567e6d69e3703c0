"""Problem codes are a closed, documented set: registered in app.problems, listed in docs/problems.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from werkzeug.exceptions import default_exceptions

from app.problems import HTTP_STATUS_CODES, PROBLEM_TYPES, Problem, _from_http_exception

REPO = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `([a-z_]+)` \| (\d+|any) \| ([^|]+) \| ([^|]+) \|$")


def test_docs_table_equals_the_registry():
    rows = [ROW.match(line) for line in (REPO / "docs" / "problems.md").read_text().splitlines()]
    documented = {m[1]: (None if m[2] == "any" else int(m[2]), m[3].strip()) for m in rows if m}
    assert documented == {code: (t.status, t.title) for code, t in PROBLEM_TYPES.items()}


def test_an_unregistered_code_or_a_wrong_status_is_refused():
    with pytest.raises(ValueError, match="unregistered"):
        Problem("teapot")
    with pytest.raises(ValueError, match="status"):
        Problem("not_found", status=400)
    assert Problem("not_found").status == 404


def _emitted_codes() -> set[tuple[str, str]]:
    """(code, where) for every literal code in app/: ``code="..."`` arguments, the first argument
    of ``Problem(...)`` and of ``super().__init__(...)`` in Problem subclasses."""
    found = set()
    for path in (REPO / "app").rglob("*.py"):
        tree = ast.parse(path.read_text())
        problem_classes = {
            id(node)
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
            and any(isinstance(b, ast.Name) and (b.id == "Problem" or b.id in _SUBCLASSES) for b in node.bases)
        }
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            for call in (n for n in ast.walk(cls) if isinstance(n, ast.Call)):
                func = call.func
                is_super_init = (
                    isinstance(func, ast.Attribute) and func.attr == "__init__" and isinstance(func.value, ast.Call)
                )
                if id(cls) in problem_classes and is_super_init and call.args:
                    _add(found, call.args[0], path)
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            if isinstance(call.func, ast.Name) and call.func.id == "Problem" and call.args:
                _add(found, call.args[0], path)
            for keyword in call.keywords:
                if keyword.arg == "code":
                    _add(found, keyword.value, path)
    return found


_SUBCLASSES = {"NotFound", "Gone", "BadRequest", "Conflict", "ValidationProblem"}


def _add(found: set, node: ast.AST, path: Path) -> None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        found.add((node.value, str(path.relative_to(REPO))))


def test_every_code_the_app_can_emit_is_registered():
    emitted = _emitted_codes()
    assert len({code for code, _ in emitted}) >= 20  # the scan sees the app's codes
    assert {(code, where) for code, where in emitted if code not in PROBLEM_TYPES} == set()
    assert set(HTTP_STATUS_CODES.values()) <= set(PROBLEM_TYPES)


@pytest.mark.parametrize("status", sorted(default_exceptions))
def test_every_werkzeug_error_maps_to_a_registered_code_of_its_status(status):
    problem = _from_http_exception(default_exceptions[status]())
    assert problem.status == status
    kind = PROBLEM_TYPES[problem.code]
    assert kind.status in (None, status)
    assert problem.title == kind.title


def test_413_has_one_code_whatever_raised_it():
    assert _from_http_exception(default_exceptions[413]()).code == "payload_too_large"
