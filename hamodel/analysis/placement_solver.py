"""The Z3 side of placement: cells, encoding, filling, cuts and unsat cores.

Two levels (``benchmarks/bench_placement.py`` measured why):

1. **Cells.** Nodes are grouped into cells. Small models use *classes* of
   interchangeable nodes (same roles, failure domains, capacity, pins,
   exclusions and previous services); large ones use one cell per set of
   failure domains (e.g. a rack), which is what domain constraints talk
   about. Z3 chooses how many instances of each service each cell holds:
   order-encoded counts ``b[s, c, j]`` ("at least j instances of s in cell
   c"), with cardinality (AtMost/PbEq) and pseudo-Boolean (capacity)
   constraints, solved by the SAT core with ``sat.cardinality.solver``.
   Terms are built with the C API directly: building them through the
   Python wrappers cost more than solving.
2. **Fill.** Each cell is filled independently (greedy, then an exact Z3
   solve of that cell alone). A cell that cannot hold its counts is cut
   off ("not this many of each, or more") and level 1 re-solved, so the
   result is exact.

Every level-1 constraint belongs to a *statement* of the model (a service's
replica count, its anti-affinity, a pin, a node's capacity, ...). For an
explanation the encoding is rebuilt with one tracking literal per statement
and the unsat core, minimised by deletion, is rendered in words.

Limits are deterministic, never wall-clock: every Z3 check runs under a
resource limit (``rlimit``, counted in solver steps), so the same model
gets the same answer on an idle or a loaded machine. A preference (kept
instances, balance) that hits its limit is dropped; a hard question that
hits it raises :class:`Undecided` -- never "unplaceable". Interchangeable
services (same candidates, count, requests, ports and limits, no pins,
co-location or previous nodes) are ordered lexicographically, and so are
interchangeable nodes inside a fill: without that symmetry breaking a
pigeonhole conflict (18 one-CPU services on three 6.5-CPU nodes) costs
the SAT core exponential time.
"""

from __future__ import annotations

import ctypes
import math
from collections import defaultdict
from collections.abc import Iterable

import z3

from hamodel.analysis import placement_problem as P
from hamodel.analysis import placement_statements as st
from hamodel.analysis.placement_greedy import greedy
from hamodel.analysis.placement_problem import (  # noqa: F401 (re-exported: the solver's callers name them here)
    FINE_LIMIT,
    MAX_CELLS,
    Cell,
    Problem,
    Svc,
    build_problem,
    res,
)
from hamodel.errors import HamodelError
from hamodel.ordering import natural_key

SCALE = P.SCALE  # resources are compared as integers in thousandths
SEED = 0
# Deterministic budgets in Z3 resource units ("rlimit", solver steps, not
# time), a base plus a share per Boolean variable: the largest benchmark
# model (150 racks, 1500 nodes, 4500 instances, 18,008 level-1 bits) used
# 2.1 M units in its preference check, under a quarter of its budget. A
# hard check that exhausts its budget makes the answer "undecided"; a
# preference check (kept instances, balance) that exhausts its budget
# drops the preference; an explanation keeps a statement it could not
# show to be redundant.
HARD_RLIMIT = (2_000_000, 5_000)  # (base, per variable)
PREF_RLIMIT = (200_000, 500)
CORE_RLIMIT = (200_000, 200)  # per check while minimising an explanation
MAX_ROUNDS = 1000  # level-1 / fill rounds before the answer is "undecided"


def budget(kind: tuple[int, int], variables: int) -> int:
    """The rlimit for a check of ``variables`` Boolean variables."""
    base, per = kind
    return base + per * variables


BALANCE = 0.8  # preferred share of a cell's capacity at level 1

_configured = False


def configure() -> None:
    """Solver parameters: cardinality solver on, fixed seeds (determinism)."""
    global _configured
    if not _configured:
        z3.set_param("sat.cardinality.solver", True)
        z3.set_param("sat.random_seed", SEED)
        z3.set_param("smt.random_seed", SEED)
        _configured = True


