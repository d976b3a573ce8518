"""Drills on a namespace lab with the real keepalived and haproxy (root only).

The short drill of the reference model: the generated configs
(``build_configs(resolve(arch, analyse=False))``) run in the lab; a holder
crash moves the VIP within the predicted bound with no failed request after
the client window; a partition shows split brain, and the heal converges to
one holder; nothing is left behind. A drill interrupted midway (SIGINT or
SIGTERM to ``hamodel drill``) still cleans up.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hamodel.drill.lab import STATE_ROOT, Lab, _pids_with_marker, cleanup_leftovers, list_namespaces, namespace_pids
from hamodel.drill.observe import haproxy_stat
from hamodel.drill.results import as_json
from hamodel.drill.runner import Drill, generated_files, run_drill
from hamodel.loader import load

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "openstack_keepalived.py"


def available() -> bool:
    return os.geteuid() == 0 and all(shutil.which(x) for x in ("ip", "bridge", "keepalived", "haproxy"))


pytestmark = [
    pytest.mark.netns,
    pytest.mark.slow,
    pytest.mark.skipif(not available(), reason="needs root, ip, bridge, keepalived, haproxy"),
]


def leftovers(prefix: str) -> tuple[list[str], list[int], bool]:
    """Namespaces, processes and the state dir of a lab prefix that still exist."""
    root = STATE_ROOT / prefix.rstrip("-")
    nss = [ns for ns in list_namespaces() if ns.startswith(prefix)]
    pids = set(_pids_with_marker(str(root) + "/")) | {p for ns in nss for p in namespace_pids(ns)}
    return nss, sorted(pids), root.exists()


def check(sc: dict, what: str) -> dict:
    return next(c for c in sc["checks"] if c["what"].startswith(what))


def test_short_drill_of_the_reference_model():
    arch = load(MODEL)
    lab = Lab(prefix=f"hml-{os.getpid()}-t{int(time.time()) % 100000}-")
    events: list[str] = []
    report = run_drill(arch, quick=True, scenarios=["holder-crash", "partition"], lab=lab, progress=events.append)
    by = {s["name"]: s for s in report["scenarios"]}
    assert set(by) == {"holder-crash", "partition"}, report

    crash = by["holder-crash"]
    assert not crash.get("error"), crash
    move = check(crash, "VIP moves within")
    assert move["agreed"] and move["measured"] <= crash["prediction"]["failover_bound_s"], crash
    # One holder, among the predicted ones (backups with timers too close to tell apart are all predicted).
    predicted = crash["prediction"]["new_holder"]
    assert crash["measured"]["new_holder"] in (predicted if isinstance(predicted, list) else [predicted])
    assert crash["measured"]["new_holder"] != crash["measured"]["old_holder"]
    assert crash["measured"]["failed_after_window"] == 0, crash
    assert crash["measured"]["requests"] > 20

    part = by["partition"]
    assert not part.get("error"), part
    assert part["measured"]["split_brain"] is True, part
    assert len(part["measured"]["holders_during_partition"]) == 2, part
    assert len(part["measured"]["holder_after_heal"]) == 1, part
    assert check(part, "one holder again")["agreed"], part
    # The prediction is the failure analysis' own finding, for this very cut.
    assert part["prediction"]["finding"] == "split-brain:haproxy"
    assert any("one of its scenarios" in n for n in part["notes"]), part["notes"]
    assert report["summary"]["disagreed"] == [], report
    # The generated alerts on the lab's real Prometheus (when installed): the crashed holder's node-down
    # alert, and the two-masters alert seen over the management network the partition does not cut.
    mon = report["lab"]["monitoring"]
    if mon.get("skipped") is None:
        assert mon["healthy"]["fired"] == [], mon
        old = crash["measured"]["old_holder"]
        a = crash["measured"]["alerts"]
        assert f"HamodelNodeDown{{node={old}}}" in a["fired_after_s"] and a["unexpected"] == [], a
        a = part["measured"]["alerts"]
        # Two masters, and the address held twice (the VIP-presence metrics of each node).
        held = ["HamodelVipHeldTwiceHaproxy", "HamodelVrrpSplitBrainHaproxy"]
        assert sorted(a["fired_after_s"]) == held and a["unexpected"] == [], a
        assert all(a["fired_after_s"][x] <= a["predicted"][x] for x in held), a
        assert a["resolved_after_settled_s"] is not None, a

    # The lab really used the generated configs, re-rooted.
    assert report["lab"]["backend_services"] == ["keystone"]
    assert any("vrrp_script" in n for n in report["lab"]["config_rewrites"])
    assert any("holder" in e for e in events)
    assert leftovers(lab.prefix) == ([], [], False)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_drill_cleans_up(sig, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "hamodel.cli", "drill", str(MODEL), "--quick", "--json-out", str(tmp_path / "r.json")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    prefix = f"hml-{proc.pid}-"
    try:
        # Interrupt once the daemons run (keepalived's log exists on every node).
        deadline = time.monotonic() + 60
        root = STATE_ROOT / prefix.rstrip("-")
        while time.monotonic() < deadline:
            logs = list(root.glob("nodes/*/keepalived.log"))
            if len(logs) == 3 and _pids_with_marker(str(root) + "/"):
                break
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.1)
        else:
            pytest.fail("the lab never came up")
        time.sleep(1.0)
        assert leftovers(prefix)[0], "namespaces should exist while the drill runs"
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            cleanup_leftovers(prefix)
    assert proc.returncode == 128 + sig, out  # 130 for Ctrl-C, 143 for SIGTERM, as every command
    assert "interrupted" in out
    assert leftovers(prefix) == ([], [], False), out
    assert not (tmp_path / "r.json").exists()


def test_cleanup_removes_leftovers_of_a_dead_drill():
    # A lab whose owner is gone: create it from a child process that dies
    # without tearing down.
    code = (
        "import os; from hamodel.drill.lab import Lab; lab = Lab(); lab.create(); lab.add_switch('s'); "
        "lab.add_host('n'); lab.plug('n', 'eth0', 's', '10.9.9.1/24'); "
        "lab.start('sleeper', lab.node_ns('n'), ['sleep', '300'], log=lab.node_dir('n') / 'x.log'); "
        "print(lab.prefix, flush=True); os._exit(0)"
    )
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30)
    prefix = p.stdout.strip()
    assert prefix.startswith("hml-"), p.stderr
    try:
        ns, pids, root = leftovers(prefix)
        assert ns and pids and root
        removed = cleanup_leftovers(prefix)
        assert sorted(removed["namespaces"]) == sorted(ns)
        assert leftovers(prefix) == ([], [], False)
    finally:
        cleanup_leftovers(prefix)
    r = subprocess.run(
        [sys.executable, "-m", "hamodel.cli", "drill", "--cleanup"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and "cleanup: removed" in r.stdout


def test_a_scenario_never_starts_from_an_unsettled_lab():
    """Issue 13: a backend that HAProxy marked DOWN (the previous scenario not
    settled) makes the next scenario fail as 'unsettled', with nothing injected;
    once it is back, the same scenario runs and agrees."""
    arch = load(MODEL)
    dep, files = generated_files(arch, analyse=True)
    lab = Lab(prefix=f"hml-{os.getpid()}-u{int(time.time()) % 100000}-")
    drill = Drill(arch, dep, files, quick=True, scenarios=["holder-crash"], lab=lab)
    try:
        drill.setup()
        holder = drill.holder("controller-vip", timeout=30)
        assert drill.wait_settled(30) == []
        _assert_the_shipped_track_script_runs(drill, files)
        # keystone's stand-in on a backup node stops answering: every HAProxy marks it DOWN.
        other = next(n for n in ("ctl-1", "ctl-2", "ctl-3") if n != holder)
        drill.backend_ctl(other, "down 5000")
        sock = lab.node_dir(holder) / "haproxy.sock"
        deadline = time.monotonic() + 20
        while not (haproxy_stat(sock, "keystone-5000", other) or "").startswith("DOWN"):
            assert time.monotonic() < deadline, "haproxy never marked the stopped backend down"
            time.sleep(0.1)
        (sc,) = drill.scenarios
        res = as_json(drill.run_scenario(sc))
        assert res["error"].startswith("unsettled before the injection"), res
        assert f"keystone-5000/{other} is DOWN" in res["error"] and res["agreed"] is False and res["checks"] == []
        assert "prediction" not in res and "measured" not in res
        assert drill.holder("controller-vip") == holder  # nothing was injected
        drill.backend_ctl(other, "up 5000")
        res = as_json(drill.run_scenario(sc))
        assert res["agreed"] and "error" not in res, res
    finally:
        drill.teardown()
    assert leftovers(lab.prefix) == ([], [], False)


def _script_blocks(text: str) -> list[str]:
    out, cur = [], None
    for line in text.splitlines(keepends=True):
        if line.startswith("vrrp_script "):
            cur = [line]
        elif cur is not None:
            cur.append(line)
            if line.startswith("}"):
                out.append("".join(cur))
                cur = None
    return out


def _assert_the_shipped_track_script_runs(drill: Drill, files) -> None:
    """Issue 11: the keepalived.conf each lab node runs has the generated vrrp_script
    blocks byte for byte, and in the node's own /run (as keepalived sees it) the
    generated pid file names that node's haproxy master, so the script passes
    there and nowhere else."""
    for n in ("ctl-1", "ctl-2", "ctl-3"):
        gen = files[f"nodes/{n}/keepalived/keepalived.conf"].decode()
        ran = (drill.lab.node_dir(n) / "keepalived.conf").read_text()
        assert _script_blocks(ran) == _script_blocks(gen) and _script_blocks(gen)
        ka = drill.daemons[(n, "keepalived")].pid
        in_node = ["nsenter", "-t", str(ka), "-m", "-n"]
        pid = subprocess.run(in_node + ["cat", "/run/haproxy.pid"], capture_output=True, text=True).stdout.split()
        assert pid == [str(drill.daemons[(n, "haproxy")].pid)], (n, pid)
        script = _script_blocks(gen)[0].split('"')[1].split()
        assert subprocess.run(in_node + script).returncode == 0
    assert not Path("/run/haproxy.pid").exists() or Path("/run/haproxy.pid").read_text().split() not in (
        [str(drill.daemons[(n, "haproxy")].pid)] for n in ("ctl-1", "ctl-2", "ctl-3")
    )


def test_drill_reads_the_lock_file_given_with_lock(tmp_path):
    lock = tmp_path / "other.lock.json"
    lock.write_text('{"version": "not a lock"}')
    r = subprocess.run(
        [sys.executable, "-m", "hamodel.cli", "drill", str(MODEL), "--quick", "--lock", str(lock)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert "other.lock.json" in r.stdout + r.stderr and "No such option" not in r.stderr
