"""The package's shape, checked: no import circles between gaji_ai's
modules, project modules imported at the top of a module (a function-level
import only guards native code), and nothing but the worker imports the
worker (the API process sends tasks through gaji_ai.taskqueue)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gaji_ai"
# Function-level imports allowed: they load llama.cpp (native code that is
# only loaded where a model runs).
NATIVE_GUARDS = {("gaji_ai.llm.providers", "gaji_ai.llm.prompt_cache")}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = modules()


def targets(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The gaji_ai modules an import statement loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    return sorted({n for n in names if n.split(".")[0] == "gaji_ai" and n in MODULES})


def imports(name: str) -> tuple[set[str], set[str]]:
    """(module-level imports, imports inside functions) of a module."""
    tree = ast.parse(MODULES[name].read_text())
    top, nested = set(), set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            top.update(targets(node))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    nested.update(targets(inner))
    return top, nested


GRAPH = {name: imports(name) for name in MODULES}


def test_no_import_circles():
    visiting, done, cycles = [], set(), []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            cycles.append([*visiting[visiting.index(name) :], name])
            return
        visiting.append(name)
        for target in GRAPH[name][0] | GRAPH[name][1]:
            visit(target)
        visiting.pop()
        done.add(name)

    for name in sorted(MODULES):
        visit(name)
    assert cycles == []


def test_project_modules_are_imported_at_the_top():
    nested = {(name, target) for name, (_, inner) in GRAPH.items() for target in inner}
    assert nested == NATIVE_GUARDS


def test_only_the_worker_process_imports_the_worker():
    importers = {name for name, (top, inner) in GRAPH.items() if "gaji_ai.worker" in top | inner}
    assert importers == set()


def test_the_chat_worker_path_never_opens_a_vector_store():
    """gaji_ai.generation.turn (the worker side of a turn) reaches neither
    the vector store nor retrieval, directly or through what it imports."""
    reached, todo = set(), ["gaji_ai.generation.turn"]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(GRAPH[name][0] | GRAPH[name][1])
    assert not {n for n in reached if n.startswith(("gaji_ai.retrieval", "gaji_ai.vectors"))}
