"""The Galera scenarios' common part: a real three-member MariaDB Galera cluster in the drill's own lab.

:class:`GaleraKind` is the base of every Galera scenario kind
(:mod:`hamodel.drill.galera.scenarios`, :mod:`hamodel.drill.galera.operations`):
the members' ``mariadbd`` run in the node namespaces the runner built,
behind the keepalived-held VIP and the generated ``haproxy.cfg`` on every
load balancer (its real ``option httpchk`` against each member's
clustercheck-style endpoint on 9200); the writes go from the drill's client
through the VIP, to whichever node holds it when the scenario starts.

The lab hooks start the cluster once per drill (before HAProxy and
keepalived, so HAProxy's first checks find it), add its steady state to the
runner's settled check (every member Primary, Synced, size 3, health 200;
every HAProxy sees every Galera server UP) and remove the member folders
at teardown. Each scenario implements the protocol's steps
(:mod:`hamodel.drill.scenario`): ``predict`` (the roles and the analysis'
prediction, read from the Deployment's results: :mod:`hamodel.drill.galera.facts`),
``inject``, ``observe`` (what :meth:`GaleraKind.measure` reports besides the
client's probe; it brings the cluster back whole, to count the committed
rows on every member) and ``checks``; :meth:`GaleraKind.restore` brings
every member back after a scenario that failed midway.

Offered in full drills when the model has a Galera service (an
AppCluster named galera or running mariadb) on three or more nodes behind a
keepalived VIP and this machine has MariaDB and Galera
(:func:`hamodel.drill.galera.available`); a quick drill runs them only when
named (``--scenario galera-member-down``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from hamodel.deployment import Deployment
from hamodel.drill.galera import lab as g
from hamodel.drill.galera.facts import GaleraFacts, facts
from hamodel.drill.keepalived.common import sock_of
from hamodel.drill.lab import LabError
from hamodel.drill.observe import ProbeRun, haproxy_stats
from hamodel.drill.results import ProbeSummary, flat
from hamodel.drill.scenario import DrillContext, RealServiceKind, Scenario

_KEY = "galera"  # ctx.shared[_KEY]: the cluster of this drill, shared by every Galera kind


@dataclass
class GaleraPrediction:
    """What the analysis says; ``predicted``: the scenario's prediction for the
    lab's roles (writer, VIP holder, victims)."""

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
    an: GaleraFacts
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
    """One Galera scenario on the drill's cluster. A subclass sets ``kind``, ``title``,
    ``function`` and ``reason`` and implements ``predict`` (calling :meth:`attach` and
    :meth:`prediction`), ``inject``, ``observe`` and ``checks``."""

    function: ClassVar[str]  #: the scenario's short name (progress lines)
    reason: ClassVar[str]
    gl: g.GaleraLab
    an: GaleraFacts
    alone: bool = False  #: run by :func:`run_alone`, outside a drill
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
        ctx.shared[_KEY].an = facts(ctx.dep, plan.service)
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

    def attach(self) -> tuple[g.GaleraLab, GaleraFacts]:
        """The cluster and the analysis' facts for this scenario; in a drill the writes go
        through whoever holds the VIP now (:func:`run_alone` sets them beforehand)."""
        if self.alone:
            return self.gl, self.an
        sh: _Shared = self.ctx.shared[_KEY]
        self.gl, self.an = sh.gl, sh.an
        self.gl.plan.lb_node = self.ctx.holder(self.sc.vip)
        self.ctx.say(f"  galera {self.function} through haproxy on {self.gl.plan.lb_node}")
        return self.gl, self.an

    def prediction(self, predicted: dict[str, Any]) -> GaleraPrediction:
        an = self.an
        return GaleraPrediction(self.reason, an.service, an.members, an.quorum, predicted)

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

    def observe(self) -> dict[str, Any]:
        """What the scenario measured on the cluster after ``inject`` (the cluster whole again)."""
        raise NotImplementedError

    def measure(self, t0: float, probe: ProbeRun | None) -> GaleraMeasurement:
        details = self.observe()
        if probe is None:  # run_alone: no drill client, so no request was sent
            return GaleraMeasurement(details=details, summary=ProbeSummary(0, 0))
        results = probe.stop()
        return GaleraMeasurement(details=details, summary=ProbeSummary.of(results, t0), polled=" ".join(self.polled()))

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


def run_alone(kind: type[GaleraKind], gl: g.GaleraLab, an: GaleraFacts) -> dict[str, Any]:
    """Run one Galera scenario's steps on a bare cluster (no drill around it: the
    Galera lab's tests), the way the runner does; returns the prediction, the
    measurement and the checks as JSON-ready data."""
    k = kind.__new__(kind)
    k.notes, k.alone, k.gl, k.an = [], True, gl, an
    pred = k.predict()
    try:
        k.inject()
        m = k.measure(0.0, None)
    finally:
        k.restore()
    checks = k.checks(pred, m)
    return {
        "predicted": pred.predicted,
        "measured": m.details,
        "checks": [
            {"what": c.what, "expected": c.expected, "measured": c.measured, "agreed": c.agreed} for c in checks
        ],
    }


__all__ = ["GaleraKind", "GaleraMeasurement", "GaleraPrediction", "galera_vip", "run_alone"]
