"""The placement problem, precomputed once: services, nodes, cells.

:func:`build_problem` turns the services of a model (already reduced to
:class:`Svc` records by :mod:`hamodel.analysis.placement`) and its nodes
into a :class:`Problem`: each node's capacity in thousandths and its
failure domains, and the *cells* that level 1 of the solver
(:mod:`hamodel.analysis.placement_solver`) counts instances in. Small
models use classes of interchangeable nodes; large ones one cell per set
of failure domains, merged into at most ``MAX_CELLS`` runs when the count
encoding would still be large. Plain Python: no solver here, so the
statements (:mod:`hamodel.analysis.placement_statements`) and the solver
both read it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from hamodel.model import Architecture
from hamodel.ordering import natural_key

SCALE = 1000  # resources are compared as integers in thousandths
FINE_LIMIT = 20_000  # level-1 bits above which cells are failure-domain sets, not classes
MAX_CELLS = 4  # level-1 cells when merging (large models)


# ---------------------------------------------------------------------------
# The problem, precomputed once


@dataclass
class Svc:
    name: str
    index: int
    cand: list[str]
    count: int
    everywhere: bool
    ports: frozenset[int]
    req: tuple[int, int]
    pins: list[str]
    colocate: list[str]
    anti: str
    limits: dict[str, int]  # domain kind -> at most per domain (anti-affinity gives 1)
    max_per_domain: dict[str, int]
    quorum_too_small: bool


@dataclass
class Cell:
    index: int
    nodes: list[str]
    domains: tuple[str, ...]


@dataclass
class Problem:
    arch: Architecture
    previous: dict[str, set[str]]
    services: list[Svc]
    by_name: dict[str, Svc]
    node_cap: dict[str, tuple[int, int]]
    node_domains: dict[str, tuple[str, ...]]
    domain_kind: dict[str, str]
    cells: list[Cell] = field(default_factory=list)
    cell_of: dict[str, int] = field(default_factory=dict)
    cand_in: dict[tuple[str, int], list[str]] = field(default_factory=dict)  # (service, cell) -> candidate nodes
    fine: bool = True

    mode: str = "fine"

    def upper_bound(self, sv: Svc, ci: int) -> int:
        """Most instances of ``sv`` that cell ``ci`` can hold under node and domain limits."""
        nodes = self.cand_in[(sv.name, ci)]
        ub = min(len(nodes), sv.count)
        for kind, m in sv.limits.items():
            loose, counts = self._domain_counts(nodes, kind)
            ub = min(ub, loose + sum(min(m, c) for c in counts))
        return ub

    def fitting(self, nodes: list[str], r: int, need: int) -> int:
        """How many of ``nodes`` have at least ``need`` of resource ``r`` (cached per node list)."""
        cache = self.__dict__.setdefault("_fit_cache", {})
        key = (id(nodes), r, need)
        hit = cache.get(key)
        if hit is not None and hit[0] is nodes:
            return hit[1]
        cap = self.node_cap
        n = sum(1 for x in nodes if cap[x][r] >= need)
        cache[key] = (nodes, n)
        return n

    def _domain_counts(self, nodes: list[str], kind: str) -> tuple[int, list[int]]:
        """Nodes of ``nodes`` in no domain of ``kind``, and the count per domain of
        ``kind`` (cached per node list: services of one role share theirs)."""
        cache = self.__dict__.setdefault("_count_cache", {})
        key = (id(nodes), kind)
        hit = cache.get(key)
        if hit is not None and hit[0] is nodes:
            return hit[1]
        per: dict[str, int] = defaultdict(int)
        loose = 0
        for n in nodes:
            ds = self.of_kind(n, kind)
            loose += not ds
            for d in ds:
                per[d] += 1
        r = (loose, list(per.values()))
        cache[key] = (nodes, r)
        return r

    def of_kind(self, node: str, kind: str) -> list[str]:
        """The domains of ``kind`` that ``node`` is in (cached)."""
        cache = self.__dict__.setdefault("_kind_cache", {})
        key = (node, kind)
        if key not in cache:
            cache[key] = [d for d in self.node_domains[node] if self.domain_kind.get(d) == kind]
        return cache[key]

    def cells_of(self, s: str) -> list[int]:
        return self._cells_of[s]

    def sym_classes(self) -> list[list[Svc]]:
        """Groups (two or more, index order) of interchangeable services.

        Swapping two of them maps every constraint onto another: same
        candidates, count, requests, ports and limits; no pins, no
        co-location either way, no previous nodes (kept instances are
        preferences that would tell them apart).
        """
        cache = self.__dict__.get("_sym")
        if cache is not None:
            return cache
        targets = {t for sv in self.services for t in sv.colocate}
        groups: dict[tuple, list[Svc]] = {}
        for sv in self.services:
            if sv.pins or sv.colocate or sv.name in targets or self.previous.get(sv.name):
                continue
            key = (
                tuple(sv.cand),
                sv.count,
                sv.everywhere,
                sv.ports,
                sv.req,
                sv.anti,
                tuple(sorted(sv.limits.items())),
                tuple(sorted(sv.max_per_domain.items())),
                sv.quorum_too_small,
            )
            groups.setdefault(key, []).append(sv)
        out = [g for g in groups.values() if len(g) > 1 and not g[0].everywhere]
        self.__dict__["_sym"] = out
        return out

    def finish(self, fine: bool) -> None:
        self.fine = fine
        self.cell_of = {n: c.index for c in self.cells for n in c.nodes}
        self._cells_of: dict[str, list[int]] = {}
        # Services of one role share their candidate list: split each list into
        # cells once (the lists are read, never changed). Per service, the split
        # was most of the placement's Python time at 1,000 nodes.
        split: dict[tuple[str, ...], tuple[list[int], dict[int, list[str]]]] = {}
        by_list: dict[int, tuple[list[str], tuple[str, ...]]] = {}  # id -> (the list, held; its tuple)
        for sv in self.services:
            seen = by_list.get(id(sv.cand))
            if seen is None or seen[0] is not sv.cand:
                seen = by_list[id(sv.cand)] = (sv.cand, tuple(sv.cand))
            key = seen[1]
            hit = split.get(key)
            if hit is None:
                per: dict[int, list[str]] = defaultdict(list)
                for n in key:
                    per[self.cell_of[n]].append(n)
                hit = split[key] = (sorted(per), dict(per))
            cells, per = hit
            self._cells_of[sv.name] = list(cells)
            for ci, ns in per.items():
                self.cand_in[(sv.name, ci)] = ns


def res(value: float, up: bool) -> int:
    v = value * SCALE
    return math.ceil(v - 1e-9) if up else math.floor(v + 1e-9)


def build_problem(
    arch: Architecture, previous: dict[str, set[str]], svcs: list[Svc], fine: bool | None = None
) -> Problem:
    node_domains = {n.name: tuple(arch.node_domains(n.name)) for n in arch.nodes}
    pr = Problem(
        arch=arch,
        previous=previous,
        services=svcs,
        by_name={s.name: s for s in svcs},
        node_cap={n.name: (res(n.capacity.cpu, False), res(n.capacity.memory_gb, False)) for n in arch.nodes},
        node_domains=node_domains,
        domain_kind={d.name: d.kind for d in arch.domains},
    )
    order = sorted((n.name for n in arch.nodes), key=natural_key)
    pinned: dict[str, list[str]] = defaultdict(list)
    excluded: dict[str, list[str]] = defaultdict(list)
    for s in arch.services:
        for n in s.pin:
            pinned[n].append(s.name)
        for n in s.exclude:
            excluded[n].append(s.name)
    prev_of: dict[str, list[str]] = defaultdict(list)
    for s, ns in sorted(previous.items()):
        for n in ns:
            prev_of[n].append(s)
    roles = {n.name: tuple(n.roles) for n in arch.nodes}

    limited_kinds = sorted({k for sv in svcs for k in sv.limits})

    def partition(mode: str) -> list[Cell] | None:
        keyed: dict[tuple, list[str]] = {}
        if mode == "coarse":
            # one cell per domain of the constrained kind with the fewest domains
            # (a zone); finer limits are kept by the fill, so every domain of a
            # limited kind must then lie inside one cell
            if not limited_kinds:
                return None
            counts = {
                k: len({d for n in order for d in node_domains[n] if pr.domain_kind.get(d) == k}) for k in limited_kinds
            }
            top = min(limited_kinds, key=lambda k: (counts[k], k))
            for n in order:
                keyed.setdefault((tuple(d for d in node_domains[n] if pr.domain_kind.get(d) == top),), []).append(n)
            cell_of = {n: i for i, ns in enumerate(keyed.values()) for n in ns}
            for k in limited_kinds:
                members: dict[str, set[int]] = defaultdict(set)
                for n in order:
                    for d in node_domains[n]:
                        if pr.domain_kind.get(d) == k:
                            members[d].add(cell_of[n])
                if any(len(v) > 1 for v in members.values()):
                    return None
        else:
            for n in order:
                key: tuple = (node_domains[n],)
                if mode == "fine":
                    key += (roles[n], pr.node_cap[n], tuple(pinned[n]), tuple(excluded[n]), tuple(prev_of[n]))
                keyed.setdefault(key, []).append(n)
        return [Cell(i, ns, key[0]) for i, (key, ns) in enumerate(keyed.items())]

    modes = ["fine", "domains", "coarse"] if fine is None else (["fine"] if fine else ["domains"])
    chosen = None
    bits = 0
    # Every partition has at least this many level-1 bits (a service's cells hold
    # all its candidates): above the limit, only the last partition that exists
    # would be kept, so only that one is made (was one split per service and cell
    # per partition, most of the placement's time at 10,000 services).
    lower = sum(min(sv.count, len(sv.cand)) for sv in svcs)
    if lower > FINE_LIMIT:
        last = next(m for m in reversed(modes) if (cells := partition(m)) is not None)
        modes = [last]
    for mode in modes:
        cells = partition(mode)
        if cells is None:
            continue
        pr.cells, pr.cand_in = cells, {}
        pr.finish(mode == "fine")
        pr.mode = mode
        chosen = mode
        bits = (
            lower
            if lower > FINE_LIMIT
            else sum(min(sv.count, len(pr.cand_in[(sv.name, ci)])) for sv in svcs for ci in pr.cells_of(sv.name))
        )
        if bits <= FINE_LIMIT:
            break
    assert chosen is not None
    if bits > FINE_LIMIT and len(pr.cells) > MAX_CELLS and pr.mode != "fine":
        merged = _merge_cells(pr, limited_kinds)
        if merged is not None:
            pr.cells, pr.cand_in = merged, {}
            pr.finish(False)
            pr.mode = "merged"
    return pr


def _merge_cells(pr: Problem, limited_kinds: list[str]) -> list[Cell] | None:
    """At most MAX_CELLS cells, each a run of consecutive cells.

    Level-1 size then grows with the number of services only, not with
    services x domains; the fill keeps every domain limit, which is valid
    as long as each domain of a limited kind lies inside one merged cell.
    """
    per = -(-len(pr.cells) // MAX_CELLS)
    groups = [pr.cells[i : i + per] for i in range(0, len(pr.cells), per)]
    out = []
    for i, g in enumerate(groups):
        common = set(g[0].domains)
        for c in g[1:]:
            common &= set(c.domains)
        out.append(Cell(i, [n for c in g for n in c.nodes], tuple(d for d in g[0].domains if d in common)))
    cell_of = {n: c.index for c in out for n in c.nodes}
    limited = set(limited_kinds)
    touched: dict[str, set[int]] = defaultdict(set)
    for n, ci in cell_of.items():
        for d in pr.node_domains[n]:
            if pr.domain_kind.get(d) in limited:
                touched[d].add(ci)
    if any(len(v) > 1 for v in touched.values()):
        return None
    return out
