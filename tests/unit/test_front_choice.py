"""Dependents reach a service through its internal front, its own clients through its first.

keystone answers on the public VIP (TLS, its users) and, with ``also_on``, on
the internal VIP (clear text, for the other services). The two VIPs are held
by different VRRP groups, and the public network hangs off one edge switch.
By hand: the edge switch takes the public VIP down, so keystone's users lose
it, but nova reaches keystone on the internal VIP and stays up. Before the
analysis knew of ``also_on`` it sent every consumer through the first VIP and
reported the edge switch as a single point of failure of nova.
"""

from __future__ import annotations

import pytest

from hamodel import Architecture, Network, Node, Service, Switch, VirtualIP
from hamodel.analysis.components import switch_id, view
from hamodel.analysis.cutsets import Analyzer, brute_force_cut_sets
from hamodel.analysis.semantics import Evaluation
from hamodel.pipeline import resolve
from hamodel.strategies import BehindVip, Front, Vrrp

tors = [Switch(f"tor-{i}") for i in (1, 2, 3)]
edge = Switch("edge")
internal = Network("internal", subnet="10.0.0.0/24", switches=tors)
public = Network("public", subnet="192.0.2.0/24", switches=[edge])
ivip = VirtualIP("internal-vip", "10.0.0.100", network=internal)
pvip = VirtualIP("public-vip", "192.0.2.100", network=public, exposure="public")
TLS = {"certificate": "/etc/ssl/cloud.pem"}


def arch() -> Architecture:
    nodes = [
        Node(
            f"ctl-{i}",
            roles={"controller"},
            interfaces=[
                {"network": "internal", "address": f"10.0.0.{i}", "device": "eth0", "switch": f"tor-{i}"},
                {"network": "public", "address": f"192.0.2.{i}", "device": "eth1", "switch": "edge"},
            ],
        )
        for i in (1, 2, 3)
    ]
    return Architecture(
        "fronts",
        domains=[*tors, edge],
        networks=[internal, public],
        nodes=nodes,
        vips=[ivip, pvip],
        services=[
            Service("haproxy", on="controller", strategy=Vrrp(ivip, track="haproxy")),
            Service(
                "haproxy-public",
                process="haproxy",
                on="controller",
                colocate=["haproxy"],
                strategy=Vrrp(pvip, track="haproxy"),
            ),
            Service(
                "keystone",
                on="controller",
                replicas=3,
                strategy=BehindVip(pvip, port=5000, mode="http", tls=TLS, also_on=[Front(ivip)]),
            ),
            Service(
                "nova-api",
                on="controller",
                replicas=3,
                depends_on=["keystone"],
                strategy=BehindVip(ivip, port=8774, mode="http"),
            ),
            # A public-only front: its dependents have no internal VIP to use.
            Service(
                "horizon",
                on="controller",
                replicas=3,
                strategy=BehindVip(pvip, port=443, backend_port=80, mode="http", tls=TLS),
            ),
            Service(
                "dashboard-proxy",
                on="controller",
                replicas=3,
                depends_on=["horizon"],
                strategy=BehindVip(ivip, port=8080, mode="http"),
            ),
        ],
    )


@pytest.fixture(scope="module")
def dep():
    return resolve(arch(), k=1)


def _v(dep):
    return view(dep.architecture, dep.placement, dep.vrrp_groups)


def test_the_edge_switch_takes_keystone_users_down_but_not_nova(dep):
    v = _v(dep)
    ev = Evaluation(v, {switch_id("edge")})
    assert not ev.up("keystone")  # its users come through the public VIP
    assert ev.up("nova-api")  # nova reaches keystone on the internal VIP
    assert not ev.up("dashboard-proxy")  # horizon has no internal front: through the public one


def test_front_choice_is_the_same_in_all_three_encodings(dep):
    v = _v(dep)
    an = Analyzer(v)
    for s in ("keystone", "nova-api", "horizon", "dashboard-proxy"):
        tree, _ = an.tree_cut_sets(s, 2)
        z3s, _ = an.z3_cut_sets(s, 2)
        brute = brute_force_cut_sets(sorted(v.slice(s)), 2, lambda f, s=s: not Evaluation(v, set(f)).up(s))
        assert sorted(map(tuple, tree)) == sorted(map(tuple, z3s)) == sorted(map(tuple, brute)), s
    edge_cut = (switch_id("edge"),)
    keystone, _ = an.cut_sets("keystone", 1)
    nova, _ = an.cut_sets("nova-api", 1)
    dash, _ = an.cut_sets("dashboard-proxy", 1)
    assert edge_cut in map(tuple, keystone) and edge_cut in map(tuple, dash)
    assert edge_cut not in map(tuple, nova)


def test_the_spof_finding_lists_the_public_users_only(dep):
    f = next(f for f in dep.findings if f.id == "spof:haproxy-public")
    affected = set(f.services)
    assert {"keystone", "horizon", "dashboard-proxy"} <= affected and "nova-api" not in affected, f.services
    assert "nova-api" not in {x.id.split(":", 1)[1] for x in dep.findings if x.id.startswith("spof:")}
