"""Named, reusable drills, and the default set derived from a deployment.

A :class:`Scenario` says *what* to break (kind) and *where* (VIP, service);
:mod:`hamodel.drill.runner` knows how to break it, what the analysis
predicts, and how to measure. Names are stable (``holder-crash``,
``backend-death:keystone``) so ``hamodel drill --scenario NAME`` and CI can
pick them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hamodel.deployment import Deployment

Kind = Literal["holder-crash", "holder-kill", "haproxy-death", "backend-death", "partition", "single-writer"]

KINDS: dict[str, str] = {
    "holder-crash": "Crash of the VIP holder (its links go down)",
    "holder-kill": "SIGKILL of every process on the VIP holder (links stay up)",
    "haproxy-death": "HAProxy dies on the VIP holder; the track script must move the VIP",
    "backend-death": "One backend of a load-balanced service dies; HAProxy must mark it down",
    "partition": "The segment is partitioned (inter-switch links cut), then healed",
    "single-writer": "The active writer of an active/backup service dies; traffic must move to one backup",
}


@dataclass(frozen=True)
class Scenario:
    """One named drill: ``kind`` applied to ``vip`` (and ``service`` where it matters)."""

    name: str
    kind: Kind
    vip: str
    service: str | None = None

    @property
    def title(self) -> str:
        return KINDS[self.kind] + (f": {self.service}" if self.service else "")


def probe_service(dep: Deployment, vip: str) -> str | None:
    """The service whose port the client polls through ``vip``: the first
    plain load-balanced one (not single-writer) in model order, else the
    first single-writer one."""
    found = [s for s in dep.architecture.services
             if s.access is not None and s.access.vip == vip and dep.placement.nodes_of(s.name)]
    plain = [s for s in found if not s.access.single_writer]
    return (plain or found)[0].name if found else None


def default_scenarios(dep: Deployment, *, quick: bool = False, switches_by_vip: dict[str, int] | None = None) -> list[Scenario]:
    """The drills that fit this deployment.

    Per keepalived VIP group: holder crash, the SIGKILL variant (full mode
    only: it leaves the VIP on the old holder by design, see the report),
    haproxy death when the group tracks a process, a partition when the
    VIP's network spans several switches; per VIP one backend death (the
    polled service) and, per single-writer service, the writer's death.
    """
    arch = dep.architecture
    out: list[Scenario] = []
    for g in dep.vrrp_groups:
        if g.manager != "keepalived":
            continue
        for vip in g.vips:
            out.append(Scenario("holder-crash", "holder-crash", vip))
            if not quick:
                out.append(Scenario("holder-kill", "holder-kill", vip))
            # The runner reads the generated vrrp_script to predict, and
            # predicts "the VIP stays" when nothing is tracked.
            out.append(Scenario("haproxy-death", "haproxy-death", vip))
            svc = probe_service(dep, vip)
            if svc is not None and not arch.service(svc).access.single_writer:
                out.append(Scenario(f"backend-death:{svc}", "backend-death", vip, svc))
            for s in arch.services:
                a = s.access
                if a is not None and a.vip == vip and a.single_writer and len(dep.placement.nodes_of(s.name)) > 1:
                    out.append(Scenario(f"single-writer:{s.name}", "single-writer", vip, s.name))
            if (switches_by_vip or {}).get(vip, 2) > 1:
                out.append(Scenario("partition", "partition", vip))
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
