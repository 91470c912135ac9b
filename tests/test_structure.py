"""The package's shape: no import cycles, and modules and functions of a size one can read.

Each limit has a list of the places that still exceed it, with the size each has now as its
ceiling: they may shrink (then lower or drop the entry), never grow, and no new one may appear.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "nalm"
MODULE_LINES = 400
FUNCTION_LINES = 60  # signature and body; a docstring does not count

# None left: the app-layer split (issue 18) brought every module and function under the limits.
LONG_MODULES: dict[str, int] = {}
LONG_FUNCTIONS: dict[str, int] = {}
# (importer, imported) pairs allowed to close a cycle, each imported inside a function.
LAZY_IMPORTS = {
    # nalm.units.recurrent() is the public name of the grammar's recurrent form from before
    # nalm.models; the grammar builds from the units, so the name imports it when called.
    ("nalm.units.recurrent", "nalm.models"): "nalm.units.recurrent()",
    # nalm.units.check runs the checks that need the engine, save/load and the formula
    # readers; they are listed in nalm.unit_contract, which imports the units.
    ("nalm.units.checker", "nalm.unit_contract"): "nalm.units.checker._own_checks()",
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = ("nalm", *path.relative_to(SRC).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every nalm module ``name`` imports, at any depth, those for type checkers (under
    ``if TYPE_CHECKING:``) included: a cycle of annotations is a cycle of the design."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join([*base, node.module or ""]).strip(".") if node.level else node.module
            for alias in node.names:
                full = f"{target}.{alias.name}"
                out.add(full if full in modules else target or "")
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return {m for m in out if m in modules and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
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

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_no_module_imports_another_that_imports_it_back():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    # relative and lazy imports are read (the runner imports the Ray backend, the limits
    # module nothing of the units)
    assert {"nalm.bench.ray_backend", "nalm.bench.store", "nalm.models"} <= graph[
        "nalm.bench.runner"
    ]
    assert graph["nalm.limits"] == {"nalm.errors"}
    for importer, imported in LAZY_IMPORTS:
        assert imported in graph[importer], f"{importer} no longer imports {imported}: drop it"
        graph[importer].discard(imported)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


# The layers, bottom up: the library (units, tasks, train, persist, symbolic, fitting, models,
# reporting, and the helpers under them); the workflows (nalm.app: run directories, the
# experiment frame, train, fit, demo, presets, reproduce) beside the benchmark (nalm.bench); the
# command line (nalm.cli). An import only goes down (or sideways between app and bench).
WORKFLOWS = ("nalm.app", "nalm.bench")
COMMAND_LINE = ("nalm.cli", "nalm.__main__")


def _layer(name: str) -> int:
    def within(packages: tuple[str, ...]) -> bool:
        return any(name == p or name.startswith(p + ".") for p in packages)

    return 2 if within(COMMAND_LINE) else 1 if within(WORKFLOWS) else 0


def test_imports_only_go_down_the_layers():
    modules = _modules()
    upward = sorted(
        f"{name} imports {imported}"
        for name, path in modules.items()
        for imported in _imports(name, path, modules)
        if _layer(imported) > _layer(name)
    )
    assert upward == []
    # the rule has something to hold: the workflows use the library, the CLI the workflows
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert "nalm.app.experiment" in graph["nalm.app.training"]
    assert "nalm.app.runs" in graph["nalm.cli.common"]


def _function_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = node.body
    first = body[0]
    docstring = isinstance(first, ast.Expr) and isinstance(
        getattr(first, "value", None), ast.Constant
    )
    if docstring and isinstance(first.value.value, str) and len(body) > 1:
        return (first.lineno - node.lineno) + (body[-1].end_lineno - body[1].lineno + 1)
    return node.end_lineno - node.lineno + 1


def _sizes() -> tuple[dict[str, int], dict[str, int]]:
    modules, functions = {}, {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        text = path.read_text()
        modules[rel] = len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                key = f"{rel}:{node.name}"
                functions[key] = max(functions.get(key, 0), _function_lines(node))
    return modules, functions


@pytest.mark.parametrize("kind", ["module", "function"])
def test_no_module_or_function_grows_past_its_limit(kind):
    modules, functions = _sizes()
    sizes, limit, known = (
        (modules, MODULE_LINES, LONG_MODULES)
        if kind == "module"
        else (functions, FUNCTION_LINES, LONG_FUNCTIONS)
    )
    over = {k: v for k, v in sizes.items() if v > limit}
    new = sorted(set(over) - set(known))
    assert not new, f"{kind}s over {limit} lines: {', '.join(f'{k} ({over[k]})' for k in new)}"
    grown = sorted(k for k in over if over[k] > known[k])
    assert not grown, f"grew past their ceiling: {', '.join(f'{k} ({over[k]})' for k in grown)}"
    shrunk = sorted(k for k in known if sizes.get(k, 0) <= limit)
    assert not shrunk, f"now within {limit} lines, drop them from the list: {', '.join(shrunk)}"
