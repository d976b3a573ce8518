"""The Pacemaker architecture on a real corosync/Pacemaker cluster (issue 12).

The first tests need nothing but the model and the generated files: the lab
plan, the lab's substitutions in the CIB (checked with the real
``crm_verify``), the lab fence agent's protocol, and the pure parts of the
verdicts. The real ones (netns + slow) run ``hamodel drill
models/openstack_pacemaker.py`` once: three cluster nodes in network
namespaces, each in a mount namespace of its own, the generated
corosync.conf and CIB, the lab's fence agent; then they read its report.
They need root and ``corosync pacemaker pacemaker-cli-utils resource-agents``
(``.ci/install``).

By hand: ``hamodel drill models/openstack_pacemaker.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hamodel.drill.lab import list_namespaces
from hamodel.drill.pacemaker import fence
from hamodel.drill.pacemaker.cluster import PacemakerClusterLab, default_compare
from hamodel.drill.pacemaker.cluster_plan import FENCE_AGENT, available, generated_files, lab_cib, plan
from hamodel.drill.pacemaker.scenarios import overlap, split_check
from hamodel.drill.registry import CLUSTER_LABS
from hamodel.loader import load
from hamodel.pipeline import resolve

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "openstack_pacemaker.py"
KEEPALIVED = ROOT / "models" / "openstack_keepalived.py"


@pytest.fixture(scope="module")
def arch():
    return load(MODEL)


@pytest.fixture(scope="module")
def built(arch):
    return generated_files(arch)


@pytest.fixture(scope="module")
def lab_plan(arch, built):
    dep, files = built
    return plan(arch, dep, files)


# -- the plan and the lab's configuration --------------------------------------------------


def test_plan_runs_the_generated_files(arch, built, lab_plan):
    dep, files = built
    assert lab_plan.source == "generated"
    assert lab_plan.nodes == ["ctl-1", "ctl-2", "ctl-3"]
    # Ring addresses are the generated corosync.conf's, which are the model's mgmt addresses.
    assert [m.address for m in lab_plan.members] == ["192.168.1.221", "192.168.1.222", "192.168.1.223"]
    assert {m.switch for m in lab_plan.members} == {"sw-1", "sw-2", "sw-3"}
    assert len(lab_plan.links) == 3 and lab_plan.split_horizon == set(lab_plan.links)  # full mesh, no STP
    assert lab_plan.corosync_conf["ctl-2"] == files["nodes/ctl-2/corosync/corosync.conf"].decode()
    assert [(v.name, v.address) for v in lab_plan.vips] == [
        ("controller-vip", "192.168.1.220"),
        ("redis-vip", "192.168.1.219"),
    ]
    assert lab_plan.single == ["cinder-volume"]


def test_without_generated_files_the_lab_builds_its_own(arch, built):
    dep, _ = built
    p = plan(arch, dep, {})
    assert p.source == "built-in" and any("built from the model" in n for n in p.notes)
    assert "ring0_addr: 192.168.1.221" in p.corosync_conf["ctl-1"]
    assert ET.fromstring(p.cib).find("configuration/resources") is not None


def test_lab_cib_substitutes_exactly_fencing_and_unrunnable_agents(lab_plan):
    conf_text, notes, vips = lab_cib(lab_plan.cib, lab_plan, Path("/run/hamodel-drill/hml-0-test"))
    conf = ET.fromstring(conf_text)
    prims = {p.get("id"): p for p in conf.iter("primitive")}
    shipped = {p.get("id"): p for p in ET.fromstring(lab_plan.cib).iter("primitive")}
    assert set(prims) == set(shipped)  # ids, hence constraints, unchanged
    for rid, p in prims.items():
        was = shipped[rid]
        if was.get("class") == "stonith":
            assert p.get("type") == FENCE_AGENT
            params = {nv.get("name"): nv.get("value") for nv in p.iter("nvpair")}
            assert params["lab"] == "/run/hamodel-drill/hml-0-test"
            assert (
                params["pcmk_host_list"]
                == {nv.get("name"): nv.get("value") for nv in was.iter("nvpair")}["pcmk_host_list"]
            )
            assert "password" not in params  # the shipped secret never reaches the lab's CIB
        elif was.get("type") == "IPaddr2":
            assert _canon(p) == _canon(was)  # the real VIP agent, as shipped
        else:
            assert (p.get("class"), p.get("provider")) == ("ocf", "pacemaker")
            assert p.get("type") == ("Stateful" if rid in ("galera", "redis") else "Dummy")
    assert vips == {"controller-vip": "ip-controller-vip", "redis-vip": "ip-redis-vip"}
    # Every primitive but the IPaddr2 VIPs (run for real) is replaced, each with a note.
    ipaddr2 = sum(1 for p in prims.values() if p.get("type") == "IPaddr2")
    assert ipaddr2 == len(vips) and len(notes) == len(prims) - ipaddr2 and all("replaced by" in n for n in notes)
    # Constraints and properties as shipped.
    shipped_conf = ET.fromstring(lab_plan.cib).find("configuration")
    assert _canon(conf.find("constraints")) == _canon(shipped_conf.find("constraints"))
    assert _canon(conf.find("crm_config")) == _canon(shipped_conf.find("crm_config"))


def _canon(el: ET.Element) -> str:
    return ET.canonicalize(ET.tostring(el), strip_text=True)


@pytest.mark.skipif(
    subprocess.run(["which", "crm_verify"], capture_output=True).returncode != 0,
    reason="crm_verify not installed (pacemaker-cli-utils)",
)
def test_lab_cib_passes_crm_verify(lab_plan, tmp_path):
    conf_text, _, _ = lab_cib(lab_plan.cib, lab_plan, tmp_path)
    f = tmp_path / "cib.xml"
    f.write_text(
        f'<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">{conf_text}<status/></cib>'
    )
    r = subprocess.run(["crm_verify", "--xml-file", str(f)], capture_output=True, text=True)
    assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), r.stderr + r.stdout


# -- the lab's fence agent -------------------------------------------------------------------


def test_fence_agent_reads_stdin_and_arguments():
    assert fence.parse([], "action=off\nport=ctl-2\nnodename=ctl-1\n") == {
        "action": "off",
        "port": "ctl-2",
        "plug": "ctl-2",
        "nodename": "ctl-1",
    }
    assert fence.parse(["-o", "status", "-n", "ctl-3", "--lab=/x"], "")["plug"] == "ctl-3"
    assert fence.parse(["--action=reboot", "--plug", "ctl-1"], "")["action"] == "reboot"


def test_fence_agent_metadata_and_errors(tmp_path):
    script = Path(fence.__file__)
    r = subprocess.run([sys.executable, str(script), "-o", "metadata"], capture_output=True, text=True)
    meta = ET.fromstring(r.stdout)
    assert r.returncode == 0 and meta.get("name") == FENCE_AGENT
    assert {a.get("name") for a in meta.iter("action")} >= {"on", "off", "reboot", "status", "list", "monitor"}
    # Without a lab map, or for a node the map does not know: an error, never "done".
    r = subprocess.run(
        [sys.executable, str(script), "--lab", str(tmp_path)],
        input="action=off\nplug=ctl-1\n",
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1 and "fence map" in r.stderr
    (tmp_path / "fence-map.json").write_text(json.dumps({"ctl-1": {"ns": "x", "devices": ["eth0"], "static": []}}))
    r = subprocess.run(
        [sys.executable, str(script), "--lab", str(tmp_path)],
        input="action=off\nplug=ctl-9\n",
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1 and "no lab node 'ctl-9'" in r.stderr
    r = subprocess.run(
        [sys.executable, str(script), "--lab", str(tmp_path), "-o", "list"], capture_output=True, text=True
    )
    assert r.returncode == 0 and r.stdout.split() == ["ctl-1,ctl-1"]
    assert not (tmp_path / "fence-log.jsonl").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (runs the wrapper as user hacluster)")
def test_fence_wrapper_answers_metadata_as_hacluster(arch, lab_plan):
    """pacemaker-controld asks for metadata as hacluster, who may not nsenter (it did, and the
    resources never started: 'nsenter: cannot open /proc/N/ns/net: Permission denied')."""
    import pwd

    from hamodel.drill.pacemaker.lab import PacemakerLab

    pwd.getpwnam("hacluster")
    pl = PacemakerLab(arch, lab_plan)
    pl.lab.create()
    try:
        pl._write_agent()
        d = Path(tempfile.mkdtemp(prefix="hamodel-fence-"))
        os.chmod(d, 0o755)
        agent = d / FENCE_AGENT
        agent.write_bytes((pl.lab.root / "agents" / FENCE_AGENT).read_bytes())
        os.chmod(agent, 0o755)
        for argv, stdin in (([], "action=metadata\n"), (["-o", "metadata"], "")):
            r = subprocess.run(
                ["runuser", "-u", "hacluster", "--", str(agent), *argv],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=20,
            )
            assert r.returncode == 0, r.stderr
            assert ET.fromstring(r.stdout).get("name") == FENCE_AGENT
    finally:
        pl.lab.teardown()
        import shutil

        shutil.rmtree(d, ignore_errors=True)


# -- verdicts --------------------------------------------------------------------------------


class _Watch:
    def __init__(self, samples):
        self.samples = samples

    def since(self, addr, t0):
        return [(t, h) for t, h in self.samples if t >= t0]


def test_overlap_measures_when_two_nodes_held_the_vip():
    w = _Watch(
        [(0.0, frozenset({"a"})), (1.0, frozenset({"a", "b"})), (1.5, frozenset({"b"})), (2.0, frozenset({"b"}))]
    )
    assert overlap(w, "vip", 0.0) == (0.5, 1.5)
    assert overlap(_Watch([(0.0, frozenset({"a"})), (1.0, frozenset())]), "vip", 0.0) == (0.0, None)


def test_split_check_verdicts():
    assert split_check("none", 1, 0.0, None, 3.0, 20).agreed
    assert not split_check("none", 2, 0.3, 3.0, 3.0, 20).agreed
    # Without fencing: an overlap that the minority's own stop ends is what the quorum policy promises...
    c = split_check("transient at most", 2, 0.25, 9.8, 9.8, 19)
    assert c.agreed and c.measured.startswith("transient")
    # ... one that outlasts the minority's stop, or a stop after the bound, is not.
    assert not split_check("transient at most", 2, 5.0, 15.0, 9.8, 19).agreed
    assert not split_check("transient at most", 2, 0.2, 25.0, 25.0, 19).agreed


def test_registry_hands_pacemaker_deployments_to_the_cluster_lab(arch, built):
    dep, _ = built
    assert CLUSTER_LABS["pacemaker"] is PacemakerClusterLab
    assert PacemakerClusterLab.applies(dep)
    assert not PacemakerClusterLab.applies(resolve(load(KEEPALIVED)))
    assert PacemakerClusterLab.select(None, quick=True) == ["node-crash", "partition"]
    with pytest.raises(ValueError, match="unknown scenario.*holder-crash"):
        PacemakerClusterLab.select(["holder-crash"], quick=False)
    assert default_compare(str(MODEL)) == KEEPALIVED and default_compare(str(KEEPALIVED)) is None


# -- the real cluster --------------------------------------------------------------------------

real = [
    pytest.mark.netns,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network and mount namespaces)"),
]


@pytest.fixture(scope="module")
def drill(tmp_path_factory):
    """``hamodel drill models/openstack_pacemaker.py --json --rst-out``: every scenario on one lab."""
    why = available()
    if why:
        pytest.fail(f"the Pacemaker drill cannot run as root here: {why}")
    out = tmp_path_factory.mktemp("pcmk")
    before = set(list_namespaces())
    r = subprocess.run(
        [sys.executable, "-m", "hamodel.cli", "drill", str(MODEL), "--json", "--rst-out", str(out / "drills.rst")],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert r.returncode in (0, 1), r.stderr[-3000:]
    report = json.loads(r.stdout)
    return report, r, out, before


def _scenario(report, name):
    return next(s for s in report["scenarios"] if s["name"] == name)


def _checks(s):
    return {c["what"]: c for c in s["checks"]}


class TestRealPacemaker:
    pytestmark = real

    def test_the_generated_configuration_ran(self, drill):
        report, r, _, _ = drill
        assert report["kind"] == "pacemaker" and report["source"] == "generated"
        assert report["nodes"] == ["ctl-1", "ctl-2", "ctl-3"]
        assert report["timeouts"] == {"token_ms": 3650, "consensus_ms": 4380}  # 3000 + 650 per node beyond 2
        assert any("fence_hamodel_lab" in s for s in report["substitutions"])
        redis = ["redis-promoted-kill"] if shutil.which("redis-server") else []  # the real ocf:heartbeat:redis
        assert [s["name"] for s in report["scenarios"]] == ["node-crash", "partition", "partition-no-fencing", *redis]
        assert r.returncode == (0 if not report["summary"]["disagreed"] else 1)

    def test_node_crash_moves_vip_and_cinder_volume_after_fencing(self, drill):
        s = _scenario(drill[0], "node-crash")
        m, c = s["measured"], _checks(s)
        assert m["fenced"] and m["fenced"][0].endswith(m["victim"])
        assert m["new_holder"] and m["victim"] not in m["new_holder"]
        assert m["cinder_volume_on"] and m["victim"] not in m["cinder_volume_on"]
        assert m["max_vip_holders"] == 1
        # Not before the token timeout: the survivors cannot declare the node lost earlier
        # (consensus is a maximum for forming the new membership, not a minimum: 7.91 s was
        # measured against token + consensus = 8.03 s).
        assert m["vip_on_survivor_s"] >= 3650 / 1000
        assert all(x["agreed"] for x in c.values()), c

    def test_partition_no_split_brain_keepalived_predicts_one(self, drill):
        s = _scenario(drill[0], "partition")
        m, c = s["measured"], _checks(s)
        assert m["split_brain"] is False and m["max_vip_holders"] == 1 and m["samples"] > 100
        assert m["minority_lost_quorum_s"] is not None or m["minority_logged_quorum_loss"]
        assert m["fenced"] and m["majority_quorate"]
        side = m["side_by_side"]
        assert side["compared_findings"] == ["split-brain:haproxy"]
        assert side["compared_predicts_split_brain_for_this_partition"] is True
        assert side["this_model_split_brain_sets"] == {} and side["pacemaker_measured_split_brain"] is False
        assert all(x["agreed"] for x in c.values()), c

    def test_partition_without_fencing_the_minority_stops_itself(self, drill):
        s = _scenario(drill[0], "partition-no-fencing")
        m = s["measured"]
        assert s["prediction"]["fencing"] is False and not m["fenced"]
        assert "ip-controller-vip" in m["minority_stopped"]  # no-quorum-policy=stop, observed in its own log
        # At most transient: the check says the overlap ended with the minority's own stop, within the bound.
        split = next(c for c in s["checks"] if c["what"].startswith("VIP held by two"))
        assert split["measured"] == "none" or split["measured"].startswith("transient"), split
        assert all(x["agreed"] for x in s["checks"]), s["checks"]

    def test_docs_page_and_nothing_left_behind(self, drill):
        report, _, out, before = drill
        from docutils.core import publish_doctree

        page = (out / "drills.rst").read_text()
        text = publish_doctree(page, settings_overrides={"report_level": 2, "halt_level": 2}).astext()
        # Titled like its architecture (issue 31): "The Pacemaker architecture: measured failover".
        assert report["title"] == "The Pacemaker architecture"
        assert f"{report['title']}: measured failover" in text and "split-brain:haproxy" in text
        node_crash = _scenario(report, "node-crash")["measured"]
        assert f"VIP on a survivor after {node_crash['vip_on_survivor_s']:.2f} s" in text
        assert not [ns for ns in set(list_namespaces()) - before if ns.startswith(report["lab_prefix"])]
        assert not Path("/run/hamodel-drill", report["lab_prefix"].rstrip("-")).exists()


@pytest.mark.netns
@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network and mount namespaces)")
def test_cleanup_removes_a_killed_drills_cluster():
    """A SIGKILLed drill cannot tear down: ``hamodel drill --cleanup`` removes its namespaces,
    its corosync and Pacemaker daemons and its lab dir."""
    if available():
        pytest.fail(available())
    p = subprocess.Popen(
        [sys.executable, "-m", "hamodel.cli", "drill", str(MODEL), "--scenario", "node-crash"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    prefix = f"hml-{p.pid}-"
    daemons: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not daemons:
            for ns in list_namespaces():
                if ns.startswith(prefix + "node-"):
                    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
                    names = {
                        pid: Path(f"/proc/{pid}/comm").read_text().strip()
                        for pid in pids
                        if Path(f"/proc/{pid}/comm").exists()
                    }
                    if "pacemakerd" in names.values():
                        daemons += [int(pid) for pid in names]
            time.sleep(0.5)
        assert daemons, "the drill's cluster never started"
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=10)
    assert [ns for ns in list_namespaces() if ns.startswith(prefix)]  # left behind by the kill
    r = subprocess.run(
        [sys.executable, "-m", "hamodel.cli", "drill", "--cleanup"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    assert not [ns for ns in list_namespaces() if ns.startswith(prefix)]
    time.sleep(0.5)
    assert not [
        pid
        for pid in daemons
        if Path(f"/proc/{pid}").exists() and Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    ]
    assert not Path("/run/hamodel-drill", prefix.rstrip("-")).exists()


def test_model_document_links_the_drill_measured_on_it(tmp_path):
    """The generated document of a model links the drill page whose reproduce line names it."""
    from types import SimpleNamespace

    from hamodel.sphinx import _drill_pages, _drill_section

    app = SimpleNamespace(srcdir=str(tmp_path))
    assert _drill_pages(app, "models/openstack_pacemaker.py") == []
    (tmp_path / "drills-pacemaker.rst").write_text(
        "Reproduce it::\n\n    hamodel drill models/openstack_pacemaker.py --rst-out drills-pacemaker.rst\n"
    )
    (tmp_path / "drills.rst").write_text("::\n\n    hamodel drill models/openstack_keepalived.py --rst-out x\n")
    assert _drill_pages(app, "models/openstack_pacemaker.py") == [("drills-pacemaker", "Measured failover: Pacemaker")]
    assert _drill_pages(app, "models/openstack_keepalived.py") == [("drills", "Measured failover")]
    assert _drill_pages(app, "models/openstack") == []
    assert ":doc:`Measured failover: Pacemaker </drills-pacemaker>`" in _drill_section(
        _drill_pages(app, "models/openstack_pacemaker.py")
    )
