"""keepalived: VIPs on two interfaces in one instance, and vrrp_sync_group
(issue 23). Generated text, real ``keepalived -t``, and the analysis of
partitions of either network, reasoned by hand."""

from __future__ import annotations

import pytest
from hamodel.generators.configs import build_configs
from test_reachability import all_engines

from hamodel import Architecture, Network, Node, Service, Switch, VirtualIP
from hamodel.analysis.components import view
from hamodel.analysis.semantics import Evaluation
from hamodel.errors import ModelError
from hamodel.pipeline import resolve
from hamodel.strategies import BehindVip, Vrrp
from hamodel.validate import available, keepalived_check, node_interfaces


def lbs(*, sync: bool = True, one_instance: bool = False, public_link: bool = True):
    """Two load balancers, an internal network on one switch and a public
    one on two switches (pub-a, pub-b, one link), lb1 on pub-a, lb2 on pub-b."""
    internal = Network("internal", subnet="10.0.0.0/24", switches=[Switch("int")])
    public = Network(
        "public",
        subnet="192.0.2.0/24",
        switches=[Switch("pub-a"), Switch("pub-b")],
        links=[("pub-a", "pub-b")] if public_link else [],
    )
    ivip = VirtualIP("ivip", "10.0.0.100", network=internal)
    pvip = VirtualIP("pvip", "192.0.2.100", network=public, exposure="public")
    nodes = [
        Node(
            f"lb{i}",
            roles={"lb"},
            interfaces=[
                {"network": "internal", "address": f"10.0.0.1{i}", "device": "eth0", "switch": "int"},
                {"network": "public", "address": f"192.0.2.1{i}", "device": "eth1", "switch": f"pub-{'ab'[i - 1]}"},
            ],
        )
        for i in (1, 2)
    ]
    group = {"sync_group": "lb"} if sync else {}
    if one_instance:
        holders = [Service("haproxy", on="lb", strategy=Vrrp([ivip, pvip], track="haproxy"))]
    else:
        holders = [
            Service("haproxy", on="lb", strategy=Vrrp(ivip, track="haproxy", **group)),
            Service(
                "haproxy-public",
                process="haproxy",
                on="lb",
                colocate=["haproxy"],
                strategy=Vrrp(pvip, track="haproxy", **group),
            ),
        ]
    web = Service("web", on="lb", strategy=BehindVip(pvip, port=443, backend_port=8443, tls_passthrough=True))
    return Architecture("sync", nodes=nodes, networks=[internal, public], vips=[ivip, pvip], services=[*holders, web])


def configs(arch):
    dep = resolve(arch, analyse=False)
    return dep, build_configs(dep)


def test_sync_group_is_generated_on_every_member():
    _, files = configs(lbs())
    for n in ("lb1", "lb2"):
        conf = files[f"nodes/{n}/keepalived/keepalived.conf"].decode()
        block = conf[conf.index("vrrp_sync_group lb {") :]
        assert "        haproxy\n" in block and "        haproxy-public\n" in block, block


def test_vips_on_two_networks_in_one_instance():
    _, files = configs(lbs(one_instance=True, sync=False))
    conf = files["nodes/lb1/keepalived/keepalived.conf"].decode()
    assert "10.0.0.100/24 dev eth0" in conf and "192.0.2.100/24 dev eth1" in conf
    assert "interface eth0" in conf
    assert "track_interface {\n        eth1\n    }" in conf


@pytest.mark.netns
@pytest.mark.skipif(not available(), reason="needs root, haproxy, keepalived, ip")
@pytest.mark.parametrize("shape", ["sync", "one_instance"])
def test_real_keepalived_accepts_them(shape):
    arch = lbs(sync=shape == "sync", one_instance=shape == "one_instance")
    _, files = configs(arch)
    for n in ("lb1", "lb2"):
        r = keepalived_check(files[f"nodes/{n}/keepalived/keepalived.conf"], node_interfaces(arch, n))
        assert r.ok, r


def test_a_partition_of_the_public_network_splits_the_whole_sync_group():
    """Cutting pub-a~pub-b: lb1 and lb2 stop hearing each other's public
    adverts; in a sync group the public masters force the internal groups
    to master too: split brain on the internal VIP although the internal
    network is whole. Without the sync group the internal group stays one."""
    link = "link:public:pub-a~pub-b"
    dep, _ = configs(lbs())
    v = view(dep.architecture, dep.placement, dep.vrrp_groups)
    assert Evaluation(v, {link}).split_brain("haproxy")
    assert frozenset({link}) in {frozenset(c) for c in _split_sets(v, "haproxy")}
    dep, _ = configs(lbs(sync=False))
    v = view(dep.architecture, dep.placement, dep.vrrp_groups)
    assert not Evaluation(v, {link}).split_brain("haproxy")
    assert Evaluation(v, {link}).split_brain("haproxy-public")


def _split_sets(v, s):
    from hamodel.analysis.cutsets import Analyzer, brute_force_cut_sets

    z3_sets = Analyzer(v).split_brain(s, 1)
    brute = brute_force_cut_sets(sorted(v.slice(s)), 1, lambda f: Evaluation(v, f).split_brain(s))
    assert [tuple(c) for c in z3_sets] == [tuple(c) for c in brute]
    return z3_sets


def test_a_fault_of_one_group_moves_the_other():
    """The public port of lb1 down: in a sync group lb1 can hold neither VIP
    (its internal group goes to FAULT with the public one)."""
    dep, _ = configs(lbs())
    v = view(dep.architecture, dep.placement, dep.vrrp_groups)
    e = Evaluation(v, {"switch:pub-a"})
    assert not e.eligible("haproxy", "lb1") and e.eligible("haproxy", "lb2")
    dep, _ = configs(lbs(sync=False))
    v = view(dep.architecture, dep.placement, dep.vrrp_groups)
    assert Evaluation(v, {"switch:pub-a"}).eligible("haproxy", "lb1")


def test_one_instance_two_networks_cut_sets():
    """One instance holding both VIPs: a holder is eligible only with both
    ports (both devices tracked). web (on pvip) is stopped by pub-a with
    pub-b together, never by one alone; all engines agree."""
    dep, _ = configs(lbs(one_instance=True, sync=False))
    v = view(dep.architecture, dep.placement, dep.vrrp_groups)
    sets = all_engines(v, "web", 2)
    assert frozenset({"switch:pub-a"}) not in sets and frozenset({"switch:pub-a", "switch:pub-b"}) in sets


@pytest.mark.parametrize(
    "change, field",
    [
        ({"services": "lonely"}, "sync_group"),
        ({"services": "elsewhere"}, "sync_group"),
    ],
)
def test_sync_group_refused_by_field(change, field):
    arch = lbs(sync=False)
    svcs = list(arch.services)
    if change["services"] == "lonely":
        svcs[0] = svcs[0].replace(strategy=svcs[0].strategy.replace(sync_group="lb"))
    else:
        svcs[0] = svcs[0].replace(strategy=svcs[0].strategy.replace(sync_group="lb"))
        svcs[1] = svcs[1].replace(on=["web"], strategy=svcs[1].strategy.replace(sync_group="lb"))
    with pytest.raises(ModelError) as e:
        arch.replace(
            services=svcs,
            nodes=[
                *arch.nodes,
                Node(
                    "w", roles={"web"}, interfaces=[{"network": "public", "address": "192.0.2.30", "switch": "pub-a"}]
                ),
            ],
        )
    assert f"strategy.{field}" in str(e.value)
