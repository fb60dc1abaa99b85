"""No import cycles: every module imports on its own, and the top-level imports between
the package's modules form no cycle (issue 10, acceptance 5)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
from pathlib import Path

import pytest

import imaging_triage

PACKAGE = Path(imaging_triage.__file__).parent
MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages([str(PACKAGE)], prefix="imaging_triage.")
    if not m.name.endswith("__main__")
)


def _top_level_imports(path: Path, module: str) -> set[str]:
    """Package modules imported when ``module`` is imported (not in functions, not
    under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in tree.body:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in out if m in set(MODULES) or m == "imaging_triage"}


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name in MODULES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None
        graph[name] = _top_level_imports(Path(spec.origin), name) - {name}
    return graph


def test_no_cycle_among_top_level_imports() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in MODULES:
        if name not in state:
            visit(name)


def test_records_import_nothing_from_the_package() -> None:
    assert _graph()["imaging_triage.records"] <= {"imaging_triage"}


@pytest.mark.parametrize("name", MODULES)
def test_module_imports_in_isolation(name: str) -> None:
    """Import the module first, with no other package module loaded before it."""
    saved = {k: v for k, v in sys.modules.items() if k.startswith("imaging_triage")}
    for key in saved:
        del sys.modules[key]
    try:
        importlib.import_module(name)
    finally:
        for key in [k for k in sys.modules if k.startswith("imaging_triage")]:
            del sys.modules[key]
        sys.modules.update(saved)
