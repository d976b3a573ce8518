"""Placement with Z3: synthesise, verify, allocate and explain.

:func:`place` turns the placement intent of an :class:`Architecture`
(roles, replicas, anti-affinity, spread limits, pins, exclusions,
co-location, capacity, port conflicts, quorum sizes) into a concrete
:class:`~hamodel.deployment.Placement`, allocates the VRRP groups, or raises
:class:`Unplaceable` whose ``explanations`` name the smallest set of
conflicting model statements in the architect's words.

Encoding (see ``benchmarks/bench_placement.py`` for the measurements that
chose it): nodes with the same roles, failure domains, capacity, pins,
exclusions and previous services are interchangeable, so they form one
*class*. Z3 chooses how many instances of each service go into each class
(order-encoded counts: ``b[s, c, j]`` means "at least j instances of s in
class c"), under cardinality and pseudo-Boolean constraints solved by the
SAT core with ``sat.cardinality.solver``. A second, local step fills the
interchangeable nodes of each class (greedy, then an exact per-class Z3
solve); if a class cannot be filled the count vector is cut off and the
first step re-solved, so the result is exact.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import z3

from hamodel.deployment import Placement, VrrpGroup
from hamodel.errors import HamodelError
from hamodel.model import Architecture, Service
from hamodel.model.strategies import ActivePassive, AppCluster, PacemakerVip, Vrrp

__all__ = [
    "PlacementResult", "Unplaceable", "lock_path_for", "place", "read_lock", "verify", "write_lock",
]

LOCK_FORMAT = 1
_SCALE = 1000  # resources are compared as integers in thousandths
_SEED = 0


class Unplaceable(HamodelError):
    """No placement satisfies the model; ``explanations`` say why, in words."""

    def __init__(self, explanations: Iterable[str]):
        self.explanations = list(dict.fromkeys(explanations))
        super().__init__("no placement satisfies the model:\n" + "\n".join(f"- {e}" for e in self.explanations))


@dataclass(frozen=True)
class PlacementResult:
    """A placement with its allocations (VRRP groups) and notes."""

    placement: Placement
    vrrp_groups: tuple[VrrpGroup, ...]
    nonlocal_bind_nodes: frozenset[str]
    warnings: tuple[str, ...]
    moved: int = 0

    def to_dict(self) -> dict:
        return {
            "placement": self.placement.to_dict(),
            "vrrp_groups": [
                {"service": g.service, "vips": list(g.vips), "network": g.network, "vrid": g.vrid,
                 "priorities": dict(sorted(g.priorities.items())), "master": g.master, "manager": g.manager}
                for g in self.vrrp_groups
            ],
            "nonlocal_bind_nodes": sorted(self.nonlocal_bind_nodes),
            "moved": self.moved,
            "warnings": list(self.warnings),
        }


# ---------------------------------------------------------------------------
# Facts derived from the model (shared by place and verify)


def natural_key(name: str) -> tuple:
    """``ctl-2`` before ``ctl-10``: numbers compare as numbers."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t)


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _names(items: Iterable[str], limit: int = 8) -> str:
    items = list(items)
    if len(items) > limit:
        return ", ".join(items[:limit]) + f", ... ({len(items)} in all)"
    return ", ".join(items)


def _role_text(svc: Service) -> str:
    return f"the {' / '.join(svc.on)} role" if len(svc.on) == 1 else f"the roles {', '.join(svc.on)}"


def candidates(arch: Architecture, svc: Service) -> list[str]:
    """Nodes that may run ``svc``: those of its roles, minus exclusions, natural order."""
    ex = set(svc.exclude)
    return sorted((n.name for n in arch.nodes_with_roles(svc.on) if n.name not in ex), key=natural_key)


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
    return int(math.ceil(v - 1e-9)) if up else int(math.floor(v + 1e-9))


def _fmt(v: float) -> str:
    return f"{v:g}"


RESOURCES = (("cpu", "cpu"), ("memory_gb", "GB of memory"))


