"""The layering the folders show, kept: no import cycle between modules, `models/` (the step
function) imports nothing from the layers above it, and no private name crosses modules.

Every import counts, at module level or inside a function, except under
`if __name__ == "__main__":` (a module's command line is not its layer: `python -m
chargespec.models.stdio` still serves the whole reference, as in earlier releases)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOTS = {"chargespec": REPO / "chargespec", "chargespec.models": REPO / "models",
         "chargespec.checkers": REPO / "checkers"}
# what the step function may use: the spec's reading and its expression language
# (configkeys: the OCPP configuration keys, read with the spec; the engine answers them)
MODELS_MAY_IMPORT = {"chargespec", "chargespec.configkeys", "chargespec.errors", "chargespec.expr",
                     "chargespec.loader", "chargespec.rfid", "chargespec.specmodel",
                     "chargespec.yamlread"}


def _modules() -> dict[str, Path]:
    out = {}
    for package, root in ROOTS.items():
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            rel = path.relative_to(root).with_suffix("").parts
            name = ".".join((package, *rel))
            out[name.removesuffix(".__init__")] = path
    return out


def _is_main_guard(node: ast.AST) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")


def _imports(name: str, path: Path, known: set[str]) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import outside a __main__ guard."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_main_guard(child):
                continue
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[:len(package.split(".")) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                names = [a.name for a in child.names]
                for n in names:  # `from chargespec import coverage` imports a module
                    if f"{target}.{n}" in known:
                        found.append((f"{target}.{n}", []))
                if target in known:
                    found.append((target, names))
            elif isinstance(child, ast.Import):
                found.extend((a.name, []) for a in child.names if a.name in known)
            visit(child)
    visit(ast.parse(path.read_text()))
    return found


def _graph() -> dict[str, dict[str, list[str]]]:
    mods = _modules()
    known = set(mods)
    graph: dict[str, dict[str, list[str]]] = {}
    for name, path in mods.items():
        edges: dict[str, list[str]] = {}
        for target, names in _imports(name, path, known):
            if target != name:
                edges.setdefault(target, []).extend(names)
        graph[name] = edges
    return graph


def test_there_is_no_import_cycle():
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:  # Tarjan
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))
    for v in graph:
        if v not in index:
            strong(v)
    assert cycles == []


def test_the_step_function_imports_nothing_from_the_layers_above():
    graph = _graph()
    above = {f"{m} -> {t}" for m, edges in graph.items() if m.startswith("chargespec.models.")
             for t in edges if not t.startswith("chargespec.models") and
             t not in MODELS_MAY_IMPORT}
    assert above == set()


def test_no_private_name_is_imported_from_another_module():
    graph = _graph()
    private = {f"{m} imports {t}.{n}" for m, edges in graph.items() for t, names in edges.items()
               for n in names if n.startswith("_") and not n.startswith("__")}
    assert private == set()
