"""hamodel import of sites that hamodel did not write: keepalived's
vrrp_sync_group read back into Vrrp(sync_group=...), and hand-written
collected folders in the styles of OpenStack-Ansible and TripleO (issue 27)."""

from __future__ import annotations

import json
from pathlib import Path

from hamodel.generators.configs import build_configs
from test_sync_groups import lbs

from hamodel.adopt import import_folder
from hamodel.adopt.canon import canonical
from hamodel.adopt.layout import as_collected
from hamodel.loader import load
from hamodel.pipeline import resolve


def _lay_out(files, root: Path) -> dict[str, bytes]:
    laid = as_collected(files, json.loads(files["manifest.json"]))
    for rel, data in laid.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return laid


def _draft_model(root: Path, name: str):
    draft = import_folder(root, name)
    (root.parent / f"{name}.py").write_text(draft.source)
    return draft, load(str(root.parent / f"{name}.py"))


def test_sync_group_round_trip(tmp_path):
    """build -> collected folder -> import -> build: the sync group comes
    back on both VRRP groups and keepalived.conf is equal modulo ordering."""
    original = _lay_out(build_configs(resolve(lbs(), analyse=False)), tmp_path / "site")
    draft, arch = _draft_model(tmp_path / "site", "sync")
    assert not [u for u in draft.unmapped if "sync_group" in u.directive], draft.unmapped
    assert {s.name: s.strategy.sync_group for s in arch.services if s.strategy.kind == "vrrp"} == {
        "haproxy": "lb",
        "haproxy-public": "lb",
    }
    files2 = build_configs(resolve(arch, analyse=False))
    rebuilt = as_collected(files2, json.loads(files2["manifest.json"]))
    for n in ("lb1", "lb2"):
        rel = f"{n}/etc/keepalived/keepalived.conf"
        assert canonical("keepalived", rebuilt[rel].decode()) == canonical("keepalived", original[rel].decode())


def test_drift_sees_a_sync_group_broken_on_one_node(tmp_path):
    """A node whose keepalived no longer fails its two groups over together
    has drifted (was not compared at all): one item, naming the node and line."""
    from hamodel.adopt.drift import drift

    arch = lbs()
    files = build_configs(resolve(arch, analyse=False))
    _lay_out(files, tmp_path / "site")
    assert drift(arch, files, tmp_path / "site").items == []
    p = tmp_path / "site" / "lb2" / "etc/keepalived/keepalived.conf"
    p.write_text(p.read_text().replace("        haproxy-public\n    }", "    }"))
    items = drift(arch, files, tmp_path / "site").items
    assert [(d.node, d.line > 0, "vrrp_sync_group lb" in d.message) for d in items] == [("lb2", True, True)], items


def test_sync_group_naming_an_unknown_instance_is_reported(tmp_path):
    """A sync group whose second member no node runs cannot be a model sync
    group: reported as ambiguous with its file:line, and the draft still loads."""
    _lay_out(build_configs(resolve(lbs(), analyse=False)), tmp_path / "site")
    for n in ("lb1", "lb2"):
        p = tmp_path / "site" / n / "etc/keepalived/keepalived.conf"
        p.write_text(p.read_text().replace("        haproxy-public\n    }", "        gone\n    }"))
    draft, arch = _draft_model(tmp_path / "site", "sync")
    hits = [u for u in draft.unmapped if u.directive == "vrrp_sync_group lb"]
    assert hits and hits[0].reason == "ambiguous" and hits[0].line > 0, draft.unmapped
    assert all(s.strategy.sync_group is None for s in arch.services if s.strategy.kind == "vrrp")


DATA = Path(__file__).resolve().parents[1] / "data" / "collected"


