"""Findings of a recovery policy the predicted recovery misses.

Each names the disruption, the predicted bound, the target, the timer that
dominates the bound and the value of that timer that would meet it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from hamodel.analysis.catalogue import RECOVERY_OBJECTIVE
from hamodel.model.policy import format_duration

if TYPE_CHECKING:
    from hamodel.analysis.recovery_results import Recovery, RecoveryTable
    from hamodel.analysis.results import Finding
    from hamodel.model import Architecture


def _needed(r: Recovery, target: float) -> str:
    """What to set the dominant timer to so the upper bound meets ``target``."""
    t = r.dominant
    if t is None:
        return "no timer bounds it"
    terms = {x.name: x.value_s for x in r.terms}
    hi = r.rto_s[1] if r.rto_s else 0.0
    if t.name == "keepalived advert_int":
        per_second = hi / t.value_s  # master-down is linear in advert_int
        need = target / per_second
        if need < 1:
            return (
                f"{t.where} would have to be {need:.2f} s, below the 1 s keepalived allows here: "
                f"3 x advert_int + skew alone is {hi:g} s; no VRRP timer meets {format_duration(target)}"
            )
        return f"set {t.where} to {math.floor(need)} s or less"
    if t.name == "HAProxy check inter":
        fall = terms.get("HAProxy check fall", 3.0)
        # fall x (inter + min(connect, inter)) <= 2 x fall x inter while inter <= timeout connect
        per = 2 if r.formula.startswith("fall x (inter") else 1
        need_ms = math.floor(target / (per * fall) * 1000)
        if need_ms < 100:
            return f"{t.where} would have to be {need_ms} ms (below HAProxy's 100 ms here); lower check.fall too"
        return f"set {t.where} to {need_ms} ms or less (fall {fall:g})"
    if t.name == "keepalived vrrp_script interval":
        fall = terms.get("keepalived vrrp_script fall", 2.0)
        skew = hi - (fall + 1) * t.value_s
        need = (target - skew) / (fall + 1)
        if need < 1:
            return f"{t.where} would have to be {need:.2f} s, below 1 s; lower check.fall as well"
        return f"set {t.where} to {math.floor(need)} s or less (fall {fall:g})"
    if t.name == "redis agent CLIENT PAUSE":
        return _redis_needed(r, target, terms)
    scale = target / hi if hi else 0
    return f"lower {t.name} ({t.where}, now {t.value_s:g} s) to about {t.value_s * scale:.3g} s"


def _redis_needed(r: Recovery, target: float, terms: dict[str, float]) -> str:
    """Redis under Pacemaker: the agent's pause is fixed; corosync's token and consensus
    (2.2 x the token timeout) are what a model sets (``pacemaker.token_ms``)."""
    hi = r.rto_s[1] if r.rto_s else 0.0
    token = terms.get("corosync token timeout", 0.0)
    corosync = token + terms.get("corosync consensus", 0.0)
    short = hi - target
    fixed = "the agent's CLIENT PAUSE 2000 and notification rounds are fixed (ocf:heartbeat:redis redis_demote)"
    if short >= corosync:
        return (
            f"{fixed}; without corosync's token and consensus the bound would still be {hi - corosync:g} s: "
            "fewer replicas (each is re-pointed in turn) or a Redis outside Pacemaker"
        )
    need = math.floor(token * (corosync - short) / corosync * 100) / 100 if corosync else 0.0
    return (
        f"{fixed}; lower pacemaker.token_ms so the token timeout (token_ms + token_coefficient per node "
        f"beyond 2) is {need:.2f} s or less (now {token:g} s)"
    )


def policy_findings(arch: Architecture, table: RecoveryTable) -> list[Finding]:
    """One finding per (service, disruption, objective) the prediction misses."""
    out: list[Finding] = []

    def add(r: Recovery, objective: str, impact: str, mitigation: str, *, unknown: bool = False, **details) -> None:
        f = RECOVERY_OBJECTIVE.finding(
            severity="low" if unknown else None,
            services=[r.service],
            scenario=list(r.down) or ([r.scenario] if r.scenario else []),
            service=r.service,
            disruption=r.disruption,
            objective=objective,
            impact=impact,
            mitigation=mitigation,
            details={"disruption": r.disruption, "objective": objective, **details},
        )
        ack = arch.acknowledged(f.id)
        if ack is not None:
            from dataclasses import replace

            f = replace(f, acknowledged=ack.reason)
        out.append(f)

    for r in table.rows:
        rto = table.target(r.service, "rto", r.disruption)
        if rto is not None:
            if r.down:
                add(
                    r,
                    "rto",
                    f"{', '.join(r.down)} stops {r.service} for good: no automatic recovery "
                    f"within the {format_duration(rto)} target.",
                    "Remove the single point of failure (see its own finding) or relax the objective.",
                    target_s=rto,
                    down=list(r.down),
                )
            elif r.rto_s is None:
                add(
                    r,
                    "rto",
                    f"No generated timer bounds {r.service}'s recovery from a {r.disruption} disruption "
                    f"({r.note}); the {format_duration(rto)} target cannot be shown.",
                    "Model the mechanism that recovers it, or acknowledge the finding.",
                    unknown=True,
                    target_s=rto,
                )
            elif r.rto_s[1] > rto:
                add(
                    r,
                    "rto",
                    f"A {r.disruption} disruption ({r.scenario}) keeps {r.service} down for "
                    f"{r.rto_s[0]:g}-{r.rto_s[1]:g} s ({r.formula}), over the {format_duration(rto)} target; "
                    f"dominated by {r.dominated_by}.",
                    f"To meet {format_duration(rto)}: {_needed(r, rto)}.",
                    target_s=rto,
                    rto_s=list(r.rto_s),
                    dominated_by=r.dominated_by,
                )
        rpo = table.target(r.service, "rpo", r.disruption)
        if rpo is not None and (r.rpo_s is None or r.rpo_s > rpo):
            add(
                r,
                "rpo",
                unknown=r.rpo.startswith("unknown"),
                impact=f"{r.service} after a {r.disruption} disruption: {r.rpo}; the "
                f"{format_duration(rpo)} target cannot be shown.",
                mitigation="Use synchronous replication (Galera, Patroni synchronous_mode) and say so in the strategy's "
                "replication, or relax the objective.",
                target_s=rpo,
                rpo=r.rpo,
            )
    return out
