"""Placement benchmark: hamodel's hierarchical Z3 encoding against the
straightforward alternatives, side by side on the same seeded instances.

    python benchmarks/bench_placement.py            # default sizes
    python benchmarks/bench_placement.py --sizes 10x100x300 100x1000x3000 --flat-max 1500
    python benchmarks/bench_placement.py --capacity  # small capacity-bound models (issue 17)

Columns: racks x nodes x instances, services; hamodel ``place()`` wall time
(model to verified Placement, including the pre-checks, fill and self
verification) and peak RSS of the process that ran it; the same instance
encoded one-hot for OR-Tools CP-SAT (bool per service x candidate node,
linear constraints, 2 workers as this machine has 2 cores) and flat for Z3
(bool per service x candidate node, PbEq/AtMost/PbLe, QF_FD with the
cardinality solver). Each run happens in a fresh forked process so peak
memory is per run. Every solution is checked with ``verify()``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hamodel.deployment import Placement
from hamodel.testing import capacity_bound, instance_total, synthetic

DEFAULT_SIZES = ["10x100x300", "30x300x900", "50x500x1500", "100x1000x3000", "150x1500x4500"]


def _flat_facts(arch):
    from hamodel.analysis import placement as P

    svcs = P._services(arch, None)
    node_cap = {n.name: (P._res(n.capacity.cpu, False), P._res(n.capacity.memory_gb, False)) for n in arch.nodes}
    kinds = {d.name: d.kind for d in arch.domains}
    doms = {n.name: list(arch.node_domains(n.name)) for n in arch.nodes}
    return svcs, node_cap, kinds, doms


def run_hamodel(arch):
    from hamodel.analysis.placement import Unplaceable, place

    try:
        return place(arch).placement
    except Unplaceable:
        return None  # a proof: the "no solution" of the other columns


def run_cpsat(arch, time_limit=300.0):
    from ortools.sat.python import cp_model

    svcs, node_cap, kinds, doms = _flat_facts(arch)
    m = cp_model.CpModel()
    x = {}
    for sv in svcs:
        for n in sv.cand:
            x[sv.name, n] = m.NewBoolVar(f"x_{sv.name}_{n}")
    for sv in svcs:
        xs = [x[sv.name, n] for n in sv.cand]
        if sv.everywhere:
            for v in xs:
                m.Add(v == 1)
        else:
            m.Add(sum(xs) == sv.count)
        for p in sv.pins:
            m.Add(x[sv.name, p] == 1)
        for kind, lim in sv.limits.items():
            per = defaultdict(list)
            for n in sv.cand:
                for d in doms[n]:
                    if kinds[d] == kind:
                        per[d].append(x[sv.name, n])
            for vs in per.values():
                if len(vs) > lim:
                    m.Add(sum(vs) <= lim)
        for t in sv.colocate:
            for n in sv.cand:
                if (t, n) in x:
                    m.AddImplication(x[sv.name, n], x[t, n])
                else:
                    m.Add(x[sv.name, n] == 0)
    on_node = defaultdict(list)
    for (s, n), v in x.items():
        on_node[n].append((s, v))
    by = {sv.name: sv for sv in svcs}
    for n, pairs in on_node.items():
        for r in range(2):
            terms = [(by[s].req[r], v) for s, v in pairs if by[s].req[r] > 0]
            if terms and sum(c for c, _ in terms) > node_cap[n][r]:
                m.Add(sum(c * v for c, v in terms) <= node_cap[n][r])
        ports = defaultdict(list)
        for s, v in pairs:
            for p in by[s].ports:
                ports[p].append(v)
        for vs in ports.values():
            if len(vs) > 1:
                m.AddAtMostOne(vs)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 2
    solver.parameters.random_seed = 0
    solver.parameters.max_time_in_seconds = time_limit
    st = solver.Solve(m)
    if st == cp_model.UNKNOWN:
        raise TimeoutError(f"no answer in {time_limit:g} s")
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    inst = defaultdict(list)
    for (s, n), v in x.items():
        if solver.Value(v):
            inst[s].append(n)
    return Placement({sv.name: tuple(inst.get(sv.name, ())) for sv in svcs})


def run_z3_flat(arch, time_limit=300.0):
    import z3

    z3.set_param("sat.cardinality.solver", True)
    svcs, node_cap, kinds, doms = _flat_facts(arch)
    s = z3.SolverFor("QF_FD")
    s.set("timeout", int(time_limit * 1000))
    x = {(sv.name, n): z3.Bool(f"x!{sv.name}!{n}") for sv in svcs for n in sv.cand}
    by = {sv.name: sv for sv in svcs}
    for sv in svcs:
        xs = [x[sv.name, n] for n in sv.cand]
        if sv.everywhere:
            s.add(*xs)
        else:
            s.add(z3.PbEq([(v, 1) for v in xs], sv.count))
        for p in sv.pins:
            s.add(x[sv.name, p])
        for kind, lim in sv.limits.items():
            per = defaultdict(list)
            for n in sv.cand:
                for d in doms[n]:
                    if kinds[d] == kind:
                        per[d].append(x[sv.name, n])
            for vs in per.values():
                if len(vs) > lim:
                    s.add(z3.AtMost(*vs, lim))
        for t in sv.colocate:
            for n in sv.cand:
                s.add(z3.Implies(x[sv.name, n], x[t, n]) if (t, n) in x else z3.Not(x[sv.name, n]))
    on_node = defaultdict(list)
    for (sn, n), v in x.items():
        on_node[n].append((sn, v))
    for n, pairs in on_node.items():
        for r in range(2):
            terms = [(v, by[sn].req[r]) for sn, v in pairs if by[sn].req[r] > 0]
            if terms and sum(c for _, c in terms) > node_cap[n][r]:
                s.add(z3.PbLe(terms, node_cap[n][r]))
        ports = defaultdict(list)
        for sn, v in pairs:
            for p in by[sn].ports:
                ports[p].append(v)
        for vs in ports.values():
            if len(vs) > 1:
                s.add(z3.AtMost(*vs, 1))
    r = s.check()
    if r == z3.unknown:
        raise TimeoutError(f"no answer in {time_limit:g} s ({s.reason_unknown()})")
    if r != z3.sat:
        return None
    mdl = s.model()
    inst = defaultdict(list)
    for (sn, n), v in x.items():
        if z3.is_true(mdl.eval(v, model_completion=True)):
            inst[sn].append(n)
    return Placement({sv.name: tuple(inst.get(sv.name, ())) for sv in svcs})


RUNNERS = {"hamodel": run_hamodel, "cpsat": run_cpsat, "z3flat": run_z3_flat}


def _child(which, size, seed, q, limit=None):
    if size[0] == "capacity":
        arch = capacity_bound(*size[1:], seed=seed)
    else:
        r, n, i = size
        arch = synthetic(r, n, i, seed=seed)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    try:
        placement = RUNNERS[which](arch, limit) if (limit and which != "hamodel") else RUNNERS[which](arch)
        ok = placement is not None
    except Exception as exc:
        q.put((which, None, 0, f"error: {type(exc).__name__}: {exc}"[:80]))
        return
    dt = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    note = ""
    if ok:
        from hamodel.analysis.placement import verify

        bad = verify(arch, placement)
        note = "verified" if not bad else f"INVALID ({len(bad)} violations)"
    else:
        note = "no solution"
    q.put((which, dt, max(peak, base) / 1024, note))


# Small capacity-bound models: (services, nodes, cpu sizes, slack, racks, extra), see
# synthetic.capacity_bound. slack 0 = the sum fits exactly; extra 1 = one instance too many.
CAPACITY_FAMILY = [
    (s, n, sizes, slack, racks, extra)
    for s, n in ((30, 3), (60, 6), (100, 10))
    for sizes in ((1,), (1, 2, 4), (0.5, 1.5, 2.5, 3.5), (0.7, 1.1, 1.3, 2.9))
    for slack, extra in ((0.0, 0), (0.0, 1), (-0.02, 0), (0.03, 0), (0.1, 0))
    for racks in (True, False)
]


def capacity_main(args, have_ortools):
    """The capacity family, hamodel against CP-SAT and flat Z3 (each capped at --cap-limit s)."""
    hdr = (
        f"{'model':>44} | {'hamodel s':>9} {'answer':>11} | {'CP-SAT s':>8} {'answer':>9} | "
        f"{'Z3 flat s':>9} {'answer':>9}"
    )
    print(hdr)
    print("-" * len(hdr))
    worst = (0.0, "")
    disagree = []
    for spec in CAPACITY_FAMILY:
        name = capacity_bound(*spec, seed=args.seed).name
        cols = []
        for which in ("hamodel", "cpsat", "z3flat"):
            if which == "cpsat" and not have_ortools:
                cols.append((None, "skipped"))
                continue
            dt, _mb, note = measure(
                which, ("capacity", *spec), args.seed, timeout=args.cap_limit + 30, limit=args.cap_limit
            )
            answer = (
                {"verified": "placed", "no solution": "none"}.get(note)
                or ("timeout" if "TimeoutError" in note or "killed" in note else None)
                or ("undecided" if "Undecided" in note else note[:11])
            )
            cols.append((dt, answer))
        if cols[0][0] is not None and cols[0][0] > worst[0]:
            worst = (cols[0][0], f"{name}: {cols[0][1]}")
        decided = {a for _, a in cols if a in ("placed", "none")}
        if len(decided) > 1:
            disagree.append(name)

        def f(x):
            return f"{x:9.3f}" if x is not None else f"{'-':>9}"

        print(
            f"{name:>44} | {f(cols[0][0])} {cols[0][1]:>11} | {f(cols[1][0])[1:]} {cols[1][1]:>9} | "
            f"{f(cols[2][0])} {cols[2][1]:>9}",
            flush=True,
        )
    print(f"worst hamodel time: {worst[0]:.3f} s ({worst[1]})")
    print("answers disagree on: " + (", ".join(disagree) if disagree else "none"))


def measure(which, size, seed, timeout=400, limit=None):
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(which, size, seed, q, limit))
    p.start()
    p.join(timeout)
    if p.is_alive():
        p.kill()
        p.join()
        return None, 0.0, "killed at timeout"
    _, dt, mb, note = q.get()
    return dt, mb, note


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="*", default=DEFAULT_SIZES, help="RACKSxNODESxINSTANCES")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--flat-max", type=int, default=1500, help="largest instance count for the flat Z3 encoding")
    ap.add_argument("--no-cpsat", action="store_true")
    ap.add_argument("--capacity", action="store_true", help="run the small capacity-bound family instead")
    ap.add_argument("--cap-limit", type=float, default=60.0, help="time limit of CP-SAT and flat Z3 there (s)")
    args = ap.parse_args(argv)
    try:
        import ortools  # noqa: F401 (present or not)

        have_ortools = not args.no_cpsat
    except ImportError:
        have_ortools = False
        print("(ortools not installed: pip install -e .[bench] for the CP-SAT column)")
    if args.capacity:
        capacity_main(args, have_ortools)
        return
    hdr = (
        f"{'racks x nodes x inst':>22} {'svcs':>5} | {'hamodel s':>9} {'MB':>6} | {'CP-SAT s':>8} {'MB':>6} "
        f"{'ratio':>6} | {'Z3 flat s':>9} {'MB':>6} | notes"
    )
    print(hdr)
    print("-" * len(hdr))
    for spec in args.sizes:
        r, n, i = (int(v) for v in spec.split("x"))
        arch = synthetic(r, n, i, seed=args.seed)
        inst, nsvc = instance_total(arch), len(arch.services)
        h = measure("hamodel", (r, n, i), args.seed)
        c = measure("cpsat", (r, n, i), args.seed) if have_ortools else (None, 0.0, "skipped")
        z = measure("z3flat", (r, n, i), args.seed) if inst <= args.flat_max else (None, 0.0, "skipped")

        def f(x):
            return f"{x:9.2f}" if x is not None else f"{'-':>9}"

        ratio = f"{c[0] / h[0]:5.1f}x" if (h[0] and c[0]) else f"{'-':>6}"
        notes = "; ".join(f"{k}: {v[2]}" for k, v in (("hamodel", h), ("cpsat", c), ("z3flat", z)) if v[2])
        print(
            f"{f'{r} x {n} x {inst}':>22} {nsvc:>5} | {f(h[0])} {h[1]:6.0f} | {f(c[0])[1:]} {c[1]:6.0f} {ratio} | "
            f"{f(z[0])} {z[1]:6.0f} | {notes}",
            flush=True,
        )


if __name__ == "__main__":
    main()
