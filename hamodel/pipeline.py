"""The pipeline: model -> (Z3 placement + allocation) -> (failure analysis) -> Deployment.

Library users call :func:`resolve`; the CLI and every generator go through it.
"""

from __future__ import annotations

from pathlib import Path

from hamodel.deployment import Deployment
from hamodel.model import Architecture


def resolve(arch: Architecture, *, lock: Path | None = None, fresh: bool = False, k: int = 2,
            analyse: bool = True, capacity_per: str = "node") -> Deployment:
    """Place, allocate and analyse ``arch``; return the frozen Deployment.

    ``capacity_per`` is what the N+1 capacity check loses: one ``node`` or
    one failure ``domain``. ``lock`` is the placement lock file (kept stable when present unless
    ``fresh``); it is read here, never written (``hamodel place`` writes it).
    Raises ``hamodel.analysis.placement.Unplaceable`` when no placement exists.
    """
    from hamodel.analysis.placement import place, read_lock

    previous = None if (fresh or lock is None) else read_lock(lock, arch)
    result = place(arch, previous=previous)
    findings: tuple = ()
    analysis = None
    if analyse:
        from hamodel.analysis.failures import Analysis

        analysis = Analysis(arch, result.placement, result.vrrp_groups)
        findings = tuple(analysis.findings(k, capacity_per))  # type: ignore[arg-type]
    dep = Deployment(
        architecture=arch,
        placement=result.placement,
        vrrp_groups=tuple(result.vrrp_groups),
        nonlocal_bind_nodes=frozenset(result.nonlocal_bind_nodes),
        findings=findings,
        notes=tuple(result.warnings),
    )
    if analyse:
        dep.__dict__["analysis"] = analysis  # the view the findings came from: built once
        dep = _with_recovery(dep)
    return dep


def _with_recovery(dep: Deployment) -> Deployment:
    """``dep`` with its predicted recovery and the findings of a policy it misses."""
    import dataclasses

    from hamodel.analysis.recovery import recovery_table
    from hamodel.analysis.recovery_findings import policy_findings

    table = recovery_table(dep)
    extra = policy_findings(dep.architecture, table)
    out = dataclasses.replace(dep, recovery=table, findings=dep.findings + tuple(extra))
    out.__dict__["analysis"] = dep.analysis  # the same view, built once
    return out
