"""Placement with Z3: synthesise, verify, allocate and explain.

:func:`place` turns the placement intent of an :class:`Architecture`
(roles, replicas, anti-affinity, spread limits, pins, exclusions,
co-location, capacity, port conflicts, quorum sizes) into a concrete
:class:`~hamodel.deployment.Placement`, allocates the VRRP groups, or raises
:class:`Unplaceable` whose ``explanations`` name the smallest set of
conflicting model statements in the architect's words. Aggregate
infeasibility (too few nodes or domains, total capacity) is found by
counting before any solver runs. :func:`verify` checks a concrete
placement against the same statements. The Z3 encoding lives in
:mod:`hamodel.analysis.placement_solver`.
"""

from __future__ import annotations

import bisect
import math
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from hamodel.analysis import placement_solver as S
from hamodel.analysis.lockfile import lock_path_for, read_lock, write_lock
from hamodel.analysis.placement_statements import RESOURCES, describe, quorum_hint
from hamodel.analysis.placement_statements import fmt as _fmt
from hamodel.analysis.placement_statements import names as _names
from hamodel.analysis.placement_statements import plural as _plural
from hamodel.analysis.placement_statements import role_text as _role_text
from hamodel.analysis.results import Placement, PlacementResult, VrrpGroup  # noqa: F401  (PlacementResult re-exported)
from hamodel.analysis.vrrp import allocate as allocate_vrrp
from hamodel.errors import HamodelError
from hamodel.model import Architecture, Service
from hamodel.model.strategies import ActivePassive, AppCluster
from hamodel.ordering import natural_key

__all__ = [
    "PlacementResult",
    "Undecided",
    "Unplaceable",
    "lock_path_for",
    "place",
    "read_lock",
    "verify",
    "write_lock",
]

Undecided = S.Undecided  # a search limit reached: neither placed nor proven unplaceable (a HamodelError, exit 2)

_SCALE = S.SCALE


class Unplaceable(HamodelError):
    """No placement satisfies the model; ``explanations`` say why, in words."""

    def __init__(self, explanations: Iterable[str]):
        self.explanations = list(dict.fromkeys(explanations))
        super().__init__("no placement satisfies the model:\n" + "\n".join(f"- {e}" for e in self.explanations))


# ---------------------------------------------------------------------------
# Facts derived from the model (shared by place and verify)


@dataclass
class _RoleIndex:
    """One model's nodes by role, in natural order, and the candidate lists built from them."""

    nodes: list  #: the ``arch.nodes`` list it was built from (kept alive: the guard of its key)
    order: dict[str, int]
    by_role: dict[str, list[str]] = field(default_factory=dict)
    cand: dict[tuple, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, arch: Architecture) -> _RoleIndex:
        order = {n: i for i, n in enumerate(sorted((x.name for x in arch.nodes), key=natural_key))}
        ix = cls(arch.nodes, order)
        for node in arch.nodes:
            for r in node.roles:
                ix.by_role.setdefault(r, []).append(node.name)
        return ix


#: The role indexes of the last few models, by ``id(arch)``. An entry holds its model's node
#: list, so no other model's list can have that identity while it lives: a reused id (the
#: model collected, another one allocated there) or a model whose nodes were replaced fails
#: the ``nodes is arch.nodes`` check and is indexed afresh.
_ROLE_INDEXES: OrderedDict[int, _RoleIndex] = OrderedDict()
_ROLE_INDEXES_KEPT = 8


def _role_index(arch: Architecture) -> _RoleIndex:
    key = id(arch)
    ix = _ROLE_INDEXES.get(key)
    if ix is None or ix.nodes is not arch.nodes:
        ix = _ROLE_INDEXES[key] = _RoleIndex.of(arch)
        while len(_ROLE_INDEXES) > _ROLE_INDEXES_KEPT:
            _ROLE_INDEXES.popitem(last=False)
    _ROLE_INDEXES.move_to_end(key)
    return ix


