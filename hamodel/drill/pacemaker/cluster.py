"""The Pacemaker cluster lab: a whole drill of its own for deployments whose VIPs Pacemaker holds.

The scenario kinds of :data:`hamodel.drill.registry.KINDS` drill keepalived
VIPs on the runner's lab. A deployment whose VIPs Pacemaker manages has
none of those: its drill is a real corosync/Pacemaker cluster
(:mod:`hamodel.drill.pacemaker`) with its own scenarios
(:mod:`hamodel.drill.pacemaker.scenarios`). :class:`PacemakerClusterLab`
is registered in :data:`hamodel.drill.registry.CLUSTER_LABS`;
:func:`hamodel.drill.runner.run_drill` hands such a deployment to it, so
``hamodel drill models/openstack_pacemaker.py`` runs it. A 2-node cluster
with ``two_node`` or with a quorum device runs the scenarios of its quorum
shape instead (:mod:`hamodel.drill.pacemaker.quorum`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from hamodel.deployment import Deployment
from hamodel.drill.lab import LabError
from hamodel.drill.pacemaker import quorum
from hamodel.drill.pacemaker import scenarios as majority
from hamodel.drill.pacemaker.cluster_plan import available
from hamodel.drill.pacemaker.redis_failover import RedisPromotedKill
from hamodel.drill.scenario import ClusterScenario
from hamodel.model import Architecture

__all__ = ["PacemakerClusterLab"]


class PacemakerClusterLab:
    """A real Pacemaker cluster drill, for a deployment with Pacemaker VIPs and no keepalived ones."""

    name: ClassVar[str] = "pacemaker"
    #: A majority cluster's scenario classes, in the report's order (the one place they are registered).
    kinds: ClassVar[tuple[type[ClusterScenario], ...]] = (*majority.SCENARIO_KINDS, RedisPromotedKill)
    #: The scenario names of a majority cluster, as ``hamodel drill --scenario`` takes them.
    scenarios: ClassVar[tuple[str, ...]] = tuple(k.kind for k in kinds)
    #: ``--quick`` leaves out the no-fencing variant.
    quick: ClassVar[tuple[str, ...]] = ("node-crash", "partition")

    @classmethod
    def applies(cls, dep: Deployment) -> bool:
        """A Pacemaker cluster holds the VIPs, keepalived none."""
        groups = list(dep.vrrp_groups)
        return (
            dep.architecture.pacemaker is not None
            and any(g.manager == "pacemaker" for g in groups)
            and not any(g.manager == "keepalived" for g in groups)
        )

    @classmethod
    def scenarios_for(cls, arch: Architecture | None) -> tuple[str, ...]:
        """The scenario names for this model's cluster: those of its quorum shape (two_node, quorum
        device), else the majority cluster's :attr:`scenarios`."""
        qshape = quorum.shape(arch) if arch is not None else None
        return quorum.SCENARIOS[qshape] if qshape else cls.scenarios

    @classmethod
    def select(cls, names: list[str] | None, *, quick: bool, arch: Architecture | None = None) -> list[str]:
        """The scenarios to run; ValueError names the unknown ones (a usage error). With ``arch``,
        those of its quorum shape (:meth:`scenarios_for`; ``quick`` runs them all: each is short)."""
        known = cls.scenarios_for(arch)
        if not names:
            return list(cls.quick if quick and known == cls.scenarios else known)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; this model has: {', '.join(known)}")
        return [n for n in known if n in names]

    @classmethod
    def run(
        cls,
        arch: Architecture,
        dep: Deployment,
        files: Mapping[str, bytes],
        *,
        quick: bool = False,
        scenarios: list[str] | None = None,
        progress: Callable[[str], None] | None = None,
        compare: Architecture | None = None,
        model_file: str | None = None,
    ) -> dict[str, Any]:
        """Run the drill; the report has the shape ``hamodel drill`` prints (summary, scenarios, checks).

        ``compare`` is the keepalived architecture for the side-by-side; by
        default the one the model file derives from (:func:`default_compare`).
        """
        why = available()
        if why:
            raise LabError(f"the Pacemaker drill cannot run here: {why}")
        if quorum.shape(arch):
            report = quorum.run_quorum(
                arch,
                scenarios=cls.select(scenarios, quick=quick, arch=arch),
                model_file=model_file,
                progress=progress,
                dep=dep,
                files=files,
            )
            report["quick"] = quick
            return report
        if compare is None and (other := default_compare(model_file)) is not None:
            from hamodel.loader import load

            compare = load(str(other))
        report = majority.run_all(
            arch,
            scenarios=cls.select(scenarios, quick=quick),
            compare=compare,
            model_file=model_file,
            progress=progress,
            dep=dep,
            files=files,
            kinds=cls.kinds,
        )
        report["quick"] = quick
        return report


def default_compare(model_file: str | None) -> Path | None:
    """The model a Pacemaker model file derives from (a sibling module it imports) when that one
    holds its VIPs with keepalived: the other side of the side-by-side. None when there is none."""
    import re

    if not model_file:
        return None
    path = Path(model_file.rsplit(":", 1)[0])
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    for mod in re.findall(r"(?m)^\s*(?:from\s+(\w+)\s+import|import\s+(\w+))", text):
        name = mod[0] or mod[1]
        sib = path.with_name(f"{name}.py")
        if sib.is_file() and sib != path and "Vrrp(" in sib.read_text(encoding="utf-8", errors="replace"):
            return sib
    return None
