"""Galera scenario kinds: a real three-member MariaDB Galera cluster in the drill's own lab.

Each kind runs one scenario function of :mod:`hamodel.drill.galera.scenarios`
(which predicts, injects, measures and compares in one step, on a
:class:`~hamodel.drill.galera.lab.GaleraLab`) inside ``hamodel drill``'s lab: the members' ``mariadbd`` run in the node
namespaces the runner built, behind the keepalived-held VIP and the
generated ``haproxy.cfg`` on every load balancer (its real ``option
httpchk`` against each member's clustercheck-style endpoint on 9200); the
writes go from the drill's client through the VIP, to whichever node holds
it when the scenario starts.

The lab hooks start the cluster once per drill (before HAProxy and
keepalived, so HAProxy's first checks find it), add its steady state to the
runner's settled check (every member Primary, Synced, size 3, health 200;
every HAProxy sees every Galera server UP) and remove the member folders
at teardown. The scenario function injects, measures and brings the
cluster back whole (it must, to count the committed rows on every member);
the runner's probe keeps polling the VIP's service meanwhile.

Offered in full drills when the model has a Galera service (an
AppCluster named galera or running mariadb) on three or more nodes behind a
keepalived VIP and this machine has MariaDB and Galera
(:func:`hamodel.drill.galera.available`); a quick drill runs them only when
named (``--scenario galera-member-down``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hamodel.deployment import Deployment
from hamodel.drill.galera import lab as g
from hamodel.drill.galera import scenarios as gs
from hamodel.drill.keepalived.common import sock_of
from hamodel.drill.lab import LabError
from hamodel.drill.observe import ProbeRun, haproxy_stats
from hamodel.drill.results import Check, ProbeSummary, flat
from hamodel.drill.scenario import DrillContext, RealServiceKind, Scenario

_KEY = "galera"  # ctx.shared[_KEY]: the cluster of this drill, shared by every Galera kind


@dataclass
class GaleraPrediction:
    """What the analysis says; ``predicted`` is filled by the scenario from the
    analysis once it knows the lab's roles (writer, VIP holder, victims)."""

    reason: str
    service: str
    members: list[str]
    quorum: int
    predicted: dict[str, Any] = field(default_factory=dict)


@dataclass
class GaleraMeasurement:
    """The scenario's own measurement, plus what the client saw through the VIP meanwhile."""

    details: dict[str, Any] = flat()
    summary: ProbeSummary = flat()
    polled: str = ""


@dataclass
class _Shared:
    gl: g.GaleraLab
    an: gs.GaleraFacts
    owner: str  # the kind whose class hooks act for all of them (called once per kind)


def galera_vip(dep: Deployment) -> tuple[str, str] | None:
    """``(service, VIP name)`` of the model's Galera service behind a keepalived VIP, or None."""
    arch = dep.architecture
    try:
        name = g.galera_service(arch)
    except LabError:
        return None
    access = arch.service(name).access
    if access is None or len(dep.placement.nodes_of(name)) < 3:
        return None
    vip = access.vip
    if not any(vip in grp.vips and grp.manager == "keepalived" for grp in dep.vrrp_groups):
        return None
    return name, vip


