"""``redis-promoted-kill``: a real Redis promotable clone under ocf:heartbeat:redis fails over in the
Pacemaker lab (the promoted node loses power), against the analysis' recovery row for Redis (issue 26)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hamodel.drill.pacemaker.cluster_plan import REDIS_AGENT, available, lab_cib
from hamodel.drill.pacemaker.redis_failover import ip_of, promoted_vips, redis_clone, vip_elsewhere

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "openstack_pacemaker.py"


@pytest.fixture(scope="module")
def shipped_cib():
    from hamodel.drill.pacemaker.cluster_plan import generated_files, plan
    from hamodel.loader import load

    arch = load(str(MODEL))
    dep, files = generated_files(arch)
    return plan(arch, dep, files)


def test_the_shipped_cib_runs_redis_as_a_promotable_clone(shipped_cib):
    conf = _configuration(shipped_cib.cib)
    clone, rid, port = redis_clone(conf)
    assert (clone, rid, port) == ("redis-clone", "redis", "6379")
    # The model's Redis VIP (AppCluster vips=[redis-vip]) is an IPaddr2 colocated with the promoted role:
    # what the scenario follows; the drill's holder watch samples it (a Pacemaker VIP of the plan).
    assert promoted_vips(conf, clone) == ["ip-redis-vip"]
    assert ip_of(conf, "ip-redis-vip") == "192.168.1.219"
    assert "192.168.1.219" in {v.address for v in shipped_cib.vips}


def test_lab_keeps_the_redis_agent_only_when_asked(shipped_cib, tmp_path):
    stand_in, _, _ = lab_cib(shipped_cib.cib, shipped_cib, tmp_path)
    assert redis_clone(stand_in) is None  # ocf:pacemaker:Stateful by default
    real, notes, _ = lab_cib(shipped_cib.cib, shipped_cib, tmp_path, frozenset({REDIS_AGENT}))
    assert redis_clone(real) == ("redis-clone", "redis", "6379")
    assert any("ocf:heartbeat:redis runs for real" in n for n in notes)


def test_a_vip_colocated_with_the_promoted_role_is_found():
    conf = """<configuration><resources>
      <primitive id="ip-redis" class="ocf" provider="heartbeat" type="IPaddr2">
        <instance_attributes id="a"><nvpair id="b" name="ip" value="192.0.2.9"/></instance_attributes></primitive>
      <clone id="redis-clone"><meta_attributes id="m"><nvpair id="n" name="promotable" value="true"/></meta_attributes>
        <primitive id="redis" class="ocf" provider="heartbeat" type="redis"/></clone>
    </resources><constraints>
      <rsc_colocation id="c1" rsc="ip-redis" with-rsc="redis-clone" with-rsc-role="Promoted" score="INFINITY"/>
      <rsc_colocation id="c2" rsc="other" with-rsc="redis-clone" score="INFINITY"/>
    </constraints></configuration>"""
    assert redis_clone(conf) == ("redis-clone", "redis", "6379")
    assert promoted_vips(conf, "redis-clone") == ["ip-redis"]
    assert ip_of(conf, "ip-redis") == "192.0.2.9" and ip_of(conf, "redis") is None


def test_a_vip_seen_on_another_node_than_the_new_primary_is_reported():
    s = [
        (0.0, frozenset({"a"})),  # the powered-off node, before its addresses are gone: expected
        (0.1, frozenset()),
        (5.0, frozenset({"b"})),
    ]
    assert vip_elsewhere(s, "b", "a") == []
    assert vip_elsewhere([*s, (5.1, frozenset({"a", "b"}))], "b", "a") == ["a"]  # the old node again
    assert vip_elsewhere([*s, (5.1, frozenset({"c"}))], "b", "a") == ["c"]  # another survivor
    assert vip_elsewhere(s, None, "a") == ["b"]  # no new primary: every survivor holding it is elsewhere


def _configuration(cib: str) -> str:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(cib)
    return ET.tostring(root.find("configuration") if root.tag == "cib" else root, encoding="unicode")


@pytest.mark.slow
@pytest.mark.netns
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network and mount namespaces)")
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs Debian's redis-server")
def test_redis_promoted_kill_agrees_on_a_real_cluster():
    why = available()
    if why:
        pytest.fail(f"the Pacemaker drill cannot run as root here: {why}")
    r = subprocess.run(
        [sys.executable, "-m", "hamodel.cli", "drill", str(MODEL), "--scenario", "redis-promoted-kill", "--json"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert r.returncode in (0, 1), r.stderr[-3000:]
    report = json.loads(r.stdout)
    (s,) = report["scenarios"]
    m, p = s["measured"], s["prediction"]
    print(json.dumps({"prediction": p, "measured": m}, indent=1))
    assert s["name"] == "redis-promoted-kill" and s["kind"] == "pacemaker-redis-promoted-kill"
    assert any("ocf:heartbeat:redis runs for real" in n for n in report["substitutions"])
    assert m["victim"] not in m["survivors"] and m["new_primary"] in m["survivors"]
    assert m["writes_acknowledged"] > 0 and m["lost"] is not None
    rec = [c for c in report.get("recovery", []) if c["scenario"] == "redis-promoted-kill"]
    # The client's outage through the VIP, inside the row's interval for the promoted node's loss.
    assert rec and rec[0]["service"] == "redis" and rec[0]["measured_s"] == m["vip_accepts_writes_s"]
    assert p["source"] == "recovery table" and p["rto_s"] == rec[0]["predicted_rto_s"] and rec[0]["inside"]
    assert m["promoted_on_survivor_s"] is not None and m["accepts_writes_s"] is not None
    # The Redis VIP followed the promoted role: on the victim alone before, the new primary alone after,
    # and a client writing through it reached the new primary's redis-server.
    assert m["vips_with_promoted"] == ["ip-redis-vip"] and m["vip_holders_before"] == [m["victim"]]
    assert m["vip_holders_after"] == [m["new_primary"]] and m["vip_held_elsewhere"] == []
    assert m["vip_on_new_primary_s"] is not None and m["vip_accepts_writes_s"] is not None
    assert m["vip_answered_by_new_primary"] is True
    failed = [c for c in s["checks"] if not c["agreed"]]
    assert s["agreed"], failed