class Undecided(HamodelError):
    """Placement reached a deterministic search limit: neither placeable nor proven unplaceable."""

    def __init__(self, what: str):
        super().__init__(
            f"placement undecided: {what} reached its limit (a fixed budget of solver steps "
            "or rounds, the same on any machine); the model is neither placed nor proven "
            "unplaceable. Please report this model."
        )


class LimitHit(Exception):
    """One check exhausted its resource limit (internal; callers decide what it means)."""


def check(solver: z3.Solver, assumptions=(), rlimit: int = budget(HARD_RLIMIT, 0)) -> bool:
    """``solver.check`` under a deterministic limit: True (sat) or False (unsat).

    Z3 catches SIGINT itself during a check and returns ``unknown``: that
    is re-raised as :class:`KeyboardInterrupt`, so an interrupt never
    reads as "unsatisfiable". An exhausted limit raises :class:`LimitHit`.
    """
    from hamodel.interrupts import solving, was_interrupted

    solver.set("rlimit", rlimit)
    with solving(solver.ctx) as run:
        r = solver.check(*assumptions)
    if r == z3.sat:
        return True
    if r == z3.unsat:
        return False
    reason = solver.reason_unknown()
    if was_interrupted(reason, run):
        raise KeyboardInterrupt
    raise LimitHit(reason)


# ---------------------------------------------------------------------------
# Level 1: counts per (service, cell)


