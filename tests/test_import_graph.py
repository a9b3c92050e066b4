"""The library's import graph: no module imports one that imports it back, at any depth, so each module reads
alone (and the shared runtime, pipeline/runtime, imports nothing of the pipeline above it)."""

from __future__ import annotations

import ast

from tests.conftest import ROOT


def modules() -> dict[str, set[str]]:
    """Each module of pipeline/ and the modules of pipeline/ it imports anywhere (functions too), without the
    packages that contain it (running a.b runs a/__init__.py first: not a cycle)."""
    files = {}
    for path in ROOT.glob("pipeline/**/*.py"):
        if "vendor" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in files.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        graph[name] = {
            target for target in found & files.keys() if target != name and not name.startswith(target + ".")
        }
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    done, path = set(), []

    def visit(name: str) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        path.append(name)
        for target in sorted(graph[name]):
            if found := visit(target):
                return found
        path.pop()
        done.add(name)
        return None

    return next((found for name in sorted(graph) if (found := visit(name))), None)


def test_the_library_has_no_import_cycle():
    assert cycle(modules()) is None


def test_the_cycle_finder_finds_one():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_the_runtime_imports_nothing_above_it():
    upward = {
        (name, target)
        for name, targets in modules().items()
        if name.startswith("pipeline.runtime")
        for target in targets
        if not target.startswith("pipeline.runtime") and target != "pipeline.errors"
    }
    assert upward == set()
