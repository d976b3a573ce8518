"""Measured outage and data loss against the predicted recovery.

Reads a drill report (the JSON shape of ``hamodel drill --json``, so a
saved report can be checked again) and the Deployment's predicted recovery
(:attr:`hamodel.deployment.Deployment.recovery`), and says for each
scenario that disrupts a class the analysis predicts whether the client's
outage fell inside the interval. The outage is the client's: from the
injection to the first good request after the last failed one
(``service_restored_s``), 0 when no request failed. A measurement is
inside when ``min - tolerance <= measured <= max + tolerance``, the
tolerance being the drill's own sampling and scheduling margin
(:data:`hamodel.drill.margins.KEEPALIVED_S`: the outage is the client probe's or the
VIP holder watch's, both sampled as in the keepalived lab).

Data loss: rows committed before the fault and missing after (the Galera
scenarios count them) against the predicted RPO (0 for synchronous
replication; unknown is never "agreed").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hamodel.drill.margins import KEEPALIVED_S as MARGIN_S

if TYPE_CHECKING:
    from hamodel.deployment import Deployment

#: Scenario kind -> disruption class and whose row it is checked against ("polled": the service the client polled;
#: "own": the scenario's service; a name: that service).
SCENARIO_CLASS: dict[str, tuple[str, str]] = {
    "holder-crash": ("node", "polled"),
    "holder-kill": ("node", "polled"),
    "haproxy-death": ("process", "vip-holder"),
    "backend-death": ("process", "own"),
    "galera-member-down": ("process", "own"),
    "pacemaker-node-crash": ("node", "vip-holder"),
    "pacemaker-redis-promoted-kill": ("node", "own"),
    "redis-primary-kill": ("process", "own"),
}
#: Scenario kinds whose outage is one figure of their own measurement, not the client probe's.
OUTAGE_KEY: dict[str, str | tuple[str, ...]] = {
    "galera-member-down": "first_write_on_backup_s",
    "pacemaker-node-crash": "vip_on_survivor_s",
    # The client's outage through the VIP that follows the promoted role (the row's interval ends
    # there); a Redis without such a VIP: the first write accepted by the new primary.
    "pacemaker-redis-promoted-kill": ("vip_accepts_writes_s", "accepts_writes_s"),
    "redis-primary-kill": "promotion_s",
}  # no promotion timer is measured (Sentinel not run)
#: Scenario kinds that fail the component the row names as its worst (the promoted Redis's node):
#: checked against that component's own interval (:attr:`Recovery.scenario_rto_s`), whose min is a
#: floor, rather than the class's hull (whose min is the cheapest component's).
WORST_COMPONENT = frozenset({"pacemaker-redis-promoted-kill"})


@dataclass(frozen=True)
class RecoveryCheck:
    """One scenario's measured outage (and loss) against its predicted interval (and RPO)."""

    scenario: str
    service: str
    disruption: str
    predicted_rto_s: list[float] | None
    measured_s: float | None
    inside: bool | None  # None: nothing to compare (unknown prediction or no measurement)
    tolerance_s: float
    dominated_by: str | None
    predicted_rpo_s: float | None = None
    lost_writes: int | None = None
    rpo_agreed: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _outage(m: Mapping[str, Any], kind: str) -> float | None:
    if kind in OUTAGE_KEY:
        keys = OUTAGE_KEY[kind]
        v = next((m[k] for k in ((keys,) if isinstance(keys, str) else keys) if m.get(k) is not None), None)
        return None if v is None else float(v)
    if "failed_requests" not in m:
        return None
    if not m["failed_requests"]:
        return 0.0
    v = m.get("service_restored_s")
    return None if v is None else float(v)


def _service(dep: Deployment, sc: Mapping[str, Any], whose: str) -> str | None:
    if whose == "own":
        return sc.get("service")
    if whose == "polled":
        polled = (sc.get("measured") or {}).get("polled") or ""
        return polled.split(" ", 1)[0] or None
    vip = sc.get("vip")
    g = next((g for g in dep.vrrp_groups if vip in g.vips), None)
    return g.service if g else None


def _lost(m: Mapping[str, Any]) -> int | None:
    lost = m.get("lost")
    if lost is None:
        return None
    if isinstance(lost, int) and not isinstance(lost, bool):
        return lost
    if isinstance(lost, Mapping):
        return sum(len(v) for v in lost.values())
    if isinstance(lost, (list, tuple)):
        return len(lost)
    return None


def recovery_checks(dep: Deployment, report: Mapping[str, Any]) -> list[RecoveryCheck]:
    """Every scenario of ``report`` that the predicted recovery covers, compared."""
    table = dep.recovery
    if table is None:
        return []
    out = []
    for sc in report.get("scenarios", []):
        kind = sc.get("kind", "")
        if kind not in SCENARIO_CLASS or "measured" not in sc:
            continue
        disruption, whose = SCENARIO_CLASS[kind]
        svc = _service(dep, sc, whose)
        row = table.get(svc, disruption) if svc else None
        if svc is None or row is None:
            continue
        m = sc["measured"]
        measured = _outage(m, kind)
        inside = None
        rto = row.rto_s
        if kind in WORST_COMPONENT and row.scenario_rto_s is not None:
            rto = row.scenario_rto_s
        if rto is not None and measured is not None:
            inside = rto[0] - MARGIN_S <= measured <= rto[1] + MARGIN_S
        lost = _lost(m)
        rpo_ok = None if lost is None or row.rpo_s is None else lost <= 0 if row.rpo_s == 0 else True
        out.append(
            RecoveryCheck(
                sc.get("name", kind),
                svc,
                disruption,
                None if rto is None else list(rto),
                measured,
                inside,
                MARGIN_S,
                row.dominated_by,
                row.rpo_s,
                lost,
                rpo_ok,
            )
        )
    return out


def add_to_report(dep: Deployment, report: dict[str, Any]) -> None:
    """Put the comparisons in ``report["recovery"]``; one outside its interval is a disagreement."""
    checks = recovery_checks(dep, report)
    report["recovery"] = [c.to_dict() for c in checks]
    bad = [f"recovery:{c.scenario}" for c in checks if c.inside is False or c.rpo_agreed is False]
    if bad and "summary" in report:
        report["summary"]["disagreed"] = list(report["summary"].get("disagreed", [])) + bad
