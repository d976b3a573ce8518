"""A quorum witness in practice (issue 10): two Galera members and garbd.

Placement counts the witness's votes (a two-member majority cluster with a
witness is three votes, not an unplaceable two), and the web platform's
Galera cut sets, reasoned by hand below, are what both evaluators find."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import pytest

from hamodel import Architecture, Node, Service
from hamodel.analysis.components import view
from hamodel.analysis.cutsets import Analyzer, brute_force_cut_sets
from hamodel.analysis.failures import analyse
from hamodel.analysis.placement import Unplaceable, place, verify
from hamodel.analysis.semantics import Evaluation
from hamodel.deployment import Placement
from hamodel.loader import load
from hamodel.strategies import AppCluster, Witness

ROOT = Path(__file__).resolve().parents[2]


def galera(witness: bool) -> Architecture:
    nodes = [Node("db-1", roles={"database"}), Node("db-2", roles={"database"}), Node("arb-1", roles={"arbiter"})]
    services = [Service("galera", on="database", replicas=2, strategy=AppCluster())]
    if witness:
        services.append(Service("garbd", on="arbiter", strategy=Witness("galera")))
    return Architecture("g", nodes=nodes, services=services)


def test_two_members_and_a_witness_are_a_placeable_majority_cluster() -> None:
    # The guide's example: quorum 2 of 3 votes.
    r = place(galera(witness=True))
    assert r.placement.nodes_of("galera") == ("db-1", "db-2") and r.placement.nodes_of("garbd") == ("arb-1",)
    assert verify(galera(True), Placement({"galera": ["db-1", "db-2"], "garbd": ["arb-1"]})) == []
    # Without the witness two members are still no majority cluster.
    with pytest.raises(Unplaceable, match="galera keeps a majority quorum"):
        place(galera(witness=False))
    assert any("majority quorum" in p for p in verify(galera(False), Placement({"galera": ["db-1", "db-2"]})))
    # A witness placed nowhere adds no vote.
    assert any(
        "majority quorum" in p for p in verify(galera(True), Placement({"galera": ["db-1", "db-2"], "garbd": []}))
    )


@pytest.fixture(scope="module")
def web():
    arch = load(ROOT / "models" / "webplatform.py")
    r = place(arch)
    return arch, r


def test_webplatform_galera_cut_sets_reasoned_by_hand(web) -> None:
    arch, r = web
    v = view(arch, r.placement, r.vrrp_groups)
    # Votes: the two members and garbd; each is lost with its node, its
    # process or its rack. Galera stops when two of the three are lost.
    votes = [
        {"node:db-1", "proc:mariadb@db-1", "domain:rack-1"},
        {"node:db-2", "proc:mariadb@db-2", "domain:rack-2"},
        {"node:mgmt-1", "proc:garbd@mgmt-1", "domain:rack-3"},
    ]
    # It is reached through the internal VIP: both holders lost (node,
    # haproxy, keepalived, rack) stops it too.
    holders = [{f"node:lb-{i}", f"proc:haproxy@lb-{i}", f"proc:keepalived@lb-{i}", f"domain:rack-{i}"} for i in (1, 2)]
    expected = {frozenset({a, b}) for i, j in ((0, 1), (0, 2), (1, 2)) for a, b in product(votes[i], votes[j])}
    expected |= {frozenset(p) for p in product(*holders)}
    # Every node is dual-corded and bonded to both switches (peer link one
    # trunk): only both feeds or both switches are common to all; losing the
    # trunk alone partitions nothing, as every node is on both switches.
    expected |= {
        frozenset({"domain:pdu-a", "domain:pdu-b"}),
        frozenset({"switch:tor-a", "switch:tor-b"}),
        frozenset({"domain:dc"}),
    }
    assert len(expected) == 45  # 27 vote pairs + 16 holder pairs - 1 shared (rack-1 + rack-2) + 3
    z3_sets, complete = Analyzer(v).cut_sets("galera", 2)
    assert complete and {frozenset(c) for c in z3_sets} == expected
    brute = brute_force_cut_sets(v.slice("galera"), 2, lambda f: not Evaluation(v, f).up("galera"))
    assert {frozenset(c) for c in brute} == expected


def test_webplatform_findings_for_the_witness(web) -> None:
    arch, r = web
    f = {x.id: x for x in analyse(arch, r.placement, vrrp_groups=r.vrrp_groups)}
    # 3 votes, majority 2: two failures stop it (low), no split brain.
    assert f["quorum-loss:galera"].severity == "low"
    assert "2 of 3 votes (members and witnesses)" in f["quorum-loss:galera"].impact
    assert not any(i.startswith("split-brain") for i in f)
    # The witness has no findings of its own.
    # garbd has no findings of its own; the monitoring gap (no exporter watches its process) is real.
    assert not any("garbd" in x.services for x in f.values() if x.id != "no-metrics-source")
    # Galera's cold start after a planned stop of both members needs an
    # operator: reported, and acknowledged in the model with the runbook.
    assert f["manual-recovery"].acknowledged and "galera" in f["manual-recovery"].impact


def test_webplatform_redis_cannot_be_split(web) -> None:
    """Redis under Sentinel does not step down, yet no split brain: every
    database node is bonded to both switches, so no failure of switches or
    the trunk separates them (checked up to 3 failures, both evaluators)."""
    arch, r = web
    assert arch.service("redis").strategy.steps_down is False
    v = view(arch, r.placement, r.vrrp_groups)
    assert Analyzer(v).split_brain("redis", 3) == []
    comps = [c for c in v.slice("redis") if c.split(":")[0] in ("switch", "trunk", "link", "domain")]
    assert brute_force_cut_sets(comps, 3, lambda f: Evaluation(v, f).split_brain("redis")) == []
