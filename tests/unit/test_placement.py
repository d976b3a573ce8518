"""Placement: synthesis, verification, allocation, explanations, lock file (real Z3)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from hamodel import Architecture, Network, Node, Rack, Resources, Service, VirtualIP, Zone
from hamodel.analysis.placement import (
    PlacementResult,
    Unplaceable,
    lock_path_for,
    place,
    read_lock,
    verify,
    write_lock,
)
from hamodel.deployment import Placement
from hamodel.loader import load
from hamodel.strategies import ActivePassive, AppCluster, BehindVip, Coordinated, Sharded, Vrrp

ROOT = Path(__file__).resolve().parents[2]


def nodes(n, role="app", racks=None, cpu=16, mem=64, prefix="n"):
    """``n`` nodes; node i in rack ``racks[i]`` when given."""
    out = []
    for i in range(1, n + 1):
        doms = [Rack(racks[i - 1])] if racks else []
        out.append(
            Node(
                f"{prefix}{i}",
                roles={role} if isinstance(role, str) else set(role),
                domains=doms,
                capacity=Resources(cpu=cpu, memory_gb=mem),
            )
        )
    return out


def arch(services, ns, **kw):
    return Architecture("t", nodes=ns, services=services, **kw)


def svc(name, on="app", **kw):
    kw.setdefault("strategy", Coordinated())
    return Service(name, on=on, **kw)


def nodes_of(result: PlacementResult, s: str) -> tuple[str, ...]:
    return result.placement.nodes_of(s)


def rack_of(a: Architecture, n: str) -> str:
    return a.node(n).domains[0]


# -- reference models ---------------------------------------------------------


def test_openstack_keepalived_matches_reference_document():
    a = load(ROOT / "models/openstack_keepalived.py")
    r = place(a)
    ctl = ("ctl-1", "ctl-2", "ctl-3")
    assert len(nodes_of(r, "cinder-volume")) == 1
    assert nodes_of(r, "cinder-volume")[0] in ctl
    for s in a.services:
        if s.name != "cinder-volume":
            assert nodes_of(r, s.name) == ctl, s.name
    assert verify(a, r.placement) == []
    (g,) = r.vrrp_groups
    assert g.service == "haproxy" and g.manager == "keepalived" and g.network == "mgmt"
    assert len(set(g.priorities.values())) == 3 and g.priorities[g.master] == max(g.priorities.values())
    # HAProxy binds the VIP on every holder: ip_nonlocal_bind on all three
    assert r.nonlocal_bind_nodes == frozenset(ctl)


def test_openstack_pacemaker_configures_cinder_volume_everywhere():
    a = load(ROOT / "models/openstack_pacemaker.py")
    r = place(a)
    assert nodes_of(r, "cinder-volume") == ("ctl-1", "ctl-2", "ctl-3")
    # Pacemaker moves both VIPs: the controller VIP with HAProxy, Redis's with its promoted instance.
    assert sorted((g.service, g.vips, g.manager) for g in r.vrrp_groups) == [
        ("haproxy", ("controller-vip",), "pacemaker"),
        ("redis", ("redis-vip",), "pacemaker"),
    ]


def test_multirack_places_across_racks_with_pin_and_colocation():
    a = load(ROOT / "models/multirack.py")
    r = place(a)
    assert verify(a, r.placement) == []
    assert len({rack_of(a, n) for n in nodes_of(r, "galera")}) == 3
    assert len({rack_of(a, n) for n in nodes_of(r, "nova-scheduler")}) == 2
    assert nodes_of(r, "cinder-volume") == ("ctl-2",)
    assert set(nodes_of(r, "haproxy-public")) <= set(nodes_of(r, "haproxy"))
    groups = {g.service: g for g in r.vrrp_groups}
    assert groups["haproxy"].vrid not in (51, 52)  # reserved on the internal segment


def test_determinism_same_model_same_result():
    a = load(ROOT / "models/multirack.py")
    one, two = place(a), place(load(ROOT / "models/multirack.py"))
    assert json.dumps(one.to_dict(), sort_keys=True) == json.dumps(two.to_dict(), sort_keys=True)


# -- each constraint kind: satisfied and violated -----------------------------


def test_roles_and_replica_count():
    ns = nodes(3, "db") + nodes(3, "web", prefix="w")
    a = arch([svc("pg", on="db", replicas=2), svc("nginx", on="web")], ns)
    r = place(a)
    assert len(nodes_of(r, "pg")) == 2 and set(nodes_of(r, "pg")) <= {"n1", "n2", "n3"}
    assert nodes_of(r, "nginx") == ("w1", "w2", "w3")
    bad = arch([svc("pg", on="db", replicas=4)], ns)
    with pytest.raises(Unplaceable) as e:
        place(bad)
    assert "pg needs 4 instances on distinct nodes, but the db role has 3 nodes (n1, n2, n3)" in e.value.explanations[0]


def test_anti_affinity_rack_satisfied_and_explained():
    a = arch(
        [svc("galera", replicas=3, anti_affinity="rack", strategy=AppCluster())],
        nodes(6, racks=["r1", "r1", "r2", "r2", "r3", "r3"]),
    )
    r = place(a)
    assert len({rack_of(a, n) for n in nodes_of(r, "galera")}) == 3
    two_racks = arch(
        [svc("galera", on="database", replicas=3, anti_affinity="rack", strategy=AppCluster())],
        nodes(4, "database", racks=["r1", "r1", "r2", "r2"]),
    )
    with pytest.raises(Unplaceable) as e:
        place(two_racks)
    assert e.value.explanations == [
        "galera needs 3 members on distinct racks, but the database role spans 2 racks (r1, r2)"
    ]


def test_anti_affinity_on_enclosing_domain_counts_nesting():
    # racks nested in zones: anti-affinity by zone sees the racks' zone
    zs = [Zone("z1"), Zone("z2")]
    ns = [Node(f"n{i}", roles={"app"}, domains=[Rack(f"r{i}", parent=f"z{1 + (i > 2)}")]) for i in (1, 2, 3, 4)]
    a = arch([svc("x", replicas=2, anti_affinity="zone")], ns, domains=zs)
    r = place(a)
    assert {a.node_domains(n)[-1] for n in nodes_of(r, "x")} == {"z1", "z2"}
    with pytest.raises(Unplaceable) as e:
        place(arch([svc("x", replicas=3, anti_affinity="zone")], ns, domains=zs))
    assert "spans 2 zones (z1, z2)" in e.value.explanations[0]


def test_max_per_domain():
    ns = nodes(6, racks=["r1", "r1", "r1", "r2", "r2", "r2"])
    r = place(arch([svc("x", replicas=4, max_per_domain={"rack": 2})], ns))
    per = [rack_of(r_arch := arch([svc("x", replicas=4, max_per_domain={"rack": 2})], ns), n) for n in nodes_of(r, "x")]
    assert per.count("r1") == 2 and per.count("r2") == 2 and r_arch
    with pytest.raises(Unplaceable) as e:
        place(arch([svc("x", replicas=5, max_per_domain={"rack": 2})], ns))
    assert (
        "x needs 5 instances with at most 2 per rack (max_per_domain), but the app role spans 2 racks"
        in e.value.explanations[0]
    )


def test_pin_and_exclude():
    ns = nodes(4)
    r = place(arch([svc("a", replicas=2, pin=["n4"], exclude=["n1"])], ns))
    assert "n4" in nodes_of(r, "a") and "n1" not in nodes_of(r, "a")
    r = place(arch([svc("b", replicas=3, exclude=["n1"])], ns))
    assert nodes_of(r, "b") == ("n2", "n3", "n4")
    with pytest.raises(Unplaceable) as e:
        place(arch([svc("b", replicas=4, exclude=["n1"])], ns))
    assert "after excluding n1" in e.value.explanations[0]


def test_pins_against_anti_affinity_explained_by_unsat_core():
    # not an aggregate problem: only the solver sees it; the core names the pins and the anti-affinity
    ns = nodes(4, racks=["r1", "r1", "r2", "r2"])
    a = arch([svc("x", replicas=2, anti_affinity="rack", pin=["n1", "n2"]), svc("unrelated", replicas=1)], ns)
    with pytest.raises(Unplaceable) as e:
        place(a)
    (text,) = e.value.explanations
    assert "x is pinned to n1, n2" in text and "anti_affinity='rack'" in text
    assert "unrelated" not in text  # the smallest conflicting set only


def test_colocate():
    ns = nodes(4)
    r = place(arch([svc("lb", replicas=2), svc("sidecar", replicas=2, colocate=["lb"])], ns))
    assert nodes_of(r, "sidecar") == nodes_of(r, "lb")
    with pytest.raises(Unplaceable) as e:
        place(
            arch(
                [
                    svc("lb", replicas=2, pin=["n1", "n2"]),
                    svc("sidecar", replicas=1, pin=["n3"], colocate=["lb"]),
                    svc("free", replicas=1),
                ],
                ns,
            )
        )
    text = e.value.explanations[0]
    assert "sidecar may run only on nodes that run lb (colocate)" in text and "sidecar is pinned to n3" in text


def test_capacity_spreads_instances_and_aggregate_is_explained_before_solving():
    ns = nodes(4, cpu=8)
    a = arch(
        [svc("big", replicas=2, requests=Resources(cpu=6)), svc("big2", replicas=2, requests=Resources(cpu=6))], ns
    )
    r = place(a)
    both = set(nodes_of(r, "big")) & set(nodes_of(r, "big2"))
    assert not both  # 6 + 6 > 8: never on one node
    with pytest.raises(Unplaceable) as e:
        place(
            arch(
                [svc("big", replicas=3, requests=Resources(cpu=6)), svc("big2", replicas=3, requests=Resources(cpu=6))],
                ns,
            )
        )
    assert e.value.explanations == [
        "big, big2 together request 36 cpu, but the 4 nodes they may use (app) have 32 in all"
    ]
    with pytest.raises(Unplaceable) as e:
        place(arch([svc("huge", replicas=1, requests=Resources(memory_gb=100))], ns))
    assert "huge requests 100 GB of memory per instance" in e.value.explanations[0]


def test_packing_conflict_found_by_the_fill_is_explained():
    # the sum fits (20 <= 24), and so does the count (each node could hold
    # two instances, 6 >= 5), but a node with a 6-cpu instance has room for
    # only the 2-cpu one: the fill of the interchangeable nodes fails and its
    # cut is what conflicts
    with pytest.raises(Unplaceable) as e:
        place(
            arch(
                [
                    svc("big", replicas=2, requests=Resources(cpu=6)),
                    svc("mid", replicas=2, requests=Resources(cpu=3)),
                    svc("small", replicas=1, requests=Resources(cpu=2)),
                ],
                nodes(3, cpu=8),
            )
        )
    text = e.value.explanations[0]
    assert "big needs 2 instances" in text and "mid needs 2 instances" in text
    assert "the nodes n1, n2, n3 cannot hold 2 x big, 2 x mid" in text


def test_packing_conflict_found_by_counting_instances():
    # the sum fits (24 <= 24) but no node holds two 6-cpu instances: counting
    # instances per node proves it before any solver runs
    with pytest.raises(Unplaceable) as e:
        place(
            arch(
                [svc("big", replicas=2, requests=Resources(cpu=6)), svc("big2", replicas=2, requests=Resources(cpu=6))],
                nodes(3, cpu=8),
            )
        )
    assert e.value.explanations == [
        "big, big2 run 4 instances that request cpu, but the 3 nodes they may use (app) hold at most 3 of them: "
        "a node's cpu is not shared out in fractions (the smallest request is 6 cpu)"
    ]


def test_capacity_conflict_found_by_the_solver_names_the_nodes():
    # aggregate fits (8 <= 16) but no node takes two 5-cpu instances: the pins force it
    ns = nodes(2, cpu=8)
    a = arch(
        [
            svc("a", replicas=1, requests=Resources(cpu=5), pin=["n1"]),
            svc("b", replicas=1, requests=Resources(cpu=3), pin=["n1"]),
            svc("c", replicas=1, requests=Resources(cpu=1), pin=["n1"]),
            svc("free", replicas=1),
        ],
        ns,
    )  # one unpinned service: the solver runs
    with pytest.raises(Unplaceable) as e:
        place(a)
    text = e.value.explanations[0]
    assert "n1 has 8 cpu" in text and "a is pinned to n1" in text and "c is pinned to n1" in text


def test_port_conflicts_keep_services_apart_and_are_explained():
    # two roles on the same nodes; both services bind 8080 on the node address
    ns = nodes(3, role=("a", "b"))
    r = place(arch([svc("x", on="a", replicas=1, ports=[8080]), svc("y", on="b", replicas=2, ports=[8080])], ns))
    assert not set(nodes_of(r, "x")) & set(nodes_of(r, "y"))
    with pytest.raises(Unplaceable) as e:
        place(arch([svc("x", on="a", replicas=2, ports=[8080]), svc("y", on="b", replicas=2, ports=[8080])], ns))
    assert "x and y both bind port 8080" in e.value.explanations[0]


def test_quorum_sizes():
    with pytest.raises(Unplaceable) as e:
        place(arch([svc("etcd", replicas=2, strategy=AppCluster())], nodes(3)))
    (why,) = [x for x in e.value.explanations if x.startswith("etcd keeps a majority quorum")]
    assert why.startswith("etcd keeps a majority quorum, which needs at least 3 members, but replicas=2")
    # the way to describe the 2-member cluster an architect already runs
    assert "AppCluster(quorum=2)" in why and "Witness('etcd')" in why
    r2 = place(arch([svc("etcd", replicas=2, strategy=AppCluster(quorum=2))], nodes(3)))
    assert len(nodes_of(r2, "etcd")) == 2
    r = place(arch([svc("etcd", replicas=4, strategy=AppCluster())], nodes(5)))
    assert any("etcd has 4 members" in w for w in r.warnings)
    assert place(arch([svc("etcd", replicas=3, strategy=AppCluster())], nodes(5))).warnings == ()


def test_unmanaged_active_passive_runs_once():
    r = place(arch([svc("vol", strategy=ActivePassive())], nodes(3)))
    assert len(nodes_of(r, "vol")) == 1


# -- verification of a hand-written placement ---------------------------------


def test_verify_reports_every_violation():
    ns = nodes(4, role=("a", "b"), racks=["r1", "r1", "r2", "r2"], cpu=4) + nodes(1, role="other", prefix="o")
    a = arch(
        [
            svc(
                "db",
                on="a",
                replicas=3,
                anti_affinity="rack",
                pin=["n4"],
                exclude=["n3"],
                ports=[5432],
                requests=Resources(cpu=3),
                strategy=AppCluster(),
            ),
            svc("side", on="a", replicas=1, colocate=["db"]),
            svc("web", on="b", ports=[5432], requests=Resources(cpu=2)),
        ],
        ns,
    )
    hand = Placement({"db": ("n1", "n2", "n3", "o1"), "side": ("n4",), "web": ("n1", "n2", "n3")})
    v = verify(a, hand)
    text = "\n".join(v)
    assert "db needs 3 instances, but the placement has 4" in text
    assert "db runs on the a role, but o1 has roles other" in text
    assert "db excludes node n3, but is placed there" in text
    assert "db is pinned to n4, but not placed there" in text
    assert "db must not have two instances in one rack (anti_affinity='rack'), but n1, n2 share rack r1" in text
    assert "side must run only on nodes that run db (colocate), but n4 does not run db" in text
    assert "web runs on every node of the b role (replicas='all'), but is missing on n4" in text
    assert "node n1 has 4 cpu, but db, web request 5 there" in text
    assert "port 5432 on node n1 is bound by both db and web" in text


def test_fully_pinned_model_is_verified_not_solved():
    ns = nodes(3, role=("a", "b"), racks=["r1", "r1", "r2"])
    ok = arch(
        [
            svc("x", on="a", replicas=2, pin=["n1", "n3"], anti_affinity="rack"),
            svc("y", on="b", replicas=1, pin=["n2"], ports=[80]),
        ],
        ns,
    )
    assert place(ok).placement.to_dict() == {"x": ["n1", "n3"], "y": ["n2"]}
    bad = arch(
        [
            svc("x", on="a", replicas=2, pin=["n1", "n2"], anti_affinity="rack", ports=[80]),
            svc("y", on="b", replicas=1, pin=["n2"], ports=[80]),
        ],
        ns,
    )
    with pytest.raises(Unplaceable) as e:
        place(bad)
    assert e.value.explanations == [
        "x must not have two instances in one rack (anti_affinity='rack'), but n1, n2 share rack r1",
        "port 80 on node n2 is bound by both x and y",
    ]


def test_same_bytes_in_separate_processes(tmp_path):
    import subprocess

    outs = [
        subprocess.run(
            [
                sys.executable,
                "-m",
                "hamodel.cli",
                "place",
                str(ROOT / "models/multirack.py"),
                "--json",
                "--fresh",
                "--lock",
                str(tmp_path / f"{i}.json"),
            ],
            capture_output=True,
            check=True,
        ).stdout
        for i in range(2)
    ]
    assert outs[0] == outs[1] and b'"cinder-volume"' in outs[0]
    assert (tmp_path / "0.json").read_bytes() == (tmp_path / "1.json").read_bytes()


def test_verify_accepts_what_place_produces():
    a = load(ROOT / "models/openstack_keepalived.py")
    assert verify(a, place(a).placement) == []


# -- VRRP allocation ------------------------------------------------------------


def _vrrp_arch(reserved=(), fixed=None, holders=3, extra=()):
    # The whole id space (not DEFAULT_VRID_RANGE): these tests count from 1.
    net = Network("mgmt", subnet="10.0.0.0/24", reserved_vrids=list(reserved), vrid_range=(1, 255))
    vips = [VirtualIP("vip", "10.0.0.100", network=net), VirtualIP("vip2", "10.0.0.101", network=net)]
    ns = [Node(f"lb{i}", roles={"lb"}, addresses={net: f"10.0.0.{i}"}) for i in range(1, holders + 1)]
    services = [
        Service("haproxy", on="lb", strategy=Vrrp("vip")),
        Service("keepalived-2", process="haproxy", on="lb", strategy=Vrrp("vip2", vrid=fixed)),
        Service("api", on="lb", strategy=BehindVip("vip", port=443)),
        *extra,
    ]
    return Architecture("v", nodes=ns, networks=[net], vips=vips, services=services)


def test_vrid_avoids_reserved_and_fixed_ids_and_priorities_are_distinct():
    r = place(_vrrp_arch(reserved=[1, 2], fixed=3))
    g = {x.service: x for x in r.vrrp_groups}
    assert g["keepalived-2"].vrid == 3
    assert g["haproxy"].vrid == 4  # 1, 2 reserved on the segment, 3 fixed by the other group
    for x in r.vrrp_groups:
        assert sorted(x.priorities.values()) == sorted(set(x.priorities.values()))
        assert x.master == max(x.priorities, key=x.priorities.get)
        assert all(1 <= p <= 254 for p in x.priorities.values())
    assert r.nonlocal_bind_nodes == frozenset({"lb1", "lb2", "lb3"})  # haproxy holds the fronted VIP


def test_vrid_exhausted_is_explained():
    with pytest.raises(Unplaceable) as e:
        place(_vrrp_arch(reserved=list(range(1, 256)[:254]) + [255][:0], fixed=255))
    assert "needs a VRRP router id on network mgmt, but all 255 of vrid_range 1-255 are used" in e.value.explanations[0]


def test_vrids_from_the_lock_survive_a_new_group(tmp_path):
    net = Network("mgmt", subnet="10.0.0.0/24", vrid_range=(1, 255))
    vips = [VirtualIP(f"vip{i}", f"10.0.0.{100 + i}", network=net) for i in (1, 2)]
    ns = [Node(f"lb{i}", roles={"lb"}, addresses={net: f"10.0.0.{i}"}) for i in (1, 2, 3)]
    old = Architecture(
        "v", nodes=ns, networks=[net], vips=vips, services=[Service("haproxy", on="lb", strategy=Vrrp("vip2"))]
    )
    lock = tmp_path / "v.lock.json"
    write_lock(lock, place(old))
    assert {g.service: g.vrid for g in place(old).vrrp_groups} == {"haproxy": 1}
    # A group added before the existing one would take id 1 on a fresh allocation ...
    new = Architecture(
        "v",
        nodes=ns,
        networks=[net],
        vips=vips,
        services=[
            Service("edge", process="haproxy", on="lb", strategy=Vrrp("vip1")),
            Service("haproxy", on="lb", strategy=Vrrp("vip2")),
        ],
    )
    assert {g.service: g.vrid for g in place(new).vrrp_groups} == {"edge": 1, "haproxy": 2}
    # ... but with the lock the existing group keeps its id and the new one gets the next free one.
    kept = place(new, previous=read_lock(lock, new))
    assert {g.service: g.vrid for g in kept.vrrp_groups} == {"edge": 2, "haproxy": 1}
    # An id that became reserved on the segment is given up.
    reserved = new.model_copy(update={"networks": [net.model_copy(update={"reserved_vrids": [1]})]})
    assert {g.service: g.vrid for g in place(reserved, previous=read_lock(lock, new)).vrrp_groups} == {
        "edge": 2,
        "haproxy": 3,
    }


# -- lock file and stability -------------------------------------------------------


def _cluster(n):
    racks = [f"r{1 + (i % 3)}" for i in range(n)]
    return arch(
        [
            svc("galera", replicas=3, anti_affinity="rack", strategy=AppCluster()),
            svc("sched", replicas=2),
            svc("vol", strategy=ActivePassive()),
            svc("agent", strategy=Sharded()),
        ],
        nodes(n, racks=racks),
    )


def test_lock_round_trip_and_stability_when_a_node_is_added(tmp_path):
    lock = tmp_path / "m.lock.json"
    first = place(_cluster(6))
    write_lock(lock, first)
    data = lock.read_bytes()
    write_lock(lock, first)
    assert lock.read_bytes() == data  # deterministic bytes
    bigger = _cluster(7)
    prev = read_lock(lock, bigger)
    assert prev == first.placement
    second = place(bigger, previous=prev)
    assert second.moved == 0
    for s in ("galera", "sched", "vol"):
        assert nodes_of(second, s) == nodes_of(first, s)
    assert nodes_of(second, "agent") == tuple(f"n{i}" for i in range(1, 8))  # "all" grows


def test_only_instances_that_must_move_move(tmp_path):
    first = place(_cluster(6))
    gone = nodes_of(first, "galera")[0]
    smaller = Architecture("t", nodes=[n for n in _cluster(6).nodes if n.name != gone], services=_cluster(6).services)
    lock = tmp_path / "x.lock.json"
    write_lock(lock, first)
    prev = read_lock(lock, smaller)  # the removed node is ignored
    assert gone not in prev.nodes_of("galera")
    second = place(smaller, previous=prev)
    lost = sum(1 for s in ("galera", "sched", "vol") if gone in nodes_of(first, s))
    assert second.moved == 0  # the lost instances were not "kept" ones: nothing else moved
    for s in ("galera", "sched", "vol"):
        kept = set(nodes_of(first, s)) - {gone}
        assert kept <= set(nodes_of(second, s)), s
    assert lost >= 1


def test_previous_placement_is_kept_even_against_the_default_choice():
    a = _cluster(6)
    fresh = place(a)
    other = next(n for n in ("n1", "n2", "n3", "n4", "n5", "n6") if n not in nodes_of(fresh, "vol"))
    prev = Placement({**fresh.placement.instances, "vol": (other,)})
    r = place(a, previous=prev)
    assert nodes_of(r, "vol") == (other,) and r.moved == 0


def test_read_lock_ignores_unknown_entries_and_rejects_garbage(tmp_path):
    a = _cluster(3)
    p = tmp_path / "l.json"
    p.write_text(json.dumps({"format": 1, "placement": {"galera": ["n1", "zz"], "gone": ["n1"]}}))
    assert read_lock(p, a).to_dict() == {"galera": ["n1"]}
    assert read_lock(tmp_path / "missing.json", a) is None
    p.write_text("{not json")
    with pytest.raises(Exception, match="not a placement lock file"):
        read_lock(p, a)


def test_lock_path_beside_the_model():
    assert lock_path_for("models/x.py") == Path("models/x.lock.json")
    assert lock_path_for("exported.json") == Path("exported.lock.json")


# -- larger instances use the hierarchical encoding -----------------------------------


def test_synthetic_instance_places_and_verifies():
    from hamodel.testing import instance_total, synthetic

    a = synthetic(racks=30, nodes=300, instances=900, seed=3)
    r = place(a)
    assert verify(a, r.placement) == []
    assert sum(len(ns) for ns in r.placement.instances.values()) == instance_total(a)


def test_a_large_model_is_placed_greedily_and_kept_with_its_lock(monkeypatch):
    # Over FINE_LIMIT the greedy pass places it without Z3; when it gives up the
    # exact search places the same model; and a lock from the greedy result is
    # kept instance for instance (no move).
    from hamodel.analysis import placement as P
    from hamodel.analysis import placement_solver as S
    from hamodel.testing import synthetic

    a = synthetic(racks=30, nodes=300, instances=900, seed=3)
    pr = S.build_problem(a, {}, P._services(a, None))
    assert not pr.fine
    got, stats = S.solve(pr)
    assert stats.get("greedy") is True
    assert verify(a, Placement({s: tuple(ns) for s, ns in got.items()})) == []
    first = place(a)
    again = place(a, previous=first.placement)
    assert again.placement.to_dict() == first.placement.to_dict() and again.moved == 0
    monkeypatch.setattr(S, "greedy", lambda pr: None)  # the exact search alone, as before
    exact, stats = S.solve(pr)
    assert "greedy" not in stats
    assert verify(a, Placement({s: tuple(ns) for s, ns in exact.items()})) == []


# -- CLI -----------------------------------------------------------------------------


def test_cli_place_writes_lock_and_prints_json(tmp_path):
    from typer.testing import CliRunner

    from hamodel.cli import app

    model = tmp_path / "m.py"
    model.write_text((ROOT / "models/multirack.py").read_text())
    res = CliRunner().invoke(app, ["place", str(model), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["placement"]["cinder-volume"] == ["ctl-2"] and out["moved"] == 0
    assert {"vrrp_groups", "warnings"} <= set(out)
    assert json.loads((tmp_path / "m.lock.json").read_text())["placement"] == out["placement"]
    res = CliRunner().invoke(app, ["place", str(model)])
    assert res.exit_code == 0 and "placement" in res.stdout and "0 instance(s) moved" in res.stdout


def test_cli_place_exit_codes(tmp_path):
    from typer.testing import CliRunner

    from hamodel.cli import app

    bad = tmp_path / "bad.py"
    bad.write_text(
        "from hamodel import Architecture, Node, Rack, Service\n"
        "from hamodel.strategies import AppCluster\n"
        "architecture = Architecture('x', nodes=[Node(f'n{i}', roles={'db'}, domains=[Rack('r1')]) for i in (1, 2, 3)],\n"
        "    services=[Service('galera', on='db', replicas=3, anti_affinity='rack', strategy=AppCluster())])\n"
    )
    res = CliRunner().invoke(app, ["place", str(bad)])
    assert res.exit_code == 1
    assert "galera needs 3 members on distinct racks" in res.output
    assert not (tmp_path / "bad.lock.json").exists()
    res = CliRunner().invoke(app, ["place", str(tmp_path / "missing.py")])
    assert res.exit_code == 2


def test_vrrp_priorities_are_distinct_in_range_and_spaced():
    """Steps of 10 while they fit (the backups' takeover timers 39 ms apart), never
    outside 1..254, always distinct and decreasing in member order."""
    from hamodel.analysis.vrrp import priorities

    for n in (1, 2, 3, 6, 16, 17, 100, 155, 156, 254):
        p = list(priorities([f"n{i}" for i in range(n)]).values())
        assert p == sorted(p, reverse=True) and len(set(p)) == n and min(p) >= 1 and max(p) <= 254
        assert p[-1] == min(100, 255 - n)
    assert list(priorities(["a", "b", "c"]).values()) == [120, 110, 100]
