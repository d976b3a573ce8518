"""Leader election through a coordinator, and what a cut-off old leader does
(issue 10): Patroni's leader demotes itself when it loses its lock
(``steps_down``); a Redis master under Sentinel does not, so a partition
makes two writers unless ``min-replicas-to-write`` (``min_replicas``) stops
the cut-off one, at the price of needing live replicas to write at all.

Every expectation is reasoned by hand in the comments, then checked through
the Z3 encoding, the plain-Python evaluator and the fault tree."""

from __future__ import annotations

import pytest

from hamodel import Architecture, Network, Node, Service, Switch
from hamodel.analysis.components import view
from hamodel.analysis.cutsets import Analyzer, brute_force_cut_sets
from hamodel.analysis.failures import analyse
from hamodel.analysis.faulttree import tree_cut_sets
from hamodel.analysis.semantics import Evaluation
from hamodel.deployment import Placement
from hamodel.errors import ModelError
from hamodel.strategies import AppCluster, Elected

SWA, SWB = Switch("sw-a"), Switch("sw-b")
LAN = Network("lan", subnet="10.0.0.0/24", switches=[SWA, SWB])
LINK = "link:lan:sw-a~sw-b"


def redis(on_a: list[str], on_b: list[str], redis_on: list[str], sentinels: list[str], **elected) -> tuple:
    """Nodes ``on_a`` on switch sw-a, ``on_b`` on sw-b, one link between
    them; Sentinel (3 members, majority 2) on ``sentinels``, Redis on
    ``redis_on``, elected by Sentinel."""
    nodes = [
        Node(n, roles={"db"}, addresses={LAN: f"10.0.0.{10 + i}"}, switch=SWA if n in on_a else SWB)
        for i, n in enumerate(sorted(on_a + on_b))
    ]
    arch = Architecture(
        "r",
        domains=[SWA, SWB],
        networks=[LAN],
        nodes=nodes,
        services=[
            Service("sentinel", on="db", replicas=len(sentinels), strategy=AppCluster()),
            Service("redis", on="db", replicas=len(redis_on), strategy=Elected(by="sentinel", **elected)),
        ],
    )
    return arch, Placement({"sentinel": sentinels, "redis": redis_on})


def checked(arch, placement, k=2):
    """Cut sets and split-brain sets of redis: Z3, the evaluator's brute
    force and (cut sets) the fault tree must agree."""
    v = view(arch, placement)
    an = Analyzer(v)
    cuts, complete = an.cut_sets("redis", k)
    assert complete
    assert cuts == brute_force_cut_sets(v.components, k, lambda f: not Evaluation(v, f).up("redis"))
    assert cuts == tree_cut_sets(v, k, ["redis"])["redis"]
    split = an.split_brain("redis", k)
    assert split == brute_force_cut_sets(v.components, k, lambda f: Evaluation(v, f).split_brain("redis"))
    return {frozenset(c) for c in cuts}, {frozenset(c) for c in split}


# n1 on sw-a; n2, n3 on sw-b. Cutting the link isolates n1 and its sentinel
# (1 of 3: no quorum); n2 and n3 keep a Sentinel majority.
A, B = ["n1"], ["n2", "n3"]
SENT = ["n1", "n2", "n3"]


def test_patroni_like_leader_steps_down_no_split_brain():
    # Redis (or Postgres) on n1 and n2, the leader demotes itself when cut off.
    _, split = checked(*redis(A, B, ["n1", "n2"], SENT))
    assert split == set()


def test_sentinel_without_min_replicas_splits_on_one_link():
    # The master on n1, cut off, keeps writing; Sentinel on n2+n3 promotes n2.
    cuts, split = checked(*redis(A, B, ["n1", "n2"], SENT, steps_down=False))
    assert frozenset({LINK}) in split
    # sw-a down instead takes n1 off the network altogether: no second writer.
    assert frozenset({"switch:sw-a"}) not in split
    arch, p = redis(A, B, ["n1", "n2"], SENT, steps_down=False)
    f = {x.id: x for x in analyse(arch, p)}
    assert f["split-brain:redis"].severity == "high" and f["split-brain:redis"].scenario == (LINK,)


def test_min_replicas_stops_the_cut_off_master_but_needs_a_live_replica():
    # Two Redis members, min-replicas-to-write 1: cut off, n1 has no replica
    # and refuses writes (no split brain); but n2 has none either, so the
    # link alone stops writes, and so does losing either Redis member.
    cuts, split = checked(*redis(A, B, ["n1", "n2"], SENT, steps_down=False, min_replicas=1))
    assert split == set()
    assert {frozenset({LINK}), frozenset({"proc:redis@n1"}), frozenset({"proc:redis@n2"})} <= cuts
    # Three members: the side keeping Sentinel's majority keeps a replica.
    cuts, split = checked(*redis(A, B, ["n1", "n2", "n3"], SENT, steps_down=False, min_replicas=1))
    assert split == set() and frozenset({LINK}) not in cuts
    # Two Redis processes down leave the third without a replica: a cut
    # set of order 2 that min_replicas=0 does not have.
    assert frozenset({"proc:redis@n2", "proc:redis@n3"}) in cuts
    plain, _ = checked(*redis(A, B, ["n1", "n2", "n3"], SENT, steps_down=False))
    assert frozenset({"proc:redis@n2", "proc:redis@n3"}) not in plain


def test_min_replicas_does_not_help_when_a_replica_is_cut_off_with_the_master():
    # n1 and n4 on sw-a run Redis, the Sentinel majority is on sw-b (n2,
    # n3, n5). Cut the link: n1 keeps n4 as its replica and keeps writing,
    # n2 (with n3 as replica) is promoted: split brain despite min_replicas=1.
    # min_replicas=2 stops n1 (one replica with it), but n2 has only n3 on
    # its side: no writer there either, so the link stops writes.
    cuts, split = checked(
        *redis(
            ["n1", "n4"],
            ["n2", "n3", "n5"],
            ["n1", "n2", "n3", "n4"],
            ["n2", "n3", "n5"],
            steps_down=False,
            min_replicas=1,
        )
    )
    assert frozenset({LINK}) in split
    cuts, split = checked(
        *redis(
            ["n1", "n4"],
            ["n2", "n3", "n5"],
            ["n1", "n2", "n3", "n4"],
            ["n2", "n3", "n5"],
            steps_down=False,
            min_replicas=2,
        )
    )
    assert split == set() and frozenset({LINK}) in cuts


def test_min_replicas_needs_enough_members():
    with pytest.raises((ModelError, ValueError), match="min_replicas"):
        Service("redis", on="db", replicas=2, strategy=Elected(by="sentinel", min_replicas=2))
    # Defaults stay out of the canonical JSON (existing models keep their hash).
    assert "steps_down" not in Elected(by="x").model_dump_json()
    assert "min_replicas" not in Elected(by="x").model_dump_json()


def test_a_spof_caused_by_min_replicas_says_so():
    arch, p = redis(A, B, ["n1", "n2"], SENT, steps_down=False, min_replicas=1)
    spof = {x.id: x for x in analyse(arch, p)}["spof:redis"]
    assert (
        "proc:redis@n1 (its writer needs 1 live replica (min_replicas) and without n1 only 0 can remain)" in spof.impact
    )
    assert "Run at least 3 members (replicas) or lower min_replicas." in spof.mitigation
