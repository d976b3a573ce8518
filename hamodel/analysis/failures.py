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
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from hamodel.analysis import catalogue as cat
from hamodel.analysis.availability import ServiceAvailability, availabilities, has_figures, with_reads
from hamodel.analysis.causes import _explain, _fmt_set, _plural, can_spread
from hamodel.analysis.components import ModelView, component_kind, node_id, set_key, sort_set, view
from hamodel.analysis.cutsets import Analyzer, CutSet
from hamodel.analysis.results import (
    AnalysisResults,
    Finding,
    Placement,
    Severity,
    SingleFailure,
    VrrpGroup,
)
from hamodel.analysis.semantics import DEGRADED, DOWN, PARTIAL, UP, Evaluation
from hamodel.model import Architecture
from hamodel.model.strategies import ActivePassive, AppCluster, Elected, External, PacemakerVip, Sharded, Vrrp, Witness

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


@dataclass(frozen=True)
class ColdStart:
    """After a full power loss with ``missing`` nodes not coming back:
    ``outcome`` is ``automatic``, ``manual`` (``procedure`` needed),
    ``blocked`` (too few members return for a quorum) or ``unblock``
    (Pacemaker ``wait_for_all`` waits for nodes that never return)."""

    service: str
    outcome: Literal["automatic", "manual", "blocked", "unblock"]
    procedure: str
    missing: tuple[str, ...]

    def to_dict(self) -> dict:
        return {
            "service": self.service,
            "outcome": self.outcome,
            "procedure": self.procedure,
            "missing": list(self.missing),
        }


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


def _split_candidates(v: ModelView) -> list[str]:
    out = []
    for s, svc in sorted(v.services.items()):
        st = svc.strategy
        if (isinstance(st, (Vrrp, PacemakerVip)) and len(v.holders.get(s, ())) >= 2) or (
            isinstance(st, AppCluster) and 2 * v.quorum(s) <= len(v.cluster_voters(s))
        ):
            out.append(s)
        elif getattr(st, "steps_down", True) is False and len(v.instances[s]) >= 2:
            out.append(s)  # Elected whose cut-off old master keeps writing (Redis Sentinel)
    return out


_DEPENDENTS: list[tuple[ModelView, dict[str, list[str]]]] = []  # the last view's


def _dependents(v: ModelView, s: str) -> list[str]:
    """The services whose state ``s`` decides (see :meth:`ModelView.uses`). One
    reverse index per view: a scan of every service per finding was
    O(services x findings)."""
    if not _DEPENDENTS or _DEPENDENTS[0][0] is not v:
        index: dict[str, list[str]] = {}
        for x in sorted(v.services):
            for u in v.uses(x):
                if u != x:
                    index.setdefault(u, []).append(x)
        _DEPENDENTS[:] = [(v, index)]
    return list(_DEPENDENTS[0][1].get(s, ()))


def _cut_finding(v: ModelView, s: str, own: list[CutSet], k: int) -> Finding | None:
    if not own:
        return None
    svc = v.services[s]
    st = svc.strategy
    size = len(own[0])
    smallest = [c for c in own if len(c) == size]
    scenario = smallest[0]
    dependents = _dependents(v, s)
    details = {"min_size": size, "k": k, "cut_sets": [list(c) for c in own], "dependents": dependents}
    services = (s, *dependents)
    also = f" With it {', '.join(dependents)} {'stops' if len(dependents) == 1 else 'stop'}." if dependents else ""
    if size == 0:
        return cat.UNAVAILABLE.finding(service=s, services=services, details=details)
    if isinstance(st, AppCluster):
        q, voters = v.quorum(s), v.cluster_voters(s)
        n = len(voters)
        details.update({"quorum": q, "members": list(v.instances[s]), "witnesses": list(v.witnesses(s))})
        votes = "votes (members and witnesses)" if v.witnesses(s) else "members"
        if size == 1:
            domains = sorted({c for cs in smallest for c in cs if component_kind(c) in ("domain", "switch")})
            impact, fix = _explain(v, s, smallest)
            lost = len({x for _, x in voters} & v.nodes_killed_by(scenario))
            return cat.QUORUM_LOSS.finding(
                service=s,
                severity=Severity.HIGH if svc.required else Severity.MEDIUM,
                domains=f" ({', '.join(domains)})" if domains else "",
                services=services,
                scenario=scenario,
                quorum=q,
                voters=n,
                votes=votes,
                cause=impact,
                lost=f" ({_fmt_set(scenario)} stops {lost} of them.)" if lost else "",
                also=also,
                mitigation=fix
                if not domains
                or component_kind(domains[0]) == "switch"
                or n <= q
                or not can_spread(v, s, v.arch.domain(domains[0].split(":", 1)[1]).kind)
                else f"{fix} No failure domain may hold more than {_plural(n - q, 'vote')} of {s}.",
                details=details,
            )
        return cat.QUORUM_LOSS_INHERENT.finding(
            service=s,
            severity=Severity.LOW if size == 2 else Severity.INFO,
            size=size,
            services=services,
            scenario=scenario,
            quorum=q,
            voters=n,
            votes=votes,
            scenario_text=_fmt_set(scenario),
            details=details,
        )
    if size == 1:
        if isinstance(st, Sharded):
            return cat.PARTIAL_OUTAGE.finding(
                service=s, shard=st.shard, services=services, scenario=scenario, details=details
            )
        impact, fix = _explain(v, s, smallest)
        return cat.SPOF.finding(
            service=s,
            severity=Severity.HIGH if svc.required else Severity.LOW,
            services=services,
            scenario=scenario,
            impact=impact + also,
            mitigation=fix,
            details=details,
        )
    return cat.CUT_SETS.finding(
        service=s,
        severity=Severity.LOW if size == 2 and svc.required else Severity.INFO,
        size=size,
        services=services,
        scenario=scenario,
        sets=_plural(len(own), "minimal set"),
        sizes=size if size == k else f"{size} to {k}",
        scenario_text=_fmt_set(scenario),
        details=details,
    )