def _quorum_cluster(svc: Service) -> bool:
    return isinstance(svc.strategy, AppCluster) and svc.strategy.quorum == "majority"


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
                out.append(f"{name} runs on every node of {_role_text(svc)} (replicas='all'), but is missing on {_names(missing)}")
        elif len(here) != want:
            what = "exactly one instance (unmanaged active/passive)" if want == 1 and svc.replicas != 1 else _plural(want, "instance")
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
                        out.append(f"{name} must not have two instances in one {kind} (anti_affinity={kind!r}), "
                                   f"but {_names(ns)} share {kind} {d}")
                    else:
                        out.append(f"{name} allows at most {limit} per {kind} (max_per_domain), "
                                   f"but {kind} {d} has {len(ns)} ({_names(ns)})")
        for t in svc.colocate:
            t_nodes = set(inst.get(t, []))
            lonely = [n for n in valid if n not in t_nodes]
            if lonely:
                out.append(f"{name} must run only on nodes that run {t} (colocate), but {_names(lonely)} "
                           f"{'does' if len(lonely) == 1 else 'do'} not run {t}")
        if _quorum_cluster(svc) and len(here) < 3:
            out.append(f"{name} keeps a majority quorum, which needs at least 3 members, but has {len(here)}")
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
                out.append(f"node {n} has {_fmt(getattr(cap, attr))} {label}, but {_names(users)} request "
                           f"{_fmt(need)} there")
        ports: dict[int, list[str]] = defaultdict(list)
        for s in svcs:
            for p in node_ports(services[s]):
                ports[p].append(s)
        for p, users in sorted(ports.items()):
            if len(users) > 1:
                out.append(f"port {p} on node {n} is bound by both {' and '.join(users)}")
    return out


# ---------------------------------------------------------------------------
# Synthesis


@dataclass
class _Class:
    """Interchangeable nodes: same roles, domains, capacity, pins, exclusions, history."""

    index: int
    nodes: list[str]
    domains: tuple[str, ...]
    cap: tuple[int, int]

    @property
    def size(self) -> int:
        return len(self.nodes)


