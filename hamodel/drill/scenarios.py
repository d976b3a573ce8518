"""Named, reusable drills, and the default set derived from a deployment.

A :class:`Scenario` says *what* to break (kind) and *where* (VIP, service);
its kind's module in :mod:`hamodel.drill.registry` knows how to break it, what
the analysis predicts and how to measure. Names are stable
(``holder-crash``, ``backend-death:keystone``) so ``hamodel drill
--scenario NAME`` and CI can pick them.
"""

from __future__ import annotations

from hamodel.deployment import Deployment
from hamodel.drill.registry import KINDS
from hamodel.drill.scenario import Scenario, probe_service

__all__ = ["KINDS", "Scenario", "default_scenarios", "probe_service", "select"]


def default_scenarios(
    dep: Deployment, *, quick: bool = False, switches_by_vip: dict[str, int] | None = None
) -> list[Scenario]:
    """The drills that fit this deployment.

    Per keepalived VIP, every registered kind in :data:`KINDS` order offers
    its scenarios: holder crash, the SIGKILL variant (full mode only: it
    leaves the VIP on the old holder by design, see the report), haproxy
    death, one backend death (the polled service), per single-writer
    service the writer's death, and a partition when the VIP's network
    spans several switches.
    """
    out: list[Scenario] = []
    for g in dep.vrrp_groups:
        if g.manager != "keepalived":
            continue
        for vip in g.vips:
            switches = (switches_by_vip or {}).get(vip, 2)
            for kind in KINDS.values():
                out += kind.offer(dep, vip, quick=quick, switches=switches)
    # Names must be unique across several VIPs.
    seen: dict[str, int] = {}
    unique = []
    for sc in out:
        n = seen.get(sc.name, 0)
        seen[sc.name] = n + 1
        unique.append(sc if n == 0 else Scenario(f"{sc.name}@{sc.vip}", sc.kind, sc.vip, sc.service))
    return unique


def select(scenarios: list[Scenario], names: list[str] | None) -> list[Scenario]:
    """Scenarios matching ``names`` (a full name, or a kind); all when ``names`` is empty."""
    if not names:
        return scenarios
    picked = [s for s in scenarios if s.name in names or s.kind in names]
    unknown = [n for n in names if not any(s.name == n or s.kind == n for s in scenarios)]
    if unknown:
        avail = ", ".join(s.name for s in scenarios)
        raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; this model has: {avail}")
    return picked
