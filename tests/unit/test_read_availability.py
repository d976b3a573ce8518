"""Read availability beside write availability (issue 23): a single-writer
(elected) service whose replicas answer reads without a leader gets its
read figure in `check --availability` (table and JSON), checked here against
an exact brute-force sum over every failure set of the plain-Python rules."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import pytest

from hamodel import Architecture, Network, Node, Reliability, Service
from hamodel.analysis.availability import failure_probabilities
from hamodel.analysis.semantics import Evaluation
from hamodel.pipeline import resolve
from hamodel.strategies import AppCluster, Elected

ROOT = Path(__file__).resolve().parents[2]


def patroni_like():
    """Three nodes, etcd on all three, postgres elected by etcd on two."""
    lan = Network("lan", subnet="10.0.0.0/24")
    nodes = [Node(f"n{i}", roles={"db"} if i < 3 else {"dcs"}, addresses={lan: f"10.0.0.{i}"}) for i in (1, 2, 3)]
    return Architecture(
        "rw",
        nodes=nodes,
        networks=[lan],
        services=[
            Service("etcd", on=["db", "dcs"], replicas=3, strategy=AppCluster(cold_start="automatic")),
            Service("postgres", on="db", replicas=2, strategy=Elected(by="etcd")),
        ],
        reliability={
            "node": Reliability(mtbf_hours=8760, mttr_hours=8),
            "process": Reliability(mtbf_hours=2000, mttr_hours=0.5),
        },
    )


def _exact(v, s, up) -> float:
    """P(not up) summed over every subset of the service's components."""
    comps = sorted(v.slice(s))
    q = failure_probabilities(v, comps)
    total = 0.0
    for size in range(len(comps) + 1):
        for fs in combinations(comps, size):
            f = frozenset(fs)
            if not up(Evaluation(v, f)):
                p = 1.0
                for c in comps:
                    p *= q[c] if c in f else 1.0 - q[c]
                total += p
    return total


def test_reads_and_writes_are_two_figures_equal_to_brute_force():
    dep = resolve(patroni_like(), answers=True)
    est = dep.answers().availability
    pg = est["postgres"]
    assert pg.reads is not None, "reads outlast writes here: a second figure"
    v = dep.answers().view
    assert pg.unavailability == pytest.approx(_exact(v, "postgres", lambda e: e.up("postgres")), rel=1e-9)
    assert pg.reads.unavailability == pytest.approx(_exact(v, "postgres", lambda e: e.read_up("postgres")), rel=1e-9)
    # reads survive what stops writes (etcd's quorum): strictly more available
    assert pg.reads.unavailability < pg.unavailability
    assert est["etcd"].reads is None  # not a single writer: one figure


@pytest.mark.slow
def test_check_availability_prints_and_emits_both(tmp_path):
    model = ROOT / "models" / "webplatform.py"
    r = subprocess.run(
        [sys.executable, "-m", "hamodel.cli", "check", str(model), "--availability", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    a = json.loads(r.stdout)["availability"]
    for s in ("postgres", "redis"):
        assert a[s]["reads"]["availability"] > a[s]["availability"], a[s]
    assert "reads" not in a["galera"]
    r = subprocess.run(
        [sys.executable, "-m", "hamodel.cli", "check", str(model), "--availability"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={"COLUMNS": "200", "PATH": str(Path(sys.executable).parent)},
    )
    assert "postgres (reads)" in r.stdout and "redis (reads)" in r.stdout, r.stdout[-3000:]
