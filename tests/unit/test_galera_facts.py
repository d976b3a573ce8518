"""The Galera drill reads the analysis' facts from the Deployment's results (issue 28):
the same cut sets and cold-start outcomes the analysis computes, no solver run by the drill."""

from __future__ import annotations

import ast

import pytest
from test_configs import ROOT

from hamodel.analysis.failures import cold_start, cut_sets
from hamodel.drill.files import generated_files
from hamodel.drill.galera.facts import facts
from hamodel.drill.lab import LabError
from hamodel.loader import load
from hamodel.pipeline import resolve

GALERA = ROOT / "hamodel" / "drill" / "galera"


@pytest.fixture(scope="module")
def dep():
    arch = load(ROOT / "models" / "openstack_keepalived.py")
    return generated_files(arch, analyse=True, lock=ROOT / "models" / "openstack_keepalived.lock.json")[0]


def test_facts_are_the_analysis_answers(dep):
    arch, service = dep.architecture, "galera"
    f = facts(dep, service)
    direct = cut_sets(arch, dep.placement, 2, dep.vrrp_groups, services=[service])[service]
    assert f.cuts == [frozenset(c) for c in direct]
    for stop in ("crash", "graceful"):
        (row,) = [c for c in cold_start(arch, dep.placement, 0, dep.vrrp_groups, stop=stop) if c.service == service]
        assert f.cold[stop] == row.outcome
    (missing,) = [c for c in cold_start(arch, dep.placement, 1, dep.vrrp_groups, stop="crash") if c.service == service]
    assert f.cold_missing == missing.outcome
    # The reference model: a crash of all re-forms by itself, a graceful stop or a missing member needs the operator.
    assert (f.cold, f.cold_missing) == ({"crash": "automatic", "graceful": "manual"}, "manual")
    assert f.members == list(dep.placement.nodes_of(service)) and f.quorum == 2
    assert f.primary_after({f.proc(f.members[0])})  # one member down keeps the quorum
    assert not f.primary_after({f.proc(f.members[0]), f.proc(f.members[1])})


def test_facts_need_the_results():
    arch = load(ROOT / "models" / "openstack_keepalived.py")
    dep = resolve(arch, lock=ROOT / "models" / "openstack_keepalived.lock.json")
    with pytest.raises(ValueError, match="carries no analysis results"):
        facts(dep, "galera")


def test_facts_refuse_a_service_that_is_not_a_cluster(dep):
    other = next(s.name for s in dep.architecture.services if type(s.strategy).__name__ != "AppCluster")
    with pytest.raises(LabError, match="not an application cluster"):
        facts(dep, other)


def test_the_galera_drill_runs_no_analysis():
    """No module of the Galera drill imports the analysis (it reads the Deployment's results)."""
    found = []
    for f in sorted(GALERA.glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hamodel.analysis"):
                found.append(f"{f.name}:{node.lineno} {node.module}")
    assert not found, found


def test_every_galera_scenario_has_the_protocol_steps():
    """Each Galera kind implements predict / inject / observe / checks itself (or in its family's
    base): no scenario function wrapped in one repeated shape."""
    from hamodel.drill.galera.kinds import GaleraKind
    from hamodel.drill.galera.scenarios import GALERA_KINDS

    for kind in GALERA_KINDS:
        assert not hasattr(kind, "step"), kind
        for step in ("predict", "inject", "observe", "checks"):
            assert getattr(kind, step) is not getattr(GaleraKind, step, None), (kind, step)
