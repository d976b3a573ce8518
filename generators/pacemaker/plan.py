"""The cluster's whole plan: the corosync.conf plan and the CIB plan together."""

from __future__ import annotations

from dataclasses import dataclass

from hamodel.generators.common import Secrets
from hamodel.generators.pacemaker.cib import CibPlan, plan_cib
from hamodel.generators.pacemaker.corosync import CorosyncPlan, plan_corosync

from hamodel.deployment import Deployment


@dataclass(frozen=True)
class ClusterPlan:
    """What the generated corosync.conf and CIB say (the drill lab's own plan is another type)."""

    corosync: CorosyncPlan
    cib: CibPlan


def plan_pacemaker(dep: Deployment, secrets: Secrets) -> ClusterPlan | None:
    """The cluster's plan, or None for an architecture without ``pacemaker``."""
    if dep.architecture.pacemaker is None:
        return None
    corosync = plan_corosync(dep)
    return ClusterPlan(corosync, plan_cib(dep, secrets, corosync))
