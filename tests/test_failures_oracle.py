"""Evidence: Z3 cut sets agree exactly with brute-force enumeration through the
independent plain-Python evaluator (hamodel.analysis.semantics)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hamodel import Architecture, Network, Node, PacemakerCluster, Rack, Service, Switch, VirtualIP
from hamodel.analysis.components import view
from hamodel.analysis.cutsets import Analyzer, brute_force_cut_sets
from hamodel.analysis.semantics import Evaluation
from hamodel.deployment import Placement
from hamodel.loader import load
from hamodel.strategies import ActivePassive, AppCluster, BehindVip, Coordinated, PacemakerVip, Sharded, Vrrp

ROOT = Path(__file__).resolve().parents[1]


def _oracle(v, s, k, comps=None):
    comps = v.slice(s) if comps is None else comps
    return brute_force_cut_sets(comps, k, lambda f: not Evaluation(v, f).up(s))


def _split_oracle(v, s, k, comps=None):
    comps = v.slice(s) if comps is None else comps
    return brute_force_cut_sets(comps, k, lambda f: Evaluation(v, f).split_brain(s))


@pytest.mark.parametrize("name", ["openstack_keepalived", "openstack_pacemaker"])
def test_reference_models_cut_sets_match_brute_force(name):
    from hamodel.analysis.placement import place

    arch = load(ROOT / "models" / f"{name}.py")
    r = place(arch)
    v = view(arch, r.placement, r.vrrp_groups)
    an = Analyzer(v)
    for s in ["haproxy", "galera", "keystone", "cinder-volume", "neutron-lbaas-agent", "nova-conductor"]:
        z3_sets, complete = an.cut_sets(s, 2)
        assert complete
        assert z3_sets == _oracle(v, s, 2), s
    assert an.split_brain("haproxy", 2) == _split_oracle(v, "haproxy", 2)


# -- random small models --------------------------------------------------------

STRATS = ["vrrp", "pcmk_vip", "behind", "cluster", "cluster_access", "coord", "ap", "ap_pcmk", "sharded"]


@st.composite
def small_models(draw):
    n_nodes = draw(st.integers(2, 4))
    n_racks = draw(st.integers(1, n_nodes))
    n_sw = draw(st.integers(1, 3))
    switches = [Switch(f"sw{i}") for i in range(n_sw)]
    links = "mesh" if draw(st.booleans()) or n_sw < 3 else [("sw0", "sw1"), ("sw1", "sw2")]
    net = Network("lan", subnet="10.0.0.0/24", switches=switches, links=links)
    vip = VirtualIP("vip", "10.0.0.100", network=net)
    nodes = [Node(f"n{i}", roles={"r"}, domains=[Rack(f"rack{draw(st.integers(0, n_racks - 1))}")],
                  addresses={net: f"10.0.0.{10 + i}"}, switch=switches[draw(st.integers(0, n_sw - 1))])
             for i in range(n_nodes)]
    names = [n.name for n in nodes]
    n_svc = draw(st.integers(1, 4))
    kinds = [draw(st.sampled_from(STRATS)) for _ in range(n_svc)]
    services, placement = [], {}
    has_holder = False
    for i, kind in enumerate(kinds):
        name = f"s{i}"
        deps = [f"s{j}" for j in range(i) if draw(st.booleans()) and draw(st.booleans())]
        inst = sorted(draw(st.sets(st.sampled_from(names), min_size=1, max_size=n_nodes)))
        kw = {}
        if kind in ("vrrp", "pcmk_vip") and not has_holder:
            has_holder = True
            strat = Vrrp(vip, track=name) if kind == "vrrp" else PacemakerVip(vip)
        elif kind in ("vrrp", "pcmk_vip", "behind"):
            strat = BehindVip(vip, port=1000 + i)
        elif kind == "cluster":
            strat = AppCluster()
        elif kind == "cluster_access":
            strat = AppCluster(access=BehindVip(vip, port=1000 + i))
        elif kind == "coord":
            strat = Coordinated()
        elif kind == "ap":
            strat = ActivePassive()
            kw["replicas"] = 1
            inst = inst[:1]
        elif kind == "ap_pcmk":
            strat = ActivePassive(manager="pacemaker")
        else:
            strat = Sharded()
        services.append(Service(name, on="r", depends_on=deps, strategy=strat, **kw))
        placement[name] = inst
    pcmk = PacemakerCluster(on=["r"], fencing=draw(st.booleans())) if draw(st.booleans()) or any(
        k in ("pcmk_vip", "ap_pcmk") for k in kinds) else None
    arch = Architecture("random", nodes=nodes, networks=[net], vips=[vip], services=services, pacemaker=pcmk)
    return arch, Placement(placement)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_models(), st.integers(1, 2))
def test_random_models_z3_equals_brute_force(model, k):
    arch, placement = model
    v = view(arch, placement)
    an = Analyzer(v)
    for s in v.services:
        z3_sets, complete = an.cut_sets(s, k)
        assert complete
        # The oracle searches *every* component, not the slice: slicing loses nothing.
        assert z3_sets == _oracle(v, s, k, v.components), s
        for cs in z3_sets:  # every counterexample replays through the evaluator
            assert not Evaluation(v, cs).up(s)
            assert all(Evaluation(v, set(cs) - {c}).up(s) for c in cs)
        cex = an.counterexample(s, k)
        assert (cex is None) == (not z3_sets)
        if cex is not None:
            assert not Evaluation(v, cex).up(s)
    for s in v.holders:
        assert an.split_brain(s, k) == _split_oracle(v, s, k, v.components)


def test_brute_force_agrees_at_k3_on_a_small_model():
    arch = load(ROOT / "models" / "openstack_keepalived.py")
    placement = Placement({s.name: ["ctl-1", "ctl-2", "ctl-3"] if s.name != "cinder-volume" else ["ctl-2"]
                           for s in arch.services})
    v = view(arch, placement)
    an = Analyzer(v)
    for s in ["galera", "haproxy"]:
        assert an.cut_sets(s, 3)[0] == _oracle(v, s, 3)


def test_exact_availability_equals_state_enumeration():
    """Shannon expansion over cut sets == summing 2^n failure states."""
    from hamodel import Reliability
    from hamodel.analysis.availability import availability_of, component_reliability

    arch = load(ROOT / "models" / "openstack_keepalived.py")
    arch = arch.model_copy(update={"reliability": {
        "node": Reliability(availability=0.99), "rack": Reliability(availability=0.999),
        "switch": Reliability(availability=0.995), "link": Reliability(availability=0.98)}})
    placement = Placement({s.name: ["ctl-1", "ctl-2", "ctl-3"] for s in arch.services if s.name != "cinder-volume"}
                          | {"cinder-volume": ["ctl-1"]})
    v = view(arch, placement)
    an = Analyzer(v)
    for s in ["memcached", "cinder-volume"]:
        sets, complete = an.cut_sets(s, None)
        got = availability_of(v, s, sets, complete)
        comps = sorted(c for c in v.slice(s) if component_reliability(v, c) is not None)
        q = {c: 1 - component_reliability(v, c).steady_state for c in comps}
        exact = 0.0
        for bits in itertools.product((False, True), repeat=len(comps)):
            failed = {c for c, b in zip(comps, bits) if b}
            if not Evaluation(v, failed).up(s):
                p = 1.0
                for c, b in zip(comps, bits):
                    p *= q[c] if b else 1 - q[c]
                exact += p
        assert got.exact and got.unavailability == pytest.approx(exact, rel=1e-9, abs=1e-15)


# -- random data-centre models: redundant power, bonds, trunks, witnesses,
#    delegated quorum, Pacemaker two_node / qdevice / fencing (issue 10) ---------


@st.composite
def dc_models(draw):
    from hamodel import FailureDomain, Power, Trunk
    from hamodel.strategies import Elected, Witness

    n_nodes = draw(st.integers(2, 4))
    room = FailureDomain("room", kind="room")
    feeds = [Power("pa", parent="room" if draw(st.booleans()) else None), Power("pb")]
    sws = [Switch(f"sw{i}") for i in range(draw(st.integers(2, 3)))]
    shared = draw(st.booleans())
    trunk = [Trunk("t01", "sw0", "sw1")] + ([("sw1", "sw2")] if len(sws) == 3 else [])
    lan = Network("lan", subnet="10.0.0.0/24", switches=sws, links=trunk if shared else "mesh")
    stor = Network("stor", subnet="10.1.0.0/24", switches=sws[:2], links=[Trunk("t01", "sw0", "sw1")] if shared
                   else "mesh")
    two_nets = draw(st.booleans())
    vip = VirtualIP("vip", "10.0.0.100", network=lan)
    nodes = []
    for i in range(n_nodes):
        power = draw(st.sampled_from(["dual", "a", "b"]))
        bond = draw(st.booleans())
        home = draw(st.integers(0, len(sws) - 1))
        switch = [sws[home], sws[(home + 1) % len(sws)]] if bond else sws[home]
        addresses = {lan: f"10.0.0.{10 + i}"}
        if two_nets and home < 2 and (not bond or home + 1 < 2):  # stor spans sw0 and sw1 only
            addresses[stor] = f"10.1.0.{10 + i}"
        kw = {"power": feeds} if power == "dual" else {"domains": [feeds[0] if power == "a" else feeds[1]]}
        nodes.append(Node(f"n{i}", roles={"r"}, addresses=addresses, switch=switch, **kw))
    names = [n.name for n in nodes]

    def some(min_size=1):
        return sorted(draw(st.sets(st.sampled_from(names), min_size=min_size, max_size=n_nodes)))

    services, placement = [], {}
    members = some()
    services.append(Service("coord", on="r", strategy=AppCluster()))
    placement["coord"] = members
    if draw(st.booleans()):
        services.append(Service("wit", on="r", strategy=Witness("coord")))
        placement["wit"] = [draw(st.sampled_from(names))]
    services.append(Service("leader", on="r", strategy=Elected(by="coord")))
    placement["leader"] = some()
    kind = draw(st.sampled_from(["vrrp", "pcmk"]))
    services.append(Service("lb", on="r", strategy=Vrrp(vip) if kind == "vrrp" else PacemakerVip(vip)))
    placement["lb"] = some()
    services.append(Service("ap", on="r", strategy=ActivePassive(manager="pacemaker")))
    placement["ap"] = some()
    services.append(Service("web", on="r", depends_on=["leader"] if draw(st.booleans()) else [],
                            strategy=BehindVip(vip, port=80)))
    placement["web"] = some()
    qd = draw(st.sampled_from(["none", "two_node", "qdevice"]))
    pcmk_on = ["r"]
    if qd == "qdevice":
        nodes.append(Node("q", roles={"arb"}, addresses={lan: "10.0.0.99"}, switch=sws[-1], domains=[feeds[1]]))
    elif qd == "two_node" and n_nodes != 2:
        qd = "none"
    pcmk = PacemakerCluster(on=pcmk_on, fencing=draw(st.booleans()), two_node=qd == "two_node",
                            qdevice="q" if qd == "qdevice" else None)
    arch = Architecture("dc", domains=[room], nodes=nodes, networks=[lan, stor] if two_nets else [lan], vips=[vip],
                        services=services, pacemaker=pcmk)
    return arch, Placement(placement)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dc_models(), st.integers(1, 2))
def test_random_datacentre_models_z3_equals_brute_force(model, k):
    arch, placement = model
    v = view(arch, placement)
    an = Analyzer(v)
    for s in v.services:
        z3_sets, complete = an.cut_sets(s, k)
        assert complete
        assert z3_sets == _oracle(v, s, k, v.components), s
    for s in [*v.holders, "coord"]:
        assert an.split_brain(s, k) == _split_oracle(v, s, k, v.components), s
    assert an.split_brain("leader", k) == [] == _split_oracle(v, "leader", k, v.components)