class Encoding:
    """Order-encoded instance counts per (service, cell), optionally tracked."""

    def __init__(self, pr: Problem, track: bool = False, cuts: Iterable[tuple[int, dict[str, int]]] = ()):
        configure()
        self.pr = pr
        self.track = track
        # A fresh context per solve: term ids (and so the SAT variable order)
        # then depend only on this model, never on what ran before.
        self.ctx = z3.Context()
        self.ref = self.ctx.ref()
        self.bool_sort = z3.BoolSort(self.ctx).ast
        self.solver = z3.SolverFor("QF_FD", ctx=self.ctx)
        self.solver.set("random_seed", SEED)
        self.bits: dict[tuple[str, int], list[z3.BoolRef]] = {}
        self.bit_key: dict[str, tuple[str, int]] = {}
        self.literals: dict[st.Statement, z3.BoolRef] = {}
        self.statements: dict[str, st.Statement] = {}
        self._keep: list = []
        self.balanced = self.var("balanced")
        self._build()
        for ci, counts in cuts:
            self.cut(ci, counts)
        self._break_symmetry()

    # -- raw term builders (the Python wrappers are the bottleneck) --------

    def var(self, name: str) -> z3.BoolRef:
        return z3.BoolRef(z3.Z3_mk_const(self.ref, z3.to_symbol(name, self.ctx), self.bool_sort), self.ctx)

    def _arr(self, lits: list[z3.BoolRef]):
        return (z3.Ast * len(lits))(*[x.as_ast() for x in lits])

    def atmost(self, lits: list[z3.BoolRef], k: int) -> z3.BoolRef:
        return z3.BoolRef(z3.Z3_mk_atmost(self.ref, len(lits), self._arr(lits), k), self.ctx)

    def pb(self, lits: list[z3.BoolRef], coeffs: list[int], k: int, eq: bool = False) -> z3.BoolRef:
        mk = z3.Z3_mk_pbeq if eq else z3.Z3_mk_pble
        c = (ctypes.c_int * len(coeffs))(*coeffs)
        return z3.BoolRef(mk(self.ref, len(lits), self._arr(lits), c, k), self.ctx)

    def implies(self, a: z3.BoolRef, b: z3.BoolRef) -> z3.BoolRef:
        return z3.BoolRef(z3.Z3_mk_implies(self.ref, a.as_ast(), b.as_ast()), self.ctx)

    def conj(self, lits: list[z3.BoolRef]) -> z3.BoolRef:
        if not lits:
            return z3.BoolVal(True, self.ctx)
        return z3.BoolRef(z3.Z3_mk_and(self.ref, len(lits), self._arr(lits)), self.ctx)

    def disj(self, lits: list[z3.BoolRef]) -> z3.BoolRef:
        if not lits:
            return z3.BoolVal(False, self.ctx)
        return z3.BoolRef(z3.Z3_mk_or(self.ref, len(lits), self._arr(lits)), self.ctx)

    def neg(self, a: z3.BoolRef) -> z3.BoolRef:
        return z3.BoolRef(z3.Z3_mk_not(self.ref, a.as_ast()), self.ctx)

    def assert_raw(self, e: z3.BoolRef) -> None:
        z3.Z3_solver_assert(self.ref, self.solver.solver, e.as_ast())

    def lit(self, stmt: st.Statement) -> z3.BoolRef:
        if stmt not in self.literals:
            name = f"stmt!{len(self.literals)}"
            self.literals[stmt] = self.var(name)
            self.statements[name] = stmt
        return self.literals[stmt]

    def add(self, stmt: st.Statement, e: z3.BoolRef) -> None:
        self.assert_raw(self.implies(self.lit(stmt), e) if self.track else e)

    def terms(self, s: str, cells: Iterable[int]) -> list[z3.BoolRef]:
        return [b for ci in cells for b in self.bits.get((s, ci), ())]

    # -- the encoding ------------------------------------------------------

    def _build(self) -> None:
        pr = self.pr
        cells_by_kind: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for c in pr.cells:
            for d in c.domains:
                cells_by_kind[pr.domain_kind.get(d, "")][d].append(c.index)
        for sv in pr.services:
            for ci in pr.cells_of(sv.name):
                # domain limits as a bound on the count (tracked constraints say it again)
                ub = min(len(pr.cand_in[(sv.name, ci)]), sv.count) if self.track else pr.upper_bound(sv, ci)
                bs = []
                for j in range(1, ub + 1):
                    name = f"b!{sv.index}!{ci}!{j}"
                    b = self.var(name)
                    bs.append(b)
                    self.bit_key[name] = (sv.name, ci)
                self.bits[(sv.name, ci)] = bs
                for j in range(1, len(bs)):
                    self.assert_raw(self.implies(bs[j], bs[j - 1]))  # order encoding (structural)
        for sv in pr.services:
            s = sv.name
            cis = pr.cells_of(s)
            if sv.everywhere:
                full = all(len(self.bits[(s, ci)]) == len(pr.cand_in[(s, ci)]) for ci in cis)
                self.add(
                    st.Count(s),
                    self.conj([self.bits[(s, ci)][-1] for ci in cis if self.bits[(s, ci)]])
                    if full
                    else z3.BoolVal(False, self.ctx),
                )
            else:
                ts = self.terms(s, cis)
                self.add(
                    st.Count(s),
                    self.pb(ts, [1] * len(ts), sv.count, eq=True) if ts else z3.BoolVal(sv.count == 0, self.ctx),
                )
            if sv.quorum_too_small:
                self.add(st.Quorum(s), z3.BoolVal(False, self.ctx))
            cset = set(cis)
            for kind, m in sorted(sv.limits.items()):
                stmt = st.Anti(s, kind) if (kind == sv.anti and m == 1) else st.MaxPerDomain(s, kind)
                for _d, dcells in sorted(cells_by_kind.get(kind, {}).items()):
                    ts = self.terms(s, [ci for ci in dcells if ci in cset])
                    if len(ts) > m:
                        self.add(stmt, self.atmost(ts, m))
                if kind == sv.anti and m == 1 and kind in sv.max_per_domain and sv.max_per_domain[kind] > 1:
                    pass
            pinned_cells: dict[int, list[str]] = defaultdict(list)
            for p in sv.pins:
                pinned_cells[pr.cell_of[p]].append(p)
            for ci, ps in sorted(pinned_cells.items()):
                # pins to interchangeable nodes are one statement: "at least len(ps) here"
                bs = self.bits.get((s, ci), [])
                self.add(
                    st.Pin(s, ", ".join(ps)), bs[len(ps) - 1] if len(bs) >= len(ps) else z3.BoolVal(False, self.ctx)
                )
            for t in sv.colocate:
                for ci in cis:
                    tb = self.bits.get((t, ci), [])
                    for j, b in enumerate(self.bits[(s, ci)]):
                        self.add(st.Colocate(s, t), self.implies(b, tb[j]) if j < len(tb) else self.neg(b))
        # per cell: capacity (Hall-type sums over candidate subsets) and ports
        in_cell: dict[int, list[Svc]] = defaultdict(list)
        for sv in pr.services:
            for ci in pr.cells_of(sv.name):
                in_cell[ci].append(sv)
        for ci, svs in sorted(in_cell.items()):
            cand = {sv.name: frozenset(pr.cand_in[(sv.name, ci)]) for sv in svs}
            base = sorted(set(cand.values()), key=lambda f: (len(f), sorted(f)))
            # Hall-type conditions: every candidate set, pairwise unions and the whole cell
            subsets = set(base) | {frozenset(pr.cells[ci].nodes)}
            if len(base) <= 12:
                subsets |= {a | b for i, a in enumerate(base) for b in base[i + 1 :]}
            subsets_sorted = sorted(subsets, key=lambda f: (len(f), sorted(f, key=natural_key)))
            for r in range(2):
                for subset in subsets_sorted:
                    lits, coeffs = [], []
                    for sv in svs:
                        if sv.req[r] > 0 and cand[sv.name] <= subset:
                            for b in self.bits[(sv.name, ci)]:
                                lits.append(b)
                                coeffs.append(sv.req[r])
                    # a node's share is a sum of requests: with every request a
                    # multiple of g, only a multiple of g of its capacity is usable
                    g = math.gcd(*coeffs) if coeffs else 1
                    cap = sum(pr.node_cap[n][r] // g * g for n in subset)
                    if lits and sum(coeffs) > cap:
                        self.add(st.Capacity(ci, r, tuple(sorted(subset, key=natural_key))), self.pb(lits, coeffs, cap))
                    # a preference, not a constraint: leave headroom in every cell so
                    # that the fill rarely fails (dropped when it cannot hold)
                    soft_cap = int(cap * BALANCE)
                    if lits and not self.track and sum(coeffs) > soft_cap:
                        self.assert_raw(self.implies(self.balanced, self.pb(lits, coeffs, soft_cap)))
                for sv in svs:
                    if sv.req[r] == 0:
                        continue
                    fit = pr.fitting(pr.cand_in[(sv.name, ci)], r, sv.req[r])
                    bs = self.bits[(sv.name, ci)]
                    if fit < len(bs):
                        self.add(st.Capacity(ci, r, tuple(pr.cand_in[(sv.name, ci)])), self.neg(bs[fit]))
            users: dict[int, list[Svc]] = defaultdict(list)
            for sv in svs:
                for p in sorted(sv.ports):
                    users[p].append(sv)
            for p, us in sorted(users.items()):
                for i, a in enumerate(us):
                    for b in us[i + 1 :]:
                        room = len(cand[a.name] | cand[b.name])
                        ts = self.bits[(a.name, ci)] + self.bits[(b.name, ci)]
                        if len(ts) > room:
                            self.add(st.PortClash(a.name, b.name, p), self.atmost(ts, room))

    def lex_geq(self, a: list[z3.BoolRef], b: list[z3.BoolRef], tag: str, guard: z3.BoolRef | None = None) -> None:
        """``a >= b`` lexicographically (booleans, True > False), when ``guard`` holds.

        ``e_j`` ("equal so far") is only ever forced true, so the encoding
        adds no constraint beyond the order itself.
        """
        pre = [self.neg(guard)] if guard is not None else []
        for j, (x, y) in enumerate(zip(a, b)):
            self.assert_raw(self.disj(pre + [self.neg(y), x]))
            if j == len(a) - 1:
                break
            e = self.var(f"lex!{tag}!{j}")
            self.assert_raw(self.disj(pre + [self.neg(x), self.neg(y), e]))
            self.assert_raw(self.disj(pre + [x, y, e]))
            pre = [self.neg(e)]

    def _break_symmetry(self) -> None:
        """Order interchangeable services: counts per cell, lexicographically decreasing.

        With statements tracked (explanations), a pair is ordered only while
        every statement naming either service is active: the swap is then a
        symmetry of the active statements, so no core is smaller than the
        real conflict.
        """
        pr = self.pr
        for group in pr.sym_classes():
            for a, b in zip(group, group[1:]):
                ra = [x for ci in pr.cells_of(a.name) for x in self.bits.get((a.name, ci), ())]
                rb = [x for ci in pr.cells_of(b.name) for x in self.bits.get((b.name, ci), ())]
                if len(ra) != len(rb) or not ra:
                    continue
                guard = None
                if self.track:
                    names = {a.name, b.name}
                    mine = [lit for stmt, lit in self.literals.items() if names & stmt.services()]
                    guard = self.conj(mine)
                self.lex_geq(ra, rb, f"{a.index}!{b.index}", guard)

    def cut(self, ci: int, counts: dict[str, int]) -> None:
        """Cell ``ci`` cannot hold these counts, nor more of each."""
        e = self.disj([self.neg(self.bits[(s, ci)][n - 1]) for s, n in sorted(counts.items())])
        self.add(st.Fill(ci, tuple(sorted(counts.items()))), e)

    def counts(self) -> dict[tuple[str, int], int]:
        """Instances per (service, cell) in the current model."""
        m = self.solver.model()
        ref, mr = self.ref, m.model
        out: dict[tuple[str, int], int] = defaultdict(int)
        true = z3.Z3_L_TRUE
        for i in range(z3.Z3_model_get_num_consts(ref, mr)):
            d = z3.Z3_model_get_const_decl(ref, mr, i)
            v = z3.Z3_model_get_const_interp(ref, mr, d)
            if z3.Z3_get_bool_value(ref, v) == true:
                name = z3.Z3_get_symbol_string(ref, z3.Z3_get_decl_name(ref, d))
                key = self.bit_key.get(name)
                if key is not None:
                    out[key] += 1
        return dict(out)


# ---------------------------------------------------------------------------
# Level 2: fill each cell's nodes


def fill_cell(pr: Problem, ci: int, counts: dict[str, int]) -> dict[str, list[str]] | None:
    """Choose the nodes of cell ``ci`` for the given instance counts, or None."""
    got = _fill_greedy(pr, ci, counts)
    if got is None:
        got = _fill_exact(pr, ci, counts)
    return got


def _order(pr: Problem, ci: int, counts: dict[str, int]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []

    def visit(s: str) -> None:
        if s in seen:
            return
        seen.add(s)
        for t in pr.by_name[s].colocate:
            if t in counts:
                visit(t)
        out.append(s)

    def key(s: str) -> tuple:
        sv = pr.by_name[s]
        room = len(pr.cand_in[(s, ci)])
        return (not sv.everywhere, not sv.pins, room - counts[s], -(sv.req[0] + sv.req[1]), sv.index)

    for s in sorted(counts, key=key):
        visit(s)
    return out


def _small_conflict(pr: Problem, ci: int, counts: dict[str, int]) -> dict[str, int]:
    """A part of ``counts`` that cell ``ci`` cannot hold on its own, else all of it.

    A cut over one service (its pins against a rack limit inside a large
    cell, say) removes every count vector containing it at once, instead of
    one vector per round.
    """
    if len(counts) == 1:
        return counts
    for s in sorted(counts, key=lambda s: pr.by_name[s].index):
        group = {s, *pr.by_name[s].colocate}
        part = {x: n for x, n in counts.items() if x in group}
        if len(part) < len(counts) and fill_cell(pr, ci, part) is None:
            return part
    return counts


def _fill_greedy(pr: Problem, ci: int, counts: dict[str, int]) -> dict[str, list[str]] | None:
    nodes = pr.cells[ci].nodes
    pos = {n: i for i, n in enumerate(nodes)}
    load = {n: [0, 0] for n in nodes}
    ports: dict[str, set[int]] = {n: set() for n in nodes}
    hosts: dict[str, set[str]] = {n: set() for n in nodes}
    out: dict[str, list[str]] = {}
    for s in _order(pr, ci, counts):
        sv = pr.by_name[s]
        prev = pr.previous.get(s, set())
        in_dom: dict[str, int] = defaultdict(int)
        limited = (
            {
                n: [(d, sv.limits[pr.domain_kind[d]]) for d in pr.node_domains[n] if pr.domain_kind.get(d) in sv.limits]
                for n in pr.cand_in[(s, ci)]
            }
            if sv.limits
            else {}
        )
        ok = [
            n
            for n in pr.cand_in[(s, ci)]
            if all(t in hosts[n] for t in sv.colocate)
            and not ports[n] & sv.ports
            and load[n][0] + sv.req[0] <= pr.node_cap[n][0]
            and load[n][1] + sv.req[1] <= pr.node_cap[n][1]
        ]
        if len(ok) < counts[s]:
            return None
        pins = set(sv.pins)

        def pref(n: str) -> tuple:
            cap = pr.node_cap[n]
            used = max(load[n][0] / cap[0] if cap[0] else 0, load[n][1] / cap[1] if cap[1] else 0)
            return (n not in pins, n not in prev, round(used, 6), len(hosts[n]), pos[n])

        if sv.limits:
            chosen = []
            for n in sorted(ok, key=pref):
                if len(chosen) == counts[s]:
                    break
                if all(in_dom[d] < m for d, m in limited[n]):
                    chosen.append(n)
                    for d, _ in limited[n]:
                        in_dom[d] += 1
            if len(chosen) < counts[s]:
                return None
        else:
            chosen = sorted(ok, key=pref)[: counts[s]]
        if not pins <= set(chosen) and pins & set(nodes) and not {p for p in pins if p in pos} <= set(chosen):
            return None
        for n in chosen:
            load[n][0] += sv.req[0]
            load[n][1] += sv.req[1]
            ports[n] |= sv.ports
            hosts[n].add(s)
        out[s] = chosen
    return out


def _fill_exact(pr: Problem, ci: int, counts: dict[str, int]) -> dict[str, list[str]] | None:
    configure()
    nodes = pr.cells[ci].nodes
    ctx = z3.Context()
    sol = z3.SolverFor("QF_FD", ctx=ctx)
    sol.set("random_seed", SEED)
    x = {(s, n): z3.Bool(f"x!{s}!{n}", ctx) for s in counts for n in pr.cand_in[(s, ci)]}
    for s, k in counts.items():
        sv = pr.by_name[s]
        sol.add(z3.PbEq([(x[s, n], 1) for n in pr.cand_in[(s, ci)]], k))
        for p in sv.pins:
            if (s, p) in x:
                sol.add(x[s, p])
        per_dom: dict[str, list] = defaultdict(list)
        for n in pr.cand_in[(s, ci)]:
            for d in pr.node_domains[n]:
                if pr.domain_kind.get(d) in sv.limits:
                    per_dom[d].append(x[s, n])
        for d, xs in sorted(per_dom.items()):
            m = sv.limits[pr.domain_kind[d]]
            if len(xs) > m:
                sol.add(z3.AtMost(*xs, m))
        for t in sv.colocate:
            for n in pr.cand_in[(s, ci)]:
                sol.add(z3.Implies(x[s, n], x[t, n]) if (t, n) in x else z3.Not(x[s, n]))
    for n in nodes:
        here = [s for s in counts if (s, n) in x]
        for r in range(2):
            terms = [(x[s, n], pr.by_name[s].req[r]) for s in here if pr.by_name[s].req[r] > 0]
            if terms and sum(w for _, w in terms) > pr.node_cap[n][r]:
                sol.add(z3.PbLe(terms, pr.node_cap[n][r]))
        users: dict[int, list[str]] = defaultdict(list)
        for s in here:
            for p in pr.by_name[s].ports:
                users[p].append(s)
        for _p, ss in sorted(users.items()):
            if len(ss) > 1:
                sol.add(z3.AtMost(*[x[s, n] for s in ss], 1))
    _fill_symmetry(pr, ci, counts, x, sol, ctx)
    try:
        if not check(sol, rlimit=budget(HARD_RLIMIT, len(x))):
            return None
    except LimitHit:
        # "cannot hold" would be a guess: say that the search gave up
        raise Undecided(f"filling the nodes {', '.join(nodes[:8])}{', ...' if len(nodes) > 8 else ''}") from None
    m = sol.model()
    return {s: [n for n in pr.cand_in[(s, ci)] if z3.is_true(m.eval(x[s, n], model_completion=True))] for s in counts}


def _fill_symmetry(pr: Problem, ci: int, counts: dict[str, int], x: dict, sol: z3.Solver, ctx: z3.Context) -> None:
    """Lexicographic order on interchangeable services (rows) and nodes (columns).

    Both orders are lex-leader constraints for one variable order (service,
    then node), so together they keep at least one solution of every
    symmetry class. Nodes are interchangeable when they are in the same
    domains, have the same capacity and the same services may, or must, run
    on them.
    """
    nodes = pr.cells[ci].nodes
    order = sorted(counts, key=lambda s: pr.by_name[s].index)
    cand = {s: set(pr.cand_in[(s, ci)]) for s in order}
    pins = {s: set(pr.by_name[s].pins) for s in order}

    def lex(a: list, b: list, tag: str) -> None:
        pre: list = []
        for j, (u, v) in enumerate(zip(a, b)):
            sol.add(z3.Or(*pre, z3.Not(v), u))
            if j == len(a) - 1:
                break
            e = z3.Bool(f"lex!{tag}!{j}", ctx)
            sol.add(z3.Or(*pre, z3.Not(u), z3.Not(v), e))
            sol.add(z3.Or(*pre, u, v, e))
            pre = [z3.Not(e)]

    def row(s: str) -> list:
        return [x[s, n] if (s, n) in x else z3.BoolVal(False, ctx) for n in nodes]

    for group in pr.sym_classes():
        by_count: dict[int, list[str]] = defaultdict(list)
        for sv in group:
            if sv.name in counts:
                by_count[counts[sv.name]].append(sv.name)
        for here in by_count.values():
            for a, b in zip(here, here[1:]):
                lex(row(a), row(b), f"s!{a}!{b}")
    sig: dict[tuple, list[str]] = defaultdict(list)
    for n in nodes:
        key = (
            pr.node_domains[n],
            pr.node_cap[n],
            tuple(n in cand[s] for s in order),
            tuple(n in pins[s] for s in order),
        )
        sig[key].append(n)
    for same in sig.values():
        for a, b in zip(same, same[1:]):
            col = [[x[s, n] if (s, n) in x else z3.BoolVal(False, ctx) for s in order] for n in (a, b)]
            lex(col[0], col[1], f"n!{a}!{b}")


# ---------------------------------------------------------------------------
# Solving with preferences (stability) and explaining failures


class NoPlacement(Exception):
    """Level 1 is unsatisfiable; ``cuts`` are the fill cuts learnt so far."""

    def __init__(self, cuts: list[tuple[int, dict[str, int]]]):
        self.cuts = cuts


def solve(pr: Problem, max_rounds: int = MAX_ROUNDS) -> tuple[dict[str, list[str]], dict]:
    """service -> nodes, and statistics; raises :class:`NoPlacement` (a proof)
    or :class:`Undecided` (a limit reached).

    A large model (cells are failure-domain sets: more than ``FINE_LIMIT``
    level-1 bits) is first tried greedily (:mod:`placement_greedy`); the
    exact search below runs when that pass does not place everything.
    """
    if not pr.fine:
        got = greedy(pr)
        if got is not None:
            return got, {"cells": len(pr.cells), "fine": False, "bits": 0, "cuts": 0, "checks": 0, "greedy": True}
    enc = Encoding(pr)
    stats = {"cells": len(pr.cells), "fine": pr.fine, "bits": len(enc.bit_key), "cuts": 0, "checks": 0}
    # Prefer keeping previous instances: at least as many in each cell as before.
    prefs: list[z3.BoolRef] = []
    for sv in pr.services:
        before = pr.previous.get(sv.name)
        if not before:
            continue
        per: dict[int, int] = defaultdict(int)
        for n in before:
            per[pr.cell_of[n]] += 1
        for ci, k in sorted(per.items()):
            bs = enc.bits.get((sv.name, ci), [])
            prefs.extend(bs[:k])
    cuts: list[tuple[int, dict[str, int]]] = []
    # kept instances matter more than balance: the balance literal is the
    # last assumption, so it is the first dropped when they conflict
    active = list(prefs) + [enc.balanced]
    for _ in range(max_rounds):
        stats["checks"] += 1
        try:
            r = check(enc.solver, active, budget(PREF_RLIMIT if active else HARD_RLIMIT, len(enc.bit_key)))
        except LimitHit:
            if not active:
                raise Undecided("choosing how many instances each group of nodes runs") from None
            # A preference too costly to decide is dropped, never a reason for
            # "unplaceable": balance first (it is last), then every kept
            # instance at once. The next check runs on a fresh solver: what
            # the abandoned search learnt made the easy question slow (a
            # 100-service model: 9 s instead of 0.05 s).
            kept = [str(a) for a in active[:-1]] if active[-1] is enc.balanced else []
            enc = Encoding(pr, cuts=cuts)
            active = [enc.var(n) for n in kept]
            continue
        if not r:
            if not active:
                raise NoPlacement(cuts)
            core = {c.get_id() for c in enc.solver.unsat_core()}  # pyright: ignore[reportAttributeAccessIssue, reportOptionalMemberAccess]  (z3 is untyped: a core is BoolRefs)
            if not core:
                active = []
                continue
            # drop one kept instance of the core (the last, for determinism)
            drop = next(a for a in reversed(active) if a.get_id() in core)
            active.remove(drop)
            continue
        counts = enc.counts()
        per_cell: dict[int, dict[str, int]] = defaultdict(dict)
        for (s, ci), n in counts.items():
            per_cell[ci][s] = n
        result: dict[str, list[str]] = {sv.name: [] for sv in pr.services}
        failed = False
        for ci in sorted(per_cell):
            got = fill_cell(pr, ci, per_cell[ci])
            if got is None:
                bad = _small_conflict(pr, ci, per_cell[ci])
                enc.cut(ci, bad)
                cuts.append((ci, bad))
                stats["cuts"] += 1
                failed = True
                continue
            for s, ns in got.items():
                result[s].extend(ns)
        if not failed:
            stats["kept_preferences"] = len([a for a in active if a.get_id() != enc.balanced.get_id()])
            stats["balanced"] = any(a.get_id() == enc.balanced.get_id() for a in active)
            return {s: sorted(ns, key=natural_key) for s, ns in result.items()}, stats
    raise Undecided(f"placement after {max_rounds} rounds of counting and filling")


def unsat_core(pr: Problem, cuts: list[tuple[int, dict[str, int]]]) -> list[st.Statement] | None:
    """The smallest conflicting set of statements (deletion-minimised core)."""
    enc = Encoding(pr, track=True, cuts=cuts)
    lits = [enc.literals[k] for k in enc.literals]
    limit = budget(CORE_RLIMIT, len(enc.bit_key))
    try:
        if check(enc.solver, lits, limit):
            return None
    except LimitHit:
        return None
    core_ids = {c.get_id() for c in enc.solver.unsat_core()}  # pyright: ignore[reportAttributeAccessIssue, reportOptionalMemberAccess]  (z3 is untyped: a core is BoolRefs)
    core = [c for c in lits if c.get_id() in core_ids]
    i = 0
    while i < len(core):
        trial = core[:i] + core[i + 1 :]
        try:
            unsat = not check(enc.solver, trial, limit)
        except LimitHit:
            unsat = False  # not shown to be redundant: keep the statement (the core stays a conflict)
        if unsat:
            ids = {c.get_id() for c in enc.solver.unsat_core()}  # pyright: ignore[reportAttributeAccessIssue, reportOptionalMemberAccess]  (z3 is untyped: a core is BoolRefs)
            core = [c for c in trial if c.get_id() in ids]
        else:
            i += 1
    return [enc.statements[str(c)] for c in core]
