"""The registry: every scenario of every lab, registered in this one place.

- :data:`KINDS`: the scenario kinds of the keepalived / HAProxy lab
  (:mod:`hamodel.drill.runner`), each a :class:`~hamodel.drill.scenario.ScenarioKind`
  (the protocol: :mod:`hamodel.drill.scenario`). Their modules live in the sub-package
  of the lab part they drill: :mod:`hamodel.drill.keepalived` (VRRP, HAProxy, stand-in
  backends, Redis replicas) and :mod:`hamodel.drill.galera` (a real Galera cluster
  behind the same HAProxy; its runbook and alerts).
- :data:`CLUSTER_LABS`: whole-cluster labs for deployments the keepalived lab cannot
  drill (a cluster manager holds their VIPs), each a
  :class:`~hamodel.drill.scenario.ClusterLab`: :mod:`hamodel.drill.pacemaker`.

``hamodel drill`` (:mod:`hamodel.drill.command`) is the one entry point:
:func:`hamodel.drill.runner.run_drill` hands a deployment to the first cluster
lab whose ``applies(dep)`` is true, else runs the keepalived lab with the kinds
below. Adding a kind is one module in its lab's sub-package and one line here::

    # hamodel/drill/galera/member_down.py
    class GaleraMemberDown(ScenarioKind):
        kind = "galera-member-down"
        title = "One Galera member dies; the cluster stays Primary"

        @classmethod
        def offer(cls, dep, vip, *, quick, switches):   # scenarios for this VIP, or []
            ...
        @classmethod
        def real_services(cls, dep, scenarios):          # {"galera"}: no stand-in backends
            ...                                          # (or derive from RealServiceKind)
        @classmethod
        def setup_lab(cls, ctx, scenarios):              # start the cluster (ctx.lab.start), keep it in
            ...                                          # ctx.shared["galera-member-down"]
        @classmethod
        def settled(cls, ctx):                           # ["galera-2 not Synced"] until steady
            ...
        def predict(self): ...                           # a dataclass; bounds + margins.GALERA_S
        def inject(self): ...
        def measure(self, t0, probe): ...                # a dataclass; stop the probe when done
        def checks(self, pred, measured): ...            # [Check(...)]
        def restore(self): ...                           # idempotent

    # and in KINDS below:
    GaleraMemberDown.kind: GaleraMemberDown,

The order of :data:`KINDS` is the order of a VIP's scenarios in the
default set (and so in the report). Time bounds take their margin from
:mod:`hamodel.drill.margins`.
"""

from __future__ import annotations

from hamodel.drill.galera.operations import KINDS as GALERA_OPERATIONS_KINDS
from hamodel.drill.galera.scenarios import GALERA_KINDS
from hamodel.drill.keepalived.backend_death import BackendDeath
from hamodel.drill.keepalived.haproxy_death import HaproxyDeath
from hamodel.drill.keepalived.holder_crash import HolderCrash
from hamodel.drill.keepalived.holder_kill import HolderKill
from hamodel.drill.keepalived.keepalived_kill import KeepalivedKill
from hamodel.drill.keepalived.partition import Partition
from hamodel.drill.keepalived.redis_primary_kill import RedisPrimaryKill
from hamodel.drill.keepalived.single_writer import SingleWriter
from hamodel.drill.keepalived.switch_failure import SwitchFailure
from hamodel.drill.pacemaker.cluster import PacemakerClusterLab
from hamodel.drill.scenario import KINDS, ClusterLab, Scenario, ScenarioKind

#: Every scenario kind, by its name (the one place a kind is registered).
KINDS.update(
    {
        HolderCrash.kind: HolderCrash,
        HolderKill.kind: HolderKill,
        KeepalivedKill.kind: KeepalivedKill,
        HaproxyDeath.kind: HaproxyDeath,
        BackendDeath.kind: BackendDeath,
        SingleWriter.kind: SingleWriter,
        Partition.kind: Partition,
        SwitchFailure.kind: SwitchFailure,
        # Real Redis replicas of an asynchronously replicating service (full drills, or --scenario).
        RedisPrimaryKill.kind: RedisPrimaryKill,
        # A real Galera cluster (full drills, or named with --scenario).
        **{k.kind: k for k in GALERA_KINDS},
        # The generated runbook and alerts, on the same cluster (hamodel.drill.galera.operations).
        **{k.kind: k for k in GALERA_OPERATIONS_KINDS},
    }
)

#: Whole-cluster labs for deployments the keepalived lab above cannot drill (their VIPs are
#: held by a cluster manager): :func:`hamodel.drill.runner.run_drill` hands a deployment to
#: the first one whose ``applies(dep)`` is true.
CLUSTER_LABS: dict[str, type[ClusterLab]] = {
    PacemakerClusterLab.name: PacemakerClusterLab,
}

__all__ = ["CLUSTER_LABS", "KINDS", "ClusterLab", "Scenario", "ScenarioKind"]
