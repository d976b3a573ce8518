"""The lab's Prometheus scrapes only what the lab runs (hamodel.drill.prometheus.lab_config).

multirack (12 nodes) drilled its Galera alerts on a lab of the three Galera
members, with the generated prometheus.yml listing node targets for all 12:
the nine the lab does not run were down, and the drill reported "Prometheus
does not see every node and mysqld target up" (a lab fault, not a finding).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from hamodel.drill.files import generated_files
from hamodel.drill.prometheus import lab_config
from hamodel.loader import load

ROOT = Path(__file__).resolve().parents[2]


def _targets(config: dict, job: str) -> set[str]:
    return {
        sc["labels"]["node"] for j in config["scrape_configs"] if j["job_name"] == job for sc in j["static_configs"]
    }


def test_multirack_galera_lab_scrapes_only_its_members():
    _, files = generated_files(load(ROOT / "models" / "multirack.py"), analyse=True)
    generated = yaml.safe_load(files["monitoring/prometheus.yml"])
    members = _targets(generated, "mysqld")
    assert len(members) == 3 and len(_targets(generated, "node")) == 12  # the cause
    config, dropped = lab_config(files, ("galera", "nodes"), {"node": members, "mysqld": members})
    assert _targets(config, "node") == members
    assert _targets(config, "mysqld") == members
    assert {j["job_name"] for j in config["scrape_configs"]} == {"node", "mysqld"}
    assert config["rule_files"] == ["rules/galera.yml", "rules/nodes.yml"]
    assert "job haproxy" in dropped and len([d for d in dropped if d.startswith("node@")]) == 9
    # everything else of the generated config is kept as generated
    assert config["global"] == generated["global"]


def test_a_job_without_a_node_the_lab_runs_is_left_out():
    _, files = generated_files(load(ROOT / "models" / "openstack_keepalived.py"), analyse=True)
    config, dropped = lab_config(files, ("vrrp",), {"node": {"ctl-1"}, "haproxy": set()})
    assert [j["job_name"] for j in config["scrape_configs"]] == ["node"]
    assert _targets(config, "node") == {"ctl-1"}
    assert "job haproxy" in dropped
