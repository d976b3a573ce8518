"""Pacemaker's other quorum shapes on real daemons: ``two_node`` with a fence race, and a quorum device.

Models: ``tests/data/pacemaker_two_node.py`` (2 nodes, ``two_node``, one fence
device per node, the one that fences ``pm-1`` with ``delay_base_s=10``) and
``tests/data/pacemaker_qdevice.py`` (2 nodes and ``arbiter`` running
corosync-qnetd, three switches in a full mesh).

Reasoned by hand (and what the analysis says, checked first below):

- two_node + fencing: each node alone is quorate (corosync ``two_node: 1``);
  a partition makes both fence the other; the device that fences ``pm-1``
  waits 10 s, so ``pm-1`` fences ``pm-2`` first and survives: exactly one
  survivor, the VIP held once. A crash of ``pm-1`` costs those 10 s too.
- quorum device: 3 votes, quorum 2. Isolating one node's switch leaves the
  other with qnetd (2 votes): it fences the isolated node and takes the VIP.
  A node crash with qnetd up: the survivor has 2 votes and takes over.
  qnetd lost alone: both nodes keep 2 of 3 votes, nothing moves; then a
  node crash: the survivor has 1 of 3, loses quorum and stops the VIP
  (the analysis' cut set {corosync-qnetd@arbiter, node}).

The real tests run ``hamodel drill`` on each model (root, ``corosync
pacemaker pacemaker-cli-utils resource-agents corosync-qnetd
corosync-qdevice``) and assert the measured outcomes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hamodel.analysis.components import QNETD, link_id, node_id, proc_id
from hamodel.drill.lab import list_namespaces
from hamodel.drill.pacemaker.cluster import PacemakerClusterLab
from hamodel.drill.pacemaker.cluster_plan import available, generated_files, lab_cib, plan
from hamodel.drill.pacemaker.quorum import SCENARIOS, analysis_prediction, cut_sets, shape
from hamodel.drill.pacemaker.quorum_observe import delay_for
from hamodel.loader import load

ROOT = Path(__file__).resolve().parents[2]
TWO_NODE = ROOT / "tests" / "data" / "pacemaker_two_node.py"
QDEVICE = ROOT / "tests" / "data" / "pacemaker_qdevice.py"
ENV = {"HAMODEL_IPMI_PASSWORD": "lab-only"}


@pytest.fixture(scope="module")
def two():
    arch = load(TWO_NODE)
    dep, files = generated_files(arch)
    return arch, dep, files


@pytest.fixture(scope="module")
def qdev():
    arch = load(QDEVICE)
    dep, files = generated_files(arch)
    return arch, dep, files


# -- the prediction: what the analysis says for each injected failure set ----------------------


def test_shapes_and_their_scenarios(two, qdev):
    assert shape(two[0]) == "two_node" and shape(qdev[0]) == "qdevice"
    assert shape(load(ROOT / "models" / "openstack_pacemaker.py")) is None
    assert PacemakerClusterLab.select(None, quick=True, arch=qdev[0]) == list(SCENARIOS["qdevice"])
    assert PacemakerClusterLab.select(["two-node-crash"], quick=False, arch=two[0]) == ["two-node-crash"]
    with pytest.raises(ValueError, match="unknown scenario.*partition-no-fencing"):
        PacemakerClusterLab.select(["partition-no-fencing"], quick=False, arch=two[0])


def test_two_node_analysis_predicts_pm1_wins_the_race(two):
    arch, dep, _ = two
    assert "pacemaker:two-node" in {f.id for f in dep.findings}
    cut = analysis_prediction(arch, dep, [link_id("lan", "sw-1", "sw-2")])
    assert cut["quorate"] == {"pm-1": True, "pm-2": False} and cut["may_hold_vip"] == ["pm-1"]
    assert cut["service_up"] and not cut["split_brain"]
    for victim, other in (("pm-1", "pm-2"), ("pm-2", "pm-1")):
        crash = analysis_prediction(arch, dep, [node_id(victim)])
        assert crash["quorate"][other] and crash["may_hold_vip"] == [other] and crash["service_up"]


def test_two_node_lab_keeps_the_static_delay_on_the_winners_device(two, tmp_path):
    arch, dep, files = two
    p = plan(arch, dep, files)
    conf, _, _ = lab_cib(p.cib, p, tmp_path)

    class _PL:
        configuration = conf

    assert delay_for(_PL, "pm-1") == 10 and delay_for(_PL, "pm-2") == 0
    assert "two_node: 1" in p.corosync_conf["pm-1"] and p.qnetd is None


def test_qdevice_analysis_predictions(qdev):
    arch, dep, _ = qdev
    iso = analysis_prediction(arch, dep, [link_id("lan", "sw-1", "sw-2"), link_id("lan", "sw-1", "sw-3")])
    assert iso["quorate"] == {"qd-1": False, "qd-2": True} and iso["may_hold_vip"] == ["qd-2"]
    assert analysis_prediction(arch, dep, [node_id("qd-1")])["quorate"]["qd-2"]
    lost = [proc_id(QNETD, "arbiter")]
    assert analysis_prediction(arch, dep, lost)["quorate"] == {"qd-1": True, "qd-2": True}
    both = analysis_prediction(arch, dep, lost + [node_id("qd-1")])
    assert both["quorate"]["qd-2"] is False and not both["service_up"]
    assert sorted(lost + [node_id("qd-1")]) in cut_sets(dep, "haproxy")


def test_qdevice_plan_has_the_qnetd_host(qdev):
    arch, dep, files = qdev
    p = plan(arch, dep, files)
    assert p.nodes == ["qd-1", "qd-2"] and p.qnetd.node == "arbiter"
    assert p.qnetd.address == "10.78.0.9" and "host: 10.78.0.9" in p.corosync_conf["qd-1"]
    assert p.switches == ["sw-1", "sw-2", "sw-3"] and len(p.links) == 3


# -- the real daemons ----------------------------------------------------------------------------

real = [
    pytest.mark.netns,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network and mount namespaces)"),
]


def _drill(model: Path, tmp: Path) -> dict:
    why = available()
    if why:
        pytest.fail(f"the Pacemaker drill cannot run as root here: {why}")
    for tool in ("corosync-qnetd", "corosync-qdevice", "corosync-qnetd-certutil", "corosync-qdevice-net-certutil"):
        if not any(Path(d, tool).exists() for d in ("/usr/bin", "/usr/sbin")):
            pytest.fail(f"missing {tool} (install corosync-qnetd corosync-qdevice)")
    before = set(list_namespaces())
    r = subprocess.run(
        [sys.executable, "-m", "hamodel.cli", "drill", str(model), "--json", "--rst-out", str(tmp / "drill.rst")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, **ENV},
    )
    assert r.returncode in (0, 1), r.stderr[-3000:]
    report = json.loads(r.stdout)
    assert r.returncode == (0 if not report["summary"]["disagreed"] else 1)
    assert not [ns for ns in set(list_namespaces()) - before if ns.startswith(report["lab_prefix"])]
    report["_rst"] = (tmp / "drill.rst").read_text()
    return report


@pytest.fixture(scope="module")
def two_node_drill(tmp_path_factory):
    return _drill(TWO_NODE, tmp_path_factory.mktemp("two"))


@pytest.fixture(scope="module")
def qdevice_drill(tmp_path_factory):
    return _drill(QDEVICE, tmp_path_factory.mktemp("qd"))


def _sc(report, name):
    return next(s for s in report["scenarios"] if s["name"] == name)


def _failed(s):
    return [c for c in s["checks"] if not c["agreed"]]


class TestRealTwoNode:
    pytestmark = real

    def test_partition_fence_race_won_by_the_undelayed_fencer(self, two_node_drill):
        r = two_node_drill
        assert r["quorum_shape"] == "two_node" and r["nodes"] == ["pm-1", "pm-2"] and r["qnetd"] is None
        s = _sc(r, "two-node-partition")
        m = s["measured"]
        assert s["prediction"]["quorate"] == {"pm-1": True, "pm-2": False}
        assert m["survivors"] == ["pm-1"] and m["fenced"] == ["pm-2"]  # exactly one survivor, one fencing
        assert m["vip_holders_after"] == ["pm-1"] and m["max_vip_holders"] == 1
        assert m["winner_always_quorate"] and m["winner_quorum_samples"] > 5
        # pm-2's device against pm-1 waits 10 s: pm-2 was fenced before that could run out (and not
        # before corosync's token timeout: nobody knew of the partition earlier).
        detect = (r["timeouts"]["token_ms"] + r["timeouts"]["consensus_ms"]) / 1000
        assert r["timeouts"]["token_ms"] / 1000 <= m["fence_done_s"] < detect + 10
        assert not _failed(s), _failed(s)

    def test_crash_survivor_alone_is_quorate_and_takes_the_vip(self, two_node_drill):
        s = _sc(two_node_drill, "two-node-crash")
        m = s["measured"]
        assert m["survivor_always_quorate"] and "2Node" in m["survivor_flags"] and 1 in m["survivor_votes"]
        assert m["fenced"] == [m["victim"]] and m["fence_done_s"] <= m["vip_on_survivor_s"]
        assert m["max_vip_holders"] == 1
        if m["victim"] == "pm-1":  # its fencing device waits pcmk_delay_base first
            assert m["fence_done_s"] >= 10
        assert not _failed(s), _failed(s)


class TestRealQdevice:
    pytestmark = real

    def test_qnetd_and_qdevice_ran_with_tls(self, qdevice_drill):
        from docutils.core import publish_doctree

        r = qdevice_drill
        text = publish_doctree(r["_rst"], settings_overrides={"report_level": 2, "halt_level": 2}).astext()
        assert "qnetd-loss-node-crash" in text and "Waiting for all cluster members" in text
        assert r["quorum_shape"] == "qdevice" and r["qnetd"] == "arbiter"
        assert any("corosync-qnetd on arbiter" in x for x in r["substitutions"])
        assert [s["name"] for s in r["scenarios"]] == list(SCENARIOS["qdevice"])

    def test_partition_the_side_with_qnetd_wins(self, qdevice_drill):
        s = _sc(qdevice_drill, "qdevice-partition")
        m = s["measured"]
        other = next(n for n in ("qd-1", "qd-2") if n != m["isolated"])
        assert s["prediction"]["quorate"] == {m["isolated"]: False, other: True}
        assert m["survivors"] == [other] and m["fenced"] == [m["isolated"]]
        assert m["vip_holders_after"] == [other] and m["max_vip_holders"] == 1 and m["winner_always_quorate"]
        assert not _failed(s), _failed(s)

    def test_node_crash_survivor_keeps_quorum_with_qnetd(self, qdevice_drill):
        s = _sc(qdevice_drill, "qdevice-node-crash")
        m = s["measured"]
        assert m["survivor_always_quorate"] and "Qdevice" in m["survivor_flags"] and 2 in m["survivor_votes"]
        assert m["fenced"] == [m["victim"]] and m["max_vip_holders"] == 1
        assert not _failed(s), _failed(s)

    def test_qnetd_loss_then_crash_stops_the_service(self, qdevice_drill):
        s = _sc(qdevice_drill, "qnetd-loss-node-crash")
        m = s["measured"]
        for st in m["after_qnetd_loss"].values():  # qnetd gone: 2 of 3 votes, still quorate, device not voting
            assert st["quorate"] and st["total_votes"] == 2 and st["qdevice_flags"].split(",")[1] == "NV"
        assert m["vip_holders_after_qnetd_loss"] == [m["holder"]]
        assert m["holder_quorum_lost_s"] is not None and m["holder_quorate_later"] == [False]
        assert m["vip_stopped_s"] is not None and not m["vip_restarted"] and m["fenced"] == []
        # qnetd back: the vote returns, wait_for_all keeps the lone node inquorate (corosync's own words).
        qb = m["qnetd_back"]
        assert qb["total_votes"] == 2 and qb["holder_quorate"] is False and qb["corosync_says"]
        assert not _failed(s), _failed(s)