def candidates(arch: Architecture, svc: Service) -> list[str]:
    """Nodes that may run ``svc``: those of its roles, minus exclusions, natural order."""
    ix = _role_index(arch)
    # one list per (roles, exclusions), shared by the services that have them (callers
    # only read it): the split into cells and the counts are then made once per list
    key = (tuple(svc.on), tuple(sorted(svc.exclude)))
    hit = ix.cand.get(key)
    if hit is None:
        ex = set(svc.exclude)
        names = {n for r in svc.on for n in ix.by_role.get(r, ())}
        hit = ix.cand[key] = sorted((n for n in names if n not in ex), key=ix.order.__getitem__)
    return hit


def instance_count(arch: Architecture, svc: Service) -> int:
    """How many instances ``svc`` runs (``"all"``: one per candidate node)."""
    if isinstance(svc.strategy, ActivePassive) and svc.strategy.manager is None:
        return 1
    if svc.replicas == "all":
        return len(candidates(arch, svc))
    return int(svc.replicas)


def runs_everywhere(svc: Service) -> bool:
    """True when the instances are exactly the candidate nodes."""
    if isinstance(svc.strategy, ActivePassive) and svc.strategy.manager is None:
        return False
    return svc.replicas == "all"


def node_ports(svc: Service) -> list[int]:
    """Ports an instance binds on its node's addresses."""
    ports = {e.port for e in svc.ports} | set(svc.backend_ports())
    a = svc.access
    if a is not None and a.check.port is not None:
        ports.add(a.check.port)
    return sorted(ports)


def _domains_of_kind(arch: Architecture, node: str, kind: str) -> list[str]:
    return [d for d in arch.node_domains(node) if arch.domain(d).kind == kind]


def _res(value: float, up: bool) -> int:
    v = value * _SCALE
    return math.ceil(v - 1e-9) if up else math.floor(v + 1e-9)


def _quorum_cluster(svc: Service) -> bool:
    return isinstance(svc.strategy, AppCluster) and svc.strategy.quorum == "majority"


_WITNESSES: list[tuple[Architecture, int, dict[str, list[Service]]]] = []  # the last architecture's


def _witnesses_of(arch: Architecture) -> dict[str, list[Service]]:
    """Per service name, the witnesses voting in it: one pass over the services,
    kept for the last architecture asked (asked once per service, a scan each
    was O(services^2)); a service list grown in place is read again."""
    if _WITNESSES and _WITNESSES[0][0] is arch and _WITNESSES[0][1] == len(arch.services):
        return _WITNESSES[0][2]
    out: dict[str, list[Service]] = {}
    for w in arch.services:
        of = getattr(w.strategy, "of", None)
        if of is not None:
            out.setdefault(of, []).append(w)
    _WITNESSES[:] = [(arch, len(arch.services), out)]
    return out


def _witness_votes(arch: Architecture, svc: Service, count) -> int:
    """Votes the witnesses of ``svc`` add (``count(witness)`` instances
    each): garbd makes 2 Galera members a majority cluster of 3."""
    return sum(count(w) for w in _witnesses_of(arch).get(svc.name, ()))


# ---------------------------------------------------------------------------
# Verification of a concrete placement


