"""The house rules, read from the package's source (nothing is imported): no import circle, plain packages free of
Dagster and of the wiring above them, settings that import no feature, and modules and functions of a readable size."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "amazon_orders_pipeline"
ROOT = PACKAGE.name
# Plain Python: what they do can be run and tested without Dagster, and they never reach up into the wiring.
PLAIN = ("sp_api", "extract", "exporters", "writes", "emulator", "notifications")
DAGSTER = ("dagster", "dagster_dbt", "dagster_duckdb")
WIRING = ("assets", "resources", "definitions", "schedules", "sensors", "automation", "chosen_warnings", "local_runs",
          "commands", "demo", "history", "__main__", "testing")
FEATURES = ("accounts", "lake", "warehouse", "warehouse_resource", "stores", "dbt_project", *PLAIN,
            *WIRING)
MAX_MODULE_LINES, MAX_FUNCTION_LINES, MAX_EMULATOR_MODULE_LINES = 500, 80, 300


def module_name(path: Path) -> str:
    parts = (ROOT, *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@cache
def imports(name: str) -> frozenset[str]:
    """Every module a module imports, at its top or inside a function alike (a lazy import is still an arrow):
    project modules by their full name, others by their top-level package."""
    path, known = modules()[name], modules()
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                stem = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(stem + ([node.module] if node.module else []))
            # `from a.b import c` runs a.b first, whatever c is: an arrow to a.b, and to a.b.c when it is a module.
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known)
    out = set()
    for target in found:
        if target.split(".")[0] != ROOT:
            out.add(target.split(".")[0])
            continue
        # Importing a.b.c runs the packages a.b and a first: those are arrows too, unless the importer is inside them.
        if target in known and target != name:
            out.add(target)
        parts = target.split(".")
        for n in range(2, len(parts)):
            ancestor = ".".join(parts[:n])
            if ancestor in known and ancestor != name and not name.startswith(ancestor + "."):
                out.add(ancestor)
    return frozenset(out)


def project_graph() -> dict[str, set[str]]:
    return {n: {i for i in imports(n) if i in modules()} for n in modules()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_rules_can_fail():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    assert f"{ROOT}.emulator.state" in imports(f"{ROOT}.emulator.paging")
    # Importing emulator.apis.lwa runs emulator/apis/__init__ too; emulator/__init__ for anyone outside it.
    assert f"{ROOT}.emulator.apis" in imports(f"{ROOT}.emulator.server")
    assert f"{ROOT}.emulator" in imports(f"{ROOT}.demo")
    # `from package import module` is an arrow to the package itself, even from inside it.
    assert f"{ROOT}.writes.mfn" in imports(f"{ROOT}.writes.mfn.run")


def test_no_import_circle():
    assert circles(project_graph()) == []


@pytest.mark.parametrize("package", PLAIN)
def test_plain_packages_import_no_dagster_and_no_wiring(package):
    wrong = {(n, i) for n in modules() if layer(n) == package for i in imports(n)
             if i in DAGSTER or (i.startswith(ROOT + ".") and layer(i) in WIRING)}
    assert not wrong, sorted(wrong)


def test_settings_import_no_feature():
    wrong = {i for i in imports(f"{ROOT}.settings") if i.startswith(ROOT + ".") and layer(i) in FEATURES}
    assert not wrong, sorted(wrong)


def test_modules_and_functions_stay_readable():
    too_long = []
    for name, path in modules().items():
        text = path.read_text()
        lines = len(text.splitlines())
        # The emulator's largest module under 300 lines; any other at most 500.
        if lines >= MAX_EMULATOR_MODULE_LINES if layer(name) == "emulator" else lines > MAX_MODULE_LINES:
            too_long.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert not too_long, too_long
