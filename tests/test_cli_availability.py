"""`hamodel check --availability`: estimates where the model has figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hamodel.cli", "check", *args], cwd=ROOT,
                          capture_output=True, text=True)


def test_availability_in_json_where_figures_exist():
    r = check("models/multirack.py", "--availability", "--json", "--fail-on", "critical")
    assert r.returncode == 0, r.stderr
    est = json.loads(r.stdout)["availability"]
    assert set(est) >= {"galera", "haproxy", "cinder-volume", "keystone"}
    for a in est.values():
        assert 0 < a["availability"] < 1 and a["exact"]
    # A single active/passive instance cannot be more available than a 3-way VRRP group.
    assert est["cinder-volume"]["availability"] < est["haproxy"]["availability"]


def test_no_figures_says_so():
    r = check("models/openstack_keepalived.py", "--availability", "--json", "--fail-on", "critical")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["availability"] == {}
    assert "no reliability figures" in r.stderr