def verify(arch: Architecture, placement: Placement) -> list[str]:
    """Every constraint of ``arch`` that ``placement`` violates, in words."""
    out: list[str] = []
    nodes = {n.name: n for n in arch.nodes}
    services = {s.name: s for s in arch.services}
    inst = {s: list(ns) for s, ns in placement.instances.items()}
    for s in sorted(set(inst) - set(services)):
        out.append(f"the placement names service {s}, which the model does not have")
    for svc in arch.services:
        name = svc.name
        here = inst.get(name, [])
        for n in sorted({n for n in here if here.count(n) > 1}, key=natural_key):
            out.append(f"{name} is placed twice on node {n} (instances must be on distinct nodes)")
        uniq = sorted(set(here), key=natural_key)
        for n in uniq:
            if n not in nodes:
                out.append(f"{name} is placed on {n}, which is not a node of the model")
            elif not set(nodes[n].roles) & set(svc.on):
                out.append(f"{name} runs on {_role_text(svc)}, but {n} has roles {', '.join(nodes[n].roles) or 'none'}")
            elif n in svc.exclude:
                out.append(f"{name} excludes node {n}, but is placed there")
        want = instance_count(arch, svc)
        if runs_everywhere(svc):
            missing = [n for n in candidates(arch, svc) if n not in uniq]
            if missing:
                out.append(
                    f"{name} runs on every node of {_role_text(svc)} (replicas='all'), but is missing on {_names(missing)}"
                )
        elif len(here) != want:
            what = (
                "exactly one instance (unmanaged active/passive)"
                if want == 1 and svc.replicas != 1
                else _plural(want, "instance")
            )
            out.append(f"{name} needs {what}, but the placement has {len(here)}")
        for p in svc.pin:
            if p not in uniq:
                out.append(f"{name} is pinned to {p}, but not placed there")
        valid = [n for n in uniq if n in nodes]
        kinds = {svc.anti_affinity: 1} if svc.anti_affinity != "node" else {}
        for kind, limit in svc.max_per_domain.items():
            if kind != "node":
                kinds[kind] = min(limit, kinds.get(kind, limit))
        for kind, limit in sorted(kinds.items()):
            per: dict[str, list[str]] = defaultdict(list)
            for n in valid:
                for d in _domains_of_kind(arch, n, kind):
                    per[d].append(n)
            for d, ns in sorted(per.items()):
                if len(ns) > limit:
                    if kind == svc.anti_affinity and limit == 1:
                        out.append(
                            f"{name} must not have two instances in one {kind} (anti_affinity={kind!r}), "
                            f"but {_names(ns)} share {kind} {d}"
                        )
                    else:
                        out.append(
                            f"{name} allows at most {limit} per {kind} (max_per_domain), "
                            f"but {kind} {d} has {len(ns)} ({_names(ns)})"
                        )
        for t in dict.fromkeys([*svc.colocate, *svc.local_deps]):
            t_nodes = set(inst.get(t, []))
            lonely = [n for n in valid if n not in t_nodes]
            why = "colocate" if t in svc.colocate else "a Local dependency"
            if lonely:
                out.append(
                    f"{name} must run only on nodes that run {t} ({why}), but {_names(lonely)} "
                    f"{'does' if len(lonely) == 1 else 'do'} not run {t}"
                )
        if _quorum_cluster(svc) and len(here) + _witness_votes(arch, svc, lambda w: len(inst.get(w.name, []))) < 3:
            out.append(
                f"{name} keeps a majority quorum, which needs at least 3 members, but has {len(here)}"
                + quorum_hint(name)
            )
    # per node: capacity and ports
    on_node: dict[str, list[str]] = defaultdict(list)
    for s, ns in inst.items():
        if s in services:
            for n in set(ns):
                if n in nodes:
                    on_node[n].append(s)
    for n in sorted(on_node, key=natural_key):
        svcs = sorted(on_node[n])
        cap = nodes[n].capacity
        for attr, label in RESOURCES:
            need = sum(getattr(services[s].requests, attr) for s in svcs)
            if _res(need, True) > _res(getattr(cap, attr), False):
                users = [s for s in svcs if getattr(services[s].requests, attr) > 0]
                out.append(
                    f"node {n} has {_fmt(getattr(cap, attr))} {label}, but {_names(users)} request {_fmt(need)} there"
                )
        ports: dict[int, list[str]] = defaultdict(list)
        for s in svcs:
            for p in node_ports(services[s]):
                ports[p].append(s)
        for p, users in sorted(ports.items()):
            if len(users) > 1:
                out.append(f"port {p} on node {n} is bound by both {' and '.join(users)}")
    return out


# ---------------------------------------------------------------------------
# Synthesis (the Z3 encoding lives in placement_solver)


def _services(arch: Architecture, node_domains: dict[str, tuple[str, ...]]) -> list[S.Svc]:
    out = []
    for i, svc in enumerate(arch.services):
        limits: dict[str, int] = {}
        if svc.anti_affinity != "node":
            limits[svc.anti_affinity] = 1
        for kind, m in svc.max_per_domain.items():
            if kind != "node":
                limits[kind] = min(m, limits.get(kind, m))
        k = instance_count(arch, svc)
        out.append(
            S.Svc(
                name=svc.name,
                index=i,
                cand=candidates(arch, svc),
                count=k,
                everywhere=runs_everywhere(svc),
                ports=frozenset(node_ports(svc)),
                req=(_res(svc.requests.cpu, True), _res(svc.requests.memory_gb, True)),
                pins=sorted(svc.pin, key=natural_key),
                colocate=list(dict.fromkeys([*svc.colocate, *svc.local_deps])),
                anti=svc.anti_affinity,
                limits=limits,
                max_per_domain=dict(svc.max_per_domain),
                quorum_too_small=_quorum_cluster(svc)
                and k + _witness_votes(arch, svc, lambda w: instance_count(arch, w)) < 3,
            )
        )
    return out


