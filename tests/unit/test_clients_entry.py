"""Service(clients=...) beyond one switch (issue 23): a failure domain
(clients enter through any switch inside it that carries the VIP's
network) and "external" through a named uplink; cut sets agree in Z3, the
fault tree and brute force; bad input names the field."""

from __future__ import annotations

import pytest
from test_reachability import all_engines

from hamodel import Architecture, FailureDomain, Network, Node, Service, Switch, VirtualIP
from hamodel.analysis.components import view
from hamodel.deployment import Placement
from hamodel.errors import ModelError
from hamodel.strategies import AppCluster, Vrrp


def room_model(**clients):
    """Switches s1 and s3 in room-a, s2 elsewhere, links s1~s2 and s3~s2;
    a three-member db cluster behind s2. Its clients come in as ``clients`` says."""
    lan = Network(
        "lan",
        subnet="10.0.0.0/24",
        switches=[Switch("s1", parent="room-a"), Switch("s2"), Switch("s3", parent="room-a")],
        links=[("s1", "s2"), ("s3", "s2")],
    )
    nodes = [Node(f"d{i}", roles={"db"}, addresses={lan: f"10.0.0.2{i}"}, switch="s2") for i in (1, 2, 3)]
    arch = Architecture(
        "rooms",
        domains=[FailureDomain("room-a", kind="room")],
        nodes=nodes,
        networks=[lan],
        services=[Service("db", on="db", strategy=AppCluster(), **clients)],
    )
    return view(arch, Placement({"db": ["d1", "d2", "d3"]}))


L12, L32 = "link:lan:s1~s2", "link:lan:s2~s3"


def test_clients_in_a_domain_come_in_through_any_of_its_switches():
    one = all_engines(room_model(clients="s1"), "db", 2)
    room = all_engines(room_model(clients="room-a"), "db", 2)
    assert frozenset({L12}) in one  # one entry switch: its link is a single cut
    assert frozenset({L12}) not in room and frozenset({L12, L32}) in room  # two entries: both links
    assert frozenset({"domain:room-a"}) in room  # the room (both its switches) gone: no way in
    assert frozenset({"switch:s1", "switch:s3"}) in room
    assert frozenset({L12}) not in all_engines(room_model(), "db", 1)  # default: anywhere


def test_external_clients_come_in_through_the_uplink():
    ext = all_engines(room_model(clients="external", uplink="s3"), "db", 1)
    assert frozenset({L32}) in ext and frozenset({L12}) not in ext


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"clients": "external"}, "services[db].uplink"),
        ({"clients": "external", "uplink": "room-a"}, "services[db].uplink"),
        ({"clients": "s1", "uplink": "s3"}, "services[db].uplink"),
        ({"clients": "nowhere"}, "services[db].clients"),
    ],
)
def test_bad_clients_name_the_field(kw, field):
    with pytest.raises(ModelError) as e:
        room_model(**kw)
    assert field in str(e.value)


def test_a_domain_without_a_switch_is_refused():
    lan = Network("lan", subnet="10.0.0.0/24", switches=[Switch("s2")])
    with pytest.raises(ModelError) as e:
        Architecture(
            "rooms",
            domains=[FailureDomain("room-a", kind="room")],
            networks=[lan],
            nodes=[Node("d1", roles={"db"}, addresses={lan: "10.0.0.21"}, switch="s2")],
            services=[Service("db", on="db", strategy=AppCluster(), clients="room-a")],
        )
    assert "services[db].clients" in str(e.value) and "room-a" in str(e.value)


def two_networks(**clients):
    """db members d1..d3 on two networks: lan through s2 (s1~s2 linked) and
    stor, d1 through t1 and d2, d3 through t2 (t1~t2 linked). No VIP."""
    lan = Network("lan", subnet="10.0.0.0/24", switches=[Switch("s1"), Switch("s2")], links=[("s1", "s2")])
    stor = Network("stor", subnet="10.1.0.0/24", switches=[Switch("t1"), Switch("t2")], links=[("t1", "t2")])
    nodes = [
        Node(
            f"d{i}",
            roles={"db"},
            interfaces=[
                {"network": "lan", "address": f"10.0.0.2{i}", "switch": "s2"},
                {"network": "stor", "address": f"10.1.0.2{i}", "device": "eth1", "switch": "t1" if i == 1 else "t2"},
            ],
        )
        for i in (1, 2, 3)
    ]
    arch = Architecture(
        "nets", nodes=nodes, networks=[lan, stor], services=[Service("db", on="db", strategy=AppCluster(), **clients)]
    )
    return view(arch, Placement({"db": ["d1", "d2", "d3"]}))


def network_cuts(v, k=2):
    """Cut sets without nodes and processes: the network's part."""
    return {c for c in all_engines(v, "db", k) if not any(x.startswith(("node:", "proc:")) for x in c)}


