"""Minimal cut sets and split-brain scenarios, one query per service.

:meth:`Analyzer.cut_sets` reads minimal cut sets off the service's fault
tree (:mod:`hamodel.analysis.faulttree`, bottom-up over the gates) when the
tree is coherent, which every construct but a two-node Pacemaker cluster
with fencing gives; measured on the 1,000-service benchmark
(benchmarks/bench_analysis.py) it is an order of magnitude faster than
the Z3 enumeration below and gives the same sets (tests/integration/test_faulttree_fast.py).
Z3 enumerates the rest, finds split-brain sets and proves that no failure
set of size <= k exists (:meth:`Analyzer.counterexample`).

Each Z3 query is sliced to the components the service can depend on
(:meth:`ModelView.slice`), uses one Bool failure literal per component, an
``AtMost`` budget switched on by an assumption literal, and the ``QF_FD``
logic with ``sat.cardinality.solver`` (measured 18x faster than the default
solver on these pseudo-boolean problems). Sets are found smallest-first;
each found set is blocked (``Or(Not(x) for x in set)``), which also blocks
all its supersets, so every set reported is minimal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import z3

from hamodel.analysis.components import ModelView, set_key, sort_set
from hamodel.analysis.encoding import Encoder

if TYPE_CHECKING:
    from hamodel.analysis.faulttree import CutSets

CutSet = tuple[str, ...]


def configure() -> None:
    """Solver parameters for boolean + cardinality problems (idempotent)."""
    z3.set_param("sat.cardinality.solver", True)


def _solver() -> z3.Solver:
    configure()
    return z3.SolverFor("QF_FD")


def _sat(s: z3.Solver, *assumptions: z3.BoolRef) -> bool:
    """True (sat) or False (unsat), never "unknown" read as either.

    Z3 catches SIGINT during a check and answers ``unknown``: read as
    unsat, Ctrl-C would end an enumeration early and report a service
    as tolerating failures it does not. It is re-raised instead.
    """
    from hamodel.interrupts import solving, was_interrupted

    with solving(s.ctx) as run:
        r = s.check(*assumptions)
    if r == z3.unknown:
        reason = s.reason_unknown()
        if was_interrupted(reason, run):
            raise KeyboardInterrupt
        from hamodel.errors import HamodelError

        raise HamodelError(f"failure analysis undecided: the solver gave up ({reason})")
    return r == z3.sat


def _failed_in(m: z3.ModelRef, literals: dict[str, z3.BoolRef]) -> CutSet:
    """Literals true in ``m`` (unassigned ones are false: nothing failed).

    Uses the C API directly: wrapping every constant in a Python object
    dominated the enumeration time."""
    from z3 import z3core

    ctx, mod = m.ctx.ref(), m.model
    out = []
    for i in range(z3core.Z3_model_get_num_consts(ctx, mod)):
        d = z3core.Z3_model_get_const_decl(ctx, mod, i)
        if z3core.Z3_get_bool_value(ctx, z3core.Z3_model_get_const_interp(ctx, mod, d)) == z3.Z3_L_TRUE:
            name = z3core.Z3_get_symbol_string(ctx, z3core.Z3_get_decl_name(ctx, d))
            if name in literals:
                out.append(name)
    return sort_set(out)


def enumerate_minimal(
    target: z3.BoolRef, literals: dict[str, z3.BoolRef], k: int | None, limit: int | None = None
) -> tuple[list[CutSet], bool]:
    """Every minimal set of at most ``k`` failed literals satisfying
    ``target`` (``k=None``: all of them), smallest first.

    Returns ``(sets, complete)``; ``complete`` is False when ``limit`` cut
    the enumeration short. Minimality needs no monotonicity: a set is only
    reported at budget b once every smaller solution was reported and its
    supersets blocked.
    """
    if z3.is_false(target):
        return [], True
    names = sorted(literals)
    lits = [literals[c] for c in names]
    s = _solver()
    s.add(target)
    found: list[CutSet] = []
    top = len(lits) if k is None else min(k, len(lits))
    for b in range(0, top + 1):
        guard = z3.Bool(f"__budget_{b}")
        if lits:
            s.add(z3.Implies(guard, z3.AtMost(*lits, b)))
        batch: list[CutSet] = []
        while _sat(s, guard):
            cs = _failed_in(s.model(), literals)
            batch.append(cs)
            if not cs:  # down with no failure at all: every set is a superset
                return [cs], True
            s.add(z3.Or([z3.Not(literals[c]) for c in cs]))
            if limit is not None and len(found) + len(batch) >= limit:
                return sorted(found + batch, key=set_key), False
        found.extend(sorted(batch, key=set_key))
        if k is None and not _sat(s):
            break
    return found, True


def first_counterexample(target: z3.BoolRef, literals: dict[str, z3.BoolRef], k: int) -> CutSet | None:
    """One set of at most ``k`` failures satisfying ``target``, or None
    (a proof that none exists). Not necessarily minimal."""
    if z3.is_false(target):
        return None
    names = sorted(literals)
    lits = [literals[c] for c in names]
    s = _solver()
    s.add(target)
    if lits:
        s.add(z3.AtMost(*lits, k))
    if not _sat(s):
        return None
    return _failed_in(s.model(), literals)


class Analyzer:
    """Cut-set and split-brain queries on one :class:`ModelView`.

    Minimal cut sets come from the service's fault tree
    (:class:`hamodel.analysis.faulttree.CutSets`, bottom-up over the gates,
    shared between services) whenever the tree is coherent; Z3 enumerates
    them for non-coherent trees (a two-node Pacemaker cluster with fencing)
    and when an unbounded enumeration (``k=None``) grows past its limit.
    Proofs (:meth:`counterexample`) and split brain stay with Z3."""

    def __init__(self, v: ModelView):
        self.v = v
        self.enc = Encoder(v)
        self._cuts: dict[tuple[str, int | None], tuple[list[CutSet], bool]] = {}
        self._builder = None
        self._trees: dict[tuple[int | None, int | None], CutSets] = {}  # (k, cap) -> its families
        # Bounded orders: each service's tree gets its own CutSets, its bits
        # numbering only the components of that tree (in v.components order, so
        # as_names sorts as with the global numbering). A cut set is a Python int
        # as long as its highest bit: over the global numbering (17,000
        # components at 5,000 services) every pair took ~2 KB and every union
        # touched that many bytes, growing memory and time with the square of the
        # model. Gates shared between services are recomputed per service
        # (measured cheaper: 1.2 s against 2.9 s at 5,000 services, and no growth
        # of RSS instead of 180 MB). False: one CutSets over the global numbering
        # (the reference path, tests/integration/test_faulttree_fast.py).
        self.local = True
        self._pos: dict[str, int] | None = None

    def literals(self, s: str) -> dict[str, z3.BoolRef]:
        return {c: self.enc.failed(c) for c in sorted(self.v.slice(s))}

    def down(self, s: str) -> z3.BoolRef:
        return z3.Not(self.enc.up(s))  # pyright: ignore[reportReturnType]  (z3's Or/And/Not/AtLeast of BoolRefs is a BoolRef; untyped, inferred as also Probe)

    def cut_sets(self, s: str, k: int | None, limit: int | None = None) -> tuple[list[CutSet], bool]:
        """Minimal cut sets of ``s`` (size <= k; k=None: all), smallest
        first; ``(sets, complete)``, complete False when ``limit`` cut the
        enumeration short (as :func:`enumerate_minimal`)."""
        key = (s, k)
        if key not in self._cuts:
            r = self.tree_cut_sets(s, k, limit)
            self._cuts[key] = r if r is not None else self.z3_cut_sets(s, k, limit)
        return self._cuts[key]

    def z3_cut_sets(self, s: str, k: int | None, limit: int | None = None) -> tuple[list[CutSet], bool]:
        """:meth:`cut_sets` enumerated by Z3 (any tree, coherent or not)."""
        return enumerate_minimal(self.down(s), self.literals(s), k, limit)

    def tree_cut_sets(self, s: str, k: int | None, limit: int | None = None) -> tuple[list[CutSet], bool] | None:
        """:meth:`cut_sets` from the fault tree, or None where the tree
        cannot answer exactly as Z3 would: a non-coherent tree, or ``limit``
        sets or more (Z3 then reports the first ``limit`` it found)."""
        from hamodel.analysis.faulttree import no_gc

        with no_gc():
            return self._tree_cut_sets(s, k, limit)

    def _tree_cut_sets(self, s: str, k: int | None, limit: int | None) -> tuple[list[CutSet], bool] | None:
        from hamodel.analysis.faulttree import Builder, CutSets, TooMany, coherent

        if self._builder is None:
            self._builder = Builder(self.v)
        f = self._builder.up(s)
        if not coherent(f):
            return None
        cap = None if k is not None else limit  # bounded orders stay small; unbounded ones may explode
        if k is not None and self.local:
            cs = CutSets(k, self._local_order(f))
        else:
            cs = self._trees.get((k, cap))
            if cs is None:
                # k=None: no truncation (no set is larger than the component count).
                order = len(self.v.components) if k is None else k
                cs = self._trees[k, cap] = CutSets(order, self.v.components, cap=cap)
        try:
            fam = cs.family(f)
        except TooMany:
            return None
        if limit is not None and fam.size() >= limit:
            return None
        return cs.as_names(fam), True

    def _local_order(self, f) -> list[str]:
        """The components of ``f`` in ``v.components`` order: the bit numbering
        of one service's own :class:`CutSets` (see :attr:`local`)."""
        from hamodel.analysis.formula import variables

        if self._pos is None:
            self._pos = {c: i for i, c in enumerate(self.v.components)}
        return sorted(variables(f), key=self._pos.__getitem__)

    def read_cut_sets(self, s: str, k: int | None, limit: int | None = None) -> tuple[list[CutSet], bool]:
        """Minimal sets of at most ``k`` failures after which reads of ``s`` are
        not answered (see :meth:`hamodel.analysis.rules.Rules.read_up`)."""
        return enumerate_minimal(z3.Not(self.enc.read_up(s)), self.literals(s), k, limit)  # pyright: ignore[reportArgumentType]  (as above)

    def counterexample(self, s: str, k: int) -> CutSet | None:
        return first_counterexample(self.down(s), self.literals(s), k)

    def split_brain(self, s: str, k: int) -> list[CutSet]:
        """Minimal failure sets (size <= k) that leave two masters of ``s``."""
        return enumerate_minimal(self.enc.split_brain(s), self.literals(s), k)[0]


def brute_force_cut_sets(components: Iterable[str], k: int, is_cut: Callable[[frozenset[str]], bool]) -> list[CutSet]:
    """Reference enumeration (tests, benchmark): every minimal set of at most
    ``k`` of ``components`` for which ``is_cut`` holds, smallest first."""
    from itertools import combinations

    comps = sorted(components)
    found: list[frozenset[str]] = []
    for size in range(0, k + 1):
        for combo in combinations(comps, size):
            fs = frozenset(combo)
            if any(f <= fs for f in found):
                continue
            if is_cut(fs):
                found.append(fs)
        if frozenset() in found:
            break
    return sorted((sort_set(f) for f in found), key=set_key)
