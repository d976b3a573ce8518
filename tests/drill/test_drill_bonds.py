"""Bonded interfaces and trunks in the drill lab, and the ``switch-failure`` scenario.

Plan tests (no root): a bonded interface gets one member per switch under
the device name the generated configs use, the client is bonded like the
VIP's preferred holder, a trunk is the lab's one inter-switch link, and
``switch-failure`` is offered where bonds or switch SPOFs exist.

Lab tests (root): a bonded node stays reachable with one of its switches
down (and its bond's active member moves off it), is unreachable with both
down, while a node with a single port on the failed switch is cut off; the
``switch-failure`` drill of tests/data/drill_bond.py agrees with the analysis
for both switches.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from hamodel.drill.lab import BOND_MIIMON_MS, Lab, bond_member, list_namespaces, run
from hamodel.drill.observe import HERE as DRILL_DIR
from hamodel.drill.plan import plan_lab, switch_counts
from hamodel.drill.runner import generated_files, run_drill
from hamodel.drill.scenarios import default_scenarios
from hamodel.loader import load

ROOT = Path(__file__).resolve().parents[2]
BONDED = ROOT / "tests" / "data" / "drill_bond.py"
WEB = ROOT / "models" / "webplatform.py"


def plan_of(path: Path):
    arch = load(path)
    dep, files = generated_files(arch, analyse=True)
    return arch, dep, plan_lab(arch, dep, files)


def offered(path: Path) -> list[str]:
    arch = load(path)
    dep, _ = generated_files(arch, analyse=True)
    groups = [g for g in dep.vrrp_groups if g.manager == "keepalived"]
    return [s.name for s in default_scenarios(dep, switches_by_vip=switch_counts(arch, groups))]


# -- the plan -----------------------------------------------------------------------------


def test_bonded_interface_has_one_member_per_switch():
    _, _, p = plan_of(BONDED)
    assert p.nodes["lb-1"].bonds == {"eth0": ["sw-a", "sw-b"]}
    assert p.nodes["app-1"].bonds == {"eth0": ["sw-b", "sw-a"]}  # its first member is on sw-b
    assert p.nodes["app-2"].bonds == {}  # one port, on sw-b
    assert p.switches_of("app-2", "lan") == ["sw-b"]
    assert p.switches_of("lb-2", "lan") == ["sw-a", "sw-b"]
    assert p.client_bonds == {"eth0": ["sw-a", "sw-b"]}
    assert p.switches == ["sw-a", "sw-b"]
    assert p.trunks == {("lan", "sw-a", "sw-b"): "peer"}


def test_webplatform_bonds_keep_the_configs_interface_names_and_share_one_trunk():
    _, _, p = plan_of(WEB)
    for lb in ("lb-1", "lb-2"):
        bonds = p.nodes[lb].bonds
        assert bonds == {"eth0": ["tor-a", "tor-b"], "eth1": ["tor-a", "tor-b"]}
        # keepalived's interface is the bond itself, not one of its members.
        ifaces = {i.interface for i in p.keepalived[lb].instances.values()}
        assert ifaces and ifaces <= set(bonds), ifaces
    # Both VLANs ride one trunk: one inter-switch link in the lab.
    assert p.links == [("tor-a", "tor-b")]
    assert set(p.trunks.values()) == {"mlag-peer"} and {k[0] for k in p.trunks} == {"internal", "public"}
    members = {bond_member(d, k) for d in ("eth0", "eth1") for k in range(2)}
    assert len(members) == 4 and all(len(m) <= 15 for m in members)
    assert bond_member("a-very-long-nic", 1) == "a-very-long-m1"


def test_switch_failure_is_offered_for_bonds_and_not_where_the_client_cannot_survive():
    assert [n for n in offered(BONDED) if n.startswith("switch-failure")] == [
        "switch-failure:sw-a",
        "switch-failure:sw-b",
    ]
    assert [n for n in offered(WEB) if n.startswith("switch-failure")] == [
        "switch-failure:tor-a",
        "switch-failure:tor-b",
    ]
    # No bonds; the one switch that is a single point of failure (sw-1, of
    # cinder-volume) is the client's only switch: nothing could be observed.
    assert not [n for n in offered(ROOT / "models" / "openstack_keepalived.py") if n.startswith("switch-failure")]


# -- real lab -------------------------------------------------------------------------------


def available() -> bool:
    return os.geteuid() == 0 and all(shutil.which(x) for x in ("ip", "bridge", "tc", "keepalived", "haproxy"))


lab_only = pytest.mark.skipif(not available(), reason="needs root, ip, bridge, tc, keepalived, haproxy")


def _answers(lab: Lab, ns: str, target: str) -> bool:
    out = lab.exec(
        ns, [sys.executable, str(DRILL_DIR / "probe.py"), "--once", "--timeout", "1", "--target", target], check=False
    ).stdout
    return '"ok": true' in out


def _until(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


@pytest.mark.netns
@pytest.mark.slow
@lab_only
def test_bonded_node_survives_one_switch_and_not_two():
    lab = Lab(prefix=f"hml-{os.getpid()}-bond{int(time.time()) % 100000}-")
    try:
        lab.create()
        for sw in ("sa", "sb"):
            lab.add_switch(sw)
        lab.link_switches("sa", "sb")
        for n, addr, sws in (
            ("bonded", "10.79.0.1/24", ["sa", "sb"]),
            ("single", "10.79.0.2/24", ["sa"]),
            ("client", "10.79.0.9/24", ["sb"]),
        ):
            lab.add_host(n)
            lab.plug(n, "eth0", sws[0], addr, bond=sws)
        for n, ip in (("bonded", "10.79.0.1"), ("single", "10.79.0.2")):
            d = lab.node_dir(n)
            lab.start(
                f"backend@{n}",
                lab.node_ns(n),
                [
                    sys.executable,
                    str(DRILL_DIR / "backend.py"),
                    "--node",
                    n,
                    "--control",
                    str(d / "c.sock"),
                    "--listen",
                    f"{ip}:8080",
                ],
                log=d / "backend.log",
            )
        client, bns = lab.node_ns("client"), lab.node_ns("bonded")
        assert _until(lambda: _answers(lab, client, "10.79.0.1:8080") and _answers(lab, client, "10.79.0.2:8080"), 10)
        assert lab.bond_active(bns, "eth0") == "eth0-m0"  # the first switch's member, as the driver picks
        # The traffic crossed the inter-switch link (client on sb, active member on sa).

        lab.set_switch("sa", False)
        # The bond notices the carrier loss within miimon (bound generous for a loaded machine).
        assert _until(lambda: lab.bond_active(bns, "eth0") == "eth0-m1", BOND_MIIMON_MS / 1000 + 2)
        assert _answers(lab, client, "10.79.0.1:8080")
        assert not _answers(lab, client, "10.79.0.2:8080")  # its only switch is down: the failure is real

        # Its second path goes too (its port on sb), the client stays connected to sb.
        port = next(p for p in lab.ports if p.node == "bonded" and p.switch == "sb")
        run(["ip", "-n", lab.switch_ns("sb"), "link", "set", port.switch_port, "down"])
        assert _until(lambda: lab.bond_active(bns, "eth0") is None, BOND_MIIMON_MS / 1000 + 2)
        assert not _answers(lab, client, "10.79.0.1:8080")

        run(["ip", "-n", lab.switch_ns("sb"), "link", "set", port.switch_port, "up"])
        assert _until(lambda: _answers(lab, client, "10.79.0.1:8080"), 10)
        lab.set_switch("sa", True)
        time.sleep(2 * BOND_MIIMON_MS / 1000)
        assert lab.bond_active(bns, "eth0") == "eth0-m1"  # no preemption (active-backup without 'primary')

        # The bond is the kernel's: killing every process of the node (holder-kill) keeps it working.
        lab.kill_all_in(bns)
        monitor = next(p for p in lab.processes if p.name == "bond@bonded:eth0")
        assert monitor.alive()
        lab.set_switch("sb", False)
        assert _until(lambda: lab.bond_active(bns, "eth0") == "eth0-m0", BOND_MIIMON_MS / 1000 + 2)
    finally:
        lab.teardown()
    assert not [ns for ns in list_namespaces() if ns.startswith(lab.prefix)]


@pytest.mark.netns
@pytest.mark.slow
@lab_only
def test_switch_failure_drill_agrees_on_the_bonded_model():
    lab = Lab(prefix=f"hml-{os.getpid()}-sf{int(time.time()) % 100000}-")
    report = run_drill(load(BONDED), scenarios=["switch-failure"], lab=lab)
    by = {s["name"]: s for s in report["scenarios"]}
    assert set(by) == {"switch-failure:sw-a", "switch-failure:sw-b"}, report
    for name, sc in by.items():
        assert sc["agreed"], (name, sc)
    a, b = by["switch-failure:sw-a"], by["switch-failure:sw-b"]
    # sw-a: nothing down, the VIP stays on its holder, app-2 (on sw-b) stays UP.
    assert a["prediction"]["analysis_down"] == [] and a["prediction"]["servers_down"] == []
    assert a["measured"]["vips"][0]["moved_after_s"] is None
    assert set(a["measured"]["server_states"].values()) == {"UP"}
    # sw-b: app-2 loses its only switch: the analysis says app is degraded, HAProxy marks it DOWN.
    assert b["prediction"]["analysis_degraded"] == ["app"]
    assert [v for k, v in b["measured"]["server_states"].items() if k.endswith("/app-2")] == ["DOWN"]
    assert b["measured"]["vips"][0]["max_holders"] == 1
    # Every bond ends up on the surviving switch, whatever the order of its members.
    assert a["measured"]["bonds_active_after"]["app-1:eth0"] == "eth0-m0 on sw-b"  # it never left sw-b
    assert b["measured"]["bonds_active_after"]["app-1:eth0"] == "eth0-m1 on sw-a"
    assert b["measured"]["bonds_active_after"]["lb-1:eth0"] == "eth0-m0 on sw-a"
    assert not [ns for ns in list_namespaces() if ns.startswith(lab.prefix)]


def test_no_partition_drill_for_a_bonded_group():
    # The analysis says an inter-switch cut splits no bonded group (MLAG semantics); the lab's
    # active-backup bonds have no peer-link logic, so the partition drill is not offered there.
    arch = load(ROOT / "models" / "multirack.py")
    dep, _ = generated_files(arch, analyse=True)
    groups = [g for g in dep.vrrp_groups if g.manager == "keepalived"]
    assert switch_counts(arch, groups) == {"internal-vip": 3, "public-vip": 1}  # public: bonded to edge-1/2
    names = [s.name for s in default_scenarios(dep, switches_by_vip=switch_counts(arch, groups))]
    assert "partition" in names and "partition@public-vip" not in names
