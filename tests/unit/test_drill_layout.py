"""The drill's shape (issue 28): one scenario protocol, one registry, one margin policy,
a sub-package per lab holding its scenarios."""

from __future__ import annotations

import ast
from pathlib import Path

from hamodel.drill import margins
from hamodel.drill.pacemaker import quorum
from hamodel.drill.pacemaker import scenarios as majority
from hamodel.drill.registry import CLUSTER_LABS, KINDS
from hamodel.drill.scenario import ClusterScenario, ScenarioKind

DRILL = Path(__file__).resolve().parents[2] / "hamodel" / "drill"


def test_every_kind_is_registered_from_its_labs_sub_package():
    assert KINDS, "no scenario kind registered"
    for name, kind in KINDS.items():
        assert issubclass(kind, ScenarioKind) and kind.kind == name
        assert kind.__module__.split(".")[2] in ("keepalived", "galera"), kind.__module__


def test_cluster_scenarios_follow_the_cluster_protocol():
    lab = CLUSTER_LABS["pacemaker"]
    kinds = [*lab.kinds, *quorum.SCENARIO_KINDS]
    assert all(issubclass(k, ClusterScenario) and k.__module__.startswith("hamodel.drill.pacemaker.") for k in kinds)
    assert len({k.kind for k in kinds}) == len(kinds)
    assert lab.scenarios_for(None) == tuple(k.kind for k in lab.kinds)
    assert set(majority.SCENARIO_KINDS) < set(lab.kinds)  # the majority cluster's, and the real Redis agent's


def test_no_margin_outside_the_margin_policy():
    """A time bound's slack is a constant of hamodel/drill/margins.py, never a literal of a scenario module."""
    found = []
    for f in sorted(DRILL.rglob("*.py")):
        if f.name == "margins.py":
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                if any("MARGIN" in n for n in names) and isinstance(node.value, ast.Constant):
                    found.append(f"{f.relative_to(DRILL)}:{node.lineno} {names}")
    assert not found, f"margins defined outside hamodel/drill/margins.py: {found}"
    assert margins.KEEPALIVED_S < margins.GALERA_S < margins.PACEMAKER_S < margins.PROMETHEUS_S


def test_one_entry_point():
    """Drills run through ``hamodel drill`` only: no drill module parses a command line of its own,
    except the helper processes a lab starts (stand-in backend, probe, bond watcher, fence agent,
    Galera health endpoint, Redis writer)."""
    helpers = {
        "backend.py",
        "probe.py",
        "bond.py",
        "pacemaker/fence.py",
        "galera/health.py",
        "keepalived/redis_loss.py",
    }
    parsing = {
        str(f.relative_to(DRILL))
        for f in DRILL.rglob("*.py")
        if "ArgumentParser(" in f.read_text() or "sys.argv" in f.read_text().replace("urlopen(sys.argv[1]", "")
    }
    assert parsing <= helpers, sorted(parsing - helpers)


def test_the_stamp_fingerprints_files_that_exist():
    """Every source pattern of the drill pages' stamp matches a file: a pattern left behind by a
    move would silently stop a page from going stale."""
    from hamodel.drill import stamp

    for pattern in (*stamp._SCENARIO_SOURCES, *(p for ps in stamp._LAB_SOURCES.values() for p in ps)):
        assert sorted(DRILL.glob(pattern)), f"stamp source pattern {pattern} matches nothing"


def test_the_cluster_lab_calls_the_scenario_steps(monkeypatch):
    """run_each drives a cluster scenario through the protocol's steps, in order, and restores
    after a failed measurement before the error goes on."""
    from types import SimpleNamespace

    from hamodel.drill.results import Check
    from hamodel.drill.scenario import ClusterRun

    calls: list[str] = []

    class Recorded(ClusterScenario):
        kind, title = "recorded", "a scenario that records its steps"
        fail = False

        def predict(self):
            calls.append("predict")
            return {"bound_s": 1.0}

        def inject(self):
            calls.append("inject")

        def measure(self):
            calls.append("measure")
            if self.fail:
                raise RuntimeError("measurement failed")
            return {"took_s": 0.5}

        def restore(self, measured, /):
            calls.append(f"restore {measured is not None}")
            if measured is not None:
                measured["rejoin_s"] = 2.0

        def checks(self, prediction, measured, /):
            calls.append("checks")
            ok = measured["took_s"] <= prediction["bound_s"]
            return [Check("within the bound", prediction["bound_s"], measured["took_s"], ok)]

    monkeypatch.setattr(majority, "settle", lambda pl: 0.0)
    pl = SimpleNamespace(plan=SimpleNamespace(vips=[SimpleNamespace(name="vip")]))
    (r,) = majority.run_each(pl, [Recorded], ClusterRun(lab=pl, watch=None), lambda s: None)  # type: ignore[arg-type]
    assert calls == ["predict", "inject", "measure", "restore True", "checks"]
    assert r["agreed"] and r["measured"] == {"took_s": 0.5, "rejoin_s": 2.0} and r["kind"] == "pacemaker-recorded"
    calls.clear()

    class Failing(Recorded):
        fail = True

    try:
        majority.run_each(pl, [Failing], ClusterRun(lab=pl, watch=None), lambda s: None)  # type: ignore[arg-type]
    except RuntimeError as exc:
        assert str(exc) == "measurement failed"
    else:
        raise AssertionError("the failed measurement was swallowed")
    assert calls == ["predict", "inject", "measure", "restore False"]


def test_split_cluster_scenarios():
    """Node crash and partition run as the protocol's steps; the scenarios still run whole are named here
    (issue 28: split them one by one, and remove them from this list)."""
    from hamodel.drill.scenario import WholeClusterScenario

    lab = CLUSTER_LABS["pacemaker"]
    whole = {k.kind for k in [*lab.kinds, *quorum.SCENARIO_KINDS] if issubclass(k, WholeClusterScenario)}
    assert not any(issubclass(k, WholeClusterScenario) for k in majority.SCENARIO_KINDS)
    assert whole == {"redis-promoted-kill"}
