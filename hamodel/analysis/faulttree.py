"""Each service's structure function as a static fault tree.

The tree is the rules of :mod:`hamodel.analysis.rules` (stated once) built
as Boolean gates (:mod:`hamodel.analysis.formula`), so that an independent
tool (SCRAM, through :mod:`hamodel.generators.opsa`) can check hamodel's
cut sets and availability, and this module's own bottom-up cut-set engine
can check the Z3 enumeration.

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
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import combinations, pairwise

from hamodel.analysis.components import ModelView
from hamodel.analysis.formula import (
    FALSE,
    TRUE,
    Formula,
    and_,
    atleast,
    coherent,
    not_,
    or_,
    var,
    variables,
)
from hamodel.analysis.formula import holds as holds  # re-exported: faulttree.holds evaluates a tree
from hamodel.analysis.rules import Algebra, Rules

MAX_PATHS = 512


class Gates(Algebra[Formula]):
    """Fault-tree gates (success logic)."""

    TRUE, FALSE = TRUE, FALSE

    def __init__(self) -> None:
        self._hops_memo: dict[str, dict[frozenset[str], Formula]] = {}
        self._conn: dict[tuple[str, str, str], Formula] = {}

    def alive(self, cid: str) -> Formula:
        return var(cid)

    def and_(self, xs: Iterable[Formula]) -> Formula:
        return and_(xs)

    def or_(self, xs: Iterable[Formula]) -> Formula:
        return or_(xs)

    def at_least(self, k: int, xs: Iterable[Formula]) -> Formula:
        return atleast(k, xs)

    def not_(self, x: Formula) -> Formula:
        return not_(x)

    def _hops(self, rules: Rules[Formula], net: str) -> dict[frozenset[str], Formula]:
        """Per pair of adjacent switches: some parallel link between them up."""
        if net not in self._hops_memo:
            hops: dict[frozenset[str], list[Formula]] = {}
            for a, b, cid in rules.v.net_links[net]:
                if a != b:
                    hops.setdefault(frozenset((a, b)), []).append(rules.alive(cid))
            self._hops_memo[net] = {p: or_(xs) for p, xs in hops.items()}
        return self._hops_memo[net]

    def connected(self, rules: Rules[Formula], net: str, a: str, b: str) -> Formula:
        """Switches ``a`` and ``b`` of ``net`` joined by up switches and links:
        the OR over every simple path of the AND of its switches and hops
        (layered reachability past :data:`MAX_PATHS` paths; exact too)."""
        if a == b:
            return rules.switch_up(a)
        a, b = sorted((a, b))
        key = (net, a, b)
        if key not in self._conn:
            self._conn[key] = self._simple_paths(rules, net, a, b)
        return self._conn[key]

    def _simple_paths(self, rules: Rules[Formula], net: str, a: str, b: str) -> Formula:
        hops = self._hops(rules, net)
        adj: dict[str, list[str]] = {s: [] for s in rules.v.net_switches[net]}
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
                    return self._layered(rules, a, b, hops, adj)
                continue
            for y in adj[x]:
                if y not in path:
                    stack.append((y, path + [y]))
        return or_(and_([*(rules.switch_up(s) for s in p), *(hops[frozenset(e)] for e in pairwise(p))]) for p in paths)

    @staticmethod
    def _layered(rules: Rules[Formula], a: str, b: str, hops: dict, adj: dict) -> Formula:
        """Exact reachability by rounds: r_i(x) = r_{i-1}(x) OR some
        neighbour y with r_{i-1}(y), the hop and x up."""
        cur = {x: (rules.switch_up(a) if x == a else FALSE) for x in adj}
        for _ in range(len(adj) - 1):
            cur = {
                x: or_(
                    [
                        cur[x],
                        *(
                            and_([cur[y], hops[frozenset((x, y))], rules.switch_up(x)])
                            for y in adj[x]
                            if cur[y] != FALSE
                        ),
                    ]
                )
                for x in adj
            }
        return cur[b]


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


class Builder(Rules[Formula]):
    """Success formulas for one :class:`ModelView`, memoised per fact."""

    def __init__(self, v: ModelView):
        super().__init__(v, Gates())

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

    def size(self) -> int:  # not count(): tuple's count(value) is another method
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
    return out[len(kept or ()) :]


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
            _check(r.size(), cap)
            if not r:
                break
        return r
    at: list[Family] = [_ALWAYS] + [_NEVER] * need
    for fx in ops:
        for j in range(need, 0, -1):
            if at[j - 1]:
                at[j] = _union([at[j], _product(at[j - 1], fx, k, cap)])
                _check(at[j].size(), cap)
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
                _check(fam.size(), self.cap)
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
