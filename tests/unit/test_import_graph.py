"""The shape of the house (issue 28): imports flow one way and modules stay
small. The graph counts every import, function-local and TYPE_CHECKING ones
included (they are not a way around a circle).

``KNOWN_CIRCLES`` and ``KNOWN_LONG`` are the debt still open, listed so that
it can only shrink: a new circle, a circle that grows, or a new long module
fails here."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 800

KNOWN_CIRCLES: set[frozenset[str]] = set()
KNOWN_LONG: set[str] = set()


def modules() -> dict[str, Path]:
    out = {}
    for base, pkg in ((ROOT / "hamodel", "hamodel"), (ROOT / "generators", "hamodel.generators")):
        for f in sorted(base.rglob("*.py")):
            rel = f.relative_to(base).with_suffix("")
            out[".".join([pkg, *(p for p in rel.parts if p != "__init__")])] = f
    return out


def import_graph() -> dict[str, set[str]]:
    mods = modules()

    def known(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        package = m if f.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(ast.parse(f.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                # "from pkg import mod" imports the module; "from mod import name" the module
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                k = known(t)
                if k is not None and k != m:
                    graph[m].add(k)
    return graph


def circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(frozenset(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_a_function_local_import_circle():
    """The detector itself: a function-local import back is a circle."""
    g = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert circles(g) == [frozenset({"a", "b"})]


def test_no_new_import_circle():
    found = set(circles(import_graph()))
    new = [sorted(c) for c in found if not any(c <= k for k in KNOWN_CIRCLES)]
    assert not new, f"new import circles: {new}"
    # The analysis <-> deployment circle is gone: results live in analysis/results.py.
    assert not any("hamodel.deployment" in c for c in found)


def test_modules_stay_under_800_lines():
    long = {str(f.relative_to(ROOT)) for f in modules().values() if len(f.read_text().splitlines()) > MAX_LINES}
    assert long <= KNOWN_LONG, f"modules over {MAX_LINES} lines: {sorted(long - KNOWN_LONG)}"


#: Modules that start a solver (Z3, the BDDs) or run the whole pipeline.
SOLVERS = {
    "hamodel.pipeline",
    "hamodel.analysis.failures",
    "hamodel.analysis.cutsets",
    "hamodel.analysis.encoding",
    "hamodel.analysis.placement",
    "hamodel.analysis.placement_solver",
    "hamodel.analysis.probability",
    "hamodel.analysis.importance",
}


def test_the_flow_is_one_way():
    """model -> analysis -> results -> Deployment -> generators (issue 28): the analysis
    never imports what comes after it, and no generator reaches a solver, even
    through a chain of imports."""
    graph = import_graph()
    later = (
        "hamodel.deployment",
        "hamodel.pipeline",
        "hamodel.generators",
        "hamodel.drill",
        "hamodel.cli",
        "hamodel.sphinx",
    )
    back = sorted(
        (m, t) for m, ts in graph.items() if m.startswith("hamodel.analysis") for t in ts if t.startswith(later)
    )
    assert not back, f"the analysis imports a later stage: {back}"

    def reach(m: str) -> set[str]:
        seen, todo = set(), [m]
        while todo:
            for t in graph[todo.pop()]:
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        return seen

    solving = {m: sorted(reach(m) & SOLVERS) for m in graph if m.startswith("hamodel.generators")}
    assert not {m: s for m, s in solving.items() if s}, "a generator reaches a solver"
