"""Which alerts the keepalived lab's scenarios must raise (hamodel.drill.keepalived.monitoring.expected).

Predicted from what a scenario takes away and the generated rules, without a lab:
the drill (tests/drill, ``hamodel drill --scenario``) asserts them on a real Prometheus.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hamodel.drill.files import generated_files
from hamodel.drill.keepalived.monitoring import Rule, _rules, expected
from hamodel.drill.registry import KINDS
from hamodel.drill.runner import Drill
from hamodel.drill.scenario import Scenario
from hamodel.loader import load

pytestmark = pytest.mark.slow  # the analysis of the reference model: ~15 s

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def drill() -> Drill:
    arch = load(ROOT / "models" / "openstack_keepalived.py")
    dep, files = generated_files(arch, analyse=True)
    return Drill(arch, dep, files)


def _kind(drill: Drill, name: str, **attrs):
    sc = (
        next(s for s in drill.scenarios if s.name == name)
        if any(s.name == name for s in drill.scenarios)
        else Scenario(name.split(":")[0], name, "controller-vip")
    )
    k = KINDS[sc.kind](drill, sc, [])
    for a, v in attrs.items():
        setattr(k, a, v)
    return k


def test_holder_crash_raises_node_down_degraded_and_backend_down(drill):
    rules = _rules(drill.files)
    e = expected(drill, _kind(drill, "holder-crash", old="ctl-1"), rules)
    assert e is not None
    assert "HamodelNodeDown{node=ctl-1}" in e.alerts
    assert "HamodelNodeDown{node=ctl-2}" not in e.alerts
    assert "HamodelRedundancyDegradedGalera" in e.alerts  # ctl-1 is in galera's two-failure cut sets
    assert "HamodelBackendDownKeystone" in e.alerts  # keystone has a server on ctl-1
    assert not any(a.startswith("HamodelFrontDown") for a in e.alerts)  # two servers remain
    assert not any(a.startswith("HamodelVrrp") for a in e.alerts)  # failover inside the rules' for:
    node_down = next(r for r in rules if r.key == "HamodelNodeDown{node=ctl-1}")
    assert e.alerts[node_down.key] == node_down.bound == node_down.for_s + 2 * 5 + 5 + 10


def test_haproxy_death_raises_the_haproxy_down_alert_only(drill):
    """Before: nothing (the VIP moves within adverts and the other load balancers see every backend),
    so the lost load balancer went unreported."""
    rules = _rules(drill.files)
    e = expected(drill, _kind(drill, "haproxy-death", old="ctl-1"), rules)
    assert e is not None and list(e.alerts) == ["HamodelHaproxyDownHaproxy"]
    r = next(r for r in rules if r.alert == "HamodelHaproxyDownHaproxy")
    assert e.alerts[r.key] == r.for_s + 2 * 5 + 5 + 10
    assert "unless on (node)" in r.expr  # a node that does not answer is the node-down alert's


def test_holder_crash_does_not_predict_haproxy_down(drill):
    e = expected(drill, _kind(drill, "holder-crash", old="ctl-1"), _rules(drill.files))
    assert e is not None and not any(a.startswith("HamodelHaproxyDown") for a in e.alerts)


def test_partition_raises_the_two_masters_and_vip_held_twice_alerts_only(drill):
    from hamodel.drill.keepalived.common import group_of_vip

    g = group_of_vip(drill, "controller-vip")
    e = expected(drill, _kind(drill, "partition", group=g), _rules(drill.files))
    svc = g.service.capitalize()
    assert e is not None and sorted(e.alerts) == [f"HamodelVipHeldTwice{svc}", f"HamodelVrrpSplitBrain{svc}"]


def test_keepalived_kill_raises_keepalived_down_and_the_vip_held_twice(drill):
    """Before (issue 25): nothing watched keepalived itself; a SIGKILL left the VIP on two nodes
    and no rule said keepalived was gone."""
    from hamodel.drill.keepalived.common import group_of_vip

    g = group_of_vip(drill, "controller-vip")
    e = expected(drill, _kind(drill, "keepalived-kill", old="ctl-1", group=g), _rules(drill.files))
    svc = g.service.capitalize()
    assert e is not None and sorted(e.alerts) == [
        f"HamodelKeepalivedDown{svc}",
        f"HamodelVipHeldTwice{svc}",
        f"HamodelVrrpSplitBrain{svc}",  # the killed holder's last state (MASTER) stays in its textfile
    ]
    assert not any(a.startswith("HamodelNodeDown") for a in e.alerts)  # the node answers
    # keepalived dies whole: every group whose VIP the node held splits (held_groups, from predict())
    k = _kind(drill, "keepalived-kill", old="ctl-1", group=g, held_groups=[])
    assert f"HamodelVipHeldTwice{svc}" in expected(drill, k, _rules(drill.files)).alerts  # type: ignore[union-attr]


def test_a_kind_not_predicted_is_recorded_only(drill):
    # the Galera kinds have their own alerts scenario (galera-alerts)
    assert expected(drill, _kind(drill, "galera-member-down"), _rules(drill.files)) is None


def test_rule_key_names_the_node_of_a_per_node_rule():
    assert Rule("HamodelNodeDown", "up == 0", 30, {"node": "a"}).key == "HamodelNodeDown{node=a}"
    assert Rule("HamodelVrrpNoMasterX", "x", 10, {"service": "x"}).key == "HamodelVrrpNoMasterX"


def test_redis_primary_kill_predicts_no_lab_alert_and_names_the_rules_it_cannot_evaluate(drill):
    """Before: redis-primary-kill ran without alert checks; now it asserts that nothing fires, and says
    that the Redis rules (prometheus-redis-exporter, not run in the lab) are not evaluated."""
    from hamodel.drill.keepalived.redis_primary_kill import async_service

    svc = async_service(drill.dep)
    assert svc is not None
    k = _kind(drill, "redis-primary-kill")
    k.sc = Scenario("redis-primary-kill", "redis-primary-kill", "controller-vip", svc)
    e = expected(drill, k, _rules(drill.files))
    assert e is not None and e.alerts == {}
    assert e.not_evaluated and all(svc.capitalize() in a for a in e.not_evaluated)
    assert "not run" in e.not_evaluated_why or "does not run" in e.not_evaluated_why


def test_switch_failure_predicts_backend_down_of_unreachable_servers_only():
    """multirack: tor-2 down cuts the servers attached to it alone from every load balancer; the
    monitor's management network keeps every node answering; the edge switches are bonded (nothing)."""
    arch = load(ROOT / "models" / "multirack.py")
    dep, files = generated_files(arch, analyse=True)
    d = Drill(arch, dep, files)
    rules = _rules(files)
    got = {}
    for sw in ("tor-2", "edge-1"):
        sc = next(s for s in d.scenarios if s.name == f"switch-failure:{sw}")
        k = KINDS[sc.kind](d, sc, [])
        k.sw, k.vip_preds = sw, []
        e = expected(d, k, rules)
        assert e is not None
        got[sw] = e.alerts
    assert got["edge-1"] == {}
    assert got["tor-2"] and all(a.startswith("HamodelBackendDown") for a in got["tor-2"])
    assert not any(a.startswith("HamodelFrontDown") for a in got["tor-2"])  # other racks keep servers
    # a VIP the analysis says splits with the switch: its group's two-masters and VIP-held-twice alerts
    from hamodel.drill.keepalived.switch_failure import VipPrediction

    g = next(g for g in d.groups if len(g.priorities) > 1)
    sc = next(s for s in d.scenarios if s.name == "switch-failure:edge-1")
    k = KINDS[sc.kind](d, sc, [])
    k.sw = "edge-1"
    k.vip_preds = [VipPrediction(g.vips[0], g.master, False, g.master, None, True)]
    e = expected(d, k, rules)
    assert e is not None and f"HamodelVipHeldTwice{g.service.capitalize()}" in e.alerts
