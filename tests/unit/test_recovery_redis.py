"""Predicted recovery of Redis under Pacemaker (ocf:heartbeat:redis promotable clone, issue 26):
the interval of :mod:`hamodel.analysis.redis_promotion`, and the drill reading it."""

from __future__ import annotations

from pathlib import Path

import pytest

from hamodel.analysis import redis_promotion as rp
from hamodel.pipeline import resolve
from hamodel.timers import corosync_token_timeout_ms

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "models" / "openstack_pacemaker.lock.json"

#: redis-promoted-kill, VIP on the new primary (s): four runs and two reruns of the previous
#: session (docs/drills-pacemaker.rst, commits 278be1a, 4a868c3), then this session's runs.
MEASURED_VIP_S = (15.0, 16.7, 21.4, 28.9, 12.97, 16.36, 16.87, 21.4, 20.64, 17.89)


def _expected(token_ms: int, nodes: int, delay: float, *, vip: bool = True) -> tuple[float, float]:
    """The derivation of the module's docstring, term by term (3 nodes: 2 survivors, 1 other replica)."""
    token = corosync_token_timeout_ms(token_ms, nodes) / 1000
    cons = 1.2 * token
    survivors, replicas = nodes - 1, nodes - 2
    lo = token + cons + (rp.REDIS_CLIENT_PAUSE_S if vip and replicas else 0)
    hi = token + cons + rp.PACEMAKER_REACT_S + delay + rp.FENCE_ACTION_S
    hi += survivors * ((rp.ROUNDS_BEFORE_PROMOTE - 1) * rp.NOTIFY_S + rp.REDIS_CLIENT_PAUSE_S + rp.REDIS_DEMOTE_CALLS_S)
    hi += rp.REDIS_PROMOTE_S
    if vip:
        relink = rp.REDIS_RELINK_TRIES * rp.REDIS_CLIENT_PAUSE_S + (rp.REDIS_RELINK_TRIES - 1) * rp.REDIS_RELINK_SLEEP_S
        hi += rp.NOTIFY_S + replicas * (relink + rp.REDIS_DEMOTE_CALLS_S) + rp.IPADDR2_START_S
    return round(lo, 3), round(hi, 3)


def _with(arch, *, token_ms: int | None = None, delay: int | None = None, vips: list | None = None):
    pm = arch.pacemaker
    if token_ms is not None:
        pm = pm.replace(token_ms=token_ms)
    if delay is not None:
        pm = pm.replace(fence=[f.replace(delay_base_s=delay) for f in pm.fence])
    out = arch.replace(pacemaker=pm)
    if vips is not None:
        out = out.replace_service("redis", strategy=out.service("redis").strategy.replace(vips=vips))
    return resolve(out, lock=LOCK).recovery.get("redis", "node")


def test_the_reference_redis_row_is_the_derivation(resolved):
    dep = resolved("openstack_pacemaker")
    row = dep.recovery.get("redis", "node")
    assert row is not None and row.rto_s is not None and row.scenario_rto_s is not None
    lo, hi = _expected(3000, 3, 0.0)
    # The promoted node (the VIP group's holder) lost: its own interval; any node of the class: the hull,
    # from 0 (a replica's node lost costs the clients nothing).
    assert row.scenario == f"node:{dep.group_of('redis').master}"
    assert row.scenario_rto_s == (lo, hi) and row.rto_s == (0.0, hi)
    assert lo == pytest.approx(3.65 + 4.38 + 2.0)
    assert row.dominant is not None and row.dominant.name == "redis agent CLIENT PAUSE"
    names = {t.name for t in row.terms}
    assert {"corosync token timeout", "corosync consensus", "fence action", "IPaddr2 start"} <= names
    assert row.rpo_s is None and "since the last replication" in row.rpo  # asynchronous: never 0
    # The JSON of the row is the class's (the hull): scenario_rto_s stays out of it.
    assert "scenario_rto_s" not in row.to_dict() and row.to_dict()["rto_s"] == [0.0, hi]


def test_every_measured_failover_is_inside(resolved):
    lo, hi = resolved("openstack_pacemaker").recovery.get("redis", "node").scenario_rto_s
    assert all(lo <= m <= hi for m in MEASURED_VIP_S), (lo, hi)
    # Not uselessly wide: under 1.5 x the slowest run, and under a third of what the generated op
    # timeouts alone would bound (token + consensus + promote 120 s + IPaddr2 start 20 s).
    assert hi < 1.5 * max(MEASURED_VIP_S) and hi < (3.65 + 4.38 + 120 + 20) / 3


def test_the_token_moves_the_interval(reference_arch):
    arch = reference_arch("openstack_pacemaker")
    base = _with(arch).scenario_rto_s
    slow = _with(arch, token_ms=6000).scenario_rto_s
    # token + consensus (1.2 x token) grow by 2.2 x 3 s, both bounds alike.
    assert slow == _expected(6000, 3, 0.0)
    assert slow[0] - base[0] == pytest.approx(6.6) and slow[1] - base[1] == pytest.approx(6.6)
    # A long token: corosync's consensus dominates, not the agent's pauses.
    assert _with(arch, token_ms=20000).dominant.name == "corosync consensus"


