"""Each service's structure function as a static fault tree.

The tree is derived from the per-strategy rules documented in
:mod:`hamodel.analysis.semantics`, read off the same :class:`ModelView`,
and written a third time (Z3 formulas in :mod:`hamodel.analysis.encoding`,
graph search in :mod:`hamodel.analysis.semantics`, Boolean gates here) so
that an independent tool (SCRAM, through :mod:`hamodel.generators.opsa`)
can check hamodel's cut sets and availability.

Formulas are built in *success* logic (``Var(c)``: component ``c`` is up)
with AND, OR, k-of-n and, only where a rule needs it, NOT; the fault tree
is their dual (a failed basic event per component, OR for AND, AND for OR,
``atleast n-k+1`` for ``k of n``), see :func:`failure_gate`.

Constructs that are not plain gates over components are expanded exactly,
never approximated:

- reachability between two switches of a network (paths of up switches and
  up inter-switch links or trunks) is the OR, over every *simple path*
  between them, of the AND of the path's switches and of one of the
  parallel links of each hop. Every connected walk contains a simple path,
  so this is exactly "some path is up". When a network has more simple
  paths than :data:`MAX_PATHS` the expansion switches to layered
  reachability (reachable in at most i hops, i = 1 .. |switches| - 1),
  which is exact too;
- quorum ("some ok member reaches >= q ok voters") is, per member, a
  k-of-n gate over "voter ok AND reachable from that member";
- the only non-monotone rule is a two-node Pacemaker cluster with fencing:
  the second node is quorate when the first is *down* (it won the fence
  race) or reachable. It is written with a NOT gate; such a tree is not
  coherent (:attr:`Tree.coherent` is False): its exact probability is still
  right, but its minimal cut sets are prime implicants, and hamodel's
  cut-set based availability is an approximation there.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, pairwise
from typing import Iterable

from hamodel.analysis.components import QNETD, ModelView, node_id, proc_id, switch_id
from hamodel.model.strategies import (
    ActivePassive,
    AppCluster,
    BehindVip,
    Coordinated,
    Elected,
    External,
    PacemakerVip,
    Sharded,
    Vrrp,
    Witness,
)

MAX_PATHS = 512

# Formulas are interned tuples: ("T",), ("F",), ("var", cid), ("not", f),
# ("and", fs), ("or", fs), ("atleast", k, fs) with fs a tuple of formulas.
Formula = tuple
TRUE: Formula = ("T",)
FALSE: Formula = ("F",)


def var(cid: str) -> Formula:
    return ("var", cid)


def _dedupe(xs: Iterable[Formula]) -> list[Formula]:
    seen: dict[Formula, None] = {}
    for x in xs:
        seen.setdefault(x, None)
    return list(seen)


def and_(xs: Iterable[Formula]) -> Formula:
    out: list[Formula] = []
    for x in xs:
        if x == FALSE:
            return FALSE
        if x == TRUE:
            continue
        out.extend(x[1] if x[0] == "and" else (x,))
    out = _dedupe(out)
    return TRUE if not out else out[0] if len(out) == 1 else ("and", tuple(out))


def or_(xs: Iterable[Formula]) -> Formula:
    out: list[Formula] = []
    for x in xs:
        if x == TRUE:
            return TRUE
        if x == FALSE:
            continue
        out.extend(x[1] if x[0] == "or" else (x,))
    out = _dedupe(out)
    return FALSE if not out else out[0] if len(out) == 1 else ("or", tuple(out))


def atleast(k: int, xs: Iterable[Formula]) -> Formula:
    """At least ``k`` of ``xs`` hold (duplicates count once per occurrence)."""
    items = list(xs)
    k -= sum(1 for x in items if x == TRUE)
    items = [x for x in items if x not in (TRUE, FALSE)]
    if k <= 0:
        return TRUE
    if k > len(items):
        return FALSE
    if k == 1:
        return or_(items)
    if k == len(items):
        return and_(items)
    if len(set(items)) < len(items):
        # A repeated operand counts twice: a k-of-n gate over distinct
        # events cannot say that, so expand as OR over k-subsets (rare:
        # only when two voters share a node and a process).
        from itertools import combinations

        return or_(and_(c) for c in combinations(items, k))
    return ("atleast", k, tuple(items))


def not_(x: Formula) -> Formula:
    if x == TRUE:
        return FALSE
    if x == FALSE:
        return TRUE
    return x[1] if x[0] == "not" else ("not", x)


def variables(f: Formula) -> set[str]:
    """Component ids appearing in ``f``."""
    out: set[str] = set()
    seen: set[int] = set()
    todo = [f]
    while todo:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if x[0] == "var":
            out.add(x[1])
        elif x[0] == "not":
            todo.append(x[1])
        elif x[0] in ("and", "or"):
            todo.extend(x[1])
        elif x[0] == "atleast":
            todo.extend(x[2])
    return out


def holds(f: Formula, failed: frozenset[str] | set[str], memo: dict | None = None) -> bool:
    """Evaluate success formula ``f`` with ``failed`` components down."""
    memo = {} if memo is None else memo
    key = id(f)
    if key in memo:
        return memo[key]
    t = f[0]
    if t == "T":
        r = True
    elif t == "F":
        r = False
    elif t == "var":
        r = f[1] not in failed
    elif t == "not":
        r = not holds(f[1], failed, memo)
    elif t == "and":
        r = all(holds(x, failed, memo) for x in f[1])
    elif t == "or":
        r = any(holds(x, failed, memo) for x in f[1])
    else:
        r = sum(holds(x, failed, memo) for x in f[2]) >= f[1]
    memo[key] = r
    return r


def coherent(f: Formula) -> bool:
    """``f`` has no NOT gate (monotone in the failures)."""
    todo, seen = [f], set()
    while todo:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if x[0] == "not":
            return False
        if x[0] in ("and", "or"):
            todo.extend(x[1])
        elif x[0] == "atleast":
            todo.extend(x[2])
    return True


@dataclass(frozen=True)
class Tree:
    """The fault tree of one service: ``up`` is its success formula; the
    top event (service not fully available) is its negation."""

    service: str
    up: Formula
    coherent: bool

    @property
    def components(self) -> set[str]:
        return variables(self.up)


class Builder:
    """Success formulas for one :class:`ModelView`, memoised per fact."""

    def __init__(self, v: ModelView):
        self.v = v
        self._memo: dict[tuple, Formula] = {}
        self._paths: dict[str, dict[tuple[str, str], Formula]] = {}

    def _m(self, key: tuple, fn) -> Formula:
        if key not in self._memo:
            self._memo[key] = fn()
        return self._memo[key]

    def alive(self, cid: str) -> Formula:
        # Components the view does not list (processes left out) never fail.
        return var(cid) if cid in self.v.component_set else TRUE

    # -- topology -------------------------------------------------------------

    def node_up(self, n: str) -> Formula:
        def build() -> Formula:
            v = self.v
            parts = [self.alive(node_id(n)), *(self.alive(d) for d in v.node_domains[n])]
            feeds = v.node_feeds.get(n, ())
            if feeds:
                parts.append(or_(and_(self.alive(d) for d in feed) for feed in feeds))
            return and_(parts)
        return self._m(("node", n), build)

    def switch_up(self, s: str) -> Formula:
        return self._m(("switch", s), lambda: and_([self.alive(switch_id(s)),
                                                    *(self.alive(d) for d in self.v.switch_domains[s])]))

    def port_up(self, n: str, net: str) -> Formula:
        def build() -> Formula:
            if net not in self.v.ports[n]:
                return FALSE
            sws = self.v.ports[n][net]
            return and_([self.node_up(n), or_(self.switch_up(x) for x in sws)]) if sws else self.node_up(n)
        return self._m(("port", n, net), build)

    def _hops(self, net: str) -> dict[frozenset[str], Formula]:
        """Per pair of adjacent switches: some parallel link between them up."""
        hops: dict[frozenset[str], list[Formula]] = {}
        for a, b, cid in self.v.net_links[net]:
            if a != b:
                hops.setdefault(frozenset((a, b)), []).append(self.alive(cid))
        return {p: or_(xs) for p, xs in hops.items()}

    def _connected(self, net: str, a: str, b: str) -> Formula:
        """Switches ``a`` and ``b`` of ``net`` joined by up switches and links."""
        if a == b:
            return self.switch_up(a)
        a, b = sorted((a, b))
        return self._m(("conn", net, a, b), lambda: self._simple_paths(net, a, b))

    def _simple_paths(self, net: str, a: str, b: str) -> Formula:
        hops = self._hops(net)
        adj: dict[str, list[str]] = {s: [] for s in self.v.net_switches[net]}
        for p in hops:
            x, y = sorted(p)
            adj[x].append(y)
            adj[y].append(x)
        for x in adj:
            adj[x].sort()
        paths: list[list[str]] = []
        stack: list[tuple[str, list[str]]] = [(a, [a])]
        while stack:
            x, path = stack.pop()
            if x == b:
                paths.append(path)
                if len(paths) > MAX_PATHS:
                    return self._layered(net, a, b, hops, adj)
                continue
            for y in adj[x]:
                if y not in path:
                    stack.append((y, path + [y]))
        return or_(and_([*(self.switch_up(s) for s in p), *(hops[frozenset(e)] for e in pairwise(p))])
                   for p in paths)

    def _layered(self, net: str, a: str, b: str, hops: dict, adj: dict) -> Formula:
        """Exact reachability by rounds: r_i(x) = r_{i-1}(x) OR some
        neighbour y with r_{i-1}(y), the hop and x up."""
        cur = {x: (self.switch_up(a) if x == a else FALSE) for x in adj}
        for _ in range(len(adj) - 1):
            cur = {x: or_([cur[x], *(and_([cur[y], hops[frozenset((x, y))], self.switch_up(x)])
                                     for y in adj[x] if cur[y] != FALSE)]) for x in adj}
        return cur[b]

    def reach_on(self, a: str, b: str, net: str) -> Formula:
        def build() -> Formula:
            if net not in self.v.ports[a] or net not in self.v.ports[b]:
                return FALSE
            sa, sb = self.v.ports[a][net], self.v.ports[b][net]
            if not sa or not sb:
                return and_([self.port_up(a, net), self.port_up(b, net)])
            return and_([self.node_up(a), self.node_up(b),
                         or_(self._connected(net, x, y) for x in sa for y in sb)])
        return self._m(("reach_on", *sorted((a, b)), net), build)

    def reach(self, a: str, b: str) -> Formula:
        if a == b:
            return self.node_up(a)
        a, b = sorted((a, b))

        def build() -> Formula:
            pa, pb = self.v.ports[a], self.v.ports[b]
            shared = sorted(set(pa) & set(pb))
            if not shared:
                return and_([self.node_up(a), self.node_up(b)]) if not pa or not pb else FALSE
            return or_(self.reach_on(a, b, net) for net in shared)
        return self._m(("reach", a, b), build)

    # -- instances ------------------------------------------------------------

    def inst_ok(self, s: str, n: str) -> Formula:
        def build() -> Formula:
            nets = self.v.ports[n]
            parts = [self.node_up(n), self.alive(proc_id(self.v.process(s), n))]
            if nets:
                parts.append(or_(self.port_up(n, net) for net in sorted(nets)))
            return and_(parts)
        return self._m(("inst", s, n), build)

    def pcmk_quorate(self, n: str) -> Formula:
        def build() -> Formula:
            v = self.v
            if n not in v.pcmk_nodes:
                return FALSE
            if v.pcmk_two_node:
                other = next(c for c in v.pcmk_nodes if c != n)
                if not v.pcmk_fencing or n == v.pcmk_nodes[0]:
                    return self.node_up(n)
                # Non-monotone: the second node wins when the first is down.
                return and_([self.node_up(n), or_([not_(self.node_up(other)), self.reach(n, other)])])
            votes = [self.reach(n, c) for c in v.pcmk_nodes]
            q = v.pcmk_qdevice
            if q is not None:
                votes.append(and_([self.node_up(q), self.alive(proc_id(QNETD, q)), self.reach(n, q)]))
            return and_([self.node_up(n), atleast(v.pcmk_quorum, votes)])
        return self._m(("quorate", n), build)

    def eligible(self, s: str, h: str) -> Formula:
        def build() -> Formula:
            v = self.v
            parts = [self.port_up(h, v.vip_network[s]), *(self.alive(proc_id(p, h)) for p in v.holder_processes(s))]
            if isinstance(v.services[s].strategy, PacemakerVip):
                parts.append(self.pcmk_quorate(h))
            return and_(parts)
        return self._m(("eligible", s, h), build)

    def in_quorum(self, s: str, m: str) -> Formula:
        def build() -> Formula:
            v = self.v
            parts = [self.inst_ok(s, m)]
            if v.uses_pacemaker(s):
                parts.append(self.pcmk_quorate(m))
            parts.append(atleast(v.quorum(s), [and_([self.inst_ok(w, x), self.reach(m, x)])
                                               for w, x in v.cluster_voters(s)]))
            return and_(parts)
        return self._m(("in_quorum", s, m), build)

    def leader(self, s: str, m: str) -> Formula:
        c = self.v.coordinator(s)
        if c is None:
            return FALSE
        return and_([self.inst_ok(s, m), or_(and_([self.in_quorum(c, x), self.reach(m, x)])
                                             for x in self.v.instances[c])])

    def served(self, s: str, targets: list[tuple[str, Formula]]) -> Formula:
        h = self.v.access_holder(s)
        if h is None:
            return or_(t for _, t in targets)
        return or_(and_([self.eligible(h, x), or_(and_([t, self.reach(x, b)]) for b, t in targets)])
                   for x in self.v.holders[h])

    # -- services -------------------------------------------------------------

    def local_up(self, s: str) -> Formula:
        v = self.v
        st = v.services[s].strategy
        inst = v.instances[s]
        if isinstance(st, External):
            return TRUE
        if isinstance(st, (Vrrp, PacemakerVip)):
            return or_(self.eligible(s, h) for h in v.holders[s])
        if isinstance(st, BehindVip):
            return self.served(s, [(n, self.inst_ok(s, n)) for n in inst])
        if isinstance(st, AppCluster):
            ms = [(m, self.in_quorum(s, m)) for m in inst]
            return self.served(s, ms) if st.access is not None else or_(t for _, t in ms)
        if isinstance(st, Elected):
            ms = [(m, self.leader(s, m)) for m in inst]
            return self.served(s, ms) if st.access is not None else or_(t for _, t in ms)
        if isinstance(st, (Coordinated, Witness)):
            return or_(self.inst_ok(s, n) for n in inst)
        if isinstance(st, ActivePassive):
            if st.manager is None:
                return self.inst_ok(s, inst[0]) if inst else FALSE
            return or_(and_([self.inst_ok(s, n), self.pcmk_quorate(n)]) for n in inst)
        if isinstance(st, Sharded):
            return and_(self.inst_ok(s, n) for n in inst) if inst else FALSE
        raise TypeError(f"unknown strategy {type(st).__name__}")

    def up(self, s: str) -> Formula:
        """``s`` fully available, its declared dependencies included."""
        return self._m(("up", s), lambda: and_([self.local_up(s), *(self.up(d) for d in self.v.dependencies(s))]))

    def tree(self, s: str) -> Tree:
        f = self.up(s)
        return Tree(s, f, coherent(f))


def trees(v: ModelView, services: Iterable[str] | None = None) -> dict[str, Tree]:
    """The fault tree of every analysed service (default: not External,
    not a witness), by name."""
    b = Builder(v)
    names = services if services is not None else [s for s in sorted(v.services) if v.analysed(s)]
    return {s: b.tree(s) for s in names}


# -- minimal cut sets straight from the tree ---------------------------------------

Family = frozenset  # of frozensets of component ids


def _contains_one(x: frozenset[str], fam: Family | set, singles: set[str], upto: int) -> bool:
    """Some set of ``fam`` of size <= ``upto`` is a subset of ``x``
    (``singles``: the elements of its one-element sets, checked in C)."""
    if not singles.isdisjoint(x):
        return True
    return any(frozenset(c) in fam for r in range(2, min(upto, len(x)) + 1) for c in combinations(x, r))


def _minimise(sets: Iterable[frozenset[str]]) -> Family:
    """Keep the sets none of whose proper subsets is in the family (small
    sets: every subset is looked up, O(n 2^k) instead of O(n^2))."""
    by_size: dict[int, list[frozenset[str]]] = {}
    for x in set(sets):
        by_size.setdefault(len(x), []).append(x)
    if 0 in by_size:
        return frozenset([frozenset()])
    kept: set[frozenset[str]] = set(by_size.get(1, ()))
    singles = {e for x in kept for e in x}
    for size in sorted(by_size):
        if size > 1:
            kept.update([x for x in by_size[size] if not _contains_one(x, kept, singles, size - 1)])
    return frozenset(kept)


def _product(a: Family, b: Family, k: int) -> Family:
    """Minimal sets of order <= k hitting a set of ``a`` and one of ``b``.
    A set of ``a`` that already contains a set of ``b`` is kept as it is
    (its other products are its supersets): with many operands sharing
    domains this avoids most of the unions."""
    out: set[frozenset[str]] = set()
    singles = {e for y in b if len(y) == 1 for e in y}
    for x in a:
        if _contains_one(x, b, singles, len(x)):
            out.add(x)
            continue
        room = k - len(x)
        for y in b:
            if len(y - x) <= room:
                out.add(x | y)
    return _minimise(out)


class CutSets:
    """Minimal cut sets of order <= ``k`` of coherent success formulas,
    bottom-up over the gates (MOCUS-style, truncated at ``k``, which is exact
    for coherent trees: a product's order never shrinks). Families of shared
    sub-formulas (a node, a path, a quorum vote) are computed once for all
    services built by the same :class:`Builder`."""

    def __init__(self, k: int):
        self.k = k
        self._memo: dict[int, Family] = {}
        self._keep: list[Formula] = []

    def failures(self, f: Formula) -> Family:
        """Minimal sets of failed components (size <= k) that falsify ``f``."""
        key = id(f)
        if key in self._memo:
            return self._memo[key]
        t = f[0]
        if t == "T":
            r: Family = frozenset()
        elif t == "F":
            r = frozenset([frozenset()])
        elif t == "var":
            r = frozenset([frozenset([f[1]])]) if self.k >= 1 else frozenset()
        elif t == "and":  # fails when any operand fails
            r = _minimise(s for x in f[1] for s in self.failures(x))
        elif t == "or":  # fails when every operand fails
            r = frozenset([frozenset()])
            for x in f[1]:
                r = _product(r, self.failures(x), self.k)
                if not r:
                    break
        elif t == "atleast":  # fails when more than n - k operands fail
            need = len(f[2]) - f[1] + 1
            at: list[Family] = [frozenset([frozenset()])] + [frozenset()] * need
            for x in f[2]:
                fx = self.failures(x)
                for j in range(need, 0, -1):
                    at[j] = _minimise([*at[j], *_product(at[j - 1], fx, self.k)])
            r = at[need]
        else:
            raise ValueError("minimal cut sets need a coherent tree (no NOT gate)")
        self._memo[key] = r
        self._keep.append(f)
        return r


def tree_cut_sets(v: ModelView, k: int, services: Iterable[str] | None = None) -> dict[str, list[tuple[str, ...]]]:
    """Minimal cut sets of order <= ``k`` per service from the fault trees
    (coherent trees only; sorted as :func:`hamodel.analysis.failures.cut_sets`)."""
    from hamodel.analysis.components import set_key, sort_set

    b = Builder(v)
    cs = CutSets(k)
    names = services if services is not None else [s for s in sorted(v.services) if v.analysed(s)]
    out = {}
    for s in names:
        fam = cs.failures(b.up(s))
        out[s] = sorted((sort_set(x) for x in fam), key=set_key)
    return out