def _split_finding(v: ModelView, s: str, sets: list[CutSet]) -> Finding:
    # A pure partition (only links cut) is the clearest demonstration.
    sets = sorted(sets, key=lambda c: (len(c), sum(component_kind(x) != "link" for x in c), set_key(c)))
    size = len(sets[0])
    svc = v.services[s]
    net = v.vip_network.get(s)
    what = (
        f"the VRRP group of {', '.join(svc.holds_vips)}"
        if isinstance(svc.strategy, Vrrp)
        else f"the VIP {', '.join(svc.holds_vips)}"
        if svc.holds_vips
        else f"the {s} cluster"
    )
    impact = None
    if isinstance(svc.strategy, Elected):
        # The old primary keeps accepting writes until it sees the others again, then
        # rejoins as a replica of the new one and drops what it took in between.
        impact = (
            f"After {_fmt_set(sets[0])} the old primary of {s}, cut off from {svc.strategy.by}'s quorum, "
            f"keeps accepting writes while the other side promotes a new primary: writes acknowledged by "
            f"the old primary in between are lost when it rejoins as a replica of the new one."
        )
    return cat.SPLIT_BRAIN.finding(
        service=s,
        severity=Severity.HIGH if size == 1 else Severity.MEDIUM,
        what=what,
        services=(s, *_dependents(v, s)),
        scenario=sets[0],
        scenario_text=_fmt_set(sets[0]),
        on_network=" on " + net if net else "",
        impact=impact,
        details={"scenarios": [list(c) for c in sets], "holders": list(v.holders.get(s, v.instances[s]))},
    )


def _supervisor(svc, arch: Architecture) -> str:
    """What restarts a failed process of ``svc``: its own setting, else Pacemaker for a
    service Pacemaker manages (its monitor operation restarts a failed resource), else
    the architecture's default."""
    if svc.supervisor is not None:
        return svc.supervisor
    if isinstance(svc.strategy, PacemakerVip) or getattr(svc.strategy, "manager", None) == "pacemaker":
        return "pacemaker"
    return arch.supervisor


def _monitoring_finding(v: ModelView) -> Finding | None:
    arch = v.arch
    unsupervised = sorted(
        s
        for s, svc in v.services.items()
        if not isinstance(svc.strategy, External) and _supervisor(svc, arch) == "none"
    )
    if not unsupervised:
        return None
    monitored = any(
        isinstance(svc.strategy, External) and "monitoring" in svc.strategy.provides for svc in v.services.values()
    )
    no_failover = sorted(
        s for s, svc in v.services.items() if isinstance(svc.strategy, ActivePassive) and svc.strategy.manager is None
    )
    details = {"unsupervised": unsupervised, "no_failover": no_failover, "monitoring_modelled": monitored}
    if monitored:
        return cat.NO_AUTOMATIC_RESTART.finding(services=unsupervised, details=details)
    return cat.MONITORING_REQUIRED.finding(
        services=unsupervised,
        count=len(unsupervised),
        count_services=_plural(len(unsupervised), "service"),
        no_failover=f" and nothing fails over {', '.join(no_failover)}" if no_failover else "",
        details=details,
    )


