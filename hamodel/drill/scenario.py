"""The interface every scenario kind implements, and what a kind may use from the drill.

A *scenario* (:class:`Scenario`) is one named drill: a kind applied to a
VIP (and a service where it matters). A *kind* (:class:`ScenarioKind`) is
one module of :mod:`hamodel.drill.registry` that knows, for that scenario:

- which scenarios it offers for a deployment (:meth:`ScenarioKind.offer`);
- what the analysis predicts (:meth:`~ScenarioKind.predict`, a dataclass);
- which service the client polls meanwhile (:meth:`~ScenarioKind.polled`);
- how to break it (:meth:`~ScenarioKind.inject`) and what to measure until
  its window closes (:meth:`~ScenarioKind.measure`, a dataclass);
- how the prediction and the measurement compare
  (:meth:`~ScenarioKind.checks`, a list of :class:`Check`);
- how to undo it (:meth:`~ScenarioKind.restore`, called even when the
  measurement failed).

The runner (:mod:`hamodel.drill.runner`) owns everything around that:
it verifies that the lab is settled before injecting (every VIP with one
stable holder, every keepalived member MASTER or BACKUP as it should be,
every stand-in server UP in every HAProxy, every polled service answering),
starts the client's probe, waits a baseline, calls ``inject`` at ``t0``,
``measure``, ``restore``, then waits for the lab to settle again. A kind
never settles the lab itself.

Kinds that need more than keepalived, HAProxy and stand-in backends (a real
Galera cluster) use the optional class hooks :meth:`~ScenarioKind.real_services`,
:meth:`~ScenarioKind.setup_lab`, :meth:`~ScenarioKind.settled` and
:meth:`~ScenarioKind.teardown_lab`; they run once per drill, only when a
scenario of that kind was selected. Kinds that run a service for real derive
from :class:`RealServiceKind`.

Every time bound a kind predicts adds its lab's margin from
:mod:`hamodel.drill.margins` (the one margin policy), never one of its own.

A deployment whose VIPs a cluster manager holds is drilled by a
:class:`ClusterLab` instead: its scenarios are :class:`ClusterScenario`
classes (a ``kind`` for ``--scenario``, a ``title``, and the same steps:
``predict``, ``inject``, ``measure``, ``restore``, ``checks``, the cluster lab
settling the cluster before each), run on a cluster of its own; the report
has the same shape.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from hamodel.deployment import Deployment, VrrpGroup
from hamodel.drill.lab import Lab, LabError, Process, access_of
from hamodel.drill.observe import HolderWatch, ProbeRun
from hamodel.drill.plan import LabPlan
from hamodel.drill.results import Check
from hamodel.model import Architecture

__all__ = [
    "KINDS",
    "Check",
    "ClusterLab",
    "ClusterRun",
    "ClusterScenario",
    "DrillContext",
    "RealServiceKind",
    "Scenario",
    "ScenarioKind",
    "WholeClusterScenario",
    "probe_service",
]


@dataclass(frozen=True)
class Scenario:
    """One named drill: ``kind`` applied to ``vip`` (and ``service`` where it matters)."""

    name: str
    kind: str
    vip: str
    service: str | None = None

    @property
    def title(self) -> str:
        kind = KINDS.get(self.kind)
        return (kind.title if kind is not None else self.kind) + (f": {self.service}" if self.service else "")


#: The registry of scenario kinds, by name: filled in one place,
#: :mod:`hamodel.drill.registry`, which exports this same dict (so this module
#: needs no import back).
KINDS: dict[str, type[ScenarioKind]] = {}


def probe_service(dep: Deployment, vip: str, exclude: Collection[str] = ()) -> str | None:
    """The service whose port the client polls through ``vip``: the first
    plain load-balanced one (not single-writer) in model order, else the
    first single-writer one. Any front counts (``also_on``: the APIs on the
    internal VIP); ``exclude`` names services a kind runs for real (a real
    Galera speaks MySQL, not the stand-ins' protocol the client polls with)."""
    found = [
        s
        for s in dep.architecture.services
        if s.access is not None
        and s.name not in exclude
        and dep.placement.nodes_of(s.name)
        and any(str(f.vip) == vip for f in s.access.fronts)
    ]
    plain = [s for s in found if s.access is not None and not s.access.single_writer]
    return (plain or found)[0].name if found else None


class DrillContext(Protocol):
    """What a kind may use of the running drill (:class:`hamodel.drill.runner.Drill` implements it)."""

    arch: Architecture
    dep: Deployment
    plan: LabPlan
    lab: Lab
    quick: bool
    baseline: float  #: seconds of normal traffic before ``t0``
    post: float  #: seconds of traffic measured after a kind's window
    vip_addr: dict[str, str]
    groups: list[VrrpGroup]  #: the keepalived VRRP groups
    daemons: dict[tuple[str, str], Process]  #: (node, "keepalived" | "haproxy" | "backend") -> process
    shared: dict[str, Any]  #: per-kind state for the whole drill (a kind's setup_lab result)

    @property
    def watch(self) -> HolderWatch: ...
    def say(self, msg: str, /) -> None: ...
    def holder(self, vip: str, timeout: float = 20.0, stable: float = 1.0, /) -> str: ...
    def start_backend(self, node: str, /) -> None: ...
    def start_haproxy(self, node: str, /) -> None: ...
    def start_keepalived(self, node: str, /) -> None: ...
    def backend_ctl(self, node: str, cmd: str, /) -> str: ...


class ScenarioKind(ABC):
    """One scenario kind. The runner makes one instance per scenario run.

    Subclasses set :attr:`kind` and :attr:`title`, implement
    :meth:`offer`, :meth:`predict`, :meth:`inject`, :meth:`measure` and
    :meth:`checks`, and usually :meth:`restore`. ``predict`` may keep what
    the later steps need on ``self`` (the old holder, the victim); its
    return value and ``measure``'s are dataclasses that
    :func:`hamodel.drill.results.as_json` puts in the report.
    """

    kind: ClassVar[str]  #: the registry key and ``--scenario`` spelling, e.g. "holder-crash"
    title: ClassVar[str]  #: one line for the report

    def __init__(self, ctx: DrillContext, sc: Scenario, notes: list[str]):
        self.ctx, self.sc, self.notes = ctx, sc, notes

    # -- which scenarios (class level) ------------------------------------------

    @classmethod
    @abstractmethod
    def offer(cls, dep: Deployment, vip: str, *, quick: bool, switches: int) -> list[Scenario]:
        """This kind's scenarios for one keepalived ``vip`` (``switches``: how many
        switches its members sit on); [] when the kind does not apply."""

    # -- one scenario -------------------------------------------------------------

    @abstractmethod
    def predict(self) -> Any:
        """What the model predicts (a dataclass), from the model, the generated
        configs and the settled lab (who holds the VIP now)."""

    def polled(self) -> tuple[str, str]:
        """``(service, "ADDR:PORT")`` the client polls from before ``t0`` to the end of ``measure``."""
        svc = self.sc.service or probe_service(self.ctx.dep, self.sc.vip, getattr(self.ctx, "real_services", ()))
        if svc is None:
            raise LabError(f"no load-balanced service behind {self.sc.vip} to poll")
        port = access_of(self.ctx.arch, svc).ports[0]
        return svc, f"{self.ctx.vip_addr[self.sc.vip]}:{port}"

    @abstractmethod
    def inject(self) -> None:
        """Break it (called at ``t0``, the probe running)."""

    @abstractmethod
    def measure(self, t0: float, probe: ProbeRun) -> Any:
        """Observe until the kind's window closes, stop ``probe``, return the measurement (a dataclass)."""

    @abstractmethod
    def checks(self, pred: Any, measured: Any, /) -> list[Check]:
        """Prediction against measurement; the scenario agrees when every check does."""

    def restore(self) -> None:
        """Undo the injection (idempotent: called after ``measure``, even when it failed)."""

    # -- optional lab hooks (class level, once per drill) ----------------------------

    @classmethod
    def real_services(cls, dep: Deployment, scenarios: list[Scenario]) -> set[str]:
        """Services this kind runs for real: the lab gives them no stand-in backends."""
        return set()

    @classmethod
    def setup_lab(cls, ctx: DrillContext, scenarios: list[Scenario]) -> None:
        """Start what the kind needs (after the stand-in backends, before haproxy and keepalived).

        Keep state in ``ctx.shared[cls.kind]``. Start processes with
        ``ctx.lab.start`` so the lab's teardown stops them whatever happens.
        """

    @classmethod
    def settled(cls, ctx: DrillContext) -> list[str]:
        """What is not yet back to steady state (empty when settled); part of the runner's check."""
        return []

    @classmethod
    def teardown_lab(cls, ctx: DrillContext) -> None:
        """Before the lab is torn down (which kills its processes anyway)."""


class RealServiceKind(ScenarioKind):
    """A kind that runs its scenario's service for real (a Galera cluster, Redis
    replicas): the lab gives that service no stand-in backends, and the client
    polls a stand-in service behind the same VIP meanwhile."""

    @classmethod
    def real_services(cls, dep: Deployment, scenarios: list[Scenario]) -> set[str]:
        return {s.service for s in scenarios if s.service}

    def stand_in_polled(self, vip: str) -> tuple[str, str] | None:
        """``(service, "ADDR:PORT")`` of a stand-in service behind ``vip`` (None: there is none)."""
        ctx = self.ctx
        svc = probe_service(ctx.dep, vip, {s for s in (self.sc.service, *getattr(ctx, "real_services", ())) if s})
        if svc is None:
            return None
        return svc, f"{ctx.vip_addr[vip]}:{access_of(ctx.arch, svc).ports[0]}"


class ClusterLab(Protocol):
    """A whole-cluster lab (:data:`hamodel.drill.registry.CLUSTER_LABS`): the drill of a
    deployment whose VIPs a cluster manager holds (:mod:`hamodel.drill.pacemaker`)."""

    name: ClassVar[str]

    @classmethod
    def applies(cls, dep: Deployment) -> bool:
        """This lab drills ``dep`` (and the keepalived lab does not)."""
        ...

    @classmethod
    def scenarios_for(cls, arch: Architecture | None) -> tuple[str, ...]:
        """The scenario names (as ``hamodel drill --scenario`` takes them) for this model."""
        ...

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
        model_file: str | None = None,
    ) -> dict[str, Any]:
        """Run the selected scenarios; the report has the shape ``hamodel drill`` prints."""
        ...


