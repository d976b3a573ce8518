"""Bond modes (issue 23): a bond's members, their NIC ports and cables are
failure components; LACP to one switch survives a NIC or a cable, not the
switch. Reasoned by hand, checked in every engine."""

from __future__ import annotations

import pytest
from test_reachability import all_engines

from hamodel import Architecture, Network, Node, Service, Switch
from hamodel.analysis.components import view
from hamodel.analysis.semantics import Evaluation
from hamodel.deployment import Placement
from hamodel.errors import ModelError
from hamodel.model import Interface
from hamodel.strategies import Coordinated


def pair(mode: str | None, *, bonded: bool):
    """app on n1 and n2 (n2 behind sw-b), db on n3 behind sw-b; n1 is bonded
    (to sw-a and sw-b, or LACP with two links to sw-a) as ``mode`` says."""
    lan = Network("lan", subnet="10.0.0.0/24", switches=[Switch("sw-a"), Switch("sw-b")])
    if bonded:
        n1 = Node("n1", roles={"app"}, addresses={lan: "10.0.0.1"}, switch=["sw-a", "sw-b"], bond_mode=mode)
    else:
        n1 = Node(
            "n1",
            roles={"app"},
            interfaces=[Interface(network="lan", address="10.0.0.1", switch="sw-a", bond_mode=mode)],
        )
    nodes = [n1, Node("n3", roles={"db"}, addresses={lan: "10.0.0.3"}, switch="sw-b")]
    arch = Architecture(
        "bonds",
        nodes=nodes,
        networks=[lan],
        services=[
            Service("db", on="db", strategy=Coordinated()),
            Service("app", on="app", depends_on=["db"], strategy=Coordinated()),
        ],
    )
    return view(arch, Placement({"app": ["n1"], "db": ["n3"]}))


def test_lacp_to_one_switch_survives_a_member_not_the_switch():
    """802.3ad, two links to sw-a: a NIC or a cable alone is no cut, a NIC
    of one member with the cable of the other is; sw-a alone is (the bond is
    not switch-redundant)."""
    v = pair("802.3ad", bonded=False)
    sets = all_engines(v, "app", 2)
    assert frozenset({"switch:sw-a"}) in sets
    assert not any(len(c) == 1 and (next(iter(c)).startswith(("nic:", "cable:"))) for c in sets)
    assert frozenset({"nic:n1:eth0/0", "cable:n1:eth0/1"}) in sets
    assert frozenset({"nic:n1:eth0/0", "nic:n1:eth0/1"}) in sets


def test_active_backup_across_two_switches():
    """Member 0 to sw-a, member 1 to sw-b (where db is): losing sw-a and
    member 1's cable cuts n1 off; so do member 1's NIC and the inter-switch
    link (n1 is left on sw-a, apart from db), and both cables; sw-a alone
    does not (sw-b alone does: db's only switch)."""
    for mode in ("active-backup", "mlag"):
        v = pair(mode, bonded=True)
        sets = all_engines(v, "app", 2)
        assert frozenset({"switch:sw-a"}) not in sets
        assert frozenset({"switch:sw-a", "cable:n1:eth0/1"}) in sets
        assert frozenset({"link:lan:sw-a~sw-b", "nic:n1:eth0/1"}) in sets
        assert frozenset({"cable:n1:eth0/0", "cable:n1:eth0/1"}) in sets
        assert Evaluation(v, {"cable:n1:eth0/0", "link:lan:sw-a~sw-b"}).up("app")


def test_a_bond_without_mode_has_no_member_components():
    v = pair(None, bonded=True)
    assert not [c for c in v.components if c.startswith(("nic:", "cable:"))]


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"switch": "sw-a", "bond": ["sw-b"], "bond_mode": "802.3ad"}, "bond_mode"),
        ({"switch": "sw-a", "bond_mode": "mlag"}, "bond_mode"),
        ({"switch": "sw-a", "members": 2}, "members"),
    ],
)
def test_bond_shapes_refused_by_field(kw, field):
    with pytest.raises(ModelError) as e:
        Interface(network="lan", address="10.0.0.1", **kw)
    assert field in str(e.value)