class GaleraKind(RealServiceKind):
    """One Galera scenario: ``step``, a function of :mod:`hamodel.drill.galera.scenarios`."""

    function: ClassVar[str]  #: the scenario's short name (progress lines)
    #: The scenario function: predicts, injects, measures and compares on the cluster.
    step: ClassVar[Callable[[g.GaleraLab, gs.GaleraFacts], dict[str, Any]]]
    reason: ClassVar[str]
    #: How long the runner waits for the lab to settle after any scenario of a drill with a
    #: Galera cluster: a member that was killed or cut off rejoins by state transfer (the
    #: scenarios' own wait for a whole cluster is 90 s too).
    settle_timeout_s: ClassVar[float] = 90.0

    @classmethod
    def offer(cls, dep: Deployment, vip: str, *, quick: bool, switches: int) -> list[Scenario]:
        found = galera_vip(dep)
        if quick or found is None or found[1] != vip or g.available() is not None:
            return []
        return [Scenario(cls.kind, cls.kind, vip, found[0])]

    @classmethod
    def setup_lab(cls, ctx: DrillContext, scenarios: list[Scenario]) -> None:
        if _KEY in ctx.shared or not scenarios:
            return
        why = g.available()
        if why:
            raise LabError(f"Galera scenarios: {why}")
        plan = g.plan(ctx.arch, ctx.dep, ctx.files, scenarios[0].service)  # type: ignore[attr-defined]
        gl = g.GaleraLab(ctx.arch, plan, ctx.say, lab=ctx.lab, dep=ctx.dep)
        # Registered before the start, so that teardown removes a half-built cluster too.
        ctx.shared[_KEY] = _Shared(gl, None, cls.kind)  # type: ignore[arg-type]
        gl.start_cluster()
        ctx.shared[_KEY].an = gs.analysis(ctx.arch, ctx.dep, plan.service)
        provider = (gl.status(gl.nodes[0]) or {}).get("wsrep_provider_version", "unknown")
        ctx.plan.notes.append(
            f"{plan.service} runs for real: {g.version()}, Galera {provider}, members {', '.join(gl.nodes)} ({plan.cluster_address}), "
            f"first bootstrapped in {gl.timings['bootstrap_s']:g} s, the others joined in {gl.timings['join_s']:g} s; "
            f"a clustercheck-style endpoint on port {plan.check_port} answers HAProxy's checks"
        )

    @classmethod
    def _mine(cls, ctx: DrillContext) -> _Shared | None:
        sh = ctx.shared.get(_KEY)
        return sh if sh is not None and sh.owner == cls.kind else None

    @classmethod
    def settled(cls, ctx: DrillContext) -> list[str]:
        sh = cls._mine(ctx)
        if sh is None:
            return []
        problems = sh.gl.unsettled()
        be = sh.gl.plan.backend
        for n in sorted(ctx.plan.haproxy):
            if (n, "haproxy") not in ctx.daemons or be is None:
                continue
            hb = ctx.plan.haproxy[n].backend_for(sh.gl.plan.vip, sh.gl.plan.port)
            if hb is None:
                continue
            stats = haproxy_stats(sock_of(ctx, n)) or {}
            for srv in hb.servers:
                st = stats.get((hb.name, srv.name))
                if st not in ("UP", "no check"):
                    problems.append(f"haproxy on {n}: galera server {hb.name}/{srv.name} is {st or 'missing'}")
        return problems

    @classmethod
    def node_restarted(cls, ctx: DrillContext, node: str) -> None:
        """``node`` comes back after every process on it was killed (holder-kill): its member
        rejoins the cluster (state transfer from the others) and its health endpoint returns."""
        sh = cls._mine(ctx)
        if sh is None or node not in sh.gl.nodes:
            return
        if not sh.gl.alive(node):
            sh.gl.start(node)
        h = sh.gl.procs.get((node, "health"))
        if h is None or not h.alive():
            sh.gl.start_health(node)

    @classmethod
    def teardown_lab(cls, ctx: DrillContext) -> None:
        sh = cls._mine(ctx)
        if sh is not None:
            sh.gl.stop_cluster()

    # -- one scenario -------------------------------------------------------------

    def predict(self) -> GaleraPrediction:
        sh: _Shared = self.ctx.shared[_KEY]
        self.gl, self.an = sh.gl, sh.an
        # The load balancer the writes go through: whoever holds the VIP now.
        self.gl.plan.lb_node = self.ctx.holder(self.sc.vip)
        self.pred = GaleraPrediction(self.reason, self.an.service, self.an.members, self.an.quorum)
        return self.pred

    def polled(self) -> tuple[str, str]:
        """A stand-in service the client polls meanwhile (no check on it: it shows what the
        scenario does to the rest): the Galera VIP's usual probe service, else, when Galera
        is alone behind its VIP, another keepalived VIP's."""
        ctx = self.ctx
        vips = [self.sc.vip] + [v for grp in ctx.groups for v in grp.vips if v != self.sc.vip]
        for vip in vips:
            found = self.stand_in_polled(vip)
            if found is not None:
                return found
        raise LabError(f"no stand-in service behind a keepalived VIP to poll during {self.sc.name}")

    def inject(self) -> None:
        self.ctx.say(f"  galera {self.function} through haproxy on {self.gl.plan.lb_node}")
        self.result = self.run()

    def run(self) -> dict[str, Any]:
        """The scenario function (a kind outside galera.scenarios overrides this)."""
        return type(self).step(self.gl, self.an)

    def measure(self, t0: float, probe: ProbeRun) -> GaleraMeasurement:
        results = probe.stop()
        r = self.result
        self.pred.predicted = r["predicted"]
        return GaleraMeasurement(
            details=r["measured"], summary=ProbeSummary.of(results, t0), polled=" ".join(self.polled())
        )

    def checks(self, pred: GaleraPrediction, measured: GaleraMeasurement) -> list[Check]:
        return [Check(c["what"], c["expected"], c["measured"], c["agreed"]) for c in self.result["checks"]]

    def restore(self) -> None:
        """Every member running again (a scenario that failed midway may leave one down);
        the settled check then waits until they are Synced."""
        gl = getattr(self, "gl", None)
        if gl is None:
            return
        for n in gl.nodes:
            gl.cut(n, up=True)
        down = [n for n in gl.nodes if not gl.alive(n)]
        if down and len(down) == len(gl.nodes):
            # Nobody to join: bootstrap the member with the highest seqno (the recovery procedure).
            for n in gl.nodes:
                gl.kill(n)
            boot = max(gl.nodes, key=lambda n: int(gl.grastate(n).get("seqno", "-1") or -1))
            gl.set_safe_to_bootstrap(boot)
            gl.start(boot, bootstrap=True)
            down.remove(boot)
        for n in down:
            gl.start(n)


