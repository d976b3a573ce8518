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

import gc
from contextlib import contextmanager
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
                if not v.pcmk_fencing or n == v.pcmk_winner:
                    return self.node_up(n)
                # Non-monotone: the loser of the race survives when the winner is down.
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
        # min_replicas: the writer also needs that many other ok members in reach.
        replicas = atleast(self.v.services[s].strategy.min_replicas,
                           [and_([self.inst_ok(s, x), self.reach(m, x)]) for x in self.v.instances[s] if x != m])
        return and_([self.inst_ok(s, m), or_(and_([self.in_quorum(c, x), self.reach(m, x)])
                                             for x in self.v.instances[c]), replicas])

    def served(self, s: str, targets: list[tuple[str, Formula]], h: str | None) -> Formula:
        if h is None:
            return or_(t for _, t in targets)
        return or_(and_([self.eligible(h, x), or_(and_([t, self.reach(x, b)]) for b, t in targets)])
                   for x in self.v.holders[h])

    # -- services -------------------------------------------------------------

    def local_up(self, s: str, via: str | None = None) -> Formula:
        v = self.v
        h = v.access_holder(s) if via is None else via
        st = v.services[s].strategy
        inst = v.instances[s]
        if isinstance(st, External):
            return TRUE
        if isinstance(st, (Vrrp, PacemakerVip)):
            return or_(self.eligible(s, h) for h in v.holders[s])
        if isinstance(st, BehindVip):
            return self.served(s, [(n, self.inst_ok(s, n)) for n in inst], h)
        if isinstance(st, AppCluster):
            ms = [(m, self.in_quorum(s, m)) for m in inst]
            return self.served(s, ms, h) if st.access is not None else or_(t for _, t in ms)
        if isinstance(st, Elected):
            ms = [(m, self.leader(s, m)) for m in inst]
            return self.served(s, ms, h) if st.access is not None else or_(t for _, t in ms)
        if isinstance(st, (Coordinated, Witness)):
            return or_(self.inst_ok(s, n) for n in inst)
        if isinstance(st, ActivePassive):
            if st.manager is None:
                return self.inst_ok(s, inst[0]) if inst else FALSE
            net = v.vip_network.get(s)  # with vips: the address follows it
            return or_(and_([self.inst_ok(s, n), self.pcmk_quorate(n)]
                            + ([self.port_up(n, net)] if net is not None else [])) for n in inst)
        if isinstance(st, Sharded):
            return and_(self.inst_ok(s, n) for n in inst) if inst else FALSE
        raise TypeError(f"unknown strategy {type(st).__name__}")

    def up(self, s: str, via: str | None = None) -> Formula:
        """``s`` fully available, its declared dependencies included, to clients
        that come through VIP holder ``via`` (default: its first front's); a
        dependency is reached through its internal front."""
        v = self.v
        h = v.access_holder(s) if via is None else via
        return self._m(("up", s, h), lambda: and_([self.local_up(s, h),
                                                   *(self.up(d, v.access_holder(d, s)) for d in v.dependencies(s))]))

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
#
# A cut set is a Python int, one bit per component (bit i: the i-th
# component of ``CutSets.names``; :func:`tree_cut_sets` uses
# ``ModelView.components``, which is sort_set order, so reading the bits
# upwards gives the sorted tuple). Union, subset test and order are single
# C-level operations (``x | y``, ``x & y == y``, ``x.bit_count()``) where
# frozensets of names cost an allocation and a hash per element.
#
# A family (the minimal cut sets of one gate) is a pair ``(singles, multi)``:
# the one-component sets as one mask (most sets on real models: a node, its
# rack, its zone) and the larger sets as a frozenset of ints. Any set
# meeting ``singles`` is absorbed by one test (``x & singles``).


