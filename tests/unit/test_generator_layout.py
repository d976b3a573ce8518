"""The generators' shape (issue 18, move 1): one entry point each, a shared leaf, no circle.

Read from the source with ``ast``: a generator that imports another
generator (keepalived reaching into haproxy for a fact) or the orchestrator
fails here, whether or not the import happens to run.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from hamodel.generators import common, configs

ROOT = Path(__file__).resolve().parents[2] / "generators"
GENERATORS = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file())
#: The config generators: Deployment -> node files, each importing only the leaf.
CONFIG_GENERATORS = ["haproxy", "keepalived", "monitoring", "pacemaker", "sysctl"]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, top level or inside a function."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


@pytest.mark.parametrize("name", CONFIG_GENERATORS)
def test_a_config_generator_imports_only_the_leaf(name):
    own = f"hamodel.generators.{name}"
    others = {f"hamodel.generators.{g}" for g in GENERATORS if g != name} | {"hamodel.generators.configs"}
    bad = sorted(
        m
        for m in imported_modules(ROOT / name / "__init__.py")
        if any(m == o or m.startswith(o + ".") for o in others) and not m.startswith(own)
    )
    assert not bad, f"{own} imports {bad}: shared facts belong on the Deployment, shared code in generators.common"


def _generator_imports() -> dict[str, set[str]]:
    out = {}
    for name in GENERATORS:
        mods = imported_modules(ROOT / name / "__init__.py")
        out[name] = {
            g
            for g in GENERATORS
            if g != name
            and any(m == f"hamodel.generators.{g}" or m.startswith(f"hamodel.generators.{g}.") for m in mods)
        }
    return out


def test_no_import_circle_between_generator_packages():
    graph = _generator_imports()

    def reach(start: str) -> set[str]:
        seen, todo = set(), list(graph[start])
        while todo:
            g = todo.pop()
            if g not in seen:
                seen.add(g)
                todo += graph[g]
        return seen

    circles = sorted(g for g in GENERATORS if g in reach(g))
    assert not circles, f"generator packages in an import circle: {circles} ({graph})"


def test_the_leaf_imports_no_generator():
    mods = imported_modules(ROOT / "common.py")
    assert not [m for m in mods if m.startswith("hamodel.generators")], mods


def test_every_config_generator_has_the_same_entry_point():
    gens = configs.generators()
    assert {g.__name__.rsplit(".", 1)[1] for g in gens} == set(CONFIG_GENERATORS)
    for g in gens:
        params = list(inspect.signature(g.generate).parameters)
        assert params == ["dep", "secrets", "redacted"], (g.__name__, params)


def test_the_orchestrator_reexports_the_leaf():
    for name in ("ConfigError", "InconsistentConfig", "NodeFile", "Secrets", "token", "address"):
        assert getattr(configs, name) is getattr(common, name)


def test_inconsistencies_of_several_generators_are_reported_together(reference_arch, monkeypatch):
    """One refusal lists the disagreements of every generator, not only the first one's."""
    import types

    from hamodel.pipeline import resolve

    dep = resolve(reference_arch("openstack_keepalived"), fresh=True)

    def failing(where: str) -> types.SimpleNamespace:
        def generate(dep, secrets, redacted):
            raise configs.InconsistentConfig([(where, "nodes disagree")])

        return types.SimpleNamespace(generate=generate)

    real = configs.generators()
    monkeypatch.setattr(configs, "generators", lambda: [real[0], failing("a.conf"), failing("b.cfg")])
    with pytest.raises(configs.InconsistentConfig) as exc:
        configs.build_configs(dep, {})
    assert [w for w, _ in exc.value.problems] == ["a.conf", "b.cfg"]


def test_the_analysis_answers_with_data_and_the_cli_tables_live_in_one_module():
    """Presentation is hamodel.tables' job: no analysis module imports rich (the placement
    and findings tables used to live in hamodel.analysis)."""
    analysis = Path(__file__).resolve().parents[2] / "hamodel" / "analysis"
    offenders = sorted(
        p.name for p in analysis.glob("*.py") if any(m == "rich" or m.startswith("rich.") for m in imported_modules(p))
    )
    assert not offenders, offenders
    cli = imported_modules(Path(__file__).resolve().parents[2] / "hamodel" / "cli.py")
    assert "rich.table" not in cli and "rich.table.Table" not in cli, "the CLI builds no table itself"
