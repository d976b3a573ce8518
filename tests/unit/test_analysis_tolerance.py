"""Tolerant placement: place, verify, learn from the counterexample, place again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hamodel.analysis.failures import prove_tolerance
from hamodel.analysis.placement import Unplaceable, place
from hamodel.analysis.tolerance import tolerant_place
from hamodel.loader import load
from hamodel.model import Architecture

ROOT = Path(__file__).resolve().parents[2]


def four_controllers(ctl4_switch: str) -> Architecture:
    """ctl-1 and ctl-2 share rack r1; ctl-4 (rack r4) is on ``ctl4_switch``."""
    d = json.loads(load(ROOT / "models" / "openstack_keepalived.py").to_json())
    ctl3 = next(n for n in d["nodes"] if n["name"] == "ctl-3")
    d["nodes"].append(
        {
            **ctl3,
            "name": "ctl-4",
            "domains": ["r4"],
            "interfaces": [{**ctl3["interfaces"][0], "address": "192.168.1.224", "switch": ctl4_switch}],
        }
    )
    d["domains"].append({"name": "r4", "kind": "rack", "parent": None, "reliability": None})
    next(n for n in d["nodes"] if n["name"] == "ctl-2")["domains"] = ["r1"]
    d["services"] = [
        s for s in d["services"] if s["name"] in ("galera", "rabbitmq", "haproxy", "keystone", "memcached")
    ]
    return Architecture.model_validate(d)


def test_tolerant_place_learns_from_counterexamples():
    arch = four_controllers("sw-2")
    plain = place(arch)
    assert any(prove_tolerance(arch, plain.placement, 1, plain.vrrp_groups).values())
    r = tolerant_place(arch, 1)
    assert not any(prove_tolerance(arch, r.placement, 1, r.vrrp_groups).values())
    assert "ctl-1" not in r.placement.nodes_of("galera") or "ctl-2" not in r.placement.nodes_of("galera")


def test_tolerant_place_explains_why_none_exists():
    # ctl-3 and ctl-4 share switch sw-3, ctl-1 and ctl-2 share rack r1: three members cannot be spread.
    with pytest.raises(Unplaceable) as exc:
        tolerant_place(four_controllers("sw-3"), 1)
    assert "no placement tolerates 1 failure" in str(exc.value) and "galera" in str(exc.value)
    with pytest.raises(Unplaceable, match="cinder-volume cannot tolerate"):
        tolerant_place(load(ROOT / "models" / "openstack_keepalived.py"), 1)