def _precheck(pr: S.Problem) -> list[str]:
    """Aggregate infeasibility found by counting, before any solver runs."""
    arch = pr.arch
    svcs = {s.name: s for s in arch.services}
    out: list[str] = []

    of_kind = pr.of_kind
    spread: dict[tuple[int, str], tuple[dict[str, list[str]], int]] = {}  # per shared candidate list and kind

    def span(cand: list[str], kind: str) -> tuple[dict[str, list[str]], int]:
        key = (id(cand), kind)  # pr.services holds every list: ids stay valid
        hit = spread.get(key)
        if hit is None:
            per: dict[str, list[str]] = defaultdict(list)
            loose = 0  # a node in no domain of this kind is a domain of its own
            for n in cand:
                ds = of_kind(n, kind)
                loose += not ds
                for d in ds:
                    per[d].append(n)
            hit = spread[key] = (per, loose)
        return hit

    for sv in pr.services:
        svc, s, cand, k = svcs[sv.name], sv.name, sv.cand, sv.count
        ex = list(svc.exclude)
        after = f" after excluding {_names(ex)}" if ex else ""
        if k == 0 and not svc.on:
            continue  # an External service outside the modelled nodes
        if k == 0:
            out.append(f"{s} runs on {_role_text(svc)}, but no node is left to run it{after}")
            continue
        if k > len(cand):
            out.append(
                f"{s} needs {_plural(k, 'instance')} on distinct nodes, but {_role_text(svc)} has "
                f"{_plural(len(cand), 'node')}" + (f" ({_names(cand)})" if cand else "") + after
            )
            continue
        if sv.quorum_too_small:
            out.append(
                f"{s} keeps a majority quorum, which needs at least 3 members, but "
                + (
                    f"replicas={svc.replicas}"
                    if isinstance(svc.replicas, int)
                    else f"{_role_text(svc)} has {_plural(k, 'node')} ({_names(cand)})"
                )
                + quorum_hint(s)
            )
        for kind, m in sorted(sv.limits.items()):
            per, loose = span(cand, kind)
            ds = sorted(per, key=natural_key)
            spans = f"{_plural(len(ds) + loose, kind)}" + (f" ({_names(ds)})" if ds else "")
            if loose + sum(min(m, len(ns)) for ns in per.values()) < k:
                if m == 1 and kind == sv.anti:
                    out.append(f"{s} needs {k} members on distinct {kind}s, but {_role_text(svc)} spans {spans}")
                else:
                    out.append(
                        f"{s} needs {k} instances with at most {m} per {kind} (max_per_domain), "
                        f"but {_role_text(svc)} spans {spans}"
                    )
            if sv.everywhere:
                for d, ns in sorted(per.items()):
                    if len(ns) > m:
                        out.append(
                            f"{s} runs on every node of {_role_text(svc)} (replicas='all'), but "
                            f"{_names(ns)} share {kind} {d}, which allows at most {m} "
                            + ("(anti_affinity)" if m == 1 and kind == sv.anti else "(max_per_domain)")
                        )
        for r, (_attr, label) in enumerate(RESOURCES):
            if sv.req[r] == 0:
                continue
            fits = pr.fitting(cand, r, sv.req[r])
            if fits < k:
                biggest = max((pr.node_cap[n][r] for n in cand), default=0)
                out.append(
                    f"{s} requests {_fmt(sv.req[r] / _SCALE)} {label} per instance for "
                    f"{_plural(k, 'instance')}, but only {_plural(fits, 'node')} of {_role_text(svc)} "
                    f"{'has' if fits == 1 else 'have'} that much (the largest has {_fmt(biggest / _SCALE)})"
                )
    # capacity of every candidate set against the services confined to it (pigeonhole)
    frozen: dict[int, frozenset[str]] = {}  # per shared candidate list (pr.services holds them: ids stay valid)
    cand_sets = {
        sv.name: frozen.get(id(sv.cand)) or frozen.setdefault(id(sv.cand), frozenset(sv.cand)) for sv in pr.services
    }
    sets: dict[frozenset[str], None] = dict.fromkeys(cand_sets.values())
    for nodeset in sorted(sets, key=lambda ns: sorted(ns, key=natural_key)):
        confined = [sv for sv in pr.services if cand_sets[sv.name] <= nodeset]
        for r, (_attr, label) in enumerate(RESOURCES):
            need = sum(sv.req[r] * sv.count for sv in confined)
            have = sum(pr.node_cap[n][r] for n in nodeset)
            # who is confined here and through which roles: said by every message below
            users = [sv.name for sv in confined if sv.req[r] > 0]
            roles = sorted({x for sv in confined for x in svcs[sv.name].on})
            if need > have:
                out.append(
                    f"{_names(users)} together request {_fmt(need / _SCALE)} {label}, but the "
                    f"{_plural(len(nodeset), 'node')} they may use ({' / '.join(roles)}) have "
                    f"{_fmt(have / _SCALE)} in all"
                )
                continue
            # Counting instances, not amounts: a node holds at most one
            # instance per service, so at most as many as the smallest
            # requests of distinct services that fit it (18 one-cpu
            # services on three 5.9-cpu nodes: 15 fit, whatever the sum says).
            sized = sorted(sv.req[r] for sv in confined if sv.req[r] > 0)
            total = sum(sv.count for sv in confined if sv.req[r] > 0)
            if not sized:
                continue
            prefix = [0]
            for q in sized:
                prefix.append(prefix[-1] + q)
            room = sum(bisect.bisect_right(prefix, pr.node_cap[n][r]) - 1 for n in nodeset)
            if room < total:
                out.append(
                    f"{_names(users)} run {total} instances that request {label}, but the "
                    f"{_plural(len(nodeset), 'node')} they may use ({' / '.join(roles)}) hold at most "
                    f"{room} of them: a node's {label} is not shared out in fractions (the smallest "
                    f"request is {_fmt(sized[0] / _SCALE)} {label})"
                )
                continue
            # A node's share is a sum of requests: when every request is a
            # multiple of g, only a multiple of g of each node is usable
            # (requests of 0.5, 1.5, 2.5 cpu fill 21 of a 21.4-cpu node).
            g = math.gcd(*(sv.req[r] for sv in confined if sv.req[r] > 0)) or 1
            usable = sum(pr.node_cap[n][r] // g * g for n in nodeset)
            if need > usable:
                out.append(
                    f"{_names(users)} together request {_fmt(need / _SCALE)} {label}, but the "
                    f"{_plural(len(nodeset), 'node')} they may use ({' / '.join(roles)}) can give them "
                    f"{_fmt(usable / _SCALE)} in all: every request is a multiple of {_fmt(g / _SCALE)} "
                    f"{label}, so a node's capacity is usable only in such steps"
                )
    return list(dict.fromkeys(out))


def _explain(pr: S.Problem, cuts: list) -> list[str]:
    if len(pr.services) > 1:
        # Most conflicts live inside one service and what it is tied to (its
        # pins, its colocation targets): explain on that small problem first.
        for sv in pr.services:
            if not (sv.pins or sv.colocate):
                continue
            group = {sv.name, *sv.colocate}
            part = [x for x in pr.services if x.name in group]
            small = S.build_problem(pr.arch, {s: ns for s, ns in pr.previous.items() if s in group}, part, fine=True)
            try:
                S.solve(small)
            except S.NoPlacement as exc:
                core = S.unsat_core(small, exc.cuts)
                if core is not None:
                    return describe(small, core)
            except S.Undecided:
                pass  # no explanation from this part: try the whole model
    if pr.mode in ("coarse", "merged"):
        # explain over cells whose domain constraints are all explicit; learn
        # that partition's fill cuts first (they are part of the conflict)
        pr = S.build_problem(pr.arch, pr.previous, pr.services, fine=False)
        try:
            S.solve(pr)
            return ["no placement was found, although a finer search finds one: please report this model"]
        except S.NoPlacement as exc:
            cuts = exc.cuts
        except S.Undecided:
            return ["no assignment of instances to nodes fits every node's capacity, ports and co-location"]
    core = S.unsat_core(pr, cuts)
    if core is None:
        return ["no assignment of instances to nodes fits every node's capacity, ports and co-location"]
    return describe(pr, core)


# ---------------------------------------------------------------------------
# Warnings


def _warnings(arch: Architecture, instances: dict[str, list[str]]) -> list[str]:
    out = []
    for s in arch.services:
        # Witnesses vote too: garbd makes 2 Galera members an odd cluster of 3.
        members = len(instances.get(s.name, []))
        witnesses = _witness_votes(arch, s, lambda w: len(instances.get(w.name, [])))
        n = members + witnesses
        if _quorum_cluster(s) and n >= 3 and n % 2 == 0:
            counted = (
                f"{n} votes ({members} members and {witnesses} witness vote{'s' * (witnesses != 1)})"
                if witnesses
                else f"{n} members"
            )
            out.append(
                f"{s.name} has {counted}: with a majority quorum an even-sized cluster tolerates no more "
                f"failures than {n - 1} members, and a clean split leaves no side with quorum"
            )
    pm = arch.pacemaker
    if pm is not None and pm.quorum == "majority" and not pm.two_node and pm.qdevice is None:
        n = len(arch.nodes_with_roles(pm.on))
        if n == 2:
            out.append(
                "the pacemaker cluster has 2 nodes: a majority quorum needs both, so it tolerates no node "
                "failure (add a quorum device, or two_node=True with fencing)"
            )
        elif n % 2 == 0:
            out.append(
                f"the pacemaker cluster has {n} nodes: an even-sized majority quorum tolerates no more "
                f"failures than {n - 1} nodes"
            )
    return out


def place(arch: Architecture, previous: Placement | None = None) -> PlacementResult:
    """Synthesise a placement for ``arch`` and allocate its VRRP groups.

    With ``previous`` (usually from the lock file) instances stay where they
    were as far as the constraints allow: each kept instance is an
    assumption, and conflicting ones are dropped one at a time from unsat
    cores (a minimal set of moves). ``moved`` counts previous instances, on
    nodes that still exist, that are no longer there. When the model pins
    every instance there is nothing to choose: the pins are checked with
    :func:`verify` and every violation is reported. Raises
    :class:`Unplaceable` with explanations in the model's words.
    """
    prev: dict[str, set[str]] = {}
    if previous is not None:
        for svc in arch.services:
            cand = set(candidates(arch, svc))
            keep = {n for n in previous.nodes_of(svc.name) if n in cand}
            if keep:
                prev[svc.name] = keep
    node_domains = {n.name: tuple(arch.node_domains(n.name)) for n in arch.nodes}
    svcs = _services(arch, node_domains)
    if all(sv.everywhere or len(sv.pins) == sv.count for sv in svcs):
        # Every instance is written down (a hand-made placement): nothing to
        # choose, so check it and report every violated statement.
        instances = {sv.name: list(sv.cand) if sv.everywhere else list(sv.pins) for sv in svcs}
        violations = verify(arch, Placement({s: tuple(ns) for s, ns in instances.items()}))
        if violations:
            raise Unplaceable(violations)
    else:
        pr = S.build_problem(arch, prev, svcs)
        problems = _precheck(pr)
        if problems:
            raise Unplaceable(problems)
        try:
            instances, _stats = S.solve(pr)
        except S.NoPlacement as exc:
            raise Unplaceable(_explain(pr, exc.cuts)) from None
    placement = Placement({s: tuple(ns) for s, ns in instances.items()})
    violations = verify(arch, placement)
    if violations:  # the solver and the checker disagree: a bug, never silently wrong output
        raise AssertionError("placement fails its own verification: " + "; ".join(violations))
    moved = 0
    for s, before in prev.items():
        moved += min(len(before), instance_count(arch, arch.service(s))) - len(before & set(instances[s]))
    alloc = allocate_vrrp(arch, instances, prev, previous.vrids if previous is not None else None)
    if alloc.problems:
        raise Unplaceable(alloc.problems)
    return PlacementResult(placement, alloc.groups, alloc.nonlocal_bind_nodes, tuple(_warnings(arch, instances)), moved)
