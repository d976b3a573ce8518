"""Failure analysis on the reference models: the document's limitations are
derived, and change when the model changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hamodel.analysis.failures import (
    analyse,
    availability,
    capacity_check,
    cold_start,
    cut_sets,
    prove_tolerance,
    single_failure_scenarios,
    split_brain,
)
from hamodel.analysis.findings import gate
from hamodel.analysis.placement import place
from hamodel.deployment import Severity
from hamodel.loader import load
from hamodel.model import Architecture

ROOT = Path(__file__).resolve().parents[2]
KEEPALIVED = ROOT / "models" / "openstack_keepalived.py"
PACEMAKER = ROOT / "models" / "openstack_pacemaker.py"
MULTIRACK = ROOT / "models" / "multirack.py"

FIVE = {
    "split-brain:haproxy",
    "spof:cinder-volume",
    "partial-outage:neutron-lbaas-agent",
    "monitoring-required",
    "manual-recovery",
}


def run(arch: Architecture, k: int = 2):
    r = place(arch)
    return {f.id: f for f in analyse(arch, r.placement, k=k, vrrp_groups=r.vrrp_groups)}


def serious(findings) -> set[str]:
    return {i for i, f in findings.items() if f.severity >= Severity.MEDIUM}


def variant(arch: Architecture, change) -> Architecture:
    data = json.loads(arch.to_json())
    change(data)
    return Architecture.model_validate(data)


def svc(data, name):
    return next(s for s in data["services"] if s["name"] == name)


@pytest.fixture(scope="module")
def keepalived(reference_arch):
    return reference_arch("openstack_keepalived")


@pytest.fixture(scope="module")
def keepalived_findings(keepalived):
    return run(keepalived)


def test_keepalived_yields_exactly_the_five_limitations(keepalived_findings):
    f = keepalived_findings
    assert serious(f) == FIVE
    # 1. split brain: two link cuts isolate one keepalived member (3 meshed switches).
    sb = f["split-brain:haproxy"]
    assert sb.kind == "split-brain" and sb.scenario == ("link:mgmt:sw-1~sw-2", "link:mgmt:sw-1~sw-3")
    link_only = [s for s in sb.details["scenarios"] if all(c.startswith("link:") for c in s)]
    assert sorted(map(tuple, link_only)) == [
        ("link:mgmt:sw-1~sw-2", "link:mgmt:sw-1~sw-3"),
        ("link:mgmt:sw-1~sw-2", "link:mgmt:sw-2~sw-3"),
        ("link:mgmt:sw-1~sw-3", "link:mgmt:sw-2~sw-3"),
    ]
    # 2. cinder-volume: size-1 cut sets, its node and its process among them.
    cv = f["spof:cinder-volume"]
    node = cv.scenario[0].split(":")[1]
    assert cv.severity == "high" and cv.scenario == (f"node:{node}",)
    assert [f"proc:cinder-volume@{node}"] in cv.details["cut_sets"]
    # 3. lbaas: partial outage, a node failure loses the shards on it.
    lb = f["partial-outage:neutron-lbaas-agent"]
    assert lb.kind == "partial-outage" and len(lb.scenario) == 1
    # 4. one aggregated monitoring finding.
    mon = f["monitoring-required"]
    assert (
        "cinder-volume" in mon.services and "galera" in mon.services and mon.details["no_failover"] == ["cinder-volume"]
    )
    # 5. one aggregated manual-recovery finding naming each procedure.
    mr = f["manual-recovery"]
    assert mr.services == ("galera", "rabbitmq")  # MongoDB elects a primary once a majority is back
    assert "highest seqno" in mr.details["procedures"]["galera"] and "redis" not in mr.services
    # Everything else is inherent (2 of 3 members) and at most low.
    assert f["quorum-loss:galera"].severity == "low" and len(f["quorum-loss:galera"].scenario) == 2
    assert not any(
        i.startswith(("spof:", "quorum-loss:")) and f[i].severity != "low" for i in f if i != "spof:cinder-volume"
    )


def test_cinder_volume_managed_by_pacemaker_is_no_longer_a_spof(keepalived, keepalived_findings):
    def change(d):
        s = svc(d, "cinder-volume")
        s["strategy"] = {"kind": "active_passive", "manager": "pacemaker"}
        s["replicas"] = "all"
        d["pacemaker"] = {"on": ["controller"], "quorum": "majority", "fencing": True, "wait_for_all": True}

    f = run(variant(keepalived, change))
    assert "spof:cinder-volume" in keepalived_findings and "spof:cinder-volume" not in f
    assert serious(f) == FIVE - {"spof:cinder-volume"}


def test_two_galera_members_in_one_rack_is_a_single_failure_quorum_loss(keepalived):
    def change(d):
        for n in d["nodes"]:
            if n["name"] == "ctl-2":
                n["domains"] = ["r1"]

    f = run(variant(keepalived, change))
    q = f["quorum-loss:galera"]
    assert q.severity == "high" and q.scenario == ("domain:r1",)
    assert "keystone" in q.services  # what depends on galera goes down with it
    assert serious(f) == FIVE | {
        "quorum-loss:galera",
        "quorum-loss:rabbitmq",
        "quorum-loss:mongodb",
        "quorum-loss:redis",
    }


def test_a_supervisor_removes_the_monitoring_finding(keepalived):
    f = run(variant(keepalived, lambda d: d.update(supervisor="systemd")))
    assert serious(f) == FIVE - {"monitoring-required"}


def test_external_monitoring_turns_the_finding_into_information(keepalived):
    def change(d):
        d["services"].append(
            {"name": "nagios", "on": ["controller"], "strategy": {"kind": "external", "provides": ["monitoring"]}}
        )

    f = run(variant(keepalived, change))
    assert "monitoring-required" not in f and f["no-automatic-restart"].severity == "info"


def test_split_brain_needs_two_link_cuts(keepalived):
    r = place(keepalived)
    assert split_brain(keepalived, r.placement, k=1, vrrp_groups=r.vrrp_groups) == {}
    three = split_brain(keepalived, r.placement, k=3, vrrp_groups=r.vrrp_groups)["haproxy"]
    assert len(three) == 6 and {len(c) for c in three} == {2}  # three links cut contain two: not minimal


def test_pacemaker_model_has_no_cinder_spof_and_no_split_brain():
    f = run(load(PACEMAKER))
    assert "spof:cinder-volume" not in f and not any(i.startswith("split-brain:") for i in f)
    # Galera and RabbitMQ are bootstrapped by their resource agents; MongoDB elects by itself.
    assert serious(f) == {"partial-outage:neutron-lbaas-agent"}
    assert f["cold-start:wait-for-all"].severity == "low"


def test_acknowledgements_and_gate(keepalived):
    def change(d):
        d["acknowledgements"] = [{"finding": "spof:cinder-volume", "reason": "Accepted until Pacemaker lands."}]

    arch = variant(keepalived, change)
    f = run(arch)
    assert f["spof:cinder-volume"].acknowledged == "Accepted until Pacemaker lands."
    failing = {x.id for x in gate(f.values(), "medium")}
    assert failing == FIVE - {"spof:cinder-volume"}
    assert gate(f.values(), "critical") == []


def test_data_for_generators(keepalived):
    r = place(keepalived)
    p, g = r.placement, r.vrrp_groups
    cs = cut_sets(keepalived, p, k=1, vrrp_groups=g)
    node = p.nodes_of("cinder-volume")[0]
    assert (f"node:{node}",) in cs["cinder-volume"] and cs["haproxy"] == []
    scen = {s.component: s for s in single_failure_scenarios(keepalived, p, g)}
    x = scen[f"node:{node}"]
    assert "cinder-volume" in x.down and "neutron-lbaas-agent" in x.partial and "galera" in x.degraded
    assert scen["switch:sw-2"].down == () or "cinder-volume" in scen["switch:sw-2"].down
    cold = {c.service: c for c in cold_start(keepalived, p, k=1, vrrp_groups=g)}
    assert cold["galera"].outcome == "manual" and cold["redis"].outcome == "automatic"
    assert {c.service: c.outcome for c in cold_start(keepalived, p, k=2, vrrp_groups=g)}["redis"] == "blocked"
    proof = prove_tolerance(keepalived, p, 1, g)
    assert proof["cinder-volume"] is not None and proof["galera"] is None
    assert availability(keepalived, p, g) == {}  # no reliability figures in this model
    assert capacity_check(keepalived, p) == []


def test_multirack_availability_and_findings():
    arch = load(MULTIRACK)
    r = place(arch)
    av = availability(arch, r.placement, r.vrrp_groups)
    assert all(a.exact for a in av.values())
    # cinder-volume (one node) is less available than keystone (three behind a VIP) -- both below the zone.
    assert av["cinder-volume"].availability < av["memcached"].availability < 0.99999 + 1e-12
    f = run(arch)
    # Dual-corded nodes: one feed stops nothing; both feeds are the power cut.
    assert f["quorum-loss:galera"].severity == "low"
    assert f["cut-sets:haproxy"].scenario == ("domain:pdu-a", "domain:pdu-b")
    assert f["site-failure:dc1"].severity == "low"
    # The load balancers are bonded to both edge switches: the edge link partitions nothing.
    assert "split-brain:haproxy-public" not in f


def hamodel(*args, cwd=ROOT):
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "hamodel.cli", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_check_exit_codes_and_json(tmp_path):
    lock = str(tmp_path / "x.lock.json")
    r = hamodel("check", str(KEEPALIVED), "--lock", lock)
    assert r.returncode == 1, r.stderr
    assert "OpenStack, keepalived" in r.stdout and "split-brain:haproxy" in r.stdout
    assert "5 unacknowledged finding(s) at or above medium" in r.stdout
    r = hamodel("check", str(KEEPALIVED), "--fail-on", "critical", "--lock", lock)
    assert r.returncode == 0, r.stderr
    r = hamodel("check", str(KEEPALIVED), "--json", "--lock", lock, "-k", "1")
    assert r.returncode == 1
    data = json.loads(r.stdout)
    assert data["model"] == "OpenStack, keepalived" and data["placement"]["galera"]
    ids = {f["id"] for f in data["findings"]}
    assert "spof:cinder-volume" in ids and "split-brain:haproxy" not in ids  # needs 2 cuts
    assert set(data["failing"]) == FIVE - {"split-brain:haproxy"}
    assert {"id", "kind", "severity", "services", "scenario", "acknowledged"} <= set(data["findings"][0])
    r = hamodel("check", str(KEEPALIVED), "--fail-on", "bogus")
    assert r.returncode == 2


def test_cli_check_shows_accepted_findings(tmp_path):
    model = tmp_path / "acked.py"
    model.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'models')!r})\n"
        "from openstack_keepalived import architecture as base\n"
        "from hamodel import Acknowledgement\n"
        "architecture = base.model_copy(update={'acknowledgements': [\n"
        + "".join(f"    Acknowledgement({i!r}, 'documented limitation'),\n" for i in sorted(FIVE))
        + "]})\n"
    )
    r = hamodel("check", str(model), "--lock", str(tmp_path / "l.json"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "accepted: documented limitation" in r.stdout
