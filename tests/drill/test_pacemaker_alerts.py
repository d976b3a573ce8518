"""The generated Pacemaker alerts on a real cluster, scraped from the real exporter (issue 25).

The Pacemaker architecture's lab (three corosync/Pacemaker nodes in
namespaces, the generated corosync.conf and CIB); on every node Debian's
``ha_cluster_exporter`` with the generated ``ARGS`` (it listens on the node's
model address), and in ctl-1 a real Prometheus with the generated scrape
config's ``pacemaker`` job and ``rules/pacemaker.yml``:

- healthy, past the rules' ``for:``: no Pacemaker alert pending or firing;
- cinder-volume stopped (``target-role=Stopped``): its
  ``HamodelPacemakerResourceStoppedCinderVolume`` fires within ``for:`` plus
  two scrape/evaluation intervals, and no other Pacemaker alert;
- started again: it resolves.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from pathlib import Path

import pytest
import yaml

pytestmark = [
    pytest.mark.slow,
    pytest.mark.netns,
    pytest.mark.requires("ha_cluster_exporter", "prometheus", "corosync", "pacemakerd", "curl", root=True),
]

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "openstack_pacemaker.py"
LOCK = ROOT / "models" / "openstack_pacemaker.lock.json"
PORT = 19090


def _inside(pid: int, argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["nsenter", "-t", str(pid), "-m", "-n", "--", *argv], capture_output=True, text=True, **kw)


def _alerts(pid: int) -> list[dict]:
    r = _inside(pid, ["curl", "-sf", "--max-time", "3", f"http://127.0.0.1:{PORT}/api/v1/alerts"], timeout=10)
    return json.loads(r.stdout)["data"]["alerts"] if r.returncode == 0 else []


def _targets_up(pid: int) -> int:
    r = _inside(pid, ["curl", "-sf", "--max-time", "3", f"http://127.0.0.1:{PORT}/api/v1/targets"], timeout=10)
    if r.returncode != 0:
        return 0
    return sum(1 for t in json.loads(r.stdout)["data"]["activeTargets"] if t["health"] == "up")


def test_pacemaker_alerts_fire_and_resolve_on_a_real_cluster(tmp_path, monkeypatch):
    monkeypatch.setenv("HAMODEL_IPMI_PASSWORD", "lab")
    from hamodel.drill.pacemaker.cluster_plan import generated_files
    from hamodel.drill.pacemaker.lab import open_lab
    from hamodel.loader import load

    arch = load(MODEL)
    dep, files = generated_files(arch, lock=LOCK)
    prom = yaml.safe_load(files["monitoring/prometheus.yml"])
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "pacemaker")
    rules = yaml.safe_load(files["monitoring/rules/pacemaker.yml"])["groups"][0]["rules"]
    by_name = {r["alert"]: r for r in rules}
    stopped = "HamodelPacemakerResourceStoppedCinderVolume"
    assert stopped in by_name and by_name[stopped]["for"] == "30s"
    interval = int(prom["global"]["scrape_interval"].rstrip("s"))

    pl = open_lab(arch, lock=LOCK, dep=dep, files=files)
    procs: list[subprocess.Popen] = []
    try:
        pids = {n: pl.procs[(n, "corosync")].pid for n in pl.nodes}
        for n in pl.nodes:
            env = files[f"nodes/{n}/prometheus/pacemaker-exporter"].decode()
            args = shlex.split(next(line for line in env.splitlines() if line.startswith("ARGS=")).split("=", 1)[1])
            log = open(tmp_path / f"exporter-{n}.log", "wb")
            procs.append(
                subprocess.Popen(
                    ["nsenter", "-t", str(pids[n]), "-m", "-n", "--", "ha_cluster_exporter", *args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        watcher = pids[pl.nodes[0]]
        (tmp_path / "rules").mkdir()
        (tmp_path / "rules" / "pacemaker.yml").write_bytes(files["monitoring/rules/pacemaker.yml"])
        config = {"global": prom["global"], "rule_files": ["rules/pacemaker.yml"], "scrape_configs": [job]}
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        procs.append(
            subprocess.Popen(
                [
                    "nsenter",
                    "-t",
                    str(watcher),
                    "-m",
                    "-n",
                    "--",
                    "prometheus",
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'data'}",
                    f"--web.listen-address=127.0.0.1:{PORT}",
                ],
                stdout=open(tmp_path / "prometheus.log", "wb"),
                stderr=subprocess.STDOUT,
            )
        )
        deadline = time.monotonic() + 60
        while _targets_up(watcher) < len(pl.nodes):
            assert time.monotonic() < deadline, (tmp_path / "prometheus.log").read_text()[-2000:]
            time.sleep(1)

        # Healthy: past every rule's for: (60 s at most) nothing is pending or firing.
        time.sleep(max(int(r["for"].rstrip("s")) for r in rules) + 2 * interval)
        assert [a["labels"]["alertname"] for a in _alerts(watcher)] == []

        admin = pl.nodes[0]
        r = pl.tool(
            admin,
            [
                "crm_resource",
                "--resource",
                "cinder-volume",
                "--meta",
                "--set-parameter",
                "target-role",
                "--parameter-value",
                "Stopped",
            ],
        )
        assert r.returncode == 0, r.stderr
        t0 = time.monotonic()
        bound = 30 + 3 * interval + 10  # for: + scrape, evaluation, crm_mon's view + the exporter's
        fired = None
        while time.monotonic() - t0 < bound + 30:
            firing = {a["labels"]["alertname"] for a in _alerts(watcher) if a["state"] == "firing"}
            if stopped in firing:
                fired = time.monotonic() - t0
                assert firing == {stopped}, firing
                break
            time.sleep(1)
        print(f"{stopped} fired {fired} s after the resource was stopped (bound {bound} s)")
        assert fired is not None and 30 <= fired <= bound

        r = pl.tool(
            admin, ["crm_resource", "--resource", "cinder-volume", "--meta", "--delete-parameter", "target-role"]
        )
        assert r.returncode == 0, r.stderr
        t1 = time.monotonic()
        while time.monotonic() - t1 < 4 * interval + 20:
            if not any(a["labels"]["alertname"] == stopped for a in _alerts(watcher)):
                break
            time.sleep(1)
        resolved = time.monotonic() - t1
        print(f"{stopped} resolved {resolved:.1f} s after the resource was started again")
        assert not any(a["labels"]["alertname"] == stopped for a in _alerts(watcher))
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=10)
        pl.teardown()
