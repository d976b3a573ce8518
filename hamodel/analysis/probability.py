"""Exact failure probabilities from the fault trees, by binary decision diagram.

Every service's success formula (:func:`hamodel.analysis.faulttree.trees`)
is turned into a reduced ordered BDD with ``oxidd`` (a maintained BDD
library, Rust core); ``P(service down)`` is then one pass over the
diagram's nodes, and every Birnbaum measure ``dU/dq_c`` one more pass. The
cost is the size of the diagram, not the number of minimal cut sets: a
majority quorum over 41 nodes has some 10^11 minimal cut sets and a
diagram of a few thousand nodes (the Shannon expansion over cut sets,
:func:`hamodel.analysis.availability.unavailability`, took minutes from
9 nodes on).

The result is exact for independent components (no rare-event or cut-set
approximation, non-coherent trees included); only floating-point rounding
remains. Sums run over non-negative terms only (``P(down)`` is read from
the *failure* branches), so small unavailabilities keep their precision.

The variable order decides the diagram's size. Components shared by
several nodes (racks, switches, inter-switch links) come before the
first node that uses them; each node's own components (the node and its
processes, a domain or switch only it uses) stay together; nodes that
share the same domains and switches are adjacent. Quorums then read as
counters over consecutive node groups, which BDDs represent compactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from hamodel.analysis.components import ModelView, component_kind
from hamodel.analysis.faulttree import Formula, trees

if TYPE_CHECKING:
    from oxidd.bdd import BDDFunction

_START_NODES = 1 << 20  # oxidd preallocates; grown on demand up to _MAX_NODES
_MAX_NODES = 1 << 25


class DiagramTooLarge(Exception):
    """The BDD outgrew ``_MAX_NODES`` (the caller falls back to cut sets)."""


def _owners(v: ModelView) -> dict[str, set[str]]:
    """Per component, the nodes whose up-ness it is part of."""
    own: dict[str, set[str]] = {}
    for n in v.node_domains:
        used = [f"node:{n}", *v.node_domains[n], *(d for feed in v.node_feeds.get(n, ()) for d in feed)]
        for sws in v.ports.get(n, {}).values():
            for s in sws:
                used += [f"switch:{s}", *v.switch_domains.get(s, ())]
        for c in used:
            own.setdefault(c, set()).add(n)
    return own


def _first_seen(formulas: Iterable[Formula]) -> list[str]:
    """Components in depth-first order of first appearance (iterative, shared sub-formulas once)."""
    seen: dict[str, None] = {}
    done: set[int] = set()
    stack = list(reversed(list(formulas)))
    while stack:
        f = stack.pop()
        if id(f) in done:
            continue
        done.add(id(f))
        t = f[0]
        if t == "var":
            seen.setdefault(f[1], None)
        elif t in ("and", "or"):
            stack.extend(reversed(f[1]))
        elif t == "atleast":
            stack.extend(reversed(f[2]))
        elif t == "not":
            stack.append(f[1])
    return list(seen)


def variable_order(v: ModelView, formulas: Iterable[Formula]) -> list[str]:
    """The BDD variable order for ``formulas`` (see the module docs)."""
    comps = _first_seen(formulas)
    owners = _owners(v)
    pos = {c: i for i, c in enumerate(comps)}

    def home(c: str) -> str | None:  # the one node that owns c, if any
        if component_kind(c) == "proc":
            return c.rsplit("@", 1)[1]
        users = owners.get(c, set())
        return next(iter(users)) if len(users) == 1 else None

    groups: dict[str, list[str]] = {}
    shared: list[str] = []
    for c in comps:
        h = home(c)
        if h is None:
            shared.append(c)
        else:
            groups.setdefault(h, []).append(c)
    shared_set = set(shared)
    signature = {n: tuple(sorted(c for c in shared_set if n in owners.get(c, ()))) for n in groups}
    nodes = sorted(groups, key=lambda n: (signature[n], min(pos[c] for c in groups[n])))
    order: list[str] = [c for c in shared if not owners.get(c)]  # links, trunks: used by no node directly
    placed = set(order)
    for n in nodes:
        for c in signature[n]:
            if c not in placed:
                placed.add(c)
                order.append(c)
        order.extend(groups[n])
    order += [c for c in shared if c not in placed and c not in order]
    return order


class _Budget(Exception):
    pass


class Diagrams:
    """BDDs of the analysed services' success formulas over one :class:`ModelView`."""

    def __init__(self, v: ModelView, services: Iterable[str] | None = None):
        self.v = v
        names = None if services is None else sorted(services)  # one order, however the caller lists them
        self.formulas = {s: t.up for s, t in sorted(trees(v, names).items())}
        self.order = variable_order(v, self.formulas.values())
        capacity = _START_NODES
        while True:
            try:
                self._build(capacity)
                return
            except MemoryError:
                if capacity >= _MAX_NODES:
                    raise DiagramTooLarge(f"more than {_MAX_NODES} BDD nodes") from None
                capacity *= 4

    def _build(self, capacity: int) -> None:
        import oxidd.bdd
        from oxidd.util import DDMemoryError

        m = oxidd.bdd.BDDManager(capacity, min(capacity, 1 << 22), 1)
        self._manager = m
        first = m.add_vars(len(self.order)).start
        self._vars = {c: m.var(first + i) for i, c in enumerate(self.order)}
        self._level_var = {first + i: c for i, c in enumerate(self.order)}
        T, F = m.true(), m.false()
        memo: dict[int, BDDFunction] = {}

        def conv(f: Formula) -> BDDFunction:
            r = memo.get(id(f))
            if r is not None:
                return r
            t = f[0]
            if t == "var":
                r = self._vars[f[1]]
            elif t == "T":
                r = T
            elif t == "F":
                r = F
            elif t == "not":
                r = ~conv(f[1])
            elif t == "and":
                r = T
                for x in f[1]:
                    r = r & conv(x)
            elif t == "or":
                r = F
                for x in f[1]:
                    r = r | conv(x)
            elif t == "atleast":
                k, xs = f[1], [conv(x) for x in f[2]]
                row = [T] + [F] * k  # row[j]: at least j of xs[i:] hold
                for x in reversed(xs):
                    row = [T] + [x.ite(row[j - 1], row[j]) for j in range(1, k + 1)]
                r = row[k]
            else:  # pragma: no cover - the formula grammar is closed
                raise ValueError(f"unknown gate {t!r}")
            memo[id(f)] = r
            return r

        try:
            self.diagrams = {s: conv(f) for s, f in self.formulas.items()}
        except DDMemoryError as exc:
            raise MemoryError(str(exc)) from None
        self._true, self._false = T, F

    def nodes(self, s: str) -> int:
        """Inner nodes of ``s``'s diagram."""
        return self.diagrams[s].node_count() - 2 if self.diagrams[s].node_level() is not None else 0

    def _walk(self, s: str, q: Mapping[str, float]):
        """Bottom-up ``P(down)`` per node (``down[node]``), and the nodes parents-first."""
        root = self.diagrams[s]
        down: dict = {self._true: 0.0, self._false: 1.0}
        info: dict = {}
        order: list = []
        stack = [(root, False)]
        while stack:
            u, expanded = stack.pop()
            if u in down:
                continue
            if expanded:
                c, hi, lo = info[u]
                p = q.get(c, 0.0)
                down[u] = (1.0 - p) * down[hi] + p * down[lo]
                order.append(u)
                continue
            cofactors, level = u.cofactors(), u.node_level()
            assert cofactors is not None and level is not None  # an inner node: the terminals are in down
            hi, lo = cofactors
            info[u] = (self._level_var[level], hi, lo)
            stack.append((u, True))
            stack.append((hi, False))
            stack.append((lo, False))
        order.reverse()
        return down, info, order

    def unavailability(self, s: str, q: Mapping[str, float]) -> float:
        """Exact ``P(s down)``; component ``c`` fails with ``q[c]`` (absent: never)."""
        down, _, _ = self._walk(s, q)
        return down[self.diagrams[s]]

    def birnbaum(self, s: str, q: Mapping[str, float]) -> tuple[float, dict[str, float]]:
        """``U`` and every ``dU/dq_c``: the probability of reaching each node
        (top-down) times ``P(down | c failed) - P(down | c up)`` there, summed over
        the nodes deciding ``c`` (``U`` is multilinear, each path decides ``c`` once)."""
        down, info, order = self._walk(s, q)
        root = self.diagrams[s]
        reach = {root: 1.0}
        grad: dict[str, float] = {}
        for u in order:
            r = reach.get(u, 0.0)
            c, hi, lo = info[u]
            p = q.get(c, 0.0)
            grad[c] = grad.get(c, 0.0) + r * (down[lo] - down[hi])
            reach[hi] = reach.get(hi, 0.0) + r * (1.0 - p)
            reach[lo] = reach.get(lo, 0.0) + r * p
        return down[root], grad

    def count_cut_sets(self, s: str, budget: int = 500_000) -> int | None:
        """The number of minimal cut sets of ``s`` (its formula must be coherent), or
        None when more than ``budget`` sub-problems would be needed.

        Rauzy's decomposition of minimal solutions, counted instead of built: with
        ``y`` the top component (failed), ``g = y g1 + g0`` the failure function and
        ``C(a, b)`` the number of minimal solutions of ``a`` that are not solutions of
        ``b``, ``C(a, b) = C(a0, b0) + C(a1, a0 | b1)`` (a set without ``y`` is minimal
        for ``a0``; with ``y``, its rest is minimal for ``a1`` and no solution of
        ``a0``). Here on the success functions (``a = not fa``, failed = not up)."""
        T, F = self._true, self._false
        memo: dict = {}
        levels = self._level_var

        def cof(u, level):
            if u.node_level() == level:
                return u.cofactors()  # (up, failed)
            return u, u

        def c(fa, fb) -> int:
            if fa == T or fb == F:
                return 0
            if fa == F:
                return 1
            key = (fa, fb)
            r = memo.get(key)
            if r is not None:
                return r
            if len(memo) >= budget:
                raise _Budget
            la, lb = fa.node_level(), fb.node_level()
            level = la if lb is None or (la is not None and la <= lb) else lb
            a_up, a_failed = cof(fa, level)
            b_up, b_failed = cof(fb, level)
            r = c(a_up, b_up) + c(a_failed, a_up & b_failed)
            memo[key] = r
            return r

        import sys

        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, 3 * len(levels) + 1000))
        try:
            return c(self.diagrams[s], T)
        except _Budget:
            return None
        finally:
            sys.setrecursionlimit(old)

    def support(self, s: str) -> set[str]:
        """Components ``s``'s formula mentions."""
        return set(_first_seen([self.formulas[s]]))
