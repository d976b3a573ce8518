"""`hamodel check --availability`: estimates where the model has figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hamodel.cli", "check", *args], cwd=ROOT, capture_output=True, text=True
    )


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


def test_capacity_per_domain_finds_what_per_node_does_not(tmp_path):
    # 4 nodes in 2 racks, 8 CPU each; "api" asks 5 CPU on each of the 4 nodes.
    # One node lost: 20 CPU over 3 nodes = 6.67 each (fits). One rack lost:
    # 20 CPU over 2 nodes = 10 each (does not fit).
    model = tmp_path / "cap.py"
    model.write_text(
        "from hamodel import Architecture, Network, Node, Rack, Resources, Service\n"
        "from hamodel.strategies import Coordinated\n"
        "net = Network('m', subnet='10.0.0.0/24')\n"
        "nodes = [Node(f'n{i}', roles={'app'}, domains=[Rack(f'r{1 + i % 2}')], capacity=Resources(cpu=8, memory_gb=64),\n"
        "              addresses={net: f'10.0.0.{i}'}) for i in range(1, 5)]\n"
        "architecture = Architecture('cap', nodes=nodes, networks=[net], supervisor='systemd', services=[\n"
        "    Service('api', on='app', requests=Resources(cpu=5), strategy=Coordinated())])\n"
    )
    per_node = json.loads(check(str(model), "--json", "--fresh", "--fail-on", "critical").stdout)
    assert not any(f["kind"] == "capacity" for f in per_node["findings"])
    r = check(str(model), "--json", "--fresh", "--capacity-per", "domain")
    per_domain = json.loads(r.stdout)
    cap = [f for f in per_domain["findings"] if f["kind"] == "capacity"]
    assert [f["id"] for f in cap] == ["capacity:domain-loss"]
    assert cap[0]["scenario"][0] in ("domain:r1", "domain:r2")
    assert r.returncode == 1  # medium, unacknowledged, default --fail-on medium
    assert check(str(model), "--capacity-per", "rack").returncode == 2


def test_stale_acknowledgement_is_reported(tmp_path):
    model = tmp_path / "ack.py"
    model.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'models')!r})\n"
        "from openstack_keepalived import architecture as base\n"
        "from hamodel import Acknowledgement, Architecture\n"
        "data = base.model_dump()\n"
        "data['acknowledgements'] = [{'finding': 'spof:cinder-volume', 'reason': 'runbook R-12'},\n"
        "                            {'finding': 'spof:cinder-volumes', 'reason': 'typo'}]\n"
        "architecture = Architecture.model_validate(data)\n"
    )
    r = check(str(model), "--json", "--fail-on", "critical")
    out = json.loads(r.stdout)
    assert out["stale_acknowledgements"] == ["spof:cinder-volumes"]
    assert "acknowledgement 'spof:cinder-volumes' matches no finding" in r.stderr
    spof = next(f for f in out["findings"] if f["id"] == "spof:cinder-volume")
    assert spof["acknowledged"] == "runbook R-12"
