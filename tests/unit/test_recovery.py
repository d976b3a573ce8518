"""Predicted recovery (RTO interval, RPO) and the policy gate."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hamodel import Policy
from hamodel.pipeline import resolve

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"


def _dep(arch, name):
    return resolve(arch, lock=MODELS / f"{name}.lock.json")


def test_reference_intervals_follow_the_generated_timers(resolved):
    dep = resolved("openstack_keepalived")
    t = dep.recovery
    g = dep.group_of("haproxy")
    best = g.members[1]
    md = 3 + (256 - g.priorities[best]) / 256  # advert_int 1 s
    ks = t.get("keystone", "node")
    assert ks.rto_s == (0.0, round(md, 3)) and "advert_int" in ks.dominated_by
    hp = t.get("haproxy", "process")  # vrrp_script interval 2 s, fall 2, then the best backup's skew
    assert hp.rto_s == (round(2 + md - 3, 3), round(6 + md - 3, 3)) and "check.interval_s" in hp.dominated_by
    gl = t.get("galera", "node")
    assert gl.rto_s == (5.0, 13.0) and "evs.suspect_timeout" in gl.dominated_by
    # The service's own process: HAProxy stops sending to it within fall x inter (refused at once).
    assert t.get("keystone", "process").rto_s == (
        0.0,
        1.5,
    )  # fall 3 x inter 500 ms and "inter_ms" in t.get("keystone", "process").dominated_by
    assert t.get("galera", "node").rpo_s == 0.0  # replication="synchronous" in the model
    # A mesh link cut loses no node in the model: unknown, never 0.
    assert t.get("keystone", "link").rto_s is None
    # Nothing moves cinder-volume: a node crash stops it for good.
    cv = t.get("cinder-volume", "node")
    assert cv.rto_s is None and cv.down == ("node:ctl-1",)
    # No site in the model: no site row.
    assert t.get("keystone", "site") is None


def test_a_slower_advert_widens_the_interval(reference_arch):
    arch = reference_arch("openstack_keepalived")
    slow = arch.replace_services({"haproxy": {"strategy": arch.service("haproxy").strategy.replace(advert_int=3)}})
    dep = _dep(slow, "openstack_keepalived")
    g = dep.group_of("haproxy")
    md = 3 * (3 + (256 - g.priorities[g.members[1]]) / 256)
    assert dep.recovery.get("keystone", "node").rto_s == (0.0, round(md, 3))


def _measured(page: Path, scenario: str, key: str) -> float:
    text = page.read_text()
    block = text.split(f"Scenario ``{scenario}``", 1)[1].split("\nScenario ``", 1)[0]
    m = re.search(rf"- {key} \\\(s\\\): ([0-9.]+)", block)
    assert m, f"{scenario}: no {key} on {page.name}"
    return float(m.group(1))


def test_predictions_contain_the_measured_drill(resolved):
    """docs/drills.rst (a real drill of the reference model) against the prediction."""
    from hamodel.drill.keepalived.common import MARGIN_S  # the client's sampling: probe timeout 0.3 s + interval

    t = resolved("openstack_keepalived").recovery
    page = ROOT / "docs" / "drills.rst"
    crash = _measured(page, "holder-crash", "service restored")
    lo, hi = t.get("keystone", "node").rto_s
    assert lo - MARGIN_S <= crash <= hi + MARGIN_S, (crash, lo, hi)
    # the VIP itself (sampled every 50 ms) moved within the bound
    assert lo <= _measured(page, "holder-crash", "failover") <= hi
    death = _measured(page, "haproxy-death", "service restored")
    lo, hi = t.get("haproxy", "process").rto_s
    assert lo - MARGIN_S <= death <= hi + MARGIN_S, (death, lo, hi)
    # galera-member-down (the writer's mariadbd dies): writes on the survivor after that long
    m = re.search(r"writes on ctl-\d after ([0-9.]+) s", page.read_text())
    lo, hi = t.get("galera", "process").rto_s
    assert m and lo <= float(m.group(1)) <= hi


def test_policy_names_the_vrrp_timer(reference_arch):
    arch = reference_arch("openstack_keepalived").replace(policy=Policy(rto={"node": "3s"}))
    dep = _dep(arch, "openstack_keepalived")
    f = next(f for f in dep.findings if f.id == "recovery-objective:keystone:node:rto")
    assert "services[haproxy].strategy.advert_int" in f.impact
    assert "below the 1 s keepalived allows" in f.mitigation
    # A 5 s target holds for the APIs (3.57 s) but not for Galera's eviction (5-13 s).
    arch5 = reference_arch("openstack_keepalived").replace(policy=Policy(rto={"node": "5s"}))
    ids = {f.id for f in _dep(arch5, "openstack_keepalived").findings if f.kind == "recovery-objective"}
    assert "recovery-objective:galera:node:rto" in ids and "recovery-objective:keystone:node:rto" not in ids


def test_policy_names_the_haproxy_timer_and_a_value_that_meets_it(reference_arch):
    arch = reference_arch("multirack")
    dep = _dep(arch.replace_service("keystone", policy=Policy(rto={"node": "5s"})), "multirack")
    f = next(f for f in dep.findings if f.id == "recovery-objective:keystone:node:rto")
    assert "services[keystone].strategy.check.inter_ms" in f.impact
    m = re.search(r"set services\[keystone\]\.strategy\.check\.inter_ms to (\d+) ms", f.mitigation)
    assert m
    # The value it names does meet the target.
    k = arch.service("keystone").strategy
    fixed = arch.replace_service(
        "keystone",
        policy=Policy(rto={"node": "5s"}),
        strategy=k.replace(check=k.check.replace(inter_ms=int(m.group(1)))),
    )
    dep2 = _dep(fixed, "multirack")
    assert dep2.recovery.get("keystone", "node").rto_s[1] <= 5
    assert not [f for f in dep2.findings if f.id == "recovery-objective:keystone:node:rto"]


@pytest.mark.parametrize(
    "replication,rpo_s,word", [("synchronous", 0.0, "0:"), ("asynchronous", None, "lost"), (None, None, "unknown")]
)
def test_rpo_from_replication(reference_arch, replication, rpo_s, word):
    arch = reference_arch("openstack_keepalived")
    redis = arch.service("redis").strategy
    arch = arch.replace_service(
        "redis", strategy=redis.replace(replication=replication), policy=Policy(rpo={"node": "0s"})
    )
    dep = _dep(arch, "openstack_keepalived")
    r = dep.recovery.get("redis", "node")
    assert r.rpo_s == rpo_s and word in r.rpo
    failing = [f for f in dep.findings if f.id == "recovery-objective:redis:node:rpo"]
    assert bool(failing) == (replication != "synchronous")


@pytest.mark.slow
def test_check_json_and_exit(tmp_path):
    model = tmp_path / "m.py"
    model.write_text(
        "from models.openstack_keepalived import architecture as a\n"
        "from hamodel import Policy\n"
        "architecture = a.replace(policy=Policy(rto={'node': '3s'}))\n"
    )
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "hamodel.cli",
            "check",
            str(model),
            "--json",
            "--lock",
            str(MODELS / "openstack_keepalived.lock.json"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert p.returncode == 1, p.stderr
    out = json.loads(p.stdout)
    node = next(r for r in out["recovery"]["keystone"] if r["disruption"] == "node")
    assert node["rto_s"][1] > 3 and node["rto_target_s"] == 3 and "advert_int" in node["dominated_by"]
    assert "recovery-objective:keystone:node:rto" in out["failing"]


def test_drill_report_compared_with_the_prediction(resolved):
    """A report shaped like ``hamodel drill --json`` (figures of docs/drills.rst) against the prediction."""
    from hamodel.drill.recovery import add_to_report

    dep = resolved("openstack_keepalived")

    def sc(name, kind, service, **m):
        return {
            "name": name,
            "kind": kind,
            "title": name,
            "vip": "controller-vip",
            "service": service,
            "agreed": True,
            "checks": [],
            "notes": [],
            "measured": m,
        }

    report = {
        "summary": {"disagreed": []},
        "scenarios": [
            sc(
                "holder-crash",
                "holder-crash",
                None,
                polled="keystone 192.168.1.220:5000",
                failed_requests=11,
                service_restored_s=3.33,
            ),
            sc(
                "haproxy-death",
                "haproxy-death",
                None,
                polled="keystone 192.168.1.220:5000",
                failed_requests=77,
                service_restored_s=4.39,
            ),
            sc("backend-death:keystone", "backend-death", "keystone", polled="x", failed_requests=0),
            sc("galera-member-down", "galera-member-down", "galera", first_write_on_backup_s=6.39, lost={}),
            # a made-up outage far outside the interval must disagree
            sc(
                "holder-kill",
                "holder-kill",
                None,
                polled="keystone 192.168.1.220:5000",
                failed_requests=3,
                service_restored_s=9.0,
            ),
        ],
    }
    add_to_report(dep, report)
    by = {c["scenario"]: c for c in report["recovery"]}
    assert by["holder-crash"]["inside"] and by["holder-crash"]["disruption"] == "node"
    assert by["haproxy-death"]["service"] == "haproxy" and by["haproxy-death"]["inside"]
    assert by["backend-death:keystone"]["measured_s"] == 0.0 and by["backend-death:keystone"]["inside"]
    assert by["galera-member-down"]["lost_writes"] == 0 and by["galera-member-down"]["rpo_agreed"] is True
    assert by["holder-kill"]["inside"] is False
    assert report["summary"]["disagreed"] == ["recovery:holder-kill"]
    import copy

    import docutils.core
    from hamodel.generators.drill_report import render_rst
    from test_drill_units import REPORT

    page_report = copy.deepcopy(REPORT)
    page_report["recovery"] = report["recovery"]
    page = render_rst(page_report)
    docutils.core.publish_doctree(page, settings_overrides={"halt_level": 2, "report_level": 2})
    assert "Recovery against the prediction" in page and "holder-kill" in page


def test_diff_reports_changed_intervals(reference_arch):
    from hamodel.diff import _recovery_changes

    arch = reference_arch("openstack_keepalived")
    slow = arch.replace_services({"haproxy": {"strategy": arch.service("haproxy").strategy.replace(advert_int=2)}})
    changes = _recovery_changes(_dep(arch, "openstack_keepalived"), _dep(slow, "openstack_keepalived"))
    ks = next(c for c in changes if c["service"] == "keystone" and c["disruption"] == "node")
    assert ks["new"][1] > ks["old"][1] and "advert_int" in ks["new_dominated_by"]
    assert not [c for c in changes if c["service"] == "galera" and c["disruption"] == "process"]


def test_pacemaker_prediction_contains_the_measured_node_crash(resolved):
    """docs/drills-pacemaker.rst (a real corosync/Pacemaker drill) against the prediction."""
    from hamodel.drill.recovery import recovery_checks

    dep = resolved("openstack_pacemaker")
    measured = _measured(ROOT / "docs" / "drills-pacemaker.rst", "node-crash", "vip on survivor")
    report = {
        "kind": "pacemaker",
        "scenarios": [
            {
                "name": "node-crash",
                "kind": "pacemaker-node-crash",
                "vip": "controller-vip",
                "service": None,
                "measured": {"vip_on_survivor_s": measured},
            }
        ],
    }
    (c,) = recovery_checks(dep, report)
    assert c.service == "haproxy" and c.disruption == "node" and c.inside, c
    token = dep.recovery.get("haproxy", "node")
    assert "corosync token timeout" in {t.name for t in token.terms}


def test_redis_scenario_offered_for_asynchronous_replication(resolved, reference_arch):
    import shutil

    from hamodel.drill.keepalived.redis_primary_kill import async_service
    from hamodel.drill.registry import KINDS

    dep = resolved("openstack_keepalived")
    assert async_service(dep) == "redis"  # the reference's Redis says replication="asynchronous"
    kind = KINDS["redis-primary-kill"]
    offered = kind.offer(dep, "controller-vip", quick=False, switches=3)
    assert [s.service for s in offered] == (["redis"] if shutil.which("redis-server") else [])
    assert kind.offer(dep, "controller-vip", quick=True, switches=3) == []
    arch = reference_arch("openstack_keepalived")
    unknown = arch.replace_service("redis", strategy=arch.service("redis").strategy.replace(replication=None))
    assert async_service(_dep(unknown, "openstack_keepalived")) is None


def test_architecture_document_shows_what_the_drill_page_measured(resolved):
    from hamodel.generators.docs import DocExtras, render_section
    from hamodel.generators.drill_report import read_measured

    model_file, measured = read_measured((ROOT / "docs" / "drills.rst").read_text())
    assert model_file == "models/openstack_keepalived.py" and ("keystone", "node") in measured
    text = render_section(resolved("openstack_keepalived"), "recovery", extras=DocExtras(measured_outage=measured))
    rows = [r.split("\n") for r in text.split("   * - ")[1:]]
    row = next(r for r in rows if r[0].strip() == "keystone" and r[1].strip() == "- node")
    assert row[4].strip() == f"- {measured[('keystone', 'node')]:g} s", row
    assert read_measured("no mark here") == (None, {})
