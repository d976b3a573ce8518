"""Dependencies follow the network (issue 23): a consumer instance counts
only where it reaches a serving instance of its provider, over the networks
as the failure leaves them; local and soft dependencies.

Every expected cut set here is reasoned by hand in the test's docstring,
then checked in all three back ends of the rules (Python evaluation, Z3,
fault-tree gates) and against brute-force enumeration."""

from __future__ import annotations

import pytest

from hamodel import Architecture, Local, Network, Node, Service, Soft, Switch, VirtualIP
from hamodel.analysis.components import view
from hamodel.analysis.cutsets import Analyzer, brute_force_cut_sets
from hamodel.analysis.faulttree import tree_cut_sets, trees
from hamodel.analysis.semantics import DEGRADED, DOWN, Evaluation, evaluate
from hamodel.deployment import Placement
from hamodel.errors import ModelError
from hamodel.strategies import AppCluster, BehindVip, Coordinated, Vrrp

LINK = "link:lan:s1~s2"


def two_switches(links=(("s1", "s2"),), switches=("s1", "s2"), front=None):
    """app on a1, a2 behind s1; a three-member db cluster on d1..d3 behind
    s2; app depends on db. ``front``: "db" puts db behind a VIP held on the
    db nodes, "lb" behind a VIP held by two load balancers behind s1."""
    lan = Network(
        "lan",
        subnet="10.0.0.0/24",
        switches=[Switch(s) for s in switches],
        links=links if isinstance(links, str) else list(links),
    )
    vip = VirtualIP("vip", "10.0.0.100", network=lan)
    nodes = [Node(f"a{i}", roles={"app"}, addresses={lan: f"10.0.0.1{i}"}, switch="s1") for i in (1, 2)]
    nodes += [Node(f"d{i}", roles={"db"}, addresses={lan: f"10.0.0.2{i}"}, switch="s2") for i in (1, 2, 3)]
    services = [Service("app", on="app", depends_on=["db"], strategy=Coordinated())]
    placement = {"app": ["a1", "a2"], "db": ["d1", "d2", "d3"]}
    if front is None:
        services.append(Service("db", on="db", strategy=AppCluster()))
    else:
        services.append(Service("db", on="db", strategy=AppCluster(access=BehindVip(vip, port=3306))))
        if front == "lb":
            nodes += [Node(f"l{i}", roles={"lb"}, addresses={lan: f"10.0.0.3{i}"}, switch="s1") for i in (1, 2)]
            services.append(Service("haproxy", on="lb", strategy=Vrrp(vip, track="haproxy")))
            placement["haproxy"] = ["l1", "l2"]
        else:
            services.append(Service("haproxy", on="db", strategy=Vrrp(vip, track="haproxy")))
            placement["haproxy"] = ["d1", "d2", "d3"]
    arch = Architecture("reach", nodes=nodes, networks=[lan], vips=[vip] if front else [], services=services)
    return view(arch, Placement(placement))


def all_engines(v, s, k):
    """Cut sets of ``s`` up to ``k``, asserted equal in Z3, the fault tree
    and brute force over the plain-Python evaluation."""
    z3_sets, complete = Analyzer(v).cut_sets(s, k)
    assert complete
    brute = brute_force_cut_sets(sorted(v.slice(s)), k, lambda f: not Evaluation(v, f).up(s))
    assert [tuple(c) for c in z3_sets] == [tuple(c) for c in brute], (s, z3_sets, brute)
    # The bottom-up tree enumeration takes coherent trees only (a two-node fence race has a NOT
    # gate), as tests/integration/test_faulttree.py compares them; the others are SCRAM's there.
    if trees(v, [s])[s].coherent:
        tree = tree_cut_sets(v, k, [s])[s]
        assert sorted(map(tuple, tree)) == sorted(map(tuple, brute)), (s, tree, brute)
    return {frozenset(c) for c in brute}


def test_one_link_between_consumer_and_provider_is_a_single_cut():
    """Cutting s1~s2 leaves every app instance without any db member: app
    is down although both services still run. Single cuts of app: s1 (both
    app nodes), s2 (every db member) and the link; db itself keeps the
    link out of its own cut sets (its members sit behind s2 together)."""
    v = two_switches()
    singles = set(all_engines(v, "app", 1))
    assert singles == {frozenset({"switch:s1"}), frozenset({"switch:s2"}), frozenset({LINK})}
    assert LINK not in {c for cs in all_engines(v, "db", 1) for c in cs}
    state = evaluate(v, {LINK})
    assert state["app"] == DOWN and state["db"] != DOWN


def test_two_paths_make_the_link_a_double_cut():
    """With a third switch s3 joined to both (a mesh), app loses db only
    when both paths are cut: {s1~s2, s1~s3}, {s1~s2, s2~s3}, {s1~s2, s3}."""
    v = two_switches(links="mesh", switches=("s1", "s2", "s3"))
    sets = all_engines(v, "app", 2)
    assert frozenset({LINK}) not in sets
    assert {
        frozenset({LINK, "link:lan:s1~s3"}),
        frozenset({LINK, "link:lan:s2~s3"}),
        frozenset({LINK, "switch:s3"}),
    } <= sets