class Family(tuple):
    """``(singles, multi)``: one-component cut sets as a mask, the others
    as a frozenset of bitsets (``{0}``: fails with nothing failed)."""

    __slots__ = ()

    def __new__(cls, singles: int, multi: frozenset[int]):
        return tuple.__new__(cls, (singles, multi))

    def __bool__(self) -> bool:
        return bool(self[0] or self[1])

    def sets(self) -> list[int]:
        return [*_bits(self[0]), *self[1]]

    def count(self) -> int:
        return self[0].bit_count() + len(self[1])


class TooMany(Exception):
    """A family outgrew the cap given to :class:`CutSets` (unbounded order
    only): the caller enumerates another way."""


def _check(n: int, cap: int | None) -> None:
    if cap is not None and n > cap:
        raise TooMany(n)


_NEVER = Family(0, frozenset())  # no cut set of order <= k
_ALWAYS = Family(0, frozenset([0]))  # fails with nothing failed


def _bits(x: int) -> list[int]:
    """The one-bit ints of ``x``, lowest first."""
    out = []
    while x:
        low = 1 << x.bit_length() - 1
        out.append(low)
        x ^= low
    out.reverse()
    return out


def _indices(x: int) -> list[int]:
    """The bit positions of ``x``, lowest first."""
    out = []
    while x:
        i = x.bit_length() - 1
        out.append(i)
        x ^= 1 << i
    out.reverse()
    return out


def _proper_subsets(x: int) -> Iterable[int]:
    """The subsets of ``x`` with 2 to |x| - 1 elements."""
    bs = _bits(x)
    for r in range(len(bs) - 2, 0, -1):  # r bits removed
        for c in combinations(bs, r):
            yield x ^ sum(c)


# Unbounded order: a product of more than cap * this many pairs is given up
# (TooMany) before it is formed.
_PAIRS_PER_SET = 50

# With at most this many candidate subsets to compare with, scanning them
# beats looking up every subset of a set (measured on the benchmark model).
_SCAN = 12


def _antichain(cands: list[int], kept: list[int] | None = None) -> list[int]:
    """The sets of ``cands`` (none of them a single component, none empty)
    neither containing another set of ``cands`` nor containing or equal to
    a set of ``kept`` (sets already known minimal)."""
    cands = sorted(set(cands), key=int.bit_count)
    out: list[int] = list(kept or ())
    lookup: set[int] | None = None
    if kept:  # a candidate equal to a kept set goes too
        lookup = set(kept)
        cands = [x for x in cands if x not in lookup]
    size, smaller = 0, 0  # out[:smaller]: the sets smaller than the current size
    for x in cands:
        n = x.bit_count()
        if n != size:
            size, smaller = n, len(out)
        if smaller:
            if smaller <= _SCAN:
                if any(x & y == y for y in out[:smaller]):
                    continue
            else:
                if lookup is None:
                    lookup = set(out)
                if any(s in lookup for s in _proper_subsets(x)):
                    continue
        out.append(x)
        if lookup is not None:
            lookup.add(x)
    return out[len(kept or ()):]


def _holds_one(x: int, f: Family) -> bool:
    """``x`` contains a cut set of ``f`` (``x`` has two or more components)."""
    singles, multi = f
    if x & singles:
        return True
    if len(multi) <= _SCAN:
        return any(x & y == y for y in multi)
    return x in multi or any(s in multi for s in _proper_subsets(x))


def _union(fams: list[Family]) -> Family:
    """Minimal sets of the union of families (an AND gate of the success
    formula fails when one operand does). Each family is an antichain
    already, so only sets of different operands can absorb each other."""
    fams = [f for f in fams if f]
    if not fams:
        return _NEVER
    if len(fams) == 1:
        return fams[0]
    if any(f[1] == _ALWAYS[1] for f in fams):
        return _ALWAYS
    singles = 0
    for f in fams:
        singles |= f[0]
    cands = [[x for x in f[1] if not x & singles] for f in fams]
    parts = [c for c in cands if c]
    if not parts:
        return Family(singles, frozenset())
    if len(parts) == 1:
        return Family(singles, frozenset(parts[0]))
    return Family(singles, frozenset(_antichain([x for c in parts for x in c])))