class GaleraMemberDown(GaleraKind):
    kind = "galera-member-down"
    title = "Galera: the writer's mariadbd dies; the cluster stays Primary"
    function = "member-down"
    step = staticmethod(gs.member_down)
    reason = (
        "no minimal cut set of the Galera service has one member: two of three keep the quorum, and "
        "HAProxy moves the single writer to a backup after fall x inter of failed health checks"
    )


class GaleraPartition(GaleraKind):
    kind = "galera-partition"
    title = "Galera: a partition isolates one member"
    function = "partition"
    step = staticmethod(gs.partition)
    reason = (
        "the quorum is a majority of the members: the isolated member turns non-Primary and refuses "
        "writes, its health check answers 503 and HAProxy stops sending to it; the two others stay Primary"
    )


class GaleraQuorumLoss(GaleraKind):
    kind = "galera-quorum-loss"
    title = "Galera: two members die (the quorum-loss cut set)"
    function = "quorum-loss"
    step = staticmethod(gs.quorum_loss)
    reason = (
        "two members are a minimal cut set (quorum-loss:galera): the survivor turns non-Primary and "
        "refuses writes until the operator bootstraps it (pc.bootstrap=YES)"
    )


class GaleraRestartCrash(GaleraKind):
    kind = "galera-restart-crash"
    title = "Galera: every member crashes at once, all come back"
    function = "restart-crash"
    step = staticmethod(gs.restart_crash)
    reason = (
        "cold-start semantics of the model (cold_start), stop='crash': whether the cluster re-forms "
        "by itself (Galera's pc.recovery) or needs the operator"
    )


class GaleraRestartGraceful(GaleraKind):
    kind = "galera-restart-graceful"
    title = "Galera: every member is stopped cleanly, all are started again"
    function = "restart-graceful"
    step = staticmethod(gs.restart_graceful)
    reason = (
        "cold-start semantics of the model, stop='graceful': after a clean stop of all, Galera waits "
        "for an operator to bootstrap the member that is safe to bootstrap (the last one stopped)"
    )


class GaleraRestartCrashMissing(GaleraKind):
    kind = "galera-restart-crash-missing"
    title = "Galera: every member crashes, one does not come back"
    function = "restart-crash-missing"
    step = staticmethod(gs.restart_crash_missing)
    reason = (
        "cold-start semantics with one member missing: the two others do not form a primary "
        "component by themselves; the operator bootstraps the most advanced one (--wsrep-recover)"
    )


#: Every Galera kind, in the order of a full drill.
GALERA_KINDS: tuple[type[GaleraKind], ...] = (
    GaleraMemberDown,
    GaleraPartition,
    GaleraQuorumLoss,
    GaleraRestartCrash,
    GaleraRestartGraceful,
    GaleraRestartCrashMissing,
)

__all__ = ["GALERA_KINDS", "GaleraKind", "GaleraMeasurement", "GaleraPrediction", "galera_vip"]
