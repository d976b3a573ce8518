"""The pipeline: model -> (Z3 placement + allocation) -> (failure analysis) -> results -> Deployment.

Library users call :func:`resolve`; the CLI and every generator go through it.
Everything the analysis answers is computed here, before the Deployment is
built: the Deployment holds plain results, and nothing after it starts a solver.
"""

from __future__ import annotations

from pathlib import Path

from hamodel.deployment import Deployment
from hamodel.model import Architecture


def resolve(
    arch: Architecture,
    *,
    lock: Path | None = None,
    fresh: bool = False,
    k: int = 2,
    analyse: bool = True,
    capacity_per: str = "node",
    answers: bool = False,
) -> Deployment:
    """Place, allocate and analyse ``arch``; return the frozen Deployment.

    ``capacity_per`` is what the N+1 capacity check loses: one ``node`` or
    one failure ``domain``. ``lock`` is the placement lock file (kept stable when present unless
    ``fresh``); it is read here, never written (``hamodel place`` writes it).
    ``answers`` (with ``analyse``) also computes the answers the documents,
    the explorer, ``diff`` and ``check --availability`` print
    (:attr:`Deployment.results`: single failures, availability, importance,
    cut sets of at most ``k`` failures).
    Raises ``hamodel.analysis.placement.Unplaceable`` when no placement exists.
    """
    from hamodel.analysis.placement import place, read_lock

    previous = None if (fresh or lock is None) else read_lock(lock, arch)
    result = place(arch, previous=previous)
    recovery = results = None
    findings: tuple = ()
    analysis = None
    if analyse:
        from hamodel.analysis.failures import Analysis

        analysis = Analysis(arch, result.placement, result.vrrp_groups)  # one view, shared by every answer
        findings = tuple(analysis.findings(k, capacity_per))  # type: ignore[arg-type]
        from hamodel.analysis.recovery import recovery_table
        from hamodel.analysis.recovery_findings import policy_findings

        recovery = recovery_table(analysis.view, result.vrrp_groups, stops=analysis.single_stops(k))
        findings += tuple(policy_findings(arch, recovery))
        if answers:
            results = analysis.results(k)
    return Deployment(
        architecture=arch,
        placement=result.placement,
        vrrp_groups=tuple(result.vrrp_groups),
        nonlocal_bind_nodes=frozenset(result.nonlocal_bind_nodes),
        findings=findings,
        notes=tuple(result.warnings),
        recovery=recovery,
        results=results,
    )