def _product(a: Family, b: Family, k: int, cap: int | None = None) -> Family:
    """Minimal sets of order <= k containing a set of ``a`` and one of ``b``.
    A set of one side that already contains a set of the other is such a
    set as it is (its products are its supersets): with operands sharing
    components (a rack, a switch) this skips most of the unions."""
    if not a or not b:
        return _NEVER
    if a[1] == _ALWAYS[1]:
        return b
    if b[1] == _ALWAYS[1]:
        return a
    (sa, ma), (sb, mb) = a, b
    both = sa & sb  # single components failing both sides
    # A set of a containing a set of b is minimal as it is, and so is
    # every other candidate below except a union of two sets: a smaller
    # candidate inside it would contain a set of a (or b) inside one of a
    # (or b), which antichains exclude. Only the unions are checked.
    kept: list[int] = []
    ra: list[int] = []
    for x in ma:
        (kept if _holds_one(x, b) else ra).append(x)
    rb: list[int] = []
    for y in mb:
        (kept if _holds_one(y, a) else rb).append(y)
    ea, eb = _bits(sa & ~sb), _bits(sb & ~sa)
    _check((len(ea) + len(ra)) * (len(eb) + len(rb)) // _PAIRS_PER_SET, cap)
    # A single of one side with a single of the other contains no other
    # candidate (no set of a contains a single of a, a set of b containing
    # one is kept above) and no candidate contains it: a minimal pair.
    if k >= 2:
        kept.extend([x | y for x in ea for y in eb])
    # A remaining set of one side contains no set of the other, singles
    # included: with a single its union is one larger, with a larger set
    # strictly larger than both (so sets of order k take no part).
    small_a = [x for x in ra if x.bit_count() < k]
    small_b = [y for y in rb if y.bit_count() < k]
    unions = [x | y for x in ea for y in small_b]
    unions.extend([x | y for x in small_a for y in eb])
    if small_a and small_b:
        unions.extend(_cross(small_a, small_b, k))
    if unions:
        kept.extend(_antichain(unions, kept))
    return Family(both, frozenset(kept))


def _cross(xs: list[int], ys: list[int], k: int) -> list[int]:
    """``x | y`` of order <= k for x in ``xs``, y in ``ys`` (sets of 2 to
    k - 1 components). Pairs too large to fit without sharing components
    are only looked for among the sets sharing one (an index by component),
    not over the whole cross product."""
    by_size: dict[int, list[int]] = {}
    for y in ys:
        by_size.setdefault(y.bit_count(), []).append(y)
    index: dict[int, dict[int, list[int]]] = {}  # size -> component bit -> sets
    out: list[int] = []
    for x in xs:
        sx = x.bit_count()
        for sy, group in by_size.items():
            if sx + sy <= k:
                out.extend(x | y for y in group)
                continue
            idx = index.get(sy)
            if idx is None:
                idx = index[sy] = {}
                for y in group:
                    for b in _bits(y):
                        idx.setdefault(b, []).append(y)
            seen = set()
            for b in _bits(x):
                for y in idx.get(b, ()):
                    if y not in seen:
                        seen.add(y)
                        z = x | y
                        if z.bit_count() <= k:
                            out.append(z)
    return out


def _fail_at_least(ops: list[Family], need: int, k: int, cap: int | None = None) -> Family:
    """Minimal sets of order <= k failing at least ``need`` of the operands
    whose minimal cut sets are ``ops`` (an OR gate of the success formula
    is need = all of them)."""
    always = sum(1 for f in ops if f[1] == _ALWAYS[1])
    if always:
        need -= always
        ops = [f for f in ops if f[1] != _ALWAYS[1]]
    if need <= 0:
        return _ALWAYS
    ops = [f for f in ops if f]  # operands that cannot fail (within order k) never help
    if need > len(ops):
        return _NEVER
    if not any(f[1] for f in ops):
        return _single_at_least([f[0] for f in ops], need, k, cap)
    if need == len(ops):
        r = _ALWAYS
        for f in sorted(ops, key=lambda f: f[0].bit_count() + len(f[1])):
            r = _product(r, f, k, cap)
            _check(r.count(), cap)
            if not r:
                break
        return r
    at: list[Family] = [_ALWAYS] + [_NEVER] * need
    for fx in ops:
        for j in range(need, 0, -1):
            if at[j - 1]:
                at[j] = _union([at[j], _product(at[j - 1], fx, k, cap)])
                _check(at[j].count(), cap)
    return at[need]


def _single_at_least(ops: list[int], need: int, k: int, cap: int | None = None) -> Family:
    """:func:`_fail_at_least` when every operand's cut sets are single
    components (``ops``: their masks): operand i fails iff one of its
    components fails. Components failing the same operands are
    interchangeable, so the search runs over the distinct masks of failed
    operands (a handful) and expands each minimal choice of masks into
    components only at the end: a minimal cut set takes at most one
    component per mask, every one of them needed (dropping it leaves fewer
    than ``need`` operands failed)."""
    cover: dict[int, int] = {}  # component bit -> mask of the operands it fails
    for i, f in enumerate(ops):
        for x in _bits(f):
            cover[x] = cover.get(x, 0) | 1 << i
    groups: dict[int, list[int]] = {}
    for x, m in cover.items():
        groups.setdefault(m, []).append(x)
    masks = sorted(groups)
    singles = 0
    multi: list[int] = []
    stack: list[tuple[int, int, tuple[int, ...]]] = [(0, 0, ())]
    steps = 0
    while stack:
        start, covered, chosen = stack.pop()
        steps += 1
        _check(steps // _PAIRS_PER_SET, cap)
        for j in range(start, len(masks)):
            m = masks[j]
            if not m & ~covered:
                continue  # fails no further operand: never needed
            c, ch = covered | m, (*chosen, m)
            if c.bit_count() < need:
                if len(ch) < k:
                    stack.append((j + 1, c, ch))
                continue
            if len(ch) == 1:
                singles |= sum(groups[m])
                continue
            if not all(_without(ch, i).bit_count() < need for i in range(len(ch))):
                continue
            sums = [0]
            for mm in ch:
                sums = [s + x for s in sums for x in groups[mm]]
            multi.extend(sums)
            _check(len(multi), cap)
    return Family(singles, frozenset(multi))


def _without(masks: tuple[int, ...], i: int) -> int:
    r = 0
    for j, m in enumerate(masks):
        if j != i:
            r |= m
    return r


class CutSets:
    """Minimal cut sets of order <= ``k`` of coherent success formulas,
    bottom-up over the gates (MOCUS-style, truncated at ``k``, which is exact
    for coherent trees: a product's order never shrinks).

    Gates are hash-consed: two formulas with the same operator and the same
    operands (as sets for AND/OR, as a multiset for k-of-n) share one family,
    so the node, path and vote sub-trees that many services repeat (built as
    separate tuples) are expanded once. ``components`` fixes the bit order
    (others get bits in the order first met).

    ``cap`` (for an unbounded order, where families can grow exponentially):
    a gate with more than ``cap`` minimal cut sets raises :class:`TooMany`,
    now and for every later formula containing it."""

    def __init__(self, k: int, components: Iterable[str] = (), cap: int | None = None):
        self.k = k
        self.cap = cap
        self._over: set[tuple] = set()
        self.names: list[str] = []
        self.bit: dict[str, int] = {}
        for c in components:
            self._bit_of(c)
        self._ids: dict[int, int] = {}  # id(formula) -> canonical gate number
        self._canon: dict[tuple, int] = {}
        self._fams: list[Family] = []
        self._keep: list[Formula] = []  # the formulas whose id() is a key
        self._rows: dict[int, tuple[int, list[int], tuple[str, ...]]] = {}  # set -> sort key, names

    def _bit_of(self, c: str) -> int:
        b = self.bit.get(c)
        if b is None:
            b = self.bit[c] = 1 << len(self.names)
            self.names.append(c)
        return b

    def _gate(self, f: Formula) -> int:
        """Canonical number of ``f`` (its family computed on first sight)."""
        g = self._ids.get(id(f))
        if g is not None:
            return g
        t = f[0]
        if t == "var":
            key: tuple = (t, f[1])
        elif t in ("and", "or"):
            key = (t, frozenset(self._gate(x) for x in f[1]))
        elif t == "atleast":
            key = (t, f[1], tuple(sorted(self._gate(x) for x in f[2])))
        elif t in ("T", "F"):
            key = (t,)
        else:
            raise ValueError("minimal cut sets need a coherent tree (no NOT gate)")
        g = self._canon.get(key)
        if g is None:
            if key in self._over:
                raise TooMany(key)
            try:
                fam = self._family(key)
                _check(fam.count(), self.cap)
            except TooMany:
                self._over.add(key)
                raise
            g = self._canon[key] = len(self._fams)
            self._fams.append(fam)
        self._ids[id(f)] = g
        self._keep.append(f)
        return g

    def _family(self, key: tuple) -> Family:
        t, k, fams = key[0], self.k, self._fams
        if t == "T":
            return _NEVER
        if t == "F":
            return _ALWAYS
        if t == "var":
            return Family(self._bit_of(key[1]), frozenset()) if k >= 1 else _NEVER
        if t == "and":  # fails when any operand fails
            return _union([fams[g] for g in key[1]])
        if t == "or":  # fails when every operand fails
            ops = [fams[g] for g in key[1]]
            return _fail_at_least(ops, len(ops), k, self.cap)
        # atleast m of n holds: fails when more than n - m operands fail
        ops = [fams[g] for g in key[2]]
        return _fail_at_least(ops, len(ops) - key[1] + 1, k, self.cap)

    def family(self, f: Formula) -> Family:
        """Minimal cut sets (bitsets) of order <= k that falsify ``f``."""
        return self._fams[self._gate(f)]

    def as_names(self, fam: Family) -> list[tuple[str, ...]]:
        """``fam`` as component-id tuples, smallest sets first, then in bit
        order (the order of ``components``)."""
        names, rows, cache = self.names, [], self._rows
        out = [(names[i],) for i in _indices(fam[0])]
        for x in fam[1]:
            r = cache.get(x)
            if r is None:  # a service repeats the sets of its dependencies: convert each once
                idx = _indices(x)
                r = cache[x] = (len(idx), idx, tuple([names[i] for i in idx]))
            rows.append(r)
        rows.sort()
        out.extend([r[2] for r in rows])
        return out

    def failures(self, f: Formula) -> frozenset[frozenset[str]]:
        """Minimal sets of failed components (size <= k) that falsify ``f``."""
        return frozenset(frozenset(x) for x in self.as_names(self.family(f)))


@contextmanager
def no_gc():
    """Automatic garbage collection off for the block. Building trees and
    families allocates hundreds of thousands of tuples and sets, none in a
    reference cycle, and each collection they trigger walks the caller's
    whole heap: a fifth of the enumeration time on the benchmark model."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def tree_cut_sets(v: ModelView, k: int, services: Iterable[str] | None = None) -> dict[str, list[tuple[str, ...]]]:
    """Minimal cut sets of order <= ``k`` per service from the fault trees
    (coherent trees only: ValueError on a NOT gate; sorted as
    :func:`hamodel.analysis.failures.cut_sets`, components in ``v.components``
    order, which is :func:`hamodel.analysis.components.sort_set` order)."""
    with no_gc():
        b = Builder(v)
        cs = CutSets(k, v.components)
        names = services if services is not None else [s for s in sorted(v.services) if v.analysed(s)]
        return {s: cs.as_names(cs.family(b.up(s))) for s in names}
