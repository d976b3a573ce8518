"""Failure analysis: which failures take which service down, proved with Z3.

Entry point for the pipeline: :func:`analyse` returns the findings. The
facts behind them are available as data for generators (docs, drills):

- :func:`cut_sets` -- minimal cut sets per service up to size ``k``
  (component ids as in :mod:`hamodel.analysis.components`; read off the
  fault trees, Z3 for non-coherent ones, see :class:`Analyzer`);
- :func:`split_brain` -- minimal failure sets leaving two masters;
- :func:`single_failure_scenarios` -- for every single node, domain and
  switch failure, which services stop, degrade, lose shards, keep running;
- :func:`availability` -- exact steady-state availability per service where
  reliability figures exist;
- :func:`cold_start` -- which services come back by themselves after a full
  power loss with up to ``k`` nodes not returning;
- :func:`capacity_check` -- N+1: survivors' capacity after any one failure;
- :func:`prove_tolerance` -- one counterexample (or a proof) per service.

Semantics (per strategy) are documented in :mod:`hamodel.analysis.semantics`.
Findings, each built from a rule of :mod:`hamodel.analysis.catalogue`
(which holds the ids, kinds, severities and prose; the guide's checks page
is rendered from it). In short (id (severity)):

- ``unavailable:<s>`` (critical): down with nothing failed;
- ``spof:<s>`` (high): a single failure stops ``s`` (its own cut set, not one
  inherited from a dependency); ``partial-outage:<s>`` (medium) for a sharded
  service; ``quorum-loss:<s>`` (high) when a single failure (a rack, a power
  feed) breaks a cluster's quorum;
- ``quorum-loss:<s>`` / ``cut-sets:<s>`` (low for size 2, info above): the
  inherent cut sets up to ``k`` (losing 2 of 3 members);
- ``split-brain:<s>`` (high for one failure, medium for more): partitions
  that leave masters on both sides (VRRP, no quorum);
- ``monitoring-required`` (medium): nothing restarts failed processes and no
  external monitoring is modelled; ``manual-recovery`` (medium): quorum
  clusters needing an operator after a full restart;
- ``capacity:n-plus-1`` (medium), ``cold-start:wait-for-all`` (low);
- ``site-failure:<d>`` (low): a domain *declared* the site boundary
  (``site=True``, kind ``region`` or ``site``) enclosing every node stops
  everything; reported once instead of in every service's cut sets
  (``cut_sets()`` still lists it). Any other domain holding every node (one
  power feed, one rack) is an ordinary single point of failure;
- ``pacemaker:two-node`` (high without fencing or two_node, low with both):
  a 2-node Pacemaker cluster without a quorum device;
  ``pacemaker:no-fencing`` (medium): nothing guarantees that a node which
  lost quorum stops its resources.

Impact and mitigation texts are derived from the cause: the kind of each
component in the cut (node, process, power feed, rack, switch, link) and
the strategy (unmanaged active/passive, Pacemaker quorum, VIP holders).

Cut sets are attributed to the service they belong to: a cut set of
``keystone`` that is also one of ``galera`` is reported once, under galera,
with keystone among the affected services.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Literal

from hamodel.analysis import catalogue as cat
from hamodel.analysis.availability import ServiceAvailability, availabilities, has_figures, with_reads
from hamodel.analysis.causes import _fmt_set
from hamodel.analysis.components import ModelView, component_kind, node_id, view
from hamodel.analysis.cutsets import Analyzer, CutSet
from hamodel.analysis.results import (
    AnalysisResults,
    ColdStart,
    Finding,
    Placement,
    SingleFailure,
    VrrpGroup,
)
from hamodel.analysis.semantics import DEGRADED, DOWN, PARTIAL, UP, Evaluation
from hamodel.analysis.service_findings import (
    _cut_finding,
    _manual_recovery_finding,
    _monitoring_finding,
    _pacemaker_finding,
    _split_candidates,
    _split_finding,
)
from hamodel.model import Architecture
from hamodel.model.strategies import ActivePassive, AppCluster, Elected, External, Sharded, Witness

__all__ = [
    "Analysis",
    "ColdStart",
    "SingleFailure",
    "analyse",
    "availability",
    "capacity_check",
    "cold_start",
    "cut_sets",
    "prove_tolerance",
    "single_failure_scenarios",
    "split_brain",
]


def _analysed(arch: Architecture) -> list[str]:
    """Services with findings of their own (not External, not witnesses)."""
    return [s.name for s in arch.services if not isinstance(s.strategy, (External, Witness))]


# -- facts as data -------------------------------------------------------------


def cut_sets(
    arch: Architecture,
    placement: Placement,
    k: int = 2,
    vrrp_groups: Sequence[VrrpGroup] = (),
    services: Sequence[str] | None = None,
) -> dict[str, list[CutSet]]:
    """Minimal cut sets of size <= ``k`` per service, smallest first.

    A cut set is a tuple of component ids whose joint failure makes the
    service not fully available (for a sharded service: loses a shard).
    Includes sets inherited from dependencies.
    """
    return Analysis(arch, placement, vrrp_groups).cut_sets(k, services)


def split_brain(
    arch: Architecture, placement: Placement, k: int = 2, vrrp_groups: Sequence[VrrpGroup] = ()
) -> dict[str, list[CutSet]]:
    """Per VIP-holding service or AppCluster, the minimal failure sets (size
    <= ``k``) after which two masters run, unable to see each other."""
    return Analysis(arch, placement, vrrp_groups).split_brain(k)


def prove_tolerance(
    arch: Architecture,
    placement: Placement,
    k: int,
    vrrp_groups: Sequence[VrrpGroup] = (),
    services: Sequence[str] | None = None,
) -> dict[str, CutSet | None]:
    """For each (required) service one set of at most ``k`` failures that
    stops it, or None: Z3 proved that no such set exists."""
    return Analysis(arch, placement, vrrp_groups).prove_tolerance(k, services)


def single_failure_scenarios(
    arch: Architecture,
    placement: Placement,
    vrrp_groups: Sequence[VrrpGroup] = (),
    kinds: Sequence[str] = ("node", "domain", "switch", "trunk"),
) -> list[SingleFailure]:
    """For each single failure of a node, failure domain, switch or trunk
    (``kinds``; add ``"link"`` or ``"proc"`` for those), the state of every service,
    evaluated with the plain-Python semantics. Sorted by component id."""
    return Analysis(arch, placement, vrrp_groups).single_failures(kinds)


def availability(
    arch: Architecture, placement: Placement, vrrp_groups: Sequence[VrrpGroup] = (), limit: int = 20_000
) -> dict[str, ServiceAvailability]:
    """Steady-state availability of each service, exact for independent
    failures (from its fault tree's BDD, see :mod:`hamodel.analysis.availability`).
    Empty when the model carries no reliability figures."""
    return Analysis(arch, placement, vrrp_groups).availability(limit)


def cold_start(
    arch: Architecture,
    placement: Placement,
    k: int = 1,
    vrrp_groups: Sequence[VrrpGroup] = (),
    *,
    stop: Literal["crash", "graceful"] = "crash",
) -> list[ColdStart]:
    """Which quorum-keeping services recover without an operator after a full
    power loss (``stop="crash"``; ``"graceful"``: every member was shut down
    cleanly, as for maintenance) with up to ``k`` nodes not returning (worst
    case over the missing nodes). Rules: ``cold_start="manual"`` clusters
    need their ``recovery`` procedure after any full stop;
    ``cold_start="automatic-when-all-back"`` clusters (RabbitMQ: each node
    waits at boot for the peer that stopped last) re-form by themselves once
    every member is back and need ``recovery`` when a member does not return;
    ``cold_start="automatic-after-crash"`` clusters (Galera with its default
    ``pc.recovery``: every member saved the last primary view) re-form by
    themselves after a crash of all members once every member is back, and
    need ``recovery`` after a graceful stop of all (no member is safe to
    start a cluster) or when a member does not return; a cluster
    whose surviving members are fewer than its quorum stays down; with
    Pacemaker ``wait_for_all`` the cluster does not become quorate until all
    its nodes were seen, so a node that never returns needs an operator to
    unblock quorum for every Pacemaker-managed service."""
    return Analysis(arch, placement, vrrp_groups).cold_start(k, stop=stop)


def capacity_check(
    arch: Architecture,
    placement: Placement,
    per: Literal["node", "domain"] = "node",
    vrrp_groups: Sequence[VrrpGroup] = (),
) -> list[dict]:
    """N+1: after the loss of any one node (``per="domain"``: any one failure
    domain) each service's load (``requests`` x placed instances) is spread
    over its surviving instances (sharded and unmanaged active/passive
    services do not move); returns the overloaded nodes per scenario."""
    return Analysis(arch, placement, vrrp_groups).capacity(per)


# -- findings ------------------------------------------------------------------


def analyse(
    arch: Architecture,
    placement: Placement,
    k: int = 2,
    vrrp_groups: Sequence[VrrpGroup] = (),
    capacity_per: Literal["node", "domain"] = "node",
) -> list[Finding]:
    """Every finding for ``arch`` as placed: cut sets up to size ``k``,
    split brain, quorum loss, recovery, monitoring, N+1 capacity (after the
    loss of any one node, or with ``capacity_per="domain"`` of any one
    failure domain) and cold start. Sorted by severity (highest first), then
    id. Acknowledged findings carry the architect's reason in
    ``acknowledged``."""
    return Analysis(arch, placement, vrrp_groups).findings(k, capacity_per)


# -- one object per deployment ----------------------------------------------------


class Analysis:
    """Every question about one placed architecture, over one cached view.

    Build it once (``Analysis(arch, placement, vrrp_groups)``; the pipeline
    builds one per deployment and keeps its answers in
    :class:`~hamodel.analysis.results.AnalysisResults`): the component
    view and the cut-set engine are built on first use and shared by every
    question, where each module function above used to rebuild them. Answers
    are typed rows (:class:`~hamodel.analysis.cutsets.CutSet` tuples,
    :class:`SingleFailure`,
    :class:`~hamodel.analysis.availability.ServiceAvailability`,
    :class:`ColdStart`, :class:`~hamodel.deployment.Finding`).
    """

    def __init__(self, arch: Architecture, placement: Placement, vrrp_groups: Sequence[VrrpGroup] = ()):
        self.arch, self.placement, self.vrrp_groups = arch, placement, tuple(vrrp_groups)

    @cached_property
    def view(self) -> ModelView:
        return view(self.arch, self.placement, self.vrrp_groups)

    @cached_property
    def analyzer(self) -> Analyzer:
        return Analyzer(self.view)

    def cut_sets(self, k: int = 2, services: Sequence[str] | None = None) -> dict[str, list[CutSet]]:
        """Minimal cut sets of size <= ``k`` per service (see :func:`cut_sets`)."""
        return {s: self.analyzer.cut_sets(s, k)[0] for s in (services or _analysed(self.arch))}

    def split_brain(self, k: int = 2) -> dict[str, list[CutSet]]:
        """Minimal failure sets leaving two masters (see :func:`split_brain`)."""
        return {s: sets for s in _split_candidates(self.view) if (sets := self.analyzer.split_brain(s, k))}

    def prove_tolerance(self, k: int, services: Sequence[str] | None = None) -> dict[str, CutSet | None]:
        """One counterexample of size <= ``k`` per service, or None: proved (see :func:`prove_tolerance`)."""
        names = services or [s for s in _analysed(self.arch) if self.arch.service(s).required]
        return {s: self.analyzer.counterexample(s, k) for s in names}

    def single_failures(
        self, kinds: Sequence[str] = ("node", "domain", "switch", "trunk"), *, indexed: bool = True
    ) -> list[SingleFailure]:
        """Each single failure and the state of every service (see :func:`single_failure_scenarios`).

        ``indexed``: evaluate, per component, only the services whose slice
        (:meth:`ModelView.slice`) holds it; every other service is in its state with
        nothing failed (``indexed=False`` evaluates every service, the reference)."""
        v = self.view
        names = sorted(v.services)
        comps = [c for c in v.components if component_kind(c) in kinds]
        base: dict[str, str] = {}
        sliced: dict[str, list[str]] = {}
        if indexed:
            e0 = Evaluation(v, ())
            base = {s: e0.state(s) for s in names}
            wanted = set(comps)
            for s in names:
                for c in v.slice(s):
                    if c in wanted:
                        sliced.setdefault(c, []).append(s)
        out = []
        for c in comps:
            e = Evaluation(v, {c})
            if indexed:
                st = dict(base)
                st.update((s, e.state(s)) for s in sliced.get(c, ()))
            else:
                st = {s: e.state(s) for s in names}
            out.append(
                SingleFailure(
                    c,
                    tuple(s for s in names if st[s] == DOWN),
                    tuple(s for s in names if st[s] == PARTIAL),
                    tuple(s for s in names if st[s] == DEGRADED),
                    tuple(s for s in names if st[s] == UP),
                )
            )
        return out

    @cached_property
    def diagrams(self):
        """The services' BDDs (:class:`hamodel.analysis.probability.Diagrams`), None if too large."""
        from hamodel.analysis.probability import Diagrams, DiagramTooLarge

        try:
            return Diagrams(self.view, _analysed(self.arch))
        except DiagramTooLarge:
            return None

    def availability(self, limit: int = 20_000) -> dict[str, ServiceAvailability]:
        """Exact availability per service, from its BDD (see :func:`availability`)."""
        if not has_figures(self.view):
            return {}
        writes = availabilities(self.analyzer, _analysed(self.arch), self.diagrams, limit)
        single = [s for s in _analysed(self.arch) if isinstance(self.view.services[s].strategy, Elected)]
        return with_reads(self.analyzer, writes, single, limit)

    def importance(self, limit: int = 20_000) -> dict:
        """Birnbaum / Fussell-Vesely / RAW / RRW per component and service
        (:func:`hamodel.analysis.importance.importance`), from the cut sets
        :meth:`availability` already enumerated."""
        from hamodel.analysis.importance import importance

        if not has_figures(self.view):
            return {}
        return importance(
            self.arch, self.placement, self.vrrp_groups, limit, analyzer=self.analyzer, diagrams=self.diagrams
        )

    def results(self, k: int = 2) -> AnalysisResults:
        """The answers the documents, the explorer, ``diff`` and ``check --availability``
        print, as plain data (:class:`~hamodel.analysis.results.AnalysisResults`)."""
        from hamodel.analysis.importance import what_to_fix

        imp = self.importance()
        optional = {s.name for s in self.arch.services if not s.required}
        return AnalysisResults(
            k=k,
            view=self.view,
            cut_sets={s: tuple(tuple(c) for c in sets) for s, sets in self.cut_sets(k).items()},
            single_failures=tuple(self.single_failures()),
            availability=dict(self.availability()),
            importance={s: tuple(rows) for s, rows in imp.items()},
            fix_first=tuple(what_to_fix(imp, optional=optional)),
            cold_start={
                (stop, missing): tuple(self.cold_start(missing, stop=stop))
                for stop in ("crash", "graceful")
                for missing in (0, 1)
            },
        )

    def cold_start(self, k: int = 1, *, stop: Literal["crash", "graceful"] = "crash") -> list[ColdStart]:
        """Who comes back by itself after a full stop (see :func:`cold_start`)."""
        v, arch = self.view, self.arch
        out: list[ColdStart] = []
        pm = arch.pacemaker
        for s in sorted(v.services):
            svc = v.services[s]
            st = svc.strategy
            managed = v.uses_pacemaker(s)
            if not isinstance(st, AppCluster) and not managed:
                continue
            members = v.instances[s]
            worst: ColdStart | None = None
            if managed and pm is not None and pm.wait_for_all and k >= 1 and v.pcmk_nodes:
                worst = ColdStart(
                    s,
                    "unblock",
                    "unblock Pacemaker quorum (wait_for_all) for the nodes that did not return",
                    (v.pcmk_nodes[-1],),
                )
            if isinstance(st, AppCluster):
                q = v.quorum(s)
                lose = min(k, len(members))
                if len(members) - lose < q:
                    worst = ColdStart(s, "blocked", st.recovery, members[len(members) - lose :])
                elif worst is None and (
                    st.cold_start == "manual"
                    or (st.cold_start == "automatic-after-crash" and (stop == "graceful" or lose > 0))
                    or (st.cold_start == "automatic-when-all-back" and lose > 0)
                ):
                    worst = ColdStart(s, "manual", st.recovery, ())
            out.append(worst or ColdStart(s, "automatic", getattr(st, "recovery", "Pacemaker restarts it"), ()))
        return out

    def capacity(self, per: Literal["node", "domain"] = "node") -> list[dict]:
        """N+1 overloads per failure (see :func:`capacity_check`)."""
        v, arch = self.view, self.arch
        scenarios = [node_id(n) for n in sorted(v.node_domains)]
        if per == "domain":
            scenarios = [c for c in v.components if component_kind(c) == "domain"]
        problems = []
        # The load with nothing failed, and per node the services on it: a failure
        # changes only the services with an instance on a failed node (each
        # scenario summed over every service was O(nodes x services)).
        moves, base, on = {}, {n: [0.0, 0.0] for n in v.node_domains}, {}
        for s, svc in v.services.items():
            st = svc.strategy
            moves[s] = not isinstance(st, (Sharded, External)) and not (
                isinstance(st, ActivePassive) and st.manager is None
            )
            r = svc.requests
            for n in v.instances[s]:
                base[n][0] += r.cpu
                base[n][1] += r.memory_gb
                on.setdefault(n, set()).add(s)
        caps = {n.name: n.capacity for n in arch.nodes}

        def over(n: str, cpu: float, mem: float) -> bool:
            return cpu > caps[n].cpu + 1e-9 or mem > caps[n].memory_gb + 1e-9

        over_base = {n for n, (cpu, mem) in base.items() if over(n, cpu, mem)}
        for c in scenarios:
            # a node's own failure kills that node alone (asking every node was O(nodes^2))
            dead = {c.split(":", 1)[1]} if component_kind(c) == "node" else v.nodes_killed_by({c})
            changed: dict[str, list[float]] = {}
            for s in sorted(set().union(*(on.get(n, ()) for n in dead)) if dead else ()):
                inst = v.instances[s]
                live = [n for n in inst if n not in dead]
                if not live or not moves[s]:
                    continue
                r, extra = v.services[s].requests, len(inst) / len(live) - 1.0
                # Every member of a replicated cluster holds the whole data set: losing
                # one adds no memory to the others (their CPU takes its clients).
                mem_extra = 0.0 if isinstance(v.services[s].strategy, (AppCluster, Elected, Witness)) else extra
                for n in live:
                    x = changed.setdefault(n, list(base[n]))
                    x[0] += r.cpu * extra
                    x[1] += r.memory_gb * mem_extra
            bad = {n for n in over_base if n not in dead and n not in changed}
            bad.update(n for n, (cpu, mem) in changed.items() if over(n, cpu, mem))
            for n in sorted(bad):
                cpu, mem = changed.get(n, base[n])
                cap = caps[n]
                problems.append(
                    {
                        "failure": c,
                        "node": n,
                        "cpu": round(cpu, 3),
                        "memory_gb": round(mem, 3),
                        "capacity_cpu": cap.cpu,
                        "capacity_memory_gb": cap.memory_gb,
                    }
                )
        return problems

    def read_write(self, k: int = 2) -> dict[str, tuple[list[CutSet], list[CutSet]]]:
        """Per single-writer (elected) service whose reads survive failures
        that stop its writes: (write cut sets, read cut sets), each of at
        most ``k`` failures."""
        an, v = self.analyzer, self.view
        out = {}
        for s in _analysed(self.arch):
            if not isinstance(v.services[s].strategy, Elected):
                continue
            writes = an.cut_sets(s, k)[0]
            reads = an.read_cut_sets(s, k)[0]
            if writes and set(map(tuple, writes)) != set(map(tuple, reads)):
                out[s] = (writes, reads)
        return out

    def single_stops(self, k: int = 2) -> dict[str, frozenset[str]]:
        """Per analysed service, every component whose failure alone stops it:
        its minimal cut sets of one component (from the cut sets of order
        <= ``k`` that :meth:`findings` computes, so asking again is free)."""
        an = self.analyzer
        return {s: frozenset(c[0] for c in an.cut_sets(s, k)[0] if len(c) == 1) for s in _analysed(self.arch)}

    def findings(self, k: int = 2, capacity_per: Literal["node", "domain"] = "node") -> list[Finding]:
        """Every finding, highest severity first (see :func:`analyse`)."""
        from hamodel.analysis.faulttree import no_gc

        # One collector pause for the whole method (it makes no reference cycle):
        # switched back on after each service's cut sets, the collector walked the
        # whole heap every few services, 2.4 s of 29 s profiled at 10,000 services
        # and growing with the heap; in-process 7.0 -> 5.8 s there.
        with no_gc():
            return self._findings(k, capacity_per)

    def _findings(self, k: int, capacity_per: Literal["node", "domain"]) -> list[Finding]:
        an, v, arch, placement = self.analyzer, self.view, self.arch, self.placement
        names = _analysed(arch)
        cuts = {s: an.cut_sets(s, k)[0] for s in names}
        findings: list[Finding] = []
        # A domain declared the site boundary that encloses every node stops
        # everything: one finding for it, not one per service. Any other domain
        # that holds every node (one power feed, one rack) is a real single
        # point of failure and stays in each service's findings.
        sites = (
            {
                d
                for d in set().union(*v.node_domains.values())
                if all(d in ds for ds in v.node_domains.values())
                and component_kind(d) == "domain"
                and arch.domain(d.split(":", 1)[1]).is_site
            }
            if v.node_domains
            else set()
        )
        for s in names:
            inherited = {c for d in v.uses(s) if d in cuts for c in cuts[d]}
            own = [c for c in cuts[s] if c not in inherited and not (set(c) & sites)]
            f = _cut_finding(v, s, own, k)
            if f is not None:
                findings.append(f)
        for s in _split_candidates(v):
            sets = an.split_brain(s, k)
            if sets:
                findings.append(_split_finding(v, s, sets))
        for s, (writes, reads) in self.read_write(k).items():
            only = [c for c in writes if c not in set(map(tuple, reads))] or writes
            findings.append(
                cat.READS_OUTLAST_WRITES.finding(
                    service=s,
                    services=(s,),
                    scenario=only[0],
                    writes=len(writes),
                    reads=len(reads),
                    k=k,
                    scenario_text=_fmt_set(only[0]),
                    coordinator=v.coordinator(s) or "its coordinator",
                    details={"write_cut_sets": [list(c) for c in writes], "read_cut_sets": [list(c) for c in reads]},
                )
            )
        for d in sorted(sites):
            findings.append(
                cat.SITE_FAILURE.finding(domain=d.split(":", 1)[1], component=d, services=names, scenario=(d,))
            )
        for f in (_monitoring_finding(v), _manual_recovery_finding(v), _pacemaker_finding(v)):
            if f is not None:
                findings.append(f)
        over = self.capacity(capacity_per)
        if over:
            first = over[0]
            rule = cat.CAPACITY_NODE if capacity_per == "node" else cat.CAPACITY_DOMAIN
            findings.append(
                rule.finding(
                    services=sorted({s for p in over for s in placement.services_on(p["node"])}),
                    scenario=(first["failure"],),
                    **{
                        f: first[f]
                        for f in ("failure", "node", "cpu", "memory_gb", "capacity_cpu", "capacity_memory_gb")
                    },
                    details={"overloaded": over},
                )
            )
        unblock = sorted(c.service for c in self.cold_start(1) if c.outcome == "unblock")
        if unblock:
            findings.append(
                cat.COLD_START.finding(services=unblock, stopped=", ".join(unblock), details={"services": unblock})
            )
        # Settings of the generated HAProxy/keepalived configuration (short
        # timeouts, clear text on a public VIP, open stats, VRID clashes, timings).
        from hamodel.analysis.config_findings import config_findings

        findings += config_findings(arch, self.vrrp_groups, placement)
        out = []
        for f in findings:
            ack = arch.acknowledged(f.id)
            out.append(f if ack is None else Finding(**{**f.__dict__, "acknowledged": ack.reason}))
        return sorted(out, key=lambda f: (-f.severity.rank, f.id))