@pytest.mark.parametrize("front", ["db", "lb"])
def test_a_vip_in_front_of_the_provider(front):
    """Through a VIP: with the holders beside db (behind s2), app cannot
    reach a holder once the link is cut; with the holders beside app
    (behind s1), the holder cannot reach a db member. Either way the link
    is a single cut of app."""
    v = two_switches(front=front)
    singles = all_engines(v, "app", 1)
    assert frozenset({LINK}) in singles
    if front == "lb":
        # db's own clients come through the same holders: cut off as well.
        assert frozenset({LINK}) in all_engines(v, "db", 1)


def test_cause_text_names_the_path():
    """The finding says which link separates whom."""
    from hamodel.analysis.failures import Analysis

    v = two_switches()
    an = Analysis(v.arch, v.placement)
    f = next(f for f in an.findings(k=1) if f.id == "spof:app")
    assert [LINK] in f.details["cut_sets"]
    assert "link lan:s1~s2 separates every app instance from every db instance" in f.impact, f.impact
    assert "second path" in f.mitigation


def kube(local=True, soft=False):
    """Three control-plane nodes, one switch: apiserver and etcd on each;
    the apiserver needs the etcd on its own node (kubeadm stacked etcd) or
    any etcd member; a cache it only uses softly."""
    lan = Network("lan", subnet="10.0.0.0/24", switches=[Switch("sw")])
    nodes = [Node(f"cp{i}", roles={"cp"}, addresses={lan: f"10.0.0.1{i}"}) for i in (1, 2, 3)]
    dep = [Local("etcd") if local else "etcd"] + ([Soft("cache")] if soft else [])
    services = [
        Service("etcd", on="cp", strategy=AppCluster()),
        Service("cache", on="cp", replicas=1, strategy=Coordinated()),
        Service("apiserver", on="cp", depends_on=dep, strategy=Coordinated()),
    ]
    arch = Architecture("kube", nodes=nodes, networks=[lan], services=services)
    return view(arch, Placement({"etcd": ["cp1", "cp2", "cp3"], "apiserver": ["cp1", "cp2", "cp3"], "cache": ["cp1"]}))


def test_local_dependency_pairs_each_instance_with_its_own_node():
    """With Local("etcd"), apiserver on cp_i serves only if etcd on cp_i is
    in the quorum. Losing etcd on cp1 and the apiserver process on cp2 and
    cp3 is a cut (3 components); with a plain dependency it is not (cp1's
    apiserver reaches etcd on cp2)."""
    v = kube(local=True)
    failed = {"proc:etcd@cp1", "proc:apiserver@cp2", "proc:apiserver@cp3"}
    assert not Evaluation(v, failed).up("apiserver")
    assert Evaluation(kube(local=False), failed).up("apiserver")
    sets = all_engines(v, "apiserver", 2)
    # Two etcd processes: no quorum anywhere.
    assert frozenset({"proc:etcd@cp1", "proc:etcd@cp2"}) in sets
    assert all_engines(v, "apiserver", 3) >= sets


def test_soft_dependency_degrades_without_stopping():
    """The cache is one instance: without it apiserver is degraded, not down,
    and the cache's process is in no cut set of apiserver."""
    v = kube(soft=True)
    assert evaluate(v, {"proc:cache@cp1"})["apiserver"] == DEGRADED
    assert all("proc:cache@cp1" not in c for c in all_engines(v, "apiserver", 1))


def test_local_dependency_refused_where_it_cannot_be_placed():
    """A Local dependency on a service that never runs on the consumer's
    nodes names the object and the field."""
    lan = Network("lan", subnet="10.0.0.0/24")
    nodes = [
        Node("a", roles={"app"}, addresses={lan: "10.0.0.1"}),
        Node("b", roles={"db"}, addresses={lan: "10.0.0.2"}),
    ]
    with pytest.raises(ModelError) as e:
        Architecture(
            "bad",
            nodes=nodes,
            networks=[lan],
            services=[
                Service("db", on="db", strategy=Coordinated()),
                Service("app", on="app", depends_on=[Local("db")], strategy=Coordinated()),
            ],
        )
    assert "services[app].local_deps" in str(e.value) and "db" in str(e.value)


def test_read_cut_sets_agree_with_brute_force():
    """Reads of an elected service (Z3, from the rules) against brute force
    over the plain-Python rules, on random data-centre models."""
    from hypothesis import HealthCheck, given, settings
    from model_strategies import dc_models

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(dc_models())
    def check(model):
        arch, placement = model
        v = view(arch, placement)
        z3_sets, complete = Analyzer(v).read_cut_sets("leader", 2)
        assert complete
        brute = brute_force_cut_sets(sorted(v.slice("leader")), 2, lambda f: not Evaluation(v, f).read_up("leader"))
        assert [tuple(c) for c in z3_sets] == [tuple(c) for c in brute]

    check()


def test_clients_come_in_through_a_switch():
    """Clients of db enter at s1 (Service.clients): with the link cut they
    reach no member (all behind s2), so db is down for them, although the
    cluster itself keeps quorum; without clients= the link is no cut of db."""
    v = two_switches()
    arch = v.arch.replace_service("db", clients="s1")
    w = view(arch, v.placement)
    assert frozenset({LINK}) in all_engines(w, "db", 1)
    assert frozenset({LINK}) not in all_engines(v, "db", 1)


def test_clients_must_name_a_switch_of_the_vip_network():
    v = two_switches(front="db")
    with pytest.raises(ModelError) as e:
        v.arch.replace_service("db", clients="nowhere")
    assert "services[db].clients" in str(e.value)
