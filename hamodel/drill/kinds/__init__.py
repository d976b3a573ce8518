"""Scenario kinds: one module per kind, all registered in :data:`KINDS`.

Each module holds one :class:`~hamodel.drill.kinds.base.ScenarioKind`
subclass (the interface is documented in :mod:`hamodel.drill.kinds.base`):
``offer`` (which scenarios of this kind a deployment has), ``predict``,
``polled``, ``inject``, ``measure``, ``checks``, ``restore``, each step
returning dataclasses (:class:`~hamodel.drill.results.Check` for checks).

Adding a kind (a real Galera cluster, Pacemaker) is one new module and one
line here::

    # hamodel/drill/kinds/galera_member_down.py
    class GaleraMemberDown(ScenarioKind):
        kind = "galera-member-down"
        title = "One Galera member dies; the cluster stays Primary"

        @classmethod
        def offer(cls, dep, vip, *, quick, switches):   # scenarios for this VIP, or []
            ...
        @classmethod
        def real_services(cls, dep, scenarios):          # {"galera"}: no stand-in backends
            ...
        @classmethod
        def setup_lab(cls, ctx, scenarios):              # start the cluster (ctx.lab.start), keep it in
            ...                                          # ctx.shared["galera-member-down"]
        @classmethod
        def settled(cls, ctx):                           # ["galera-2 not Synced"] until steady
            ...
        def predict(self): ...                           # a dataclass
        def inject(self): ...
        def measure(self, t0, probe): ...                # a dataclass; stop the probe when done
        def checks(self, pred, measured): ...            # [Check(...)]
        def restore(self): ...                           # idempotent

    # and in KINDS below:
    GaleraMemberDown.kind: GaleraMemberDown,

The order of :data:`KINDS` is the order of a VIP's scenarios in the
default set (and so in the report).
"""

from __future__ import annotations

from hamodel.drill.kinds.backend_death import BackendDeath
from hamodel.drill.kinds.base import KINDS, Scenario, ScenarioKind
from hamodel.drill.kinds.galera import GALERA_KINDS
from hamodel.drill.kinds.galera_monitoring import KINDS as GALERA_OPERATIONS_KINDS
from hamodel.drill.kinds.haproxy_death import HaproxyDeath
from hamodel.drill.kinds.holder_crash import HolderCrash
from hamodel.drill.kinds.holder_kill import HolderKill
from hamodel.drill.kinds.pacemaker import PacemakerClusterLab
from hamodel.drill.kinds.partition import Partition
from hamodel.drill.kinds.redis_primary_kill import RedisPrimaryKill
from hamodel.drill.kinds.single_writer import SingleWriter
from hamodel.drill.kinds.switch_failure import SwitchFailure

#: Every scenario kind, by its name (the one place a kind is registered).
KINDS.update({
    HolderCrash.kind: HolderCrash,
    HolderKill.kind: HolderKill,
    HaproxyDeath.kind: HaproxyDeath,
    BackendDeath.kind: BackendDeath,
    SingleWriter.kind: SingleWriter,
    Partition.kind: Partition,
    SwitchFailure.kind: SwitchFailure,
    # Real Redis replicas of an asynchronously replicating service (full drills, or --scenario).
    RedisPrimaryKill.kind: RedisPrimaryKill,
    # A real Galera cluster (full drills, or named with --scenario).
    **{k.kind: k for k in GALERA_KINDS},
    # The generated runbook and alerts, on the same cluster (hamodel.drill.kinds.galera_monitoring).
    **{k.kind: k for k in GALERA_OPERATIONS_KINDS},
})

#: Whole-cluster labs for deployments the keepalived lab above cannot drill (their VIPs are
#: held by a cluster manager): :func:`hamodel.drill.runner.run_drill` hands a deployment to
#: the first one whose ``applies(dep)`` is true.
CLUSTER_LABS = {
    PacemakerClusterLab.name: PacemakerClusterLab,
}

__all__ = ["CLUSTER_LABS", "KINDS", "Scenario", "ScenarioKind"]
