"""The Pacemaker drill page shows what ``redis-promoted-kill`` measured of the Redis VIP (issue 24).

The report is a real one: ``hamodel drill models/openstack_pacemaker.py --scenario
redis-promoted-kill --json`` on this lab (tests/data/drill_pacemaker_redis_report.json)."""

from __future__ import annotations

import json
from pathlib import Path

from hamodel.generators.drill_report import render_rst

REPORT = Path(__file__).resolve().parents[1] / "data" / "drill_pacemaker_redis_report.json"


def test_the_summary_row_shows_the_vip_following_the_new_primary():
    report = json.loads(REPORT.read_text())
    (sc,) = report["scenarios"]
    m, p = sc["measured"], sc["prediction"]
    row = next(line for line in render_rst(report).splitlines() if "Redis promoted on" in line)
    assert (
        f"its VIP {m['vip_address']} on the new primary after {m['vip_on_new_primary_s']:.2f} s "
        f"(other holders: none), a write through it after {m['vip_accepts_writes_s']:.2f} s "
        f"(predicted {p['rto_s'][0]:.2f} s - {p['rto_s'][1]:.2f} s, "
        f"checked within {p['vip_from_s']:.2f} s - {p['vip_within_s']:.2f} s)"
    ) in row


def test_a_report_from_before_the_recovery_row_keeps_its_bound():
    """Reports of the drill's own bound (before issue 26's Redis row) have no interval: the bound alone."""
    report = json.loads(REPORT.read_text())
    p = report["scenarios"][0]["prediction"]
    del p["vip_from_s"], p["rto_s"]
    row = next(line for line in render_rst(report).splitlines() if "Redis promoted on" in line)
    assert f"(bound {p['vip_within_s']:.2f} s);" in row


def test_a_report_without_a_redis_vip_keeps_its_row():
    report = json.loads(REPORT.read_text())
    m = report["scenarios"][0]["measured"]
    for k in ("vip_address", "vip_holders_before", "vip_on_new_primary_s", "vip_holders_after", "vip_held_elsewhere"):
        del m[k]  # a report from before the Redis VIP (a CIB without one)
    row = next(line for line in render_rst(report).splitlines() if "Redis promoted on" in line)
    assert "its VIP" not in row and "acknowledged writes lost; fenced:" in row