@dataclass
class ClusterRun:
    """What a :class:`ClusterScenario` may use of the running cluster drill."""

    lab: Any  #: the cluster (:class:`hamodel.drill.pacemaker.lab.PacemakerLab`)
    watch: HolderWatch  #: the VIP holders, sampled from the start of the drill
    quorum: Any = None  #: quorum samples (two_node and quorum-device clusters)
    analysis: Any = None  #: what the analysis says of this model and its keepalived twin


class ClusterScenario(ABC):
    """One scenario of a cluster lab (:class:`ClusterLab`), registered by its lab: the same
    steps as a :class:`ScenarioKind`, on the lab's own cluster.

    The cluster lab makes one instance per run (``kind(ctx)``), settles the
    cluster, then calls :meth:`predict`, :meth:`inject`, :meth:`measure`,
    :meth:`restore` (even when the measurement failed) and :meth:`checks`;
    it times the run and adds ``name``, ``kind`` (``<lab>-<kind>``), ``vip``,
    ``title``, ``agreed`` and ``duration_s`` to the result. ``predict`` may
    keep what the later steps need on ``self`` (the victim, the bound);
    :meth:`restore` may add what it measures (how long the node took to
    rejoin) to the measurement it is given back by the lab.
    """

    kind: ClassVar[str]  #: the ``--scenario`` spelling, e.g. "node-crash"
    title: ClassVar[str]  #: one line for the report

    def __init__(self, ctx: ClusterRun):
        self.ctx = ctx

    @abstractmethod
    def predict(self) -> dict[str, Any]:
        """What the model predicts (JSON-ready), from the model, the pushed configuration and the settled cluster."""

    @abstractmethod
    def inject(self) -> None:
        """Break it."""

    @abstractmethod
    def measure(self) -> dict[str, Any]:
        """Observe until the scenario's window closes; the measurement (JSON-ready)."""

    @abstractmethod
    def checks(self, prediction: dict[str, Any], measured: dict[str, Any], /) -> list[Check]:
        """Prediction against measurement; the scenario agrees when every check does."""

    def restore(self, measured: dict[str, Any] | None, /) -> None:
        """Undo the injection (the node back, the cluster settled); ``measured`` is None when
        the measurement failed."""

    def extra(self) -> dict[str, Any]:
        """More sections of the result (e.g. ``observations``), besides prediction, measurement and checks."""
        return {}


class WholeClusterScenario(ClusterScenario):
    """A cluster scenario not yet split into the steps: :meth:`run` breaks, measures and
    compares in one call (at :meth:`inject`); the other steps report what it returned."""

    @classmethod
    @abstractmethod
    def run(cls, ctx: ClusterRun) -> dict[str, Any]:
        """The result with its ``prediction``, ``measured`` and ``checks``."""

    def predict(self) -> dict[str, Any]:
        self.prediction: dict[str, Any] = {}
        return self.prediction

    def inject(self) -> None:
        self.result = type(self).run(self.ctx)

    def measure(self) -> dict[str, Any]:
        self.prediction.update(self.result["prediction"])
        return self.result["measured"]

    def checks(self, prediction: dict[str, Any], measured: dict[str, Any], /) -> list[Check]:
        return list(self.result["checks"])

    def extra(self) -> dict[str, Any]:
        known = ("prediction", "measured", "checks")
        return {k: v for k, v in self.result.items() if k not in known}
