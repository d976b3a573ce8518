"""Service(clients=...) beyond one switch (issue 23): a failure domain
(clients enter through any switch inside it that carries the VIP's
network) and "external" through a named uplink; cut sets agree in Z3, the
fault tree and brute force; bad input names the field."""

from __future__ import annotations

import pytest
from test_reachability import all_engines

from hamodel import Architecture, FailureDomain, Network, Node, Service, Switch
from hamodel.analysis.components import view
from hamodel.deployment import Placement
from hamodel.errors import ModelError
from hamodel.strategies import AppCluster


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