def _copy(name: str, tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(DATA / name, tmp_path / name)
    return tmp_path / name


def test_openstack_ansible_site_imports_loads_and_checks(tmp_path):
    """tests/data/collected/osa: three infra hosts written in the shapes of
    OpenStack-Ansible's haproxy_server role (a `frontend <svc>-front-<n>` per
    VIP, all sending to one `backend <svc>-back`; servers are LXC containers
    with `check port P inter 12000 rise 3 fall 3`; Galera's other members
    `backup`; a horizon HTTP->HTTPS redirect front) and its keepalived
    variables (multicast VRRP, `external` vrid 10 and `internal` vrid 11 in
    one vrrp_sync_group, script-based tracking)."""
    root = _copy("osa", tmp_path)
    draft, arch = _draft_model(root, "osa")
    # one service per backend, whatever number of frontends feed it (was one per frontend,
    # and a draft that failed to load with a port clash)
    names = {s.name for s in arch.services}
    assert names == {"external", "internal", "galera", "horizon", "keystone_service", "nova_api_os_compute"}, names
    ks = arch.service("keystone_service").strategy
    assert [f.vip for f in ks.also_on] == ["internal-vip"] and ks.tls is not None
    assert ks.check.inter_ms == 12000 and ks.check.rise == 3 and ks.check.fall == 3 and ks.check.expect_status == 300
    # the horizon redirect front is carried over (it was dropped silently)
    assert arch.service("horizon").strategy.tls.redirect_from == 80
    # the sync group of the two VRRP instances
    assert {arch.service(n).strategy.sync_group for n in ("external", "internal")} == {"haproxy"}
    assert arch.service("galera").strategy.kind == "app_cluster"
    assert arch.service("galera").strategy.access.single_writer
    # the infra hosts hold both VIPs: the public address no file gives is a TODO placeholder (was: no interface, no load)
    infra1 = next(n for n in arch.nodes if n.name == "infra1")
    assert {i.network for i in infra1.interfaces} == {"net-172-29-236-0", "net-203-0-113-0"}
    assert "TODO address: 203.0.113.254" in draft.source
    # reported, with file:line: what hamodel does not model
    rep = {(u.file.split("/", 1)[1], u.line, u.reason) for u in draft.unmapped if u.file.startswith("infra1/")}
    assert ("etc/keepalived/keepalived.conf", 10, "ambiguous") in rep  # which process haproxy_check.sh checks
    assert ("etc/keepalived/keepalived.conf", 28, "unsupported") in rep  # the sync group's notify script
    assert not [u for u in draft.unmapped if "redirect" in u.directive]
    dep = resolve(arch)
    ids = {f.id for f in dep.findings}
    # by hand: every service has three members on three hosts, so no single failure stops
    # one; Galera loses quorum with two of three gone and needs an operator after a full stop
    assert not [i for i in ids if i.startswith("spof")], ids
    assert "quorum-loss:galera" in ids and "manual-recovery" in ids


def test_a_redirect_front_no_service_takes_is_reported(tmp_path):
    root = _copy("osa", tmp_path)
    for n in ("infra1", "infra2", "infra3"):
        p = root / n / "etc/haproxy/haproxy.cfg"
        p.write_text(p.read_text().replace("frontend horizon-redirect-front-1", "frontend legacy-redirect"))
    draft, _ = _draft_model(root, "osa")
    hits = [u for u in draft.unmapped if u.directive == "legacy-redirect: redirect"]
    assert hits and hits[0].reason == "ambiguous" and hits[0].line > 0


def test_tripleo_pacemaker_site_imports_loads_and_checks(tmp_path):
    """tests/data/collected/tripleo: three controllers in the shapes TripleO
    (puppet-tripleo, pacemaker bundles) leaves them: corosync nodes by host
    name, /etc/hosts with <node>.<network>.localdomain entries, podman
    bundles for haproxy (no primitive), galera (promoted-max 3) and rabbitmq,
    IPaddr2 VIPs `ip-<address>` with cidr_netmask=32 colocated with the
    haproxy bundle, fence_ipmilan per node, and haproxy `listen` sections
    whose servers are named <node>.internalapi.localdomain."""
    root = _copy("tripleo", tmp_path)
    draft, arch = _draft_model(root, "tripleo")
    # bundles are resources (they were reported unsupported, and nothing held the VIPs)
    assert arch.service("galera").strategy.kind == "app_cluster" and arch.service("galera").replicas == 3
    assert arch.service("rabbitmq").strategy.kind == "app_cluster"
    hp = arch.service("haproxy-bundle")
    assert hp.process == "haproxy" and hp.strategy.kind == "pacemaker_vip"
    assert sorted(hp.strategy.vips) == ["10.0.0.101", "172.17.1.10", "192.168.24.10"]
    # the `listen mysql` front is the Galera resource's access, not a second database
    assert "mysql" not in {s.name for s in arch.services}
    assert arch.service("galera").strategy.access.single_writer
    # three nodes, not three more named after the haproxy servers; each on the three networks
    # (/32 VIPs used to make three /32 networks no node was on: no load)
    assert [n.name for n in arch.nodes] == [f"overcloud-controller-{i}" for i in range(3)]
    nets = {v.name: v.network for v in arch.vips}
    for n in arch.nodes:
        assert {i.network for i in n.interfaces} == set(nets.values())
        assert len({i.device for i in n.interfaces}) == len(n.interfaces)
    assert (
        str(
            next(n for n in arch.nodes if n.name == "overcloud-controller-1")
            .interface_on(nets["192.168.24.10"])
            .address
        )
        == "192.168.24.16"
    )  # from /etc/hosts
    assert arch.pacemaker.token_ms == 10000 and arch.pacemaker.fence
    rep = {
        (u.file.split("/", 1)[1], u.line, u.reason)
        for u in draft.unmapped
        if u.file.startswith("overcloud-controller-0/")
    }
    assert ("cib.xml", 86, "ambiguous") in rep  # cidr_netmask 32: which network is a guess
    assert ("cib.xml", 158, "unsupported") in rep  # the rule-based location of galera-bundle
    assert not [u for u in draft.unmapped if "ring0_addr" in u.directive]  # resolved by /etc/hosts
    # keystone_public binds :13000 public and :5000 internal; a Front has one port: reported (was silent)
    assert ("etc/haproxy/haproxy.cfg", 35, "unsupported") in rep, sorted(rep)
    ids = {f.id for f in resolve(arch).findings}
    # by hand: a 3-node cluster survives any one node; two nodes lost takes quorum (and with it
    # every Pacemaker resource); Galera needs an operator after a full stop
    assert not [i for i in ids if i.startswith("spof")], ids
    assert {"quorum-loss:galera", "quorum-loss:rabbitmq", "cut-sets:haproxy-bundle", "manual-recovery"} <= ids, ids


def test_the_hand_written_fixtures_are_valid_configs():
    """The fixtures are what the daemons accept: real haproxy -c (a test
    certificate in place of theirs) and crm_verify on the CIB."""
    import shutil

    import pytest

    from hamodel.validate import cib_check, haproxy_check

    if shutil.which("haproxy") is None or shutil.which("crm_verify") is None:
        pytest.skip("needs haproxy and crm_verify")
    for cfg in ("osa/infra1/etc/haproxy/haproxy.cfg", "tripleo/overcloud-controller-0/etc/haproxy/haproxy.cfg"):
        r = haproxy_check((DATA / cfg).read_bytes())
        assert r.ok, r.output
    # The configuration is checked without the <nodes>/<status> of the moment it was collected:
    # offline, crm_verify takes the nodes for unclean and warns that it would fence them.
    import re

    cib = (DATA / "tripleo/overcloud-controller-0/cib.xml").read_text()
    cib = re.sub(
        r"<nodes>.*?</nodes>", "<nodes/>", re.sub(r"<status>.*?</status>", "<status/>", cib, flags=re.S), flags=re.S
    )
    r = cib_check(cib.encode())
    assert r.ok, r.output