def test_a_fence_delay_moves_only_the_max(reference_arch):
    arch = reference_arch("openstack_pacemaker")
    base = _with(arch).scenario_rto_s
    delayed = _with(arch, delay=15)
    assert delayed.scenario_rto_s == (base[0], round(base[1] + 15, 3))
    assert delayed.dominant.name == "fence delay pcmk_delay_base"


def test_without_a_vip_the_row_ends_at_the_promote(reference_arch):
    arch = reference_arch("openstack_pacemaker")
    row = _with(arch, vips=[])
    assert row.scenario_rto_s == _expected(3000, 3, 0.0, vip=False)
    assert row.scenario_rto_s[0] == pytest.approx(3.65 + 4.38)  # no post-promote pause before anything


def test_two_nodes_no_other_replica_no_pause_in_the_min():
    lo, hi, dom, formula, _ = rp.promotion_span(3.0, 3.6, 0.0, fencing=True, survivors=1, vip=True)
    assert lo == 6.6 and "CLIENT PAUSE" not in formula.split(";")[0]
    lo3, hi3, *_ = rp.promotion_span(3.0, 3.6, 0.0, fencing=True, survivors=2, vip=True)
    assert lo3 == 8.6 and hi3 > hi
    nofence = rp.promotion_span(3.0, 3.6, 0.0, fencing=False, survivors=2, vip=True)
    assert nofence[1] == round(hi3 - rp.FENCE_ACTION_S, 3)


# -- the drill reads the row --------------------------------------------------------------------


def _report(measured: dict) -> dict:
    return {
        "kind": "pacemaker",
        "scenarios": [
            {
                "name": "redis-promoted-kill",
                "kind": "pacemaker-redis-promoted-kill",
                "service": "redis",
                "measured": measured,
            }
        ],
    }


@pytest.mark.parametrize(
    ("measured", "inside"),
    [
        ({"accepts_writes_s": 12.3, "vip_accepts_writes_s": 17.0, "lost": 0}, True),
        # Faster than the corosync timeouts allow: a disagreement, not a success (the min is a floor).
        ({"accepts_writes_s": 3.0, "vip_accepts_writes_s": 4.0, "lost": 0}, False),
        ({"accepts_writes_s": 12.3, "vip_accepts_writes_s": 60.0, "lost": 0}, False),
        # No VIP measured: the direct write to the new primary.
        ({"accepts_writes_s": 12.3, "vip_accepts_writes_s": None, "lost": 0}, True),
    ],
)
def test_the_measured_recovery_check_uses_the_promoted_node_interval(resolved, measured, inside):
    from hamodel.drill.recovery import recovery_checks

    dep = resolved("openstack_pacemaker")
    (c,) = recovery_checks(dep, _report(measured))
    assert c.service == "redis" and c.disruption == "node"
    assert c.predicted_rto_s == list(dep.recovery.get("redis", "node").scenario_rto_s)
    assert c.inside is inside and c.lost_writes == 0 and c.rpo_agreed is None  # asynchronous: no bound


def test_the_drill_takes_its_bound_from_the_row(resolved):
    from hamodel.drill.margins import PACEMAKER_S
    from hamodel.drill.pacemaker.redis_failover import predicted_interval, within

    row = resolved("openstack_pacemaker").recovery.get("redis", "node")
    lo, hi = predicted_interval(row)
    assert (lo, hi) == row.scenario_rto_s
    floor, bound = lo - PACEMAKER_S, hi + PACEMAKER_S
    assert within("vip", 16.87, floor, bound).agreed
    assert not within("vip", floor - 0.1, floor, bound).agreed  # below the floor disagrees
    assert not within("vip", bound + 0.1, floor, bound).agreed
    assert not within("vip", None, floor, bound).agreed
    assert within("promoted", 1.0, None, bound).agreed  # no floor: the promotion precedes the VIP
    assert predicted_interval(None) is None
    unknown = type(row)("redis", "node", None, None, row.rpo, None, note="no timer")
    assert predicted_interval(unknown) is None and not within("vip", 16.0, None, None).agreed


@pytest.mark.parametrize("target", [40, 20])
def test_a_policy_the_redis_row_misses_names_what_can_change(reference_arch, target):
    """The agent's pause dominates but is not a setting: the finding points at corosync's token,
    with a value that meets the target when one can, and says so when none can."""
    from hamodel import Policy

    arch = reference_arch("openstack_pacemaker")
    strict = arch.replace_service("redis", policy=Policy(rto={"node": f"{target}s"}))
    dep = resolve(strict, lock=LOCK)
    (f,) = [
        f
        for f in dep.findings
        if list(f.services) == ["redis"]
        and f.details.get("objective") == "rto"
        and f.details.get("disruption") == "node"
    ]
    assert "redis agent CLIENT PAUSE" in f.impact and "fixed" in f.mitigation
    if target == 40:
        need = float(f.mitigation.split("beyond 2) is ")[1].split(" s")[0])
        # That token timeout (as token_ms: minus 650 ms for the third node) meets the target.
        token_ms = round((need - 0.65) * 1000)
        row = _with(arch, token_ms=token_ms)
        assert row.scenario_rto_s[1] <= target < _with(arch, token_ms=token_ms + 100).scenario_rto_s[1]
    else:
        assert "would still be" in f.mitigation and "token_ms" not in f.mitigation
