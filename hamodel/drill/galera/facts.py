"""What the analysis says of the model's Galera service, read from the Deployment's results.

The drill never runs the analysis itself: the quorum and the members come
from the component view of :attr:`hamodel.deployment.Deployment.results`,
the cut sets and the cold-start outcomes from the same results
(:class:`hamodel.analysis.results.AnalysisResults`), the manual-recovery
case table from the Deployment's findings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hamodel.deployment import Deployment
from hamodel.drill.lab import LabError
from hamodel.model.strategies import AppCluster

__all__ = ["GaleraFacts", "facts"]


@dataclass
class GaleraFacts:
    """What the analysis says of the Galera service, as the scenarios need it."""

    service: str
    process: str
    members: list[str]
    quorum: int
    cuts: list[frozenset[str]]  # minimal cut sets up to size 2
    cold: dict[str, str]  # stop ("crash" / "graceful") -> outcome with every member back
    recovery: str
    finding: dict[str, Any] | None  # the manual-recovery finding's case table for this service
    cold_missing: str = ""  # outcome of a crash of every member with one member not coming back

    def primary_after(self, failed: set[str]) -> bool:
        """Does the cluster keep a primary component after ``failed`` components fail?"""
        return not any(c <= failed for c in self.cuts)

    def proc(self, node: str) -> str:
        return f"proc:{self.process}@{node}"


def _outcome(dep: Deployment, service: str, stop: str, k: int) -> str:
    row = dep.answers().cold_start_of(service, stop, k)
    if row is None:
        raise LabError(f"the analysis results have no cold-start outcome for {service} (stop={stop}, {k} missing)")
    return row.outcome


def facts(dep: Deployment, service: str) -> GaleraFacts:
    """:class:`GaleraFacts` of ``service`` from ``dep``'s analysis results (``resolve(..., answers=True)``)."""
    res = dep.answers()
    arch = dep.architecture
    svc = arch.service(service)
    st = svc.strategy
    if not isinstance(st, AppCluster):
        raise LabError(f"{service} is not an application cluster (AppCluster): no Galera drill")
    if res.k < 2:
        raise LabError(f"the analysis results hold cut sets of at most {res.k} failure(s); the Galera drill needs 2")
    cuts = [frozenset(c) for c in res.cut_sets.get(service, ()) if len(c) <= 2]
    mr = next((f for f in dep.findings if f.id == "manual-recovery" and service in f.services), None)
    return GaleraFacts(
        service,
        svc.process or svc.name,
        list(res.view.instances[service]),
        res.view.quorum(service),
        cuts,
        {stop: _outcome(dep, service, stop, 0) for stop in ("crash", "graceful")},
        st.recovery,
        (mr.details.get("cases", {}).get(service) if mr else None),
        _outcome(dep, service, "crash", 1),
    )