S2, T1, T2, LT = "switch:s2", "switch:t1", "switch:t2", "link:stor:t1~t2"


def test_clients_on_a_network_reach_the_service_over_it():
    """Reasoned by hand (the cluster keeps quorum over either network):
    default, clients anywhere: only losing both of d2, d3's ports (s2 and
    t2) leaves d1 alone. Clients on lan: every db port on lan is behind s2,
    so s2 alone is a cut; s1 and the link s1~s2 are not (s2 is itself a way
    in). Clients on stor: t1 and t2 together; t2 alone is no cut (d1
    answers through t1, quorum held over lan); the link t1~t2 alone is none
    (clients on t2's side reach d2, d3). Clients at t1 only: t1 alone, and
    the link t1~t2 once d1 is cut off from quorum (with s2)."""
    assert network_cuts(two_networks()) == {frozenset({S2, T2})}
    assert network_cuts(two_networks(clients="lan")) == {frozenset({S2})}
    assert network_cuts(two_networks(clients="stor")) == {frozenset({S2, T2}), frozenset({T1, T2})}
    assert network_cuts(two_networks(clients="t1")) == {frozenset({T1}), frozenset({S2, T2}), frozenset({LT, S2})}


def test_clients_on_the_vip_network_need_its_switches():
    """db behind a VIP held on the db nodes, on lan: clients on lan enter
    through s1 or s2, reach a holder over lan; the same cut sets as by
    default here (the holder is eligible only with its lan port), and k=3
    agrees in every back end."""
    v = room_model(clients="lan")
    assert v.clients["db"] == ("s1", "s2", "s3") and v.client_nets["db"] == "lan"
    assert all_engines(v, "db", 3) == all_engines(room_model(), "db", 3)


@pytest.mark.parametrize(
    "kw, words",
    [
        ({"clients": "stor"}, ["network 'stor'", "no node that can run 'db'"]),
        ({"clients": "empty"}, ["network 'empty' has no switch"]),
    ],
)
def test_bad_client_network_is_refused(kw, words):
    lan = Network("lan", subnet="10.0.0.0/24", switches=[Switch("s2")])
    stor = Network("stor", subnet="10.1.0.0/24", switches=[Switch("t1")])
    empty = Network("empty", subnet="10.2.0.0/24")
    with pytest.raises(ModelError) as e:
        Architecture(
            "nets",
            networks=[lan, stor, empty],
            nodes=[Node("d1", roles={"db"}, addresses={lan: "10.0.0.21"}, switch="s2")],
            services=[Service("db", on="db", strategy=AppCluster(), **kw)],
        )
    msg = str(e.value)
    assert "services[db].clients" in msg and all(w in msg for w in words), msg


def test_clients_on_another_network_than_the_vip_are_refused():
    lan = Network("lan", subnet="10.0.0.0/24", switches=[Switch("s1")])
    edge = Network("edge", subnet="10.9.0.0/24", switches=[Switch("e1")])
    vip = VirtualIP("vip", "10.0.0.100", network=lan)
    with pytest.raises(ModelError) as e:
        Architecture(
            "nets",
            networks=[lan, edge],
            vips=[vip],
            nodes=[
                Node(
                    f"d{i}",
                    roles={"db"},
                    interfaces=[
                        {"network": "lan", "address": f"10.0.0.2{i}", "switch": "s1"},
                        {"network": "edge", "address": f"10.9.0.2{i}", "device": "eth1", "switch": "e1"},
                    ],
                )
                for i in (1, 2)
            ],
            services=[Service("db", on="db", strategy=Vrrp(vip), clients="edge")],
        )
    msg = str(e.value)
    assert "services[db].clients" in msg and "'edge'" in msg and "network 'lan'" in msg, msg


def test_a_name_both_network_and_switch_is_refused():
    lan = Network("lan", subnet="10.0.0.0/24", switches=[Switch("lan")])
    with pytest.raises(ModelError) as e:
        Architecture(
            "nets",
            networks=[lan],
            nodes=[Node("d1", roles={"db"}, addresses={lan: "10.0.0.21"}, switch="lan")],
            services=[Service("db", on="db", strategy=AppCluster(), clients="lan")],
        )
    assert "services[db].clients" in str(e.value) and "both a network" in str(e.value)


@pytest.mark.slow
def test_random_models_with_clients_agree_in_every_back_end():
    """Random data-centre models whose coord and web take clients as a
    network, a switch or external (tests/model_strategies.py): Z3, the fault
    tree and brute force give the same cut sets for k = 1..3."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from model_strategies import dc_models

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(dc_models(), st.integers(1, 3))
    def check(model, k):
        arch, placement = model
        v = view(arch, placement)
        for s in ("coord", "web"):
            all_engines(v, s, k)

    check()
