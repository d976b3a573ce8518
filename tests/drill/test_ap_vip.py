"""A VIP that follows an active/passive Pacemaker service (an NFS server's address).

Three storage nodes form the Pacemaker cluster (majority: 2 of 3) over the
``lan`` (one switch per node, meshed). Clients reach NFS on ``nfs-vip`` on
the ``san``: st-1 and st-2 hang off san-a, st-3 off san-b.

By hand: NFS runs on one node that is up, quorate and on the san. No single
failure stops it (san-a lost: st-3 takes it; san-b lost: st-1/st-2 keep it).
Two failures do: both san switches; san-a with anything that removes st-3
(st-3, NFS on st-3, its lan switch sw-3, which leaves it alone and
inquorate); and any two nodes (the third is 1 of 3 votes).
"""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET

import pytest
from hamodel.generators.configs import build_configs

from hamodel import (
    Architecture,
    FenceDevice,
    ModelError,
    Network,
    Node,
    PacemakerCluster,
    SecretRef,
    Service,
    Switch,
    VirtualIP,
)
from hamodel.analysis.components import node_id, proc_id, switch_id, view
from hamodel.analysis.cutsets import Analyzer, brute_force_cut_sets
from hamodel.analysis.semantics import Evaluation
from hamodel.errors import HamodelError
from hamodel.pipeline import resolve
from hamodel.strategies import ActivePassive, BehindVip

ENV = {"T_FENCE_PW": "Fence-pw.4711"}
lan_sw = [Switch(f"sw-{i}") for i in (1, 2, 3)]
san_a, san_b = Switch("san-a"), Switch("san-b")
lan = Network("lan", subnet="10.0.0.0/24", switches=lan_sw)
san = Network("san", subnet="10.5.0.0/24", switches=[san_a, san_b])
nfs_vip = VirtualIP("nfs-vip", "10.5.0.100", network=san)


def arch(strategy=None, extra=()) -> Architecture:
    nodes = [
        Node(
            f"st-{i}",
            roles={"storage"},
            interfaces=[
                {"network": "lan", "address": f"10.0.0.{i}", "device": "eth0", "switch": f"sw-{i}"},
                {"network": "san", "address": f"10.5.0.{i}", "device": "eth1", "switch": "san-a" if i < 3 else "san-b"},
            ],
        )
        for i in (1, 2, 3)
    ]
    fence = [
        FenceDevice(
            "bmc",
            agent="fence_ipmilan",
            params={"username": "admin", "password": SecretRef(env="T_FENCE_PW"), "lanplus": 1},
            per_node={f"st-{i}": {"ip": f"10.9.0.{i}"} for i in (1, 2, 3)},
        )
    ]
    return Architecture(
        "nfs",
        domains=[*lan_sw, san_a, san_b],
        networks=[lan, san],
        vips=[nfs_vip],
        nodes=nodes,
        supervisor="systemd",
        services=[
            Service(
                "nfs",
                process="nfs-server",
                on="storage",
                replicas="all",
                strategy=strategy or ActivePassive(manager="pacemaker", vips=[nfs_vip]),
            ),
            *extra,
        ],
        pacemaker=PacemakerCluster(on=["storage"], fencing=True, fence=fence),
    )


@pytest.fixture(scope="module")
def dep():
    return resolve(arch(), k=2)


def test_the_address_follows_the_service_by_hand(dep):
    v = view(dep.architecture, dep.placement, dep.vrrp_groups)
    up = lambda *failed: Evaluation(v, set(failed)).up("nfs")
    assert up(switch_id("san-a")) and up(switch_id("san-b")) and up(node_id("st-1"))
    assert not up(switch_id("san-a"), switch_id("san-b"))
    assert not up(switch_id("san-a"), node_id("st-3"))
    assert not up(switch_id("san-a"), proc_id("nfs-server", "st-3"))
    assert not up(switch_id("san-a"), switch_id("sw-3"))  # st-3 alone on the lan: 1 of 3 votes
    assert not up(node_id("st-1"), node_id("st-2"))
    assert up(switch_id("san-b"), node_id("st-1"))  # st-2 keeps it


def test_three_encodings_agree(dep):
    v = view(dep.architecture, dep.placement, dep.vrrp_groups)
    an = Analyzer(v)
    tree, _ = an.tree_cut_sets("nfs", 2)
    z3s, _ = an.z3_cut_sets("nfs", 2)
    brute = brute_force_cut_sets(sorted(v.slice("nfs")), 2, lambda f: not Evaluation(v, set(f)).up("nfs"))
    assert sorted(map(tuple, tree)) == sorted(map(tuple, z3s)) == sorted(map(tuple, brute))
    sets = set(map(tuple, tree))
    assert not [c for c in sets if len(c) == 1]
    assert tuple(sorted((switch_id("san-a"), switch_id("san-b")))) in sets
    assert not [f for f in dep.findings if f.id == "spof:nfs"]


def test_pacemaker_runs_the_address_with_the_service():
    files = build_configs(resolve(arch(), analyse=False), env=ENV)
    assert not [p for p in files if p.endswith("keepalived.conf")]  # Pacemaker's, not keepalived's
    cib = ET.fromstring(files["pacemaker/cib.xml"])
    ip = next(p for p in cib.iter("primitive") if p.get("id") == "ip-nfs-vip")
    assert ip.get("type") == "IPaddr2"
    nv = {x.get("name"): x.get("value") for x in ip.iter("nvpair")}
    assert nv["ip"] == "10.5.0.100" and nv["nic"] == "eth1"
    nfs = next(p for p in cib.iter("primitive") if p.get("type") == "nfs-server")
    colo = [c for c in cib.iter("rsc_colocation") if c.get("rsc") == "ip-nfs-vip"]
    assert [c.get("with-rsc") for c in colo] == [nfs.get("id")]
    order = [o for o in cib.iter("rsc_order") if o.get("first") == "ip-nfs-vip"]
    assert [o.get("then") for o in order] == [nfs.get("id")]
    script = files["pacemaker/pcs-setup.sh"].decode()
    assert "IPaddr2" in script and "ip=10.5.0.100" in script


@pytest.mark.netns
@pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("crm_verify", "cibadmin", "pcs")),
    reason="needs root, pacemaker-cli-utils and pcs",
)
def test_crm_verify_and_pcs_replay_accept_it():
    from hamodel.validate import cib_check, pcs_replay_check

    files = build_configs(resolve(arch(), analyse=False), env=ENV)
    r = cib_check(files["pacemaker/cib.xml"])
    assert r.ok, r.output
    r = pcs_replay_check(files["pacemaker/cib.xml"], files["pacemaker/pcs-setup.sh"])
    assert r.ok, r.output


def test_an_address_nothing_moves_is_refused():
    with pytest.raises(HamodelError, match="manager='pacemaker'"):
        ActivePassive(vips=["nfs-vip"])


def test_no_haproxy_front_on_the_services_own_address():
    with pytest.raises(ModelError, match=r"services\[web\]\.strategy\.vip.*follows the active/passive services\[nfs\]"):
        arch(extra=[Service("web", on="storage", strategy=BehindVip(nfs_vip, port=80))])