@dataclass
class _Problem:
    arch: Architecture
    previous: dict[str, set[str]]
    classes: list[_Class] = field(default_factory=list)
    cand_classes: dict[str, list[int]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    everywhere: dict[str, bool] = field(default_factory=dict)
    ports: dict[str, list[int]] = field(default_factory=dict)
    req: dict[str, tuple[int, int]] = field(default_factory=dict)


def _build_problem(arch: Architecture, previous: dict[str, set[str]]) -> _Problem:
    pr = _Problem(arch, previous)
    svcs = arch.services
    keyed: dict[tuple, list[str]] = {}
    for node in sorted(arch.nodes, key=lambda n: natural_key(n.name)):
        n = node.name
        key = (
            tuple(node.roles), tuple(arch.node_domains(n)),
            (_res(node.capacity.cpu, False), _res(node.capacity.memory_gb, False)),
            tuple(s.name for s in svcs if n in s.pin),
            tuple(s.name for s in svcs if n in s.exclude),
            tuple(sorted(s for s, ns in previous.items() if n in ns)),
        )
        keyed.setdefault(key, []).append(n)
    for i, (key, ns) in enumerate(keyed.items()):
        pr.classes.append(_Class(i, ns, key[1], key[2]))
    node_class = {n: c.index for c in pr.classes for n in c.nodes}
    for s in svcs:
        cand = candidates(arch, s)
        pr.cand_classes[s.name] = sorted({node_class[n] for n in cand})
        pr.counts[s.name] = instance_count(arch, s)
        pr.everywhere[s.name] = runs_everywhere(s)
        pr.ports[s.name] = node_ports(s)
        pr.req[s.name] = (_res(s.requests.cpu, True), _res(s.requests.memory_gb, True))
    return pr


def _domain_map(pr: _Problem, kind: str, classes: list[int]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for ci in classes:
        for d in pr.classes[ci].domains:
            if pr.arch.domain(d).kind == kind:
                out[d].append(ci)
    return out


def _precheck(pr: _Problem) -> list[str]:
    """Aggregate infeasibility found by counting, before any solver runs."""
    arch = pr.arch
    out: list[str] = []
    for svc in arch.services:
        s = svc.name
        cand = candidates(arch, svc)
        k = pr.counts[s]
        ex = [n for n in svc.exclude]
        role_nodes = [n.name for n in arch.nodes_with_roles(svc.on)]
        if k > len(cand) or k == 0:
            if k == 0:
                out.append(f"{s} runs on {_role_text(svc)}, but no node is left to run it"
                           + (f" after excluding {_names(ex)}" if ex else ""))
            else:
                extra = f" ({_names(cand)})" if cand else ""
                out.append(f"{s} needs {_plural(k, 'instance')} on distinct nodes, but {_role_text(svc)} has "
                           f"{_plural(len(cand), 'node')}{extra}"
                           + (f" after excluding {_names(ex)}" if ex else "")
                           + ("" if ex or len(role_nodes) == len(cand) else ""))
            continue
        if _quorum_cluster(svc) and k < 3:
            out.append(f"{s} keeps a majority quorum, which needs at least 3 members, but "
                       + (f"replicas={svc.replicas}" if isinstance(svc.replicas, int) else
                          f"{_role_text(svc)} has {_plural(k, 'node')} ({_names(cand)})"))
        limits: dict[str, int] = {}
        if svc.anti_affinity != "node":
            limits[svc.anti_affinity] = 1
        for kind, m in svc.max_per_domain.items():
            if kind != "node":
                limits[kind] = min(m, limits.get(kind, m))
        for kind, m in sorted(limits.items()):
            per: dict[str, list[str]] = defaultdict(list)
            loose = 0  # nodes in no domain of this kind are their own domain
            for n in cand:
                ds = _domains_of_kind(arch, n, kind)
                if not ds:
                    loose += 1
                for d in ds:
                    per[d].append(n)
            # each node contributes to at most ... an upper bound by domains
            room = loose + sum(min(m, len(ns)) for ns in per.values())
            if room < k:
                ds = sorted(per, key=natural_key)
                if m == 1 and kind == svc.anti_affinity:
                    out.append(f"{s} needs {k} members on distinct {kind}s, but {_role_text(svc)} spans "
                               f"{_plural(len(ds) + loose, kind)}" + (f" ({_names(ds)})" if ds else ""))
                else:
                    out.append(f"{s} needs {k} instances with at most {m} per {kind}, but {_role_text(svc)} "
                               f"spans {_plural(len(ds) + loose, kind)}" + (f" ({_names(ds)})" if ds else ""))
        if runs_everywhere(svc):
            for kind, m in sorted(limits.items()):
                per = defaultdict(list)
                for n in cand:
                    for d in _domains_of_kind(arch, n, kind):
                        per[d].append(n)
                for d, ns in sorted(per.items()):
                    if len(ns) > m:
                        out.append(f"{s} runs on every node of {_role_text(svc)} (replicas='all'), but "
                                   f"{_names(ns)} share {kind} {d}, which allows at most {m}")
        cap_nodes = {n.name: n for n in arch.nodes}
        for attr, label in RESOURCES:
            need = getattr(svc.requests, attr)
            fits = [n for n in cand if _res(getattr(cap_nodes[n].capacity, attr), False) >= _res(need, True)]
            if need > 0 and len(fits) < k:
                biggest = max((getattr(cap_nodes[n].capacity, attr) for n in cand), default=0)
                out.append(f"{s} requests {_fmt(need)} {label} per instance for {_plural(k, 'instance')}, but only "
                           f"{_plural(len(fits), 'node')} of {_role_text(svc)} {'has' if len(fits) == 1 else 'have'} that much "
                           f"(the largest has {_fmt(biggest)})")
    # capacity of every candidate set against the services confined to it
    sets = {}
    for svc in arch.services:
        sets.setdefault(frozenset(candidates(arch, svc)), []).append(svc)
    nodes = {n.name: n for n in arch.nodes}
    for nodeset, _ in sorted(sets.items(), key=lambda kv: sorted(kv[0], key=natural_key)):
        confined = [s for s in arch.services if frozenset(candidates(arch, s)) <= nodeset]
        for attr, label in RESOURCES:
            need = sum(_res(getattr(s.requests, attr), True) * pr.counts[s.name] for s in confined)
            have = sum(_res(getattr(nodes[n].capacity, attr), False) for n in nodeset)
            if need > have:
                users = [s.name for s in confined if getattr(s.requests, attr) > 0]
                roles = sorted({r for s in confined for r in s.on})
                out.append(f"{_names(users)} together request {_fmt(need / _SCALE)} {label}, but the "
                           f"{_plural(len(nodeset), 'node')} they may use ({'/'.join(roles)}) have "
                           f"{_fmt(have / _SCALE)} in all")
    return list(dict.fromkeys(out))


class _Encoding:
    """Order-encoded instance counts per (service, class) with tracked statements."""

    def __init__(self, pr: _Problem, track: bool):
        self.pr = pr
        self.track = track
        self.solver = z3.SolverFor("QF_FD")
        self.solver.set("random_seed", _SEED)
        self.bits: dict[tuple[str, int], list[z3.BoolRef]] = {}
        self.statements: dict[str, tuple] = {}  # tracking literal name -> statement
        self.literals: dict[tuple, z3.BoolRef] = {}
        self._n = 0
        self._build()

    # -- helpers ------------------------------------------------------------

    def lit(self, stmt: tuple) -> z3.BoolRef | None:
        if not self.track:
            return None
        if stmt not in self.literals:
            name = f"stmt!{len(self.literals)}"
            self.literals[stmt] = z3.Bool(name)
            self.statements[name] = stmt
        return self.literals[stmt]

    def add(self, stmt: tuple, constraint: z3.BoolRef) -> None:
        p = self.lit(stmt)
        self.solver.add(constraint if p is None else z3.Implies(p, constraint))

    def count_terms(self, s: str, cis: Iterable[int], weight: int = 1) -> list[tuple[z3.BoolRef, int]]:
        return [(b, weight) for ci in cis for b in self.bits.get((s, ci), ())]

    # -- the encoding ------------------------------------------------------

    def _build(self) -> None:
        pr, arch = self.pr, self.pr.arch
        for svc in arch.services:
            s = svc.name
            k = pr.counts[s]
            for ci in pr.cand_classes[s]:
                ub = min(pr.classes[ci].size, k)
                bs = [z3.Bool(f"b!{s}!{ci}!{j}") for j in range(1, ub + 1)]
                self.bits[(s, ci)] = bs
                for j in range(1, len(bs)):
                    self.solver.add(z3.Implies(bs[j], bs[j - 1]))  # structural: order encoding
        for svc in arch.services:
            s = svc.name
            k = pr.counts[s]
            cis = pr.cand_classes[s]
            terms = self.count_terms(s, cis)
            if pr.everywhere[s]:
                self.add(("count", s), z3.And([self.bits[(s, ci)][-1] for ci in cis]) if cis else z3.BoolVal(k == 0))
            else:
                self.add(("count", s), z3.PbEq(terms, k) if terms else z3.BoolVal(k == 0))
            if _quorum_cluster(svc) and k < 3:
                self.add(("quorum", s), z3.BoolVal(False))
            if svc.anti_affinity != "node":
                for d, dcis in sorted(_domain_map(pr, svc.anti_affinity, cis).items()):
                    t = self.count_terms(s, dcis)
                    if len(t) > 1:
                        self.add(("anti", s, svc.anti_affinity), z3.AtMost(*[b for b, _ in t], 1))
            for kind, m in sorted(svc.max_per_domain.items()):
                if kind == "node":
                    continue
                for d, dcis in sorted(_domain_map(pr, kind, cis).items()):
                    t = self.count_terms(s, dcis)
                    if len(t) > m:
                        self.add(("max", s, kind), z3.AtMost(*[b for b, _ in t], m))
            for p in svc.pin:
                ci = next(c.index for c in pr.classes if p in c.nodes)
                self.add(("pin", s, p), self.bits[(s, ci)][0])
            for t in svc.colocate:
                tcis = set(pr.cand_classes[t])
                for ci in cis:
                    for j, b in enumerate(self.bits[(s, ci)]):
                        tb = self.bits.get((t, ci), [])
                        self.add(("colocate", s, t), z3.Implies(b, tb[j]) if j < len(tb) else z3.Not(b))
                del tcis
        # capacity per class
        by_class: dict[int, list[str]] = defaultdict(list)
        for svc in arch.services:
            for ci in pr.cand_classes[svc.name]:
                by_class[ci].append(svc.name)
        for ci, ss in sorted(by_class.items()):
            c = pr.classes[ci]
            for r in range(2):
                terms = [(b, pr.req[s][r]) for s in ss if pr.req[s][r] > 0 for b in self.bits[(s, ci)]]
                if not terms:
                    continue
                # no single instance larger than a node; the sum within the class
                for s in ss:
                    if pr.req[s][r] > c.cap[r]:
                        self.add(("capacity", ci, r), z3.Not(self.bits[(s, ci)][0]))
                if sum(w for _, w in terms) > c.cap[r] * c.size:
                    self.add(("capacity", ci, r), z3.PbLe(terms, c.cap[r] * c.size))
            # port conflicts: two services sharing a port share no node
            port_users: dict[int, list[str]] = defaultdict(list)
            for s in ss:
                for p in pr.ports[s]:
                    port_users[p].append(s)
            for p, users in sorted(port_users.items()):
                for i, a in enumerate(users):
                    for b in users[i + 1:]:
                        terms = self.count_terms(a, [ci]) + self.count_terms(b, [ci])
                        if len(terms) > c.size:
                            self.add(("port", a, b, p), z3.AtMost(*[x for x, _ in terms], c.size))

    def counts_of(self, model: z3.ModelRef) -> dict[tuple[str, int], int]:
        out = {}
        for key, bs in self.bits.items():
            n = sum(1 for b in bs if z3.is_true(model.eval(b, model_completion=True)))
            if n:
                out[key] = n
        return out


def _fill_class(pr: _Problem, c: _Class, counts: dict[str, int]) -> dict[str, list[str]] | None:
    """Choose which interchangeable nodes of class ``c`` run which service."""
    if c.size == 1:
        res = _check_node(pr, c, list(counts))
        return {s: list(c.nodes) for s in counts} if res else None
    services = {s.name: s for s in pr.arch.services}
    # colocation targets first, then larger requests first
    order: list[str] = []
    seen: set[str] = set()

    def visit(s: str) -> None:
        if s in seen:
            return
        seen.add(s)
        for t in services[s].colocate:
            if t in counts:
                visit(t)
        order.append(s)

    for s in sorted(counts, key=lambda s: (-pr.req[s][0] - pr.req[s][1], -counts[s], s)):
        visit(s)
    load = {n: [0, 0] for n in c.nodes}
    ports: dict[str, set[int]] = {n: set() for n in c.nodes}
    hosts: dict[str, set[str]] = {n: set() for n in c.nodes}
    out: dict[str, list[str]] = {}
    ok = True
    for s in order:
        allowed = [n for n in c.nodes
                   if all(t in hosts[n] for t in services[s].colocate)
                   and not ports[n] & set(pr.ports[s])
                   and all(load[n][r] + pr.req[s][r] <= c.cap[r] for r in range(2))]
        if len(allowed) < counts[s]:
            ok = False
            break
        pos = {n: i for i, n in enumerate(c.nodes)}
        chosen = sorted(allowed, key=lambda n: (load[n][0] * 7 + load[n][1], len(hosts[n]), pos[n]))[:counts[s]]
        for n in chosen:
            load[n][0] += pr.req[s][0]
            load[n][1] += pr.req[s][1]
            ports[n] |= set(pr.ports[s])
            hosts[n].add(s)
        out[s] = sorted(chosen, key=natural_key)
    if ok:
        return out
    return _fill_class_exact(pr, c, counts)


def _check_node(pr: _Problem, c: _Class, svcs: list[str]) -> bool:
    for r in range(2):
        if sum(pr.req[s][r] for s in svcs) > c.cap[r]:
            return False
    seen: set[int] = set()
    for s in svcs:
        if seen & set(pr.ports[s]):
            return False
        seen |= set(pr.ports[s])
    return True


def _fill_class_exact(pr: _Problem, c: _Class, counts: dict[str, int]) -> dict[str, list[str]] | None:
    services = {s.name: s for s in pr.arch.services}
    sol = z3.SolverFor("QF_FD")
    sol.set("random_seed", _SEED)
    x = {(s, n): z3.Bool(f"x!{s}!{n}") for s in counts for n in c.nodes}
    for s, k in counts.items():
        sol.add(z3.PbEq([(x[s, n], 1) for n in c.nodes], k))
        for t in services[s].colocate:
            for n in c.nodes:
                sol.add(z3.Implies(x[s, n], x[t, n]) if t in counts else z3.Not(x[s, n]))
    for n in c.nodes:
        for r in range(2):
            terms = [(x[s, n], pr.req[s][r]) for s in counts if pr.req[s][r] > 0]
            if terms:
                sol.add(z3.PbLe(terms, c.cap[r]))
        users: dict[int, list[str]] = defaultdict(list)
        for s in counts:
            for p in pr.ports[s]:
                users[p].append(s)
        for p, ss in users.items():
            if len(ss) > 1:
                sol.add(z3.AtMost(*[x[s, n] for s in ss], 1))
    if sol.check() != z3.sat:
        return None
    m = sol.model()
    return {s: [n for n in c.nodes if z3.is_true(m.eval(x[s, n], model_completion=True))] for s in counts}


_configured = False


def _configure() -> None:
    global _configured
    if not _configured:
        z3.set_param("sat.cardinality.solver", True)
        z3.set_param("sat.random_seed", _SEED)
        z3.set_param("smt.random_seed", _SEED)
        _configured = True


def _solve(pr: _Problem) -> tuple[dict[str, list[str]], int]:
    """Return (service -> nodes, kept previous instances) or raise Unplaceable."""
    enc = _Encoding(pr, track=False)
    solver = enc.solver
    # Keep previous instances: soft preferences solved as a minimal
    # correction set over assumptions (each dropped assumption is a move).
    prefs: list[z3.BoolRef] = []
    for (s, ci), bs in sorted(enc.bits.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        c = pr.classes[ci]
        if pr.previous.get(s) and set(c.nodes) <= pr.previous[s]:
            prefs.extend(bs)
    for _round in range(10_000):
        model, kept = _check_with_preferences(solver, prefs)
        if model is None:
            break
        counts = enc.counts_of(model)
        per_class: dict[int, dict[str, int]] = defaultdict(dict)
        for (s, ci), n in counts.items():
            per_class[ci][s] = n
        result: dict[str, list[str]] = {s.name: [] for s in pr.arch.services}
        cut = False
        for ci, cnt in sorted(per_class.items()):
            filled = _fill_class(pr, pr.classes[ci], cnt)
            if filled is None:
                # These counts (or more of each) cannot be packed into the class.
                solver.add(z3.Or([z3.Not(enc.bits[(s, ci)][n - 1]) for s, n in sorted(cnt.items())]))
                cut = True
                break
            for s, ns in filled.items():
                result[s].extend(ns)
        if not cut:
            return {s: sorted(ns, key=natural_key) for s, ns in result.items()}, kept
    raise Unplaceable(_explain(pr))


def _check_with_preferences(solver: z3.Solver, prefs: list[z3.BoolRef]) -> tuple[z3.ModelRef | None, int]:
    if not prefs:
        return (solver.model() if solver.check() == z3.sat else None), 0
    if solver.check() != z3.sat:
        return None, 0
    active = list(prefs)
    while True:
        r = solver.check(*active)
        if r == z3.sat:
            return solver.model(), len(active)
        core = set(str(c) for c in solver.unsat_core())
        if not core:
            return (solver.model() if solver.check() == z3.sat else None), 0
        # drop the last preference of the core (deterministic) and retry
        drop = next(a for a in reversed(active) if str(a) in core)
        active.remove(drop)


def _explain(pr: _Problem) -> list[str]:
    """Unsat core over tracked statements, minimised, in words."""
    enc = _Encoding(pr, track=True)
    solver = enc.solver
    lits = [enc.literals[k] for k in sorted(enc.literals, key=str)]
    if solver.check(*lits) != z3.unsat:
        # satisfiable counts that no class can be filled with: say so plainly
        return ["no assignment of instances to nodes fits every node's capacity, ports and co-location"]
    core = [c for c in lits if c in set(solver.unsat_core())]
    core_set = {str(c) for c in solver.unsat_core()}
    core = [c for c in lits if str(c) in core_set]
    # deletion-based minimisation: the smallest set that still conflicts
    i = 0
    while i < len(core):
        trial = core[:i] + core[i + 1:]
        if solver.check(*trial) == z3.unsat:
            now = {str(c) for c in solver.unsat_core()}
            core = [c for c in trial if str(c) in now]
        else:
            i += 1
    stmts = [enc.statements[str(c)] for c in core]
    return _describe(pr, stmts)


def _describe(pr: _Problem, stmts: list[tuple]) -> list[str]:
    arch = pr.arch
    svc = {s.name: s for s in arch.services}
    parts: list[str] = []
    anti = {st[1]: st[2] for st in stmts if st[0] == "anti"}
    for st in stmts:
        kind = st[0]
        if kind == "count":
            s = svc[st[1]]
            k = pr.counts[s.name]
            cand = candidates(arch, s)
            if s.name in anti:
                dk = anti[s.name]
                doms = sorted({d for n in cand for d in _domains_of_kind(arch, n, dk)}, key=natural_key)
                parts.append(f"{s.name} needs {k} members on distinct {dk}s, but {_role_text(s)} spans "
                             f"{_plural(len(doms), dk)} ({_names(doms)})")
            elif pr.everywhere[s.name]:
                parts.append(f"{s.name} runs on every node of {_role_text(s)} (replicas='all'): {_names(cand)}")
            else:
                parts.append(f"{s.name} needs {_plural(k, 'instance')} on distinct nodes of {_role_text(s)} "
                             f"({_names(cand)})")
        elif kind == "anti":
            if not any(x[0] == "count" and x[1] == st[1] for x in stmts):
                parts.append(f"{st[1]} must not have two instances in one {st[2]} (anti_affinity={st[2]!r})")
        elif kind == "max":
            parts.append(f"{st[1]} allows at most {svc[st[1]].max_per_domain[st[2]]} instances per {st[2]} (max_per_domain)")
        elif kind == "pin":
            parts.append(f"{st[1]} is pinned to {st[2]}")
        elif kind == "colocate":
            parts.append(f"{st[1]} may run only on nodes that run {st[2]} (colocate)")
        elif kind == "quorum":
            parts.append(f"{st[1]} keeps a majority quorum, which needs at least 3 members")
        elif kind == "capacity":
            c = pr.classes[st[1]]
            attr, label = RESOURCES[st[2]]
            parts.append(f"{_names(c.nodes)} {'has' if c.size == 1 else 'have'} {_fmt(c.cap[st[2]] / _SCALE)} {label}"
                         + ("" if c.size == 1 else " each"))
        elif kind == "port":
            parts.append(f"{st[1]} and {st[2]} both bind port {st[3]} on their nodes' addresses, so they cannot share a node")
    if len(parts) > 1:
        return ["these statements conflict: " + "; ".join(parts)]
    return parts


# ---------------------------------------------------------------------------
# Allocation: VRRP groups, non-local binds, warnings


def _allocate(arch: Architecture, instances: dict[str, list[str]], previous: dict[str, set[str]]
              ) -> tuple[tuple[VrrpGroup, ...], frozenset[str]]:
    vips = {v.name: v for v in arch.vips}
    networks = {n.name: n for n in arch.networks}
    holders = [s for s in arch.services if s.holds_vips]
    used: dict[str, dict[int, str]] = defaultdict(dict)
    problems: list[str] = []
    for net in arch.networks:
        for v in net.reserved_vrids:
            used[net.name][v] = "reserved"
    for s in holders:
        if isinstance(s.strategy, Vrrp) and s.strategy.vrid is not None:
            net = vips[s.holds_vips[0]].network
            owner = used[net].get(s.strategy.vrid)
            if owner is not None:
                problems.append(f"{s.name} fixes vrid {s.strategy.vrid}, but on network {net} it is "
                                + ("reserved (reserved_vrids)" if owner == "reserved" else f"also fixed by {owner}"))
            used[net][s.strategy.vrid] = s.name
    groups: list[VrrpGroup] = []
    for s in holders:
        net = vips[s.holds_vips[0]].network
        if isinstance(s.strategy, Vrrp) and s.strategy.vrid is not None:
            vrid = s.strategy.vrid
        else:
            free = [i for i in range(1, 256) if i not in used[net]]
            if not free:
                problems.append(f"{s.name} needs a VRRP router id on network {net}, but all 255 are used "
                                f"({_plural(len(networks[net].reserved_vrids), 'reserved id')})")
                continue
            vrid = free[0]
            used[net][vrid] = s.name
        members = sorted(instances.get(s.name, []), key=lambda n: (n not in previous.get(s.name, set()), natural_key(n)))
        if len(members) > 254:
            problems.append(f"{s.name} has {len(members)} VIP holders, but VRRP priorities allow at most 254")
            continue
        if not members:
            continue
        top = min(254, 99 + len(members))
        prios = {n: top - i for i, n in enumerate(members)}
        groups.append(VrrpGroup(
            service=s.name, vips=tuple(s.holds_vips), network=net, vrid=vrid, priorities=prios,
            master=members[0], manager="pacemaker" if isinstance(s.strategy, PacemakerVip) else "keepalived",
        ))
    if problems:
        raise Unplaceable(problems)
    fronted = {s.access.vip for s in arch.services if s.access is not None}
    nonlocal_nodes = {n for s in holders if set(s.holds_vips) & fronted for n in instances.get(s.name, [])}
    return tuple(groups), frozenset(nonlocal_nodes)


def _warnings(arch: Architecture, instances: dict[str, list[str]]) -> list[str]:
    out = []
    for s in arch.services:
        n = len(instances.get(s.name, []))
        if _quorum_cluster(s) and n >= 3 and n % 2 == 0:
            out.append(f"{s.name} has {n} members: with a majority quorum an even-sized cluster tolerates no more "
                       f"failures than {n - 1} members, and a clean split leaves no side with quorum")
    if arch.pacemaker is not None and arch.pacemaker.quorum == "majority":
        n = len(arch.nodes_with_roles(arch.pacemaker.on))
        if n % 2 == 0:
            out.append(f"the pacemaker cluster has {n} nodes: an even-sized majority quorum tolerates no more "
                       f"failures than {n - 1} nodes")
    return out


def place(arch: Architecture, previous: Placement | None = None) -> PlacementResult:
    """Synthesise a placement for ``arch`` and allocate its VRRP groups.

    With ``previous`` (usually from the lock file) as few instances as the
    constraints allow move. Raises :class:`Unplaceable` with explanations.
    """
    _configure()
    prev: dict[str, set[str]] = {}
    if previous is not None:
        nodes = {n.name for n in arch.nodes}
        for svc in arch.services:
            cand = set(candidates(arch, svc))
            keep = {n for n in previous.nodes_of(svc.name) if n in nodes and n in cand}
            if keep:
                prev[svc.name] = keep
    pr = _build_problem(arch, prev)
    problems = _precheck(pr)
    if problems:
        raise Unplaceable(problems)
    instances, _kept = _solve(pr)
    placement = Placement({s: tuple(ns) for s, ns in instances.items()})
    violations = verify(arch, placement)
    if violations:  # the solver and the checker disagree: a bug, never silently wrong output
        raise AssertionError("placement fails its own verification: " + "; ".join(violations))
    moved = 0
    for s, before in prev.items():
        k = pr.counts[s]
        moved += min(len(before), k) - len(before & set(instances[s]))
    groups, nonlocal_nodes = _allocate(arch, instances, prev)
    return PlacementResult(placement, groups, nonlocal_nodes, tuple(_warnings(arch, instances)), moved)


# ---------------------------------------------------------------------------
# Lock file


def lock_path_for(model: str) -> Path:
    """The lock file beside a model: ``models/x.py`` -> ``models/x.lock.json``."""
    spec = str(model)
    attr = None
    if ":" in spec and not Path(spec).exists():
        spec, attr = spec.rsplit(":", 1)
    p = Path(spec)
    if p.suffix in (".py", ".json"):
        stem = p.with_suffix("")
    else:  # a module name: lock in the current directory
        stem = Path(spec.replace(".", "_"))
    if attr:
        stem = stem.with_name(f"{stem.name}.{attr}")
    return stem.with_name(stem.name + ".lock.json")


def read_lock(path: Path, arch: Architecture) -> Placement | None:
    """The placement stored in a lock file, without services or nodes that no longer exist."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        raw = data["placement"]
        if not isinstance(raw, dict):
            raise TypeError("placement is not a mapping")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HamodelError(f"{path}: not a placement lock file ({exc}); delete it or use --fresh") from None
    services = {s.name for s in arch.services}
    nodes = {n.name for n in arch.nodes}
    inst = {s: tuple(n for n in ns if isinstance(n, str) and n in nodes)
            for s, ns in raw.items() if s in services and isinstance(ns, list)}
    return Placement(inst)


def write_lock(path: Path, result: PlacementResult) -> None:
    """Write the lock file: deterministic JSON, replaced atomically."""
    from hamodel.output import write_file

    data = {
        "format": LOCK_FORMAT,
        "placement": result.placement.to_dict(),
        "vrrp_groups": {g.service: {"network": g.network, "vrid": g.vrid, "master": g.master}
                        for g in result.vrrp_groups},
    }
    write_file(Path(path), (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def placement_table(arch: Architecture, result: PlacementResult):
    """A rich table, node x service: ``●`` runs there, ``M`` the VRRP master."""
    from rich.table import Table

    nodes = sorted({n for ns in result.placement.instances.values() for n in ns}, key=natural_key)
    masters = {g.service: g.master for g in result.vrrp_groups}
    t = Table(title=f"{arch.name}: placement", show_lines=False)
    t.add_column("service")
    t.add_column("n", justify="right")
    for n in nodes:
        t.add_column(n, justify="center")
    for svc in arch.services:
        ns = set(result.placement.nodes_of(svc.name))
        cells = [("M" if masters.get(svc.name) == n else "●") if n in ns else "·" for n in nodes]
        t.add_row(svc.name, str(len(ns)), *cells)
    return t