def _recovery_cases(cold: str) -> dict[str, str]:
    """Which full restarts of a quorum cluster need an operator, by its ``cold_start``."""
    if cold == "automatic-after-crash":
        return {
            "crash, every member back": "automatic",
            "crash, a member missing": "manual",
            "graceful stop of every member": "manual",
        }
    if cold == "automatic-when-all-back":
        return {
            "crash, every member back": "automatic",
            "crash, a member missing": "manual",
            "graceful stop of every member": "automatic once the member stopped last is back (the others "
            "wait for it at boot, a limited time)",
        }
    return {
        "crash, every member back": "manual",
        "crash, a member missing": "manual",
        "graceful stop of every member": "manual",
    }


def _manual_recovery_finding(v: ModelView) -> Finding | None:
    clusters = {
        s: svc.strategy
        for s, svc in sorted(v.services.items())
        if isinstance(svc.strategy, AppCluster) and svc.strategy.cold_start != "automatic"
    }
    manual = {s: st.recovery for s, st in clusters.items()}
    if not manual:
        return None
    # Case by case: which full restart needs the operator (what the drill measures on Galera).
    cases = {s: _recovery_cases(clusters[s].cold_start) for s in manual}

    def text(s: str, p: str) -> str:
        cold = clusters[s].cold_start
        if cold == "automatic-after-crash":
            return (
                f"{s}: re-forms by itself after a crash or power loss of every member once all are back "
                f"(saved view state); after a graceful stop of every member, or a crash after which a member "
                f"does not return, {p}"
            )
        if cold == "automatic-when-all-back":
            return (
                f"{s}: re-forms by itself once every member is back (after a graceful stop the others wait "
                f"for the member that stopped last); when a member does not return, {p}"
            )
        return f"{s}: after any full stop, {p}"

    return cat.MANUAL_RECOVERY.finding(
        services=manual,
        scenario=sort_set({node_id(n) for s in manual for n in v.instances[s]}),
        procedures="; ".join(text(s, p) for s, p in manual.items()),
        details={"procedures": manual, "cases": cases},
    )


def _pacemaker_finding(v: ModelView) -> Finding | None:
    """The consequences of the Pacemaker cluster's quorum and fencing setup."""
    pm = v.arch.pacemaker
    if pm is None:
        return None
    managed = tuple(s for s in sorted(v.services) if v.uses_pacemaker(s))
    nodes = v.pcmk_nodes
    details = {
        "nodes": list(nodes),
        "quorum": v.pcmk_quorum,
        "qdevice": pm.qdevice,
        "two_node": pm.two_node,
        "fencing": pm.fencing,
    }
    if len(nodes) == 2 and pm.qdevice is None:
        if not pm.two_node:
            return cat.PACEMAKER_TWO_NODE.finding(
                services=managed,
                scenario=(node_id(nodes[0]),),
                stopped=", ".join(managed) or "every resource",
                details=details,
            )
        if not pm.fencing:
            return cat.PACEMAKER_TWO_NODE_NO_FENCING.finding(services=managed, details=details)
        winner = v.pcmk_winner
        delays = v.fence_delays()
        race = (
            (
                f"{winner} wins: the device that fences it waits {delays[winner]} s (pcmk_delay_base), "
                f"so it fences {next(n for n in nodes if n != winner)} first"
            )
            if v.fence_race_decided()
            else (
                f"the fencing delays are equal, so timing decides; the analysis assumes {winner} wins (give it a "
                "static fencing delay, FenceDevice(delay_base_s=...))"
            )
        )
        return cat.PACEMAKER_FENCE_RACE.finding(
            services=managed, race=race, details={**details, "winner": winner, "fence_delays": delays}
        )
    if not pm.fencing:
        return cat.PACEMAKER_NO_FENCING.finding(services=managed, details=details)
    return None


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

    def single_failures(self, kinds: Sequence[str] = ("node", "domain", "switch", "trunk")) -> list[SingleFailure]:
        """Each single failure and the state of every service (see :func:`single_failure_scenarios`)."""
        v = self.view
        out = []
        for c in v.components:
            if component_kind(c) not in kinds:
                continue
            e = Evaluation(v, {c})
            st = {s: e.state(s) for s in sorted(v.services)}
            out.append(
                SingleFailure(
                    c,
                    tuple(s for s, x in st.items() if x == DOWN),
                    tuple(s for s, x in st.items() if x == PARTIAL),
                    tuple(s for s, x in st.items() if x == DEGRADED),
                    tuple(s for s, x in st.items() if x == UP),
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

    def findings(self, k: int = 2, capacity_per: Literal["node", "domain"] = "node") -> list[Finding]:
        """Every finding, highest severity first (see :func:`analyse`)."""
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
