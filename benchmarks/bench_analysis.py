"""Failure-analysis benchmark: Z3 (sliced, one query per service, QF_FD +
cardinality solver) against brute-force enumeration, k = 1, 2, 3.

Model: ``hamodel.testing.synthetic`` (seeded); placement: hamodel's own Z3
placement (``--greedy``: a seeded greedy spread built here instead). Processes are left out by
default so that ~1,000 services sit over ~1,300 components (nodes, racks,
zones, power feeds); ``--processes`` adds one component per instance.

Two questions, each answered by Z3 and by brute force in the same run:

- *prove*: for every service, one set of <= k failures that stops it, or a
  proof that none exists. Baseline: "indexed brute force" -- every failure
  set of <= k components of the whole model, each evaluated (plain-Python
  semantics) only for the services whose slice it touches and that are not
  refuted yet. A stronger "sliced brute force" (subsets of each service's
  own slice, smallest first, stop at the first cut) is reported as well.
- *enumerate*: every minimal cut set of <= k per service: Z3
  (:meth:`Analyzer.z3_cut_sets`), hamodel's fault trees
  (:func:`hamodel.analysis.faulttree.tree_cut_sets`, bottom-up over the
  gates: what :meth:`Analyzer.cut_sets` answers with for coherent trees),
  sliced brute force (subsets of each slice) and SCRAM (``scram
  --limit-order k`` with each of its algorithms, ``--bdd``, ``--zbdd``,
  ``--mocus``) on the Open-PSA export of the same trees (``--enumerate-only``
  skips the prove phases; ``--no-scram`` skips SCRAM).

What is timed, so that the comparison with SCRAM is like for like: the
fault-tree figure is the whole forked call, from the model view (built
again inside it; shown separately) through the trees to the sorted tuples
of component ids; SCRAM's is the whole ``scram`` process (wall clock, and
its CPU from ``wait4``): reading and validating the exported XML, the
analysis, writing its report. The export itself (building the same trees
and writing the XML) and reading SCRAM's report back are not counted
against SCRAM. SCRAM's own analysis time (the ``products`` times in its
report, no I/O) is printed beside it. Both answers are checked to be
identical, service by service.

Brute force runs are cut at ``--budget`` seconds and extrapolated linearly
from the fraction of sets (or services) done; such figures are marked
``(extrapolated)``. Peak memory is each phase's peak RSS, measured in a
forked child (Z3 allocates outside the Python heap, so tracemalloc would
miss it).

    python benchmarks/bench_analysis.py            # ~1,000 services, ~1,300 components
    python benchmarks/bench_analysis.py --quick    # small, seconds
"""

from __future__ import annotations

import argparse
import itertools
import math
import multiprocessing as mp
import random
import resource
import time

from hamodel.analysis.components import view
from hamodel.analysis.cutsets import Analyzer, brute_force_cut_sets
from hamodel.analysis.faulttree import tree_cut_sets
from hamodel.analysis.semantics import Evaluation
from hamodel.deployment import Placement
from hamodel.testing import synthetic  # the placement issue's seeded generator


def greedy_placement(arch, seed: int = 1) -> Placement:
    """Seeded spread: each service on nodes with its role, distinct zones
    first, then distinct racks."""
    rng = random.Random(seed)
    zone = {d.name: d.parent for d in arch.domains if d.kind == "rack"}
    inst: dict[str, list[str]] = {}
    for s in arch.services:
        if s.colocate and s.colocate[0] in inst:
            inst[s.name] = inst[s.colocate[0]]
            continue
        cand = [n for n in arch.nodes if set(n.roles) & set(s.on)]
        k = s.replicas if isinstance(s.replicas, int) else len(cand)
        if s.pin:
            inst[s.name] = list(s.pin)[:k]
            continue
        rng.shuffle(cand)
        chosen: list[str] = []
        for distinct in (lambda n: zone.get(n.domains[0]), lambda n: n.domains[0]):
            seen = {distinct(arch.node(c)) for c in chosen}
            for n in cand:
                if len(chosen) == k:
                    break
                if n.name not in chosen and distinct(n) not in seen:
                    chosen.append(n.name)
                    seen.add(distinct(n))
        inst[s.name] = chosen
    return Placement(inst)


def tolerant_variant(arch, replicas: int = 4):
    """Every service active/active with ``replicas`` instances: with the
    zone-first spread no set of fewer than ``replicas`` failures stops one,
    so the prove question is all proofs (UNSAT), the hard case."""
    from hamodel.strategies import Coordinated

    services = [
        s.model_copy(update={"strategy": Coordinated(), "replicas": replicas, "colocate": [], "pin": []})
        for s in arch.services
    ]
    return arch.model_copy(update={"services": services, "name": arch.name + " (tolerant variant)"})


def _child(conn, fn, args):
    t, c = time.perf_counter(), time.process_time()
    result = fn(*args)
    secs, cpu = time.perf_counter() - t, time.process_time() - c
    conn.send((result, secs, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, cpu))
    conn.close()


# CPU seconds (user + system) of the last measured() call: on a loaded
# machine wall-clock ratios drift with the neighbours, CPU ones much less.
LAST_CPU = 0.0


def measured(fn, *args):
    """Run ``fn(*args)`` in a forked child: (result, seconds, peak RSS MB);
    its CPU seconds go to LAST_CPU."""
    global LAST_CPU
    ctx = mp.get_context("fork")
    a, b = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(b, fn, args))
    p.start()
    *out, LAST_CPU = a.recv()
    p.join()
    return tuple(out)


# -- the phases (module-level state is inherited through fork) ----------------

ARCH = PLACEMENT = None
PROCS = False


def z3_prove(k: int):
    an = Analyzer(view(ARCH, PLACEMENT, processes=PROCS))
    out, worst = {}, 0.0
    for s in sorted(an.v.services):
        t = time.perf_counter()
        out[s] = an.counterexample(s, k)
        worst = max(worst, time.perf_counter() - t)
    return out, worst


def z3_enumerate(k: int):
    an = Analyzer(view(ARCH, PLACEMENT, processes=PROCS))
    return {s: an.z3_cut_sets(s, k)[0] for s in sorted(an.v.services)}


def brute_prove_global(k: int, budget: float, refuted_below: dict | None = None):
    """Indexed brute force over all component sets of size <= k."""
    v = view(ARCH, PLACEMENT, processes=PROCS)
    index: dict[str, list[str]] = {c: [] for c in v.components}
    for s in sorted(v.services):
        for c in v.slice(s):
            index[c].append(s)
    comps = list(v.components)
    refuted: dict[str, tuple] = {}
    total = sum(math.comb(len(comps), i) for i in range(1, k + 1))
    done, t0 = 0, time.perf_counter()
    for size in range(1, k + 1):
        for combo in itertools.combinations(comps, size):
            done += 1
            if done % 4096 == 0 and time.perf_counter() - t0 > budget:
                frac = done / total
                return refuted, (time.perf_counter() - t0) / frac, False
            cands = {s for c in combo for s in index[c]} - refuted.keys()
            if not cands:
                continue
            e = Evaluation(v, combo)
            for s in cands:
                if not e.up(s):
                    refuted[s] = combo
    return refuted, time.perf_counter() - t0, True


def brute_prove_sliced(k: int, budget: float):
    v = view(ARCH, PLACEMENT, processes=PROCS)
    names = sorted(v.services)
    out, t0 = {}, time.perf_counter()
    for i, s in enumerate(names):
        if time.perf_counter() - t0 > budget:
            return out, (time.perf_counter() - t0) * len(names) / i, False
        out[s] = None
        for size in range(1, k + 1):
            for combo in itertools.combinations(sorted(v.slice(s)), size):
                if not Evaluation(v, combo).up(s):
                    out[s] = combo
                    break
            if out[s] is not None:
                break
    return out, time.perf_counter() - t0, True


def brute_enumerate(k: int, budget: float):
    v = view(ARCH, PLACEMENT, processes=PROCS)
    names = sorted(v.services)
    out, t0 = {}, time.perf_counter()
    for i, s in enumerate(names):
        if time.perf_counter() - t0 > budget:
            return out, (time.perf_counter() - t0) * len(names) / i, False
        out[s] = brute_force_cut_sets(v.slice(s), k, lambda f, s=s: not Evaluation(v, f).up(s))
    return out, time.perf_counter() - t0, True


def tree_enumerate(k: int):
    """hamodel's fault trees, minimal cut sets bottom-up (hamodel.analysis.faulttree,
    what Analyzer.cut_sets answers with). Also returns the seconds spent on the
    model view alone (SCRAM's input, the export, is built from it too) and
    this process's CPU seconds (the view's included)."""
    t, c = time.perf_counter(), time.process_time()
    v = view(ARCH, PLACEMENT, processes=PROCS)
    view_secs = time.perf_counter() - t
    return tree_cut_sets(v, k, sorted(v.services)), view_secs, time.process_time() - c


SCRAM_ALGORITHMS = ("bdd", "zbdd", "mocus")


def scram_enumerate(k: int, workdir: str, algorithm: str = "bdd"):
    """SCRAM (``--<algorithm> --limit-order k``) on the Open-PSA export of
    every service, one ``scram`` process over all trees. Returns the cut
    sets, the export seconds (not counted), the whole process's wall-clock
    and CPU (user + system) seconds -- reading and validating the XML, the
    analysis, writing the report --, its peak RSS, and the analysis time
    SCRAM reports itself (the sum of its per-top-event ``products`` times)."""
    import os
    import subprocess
    import xml.etree.ElementTree as ET
    from pathlib import Path

    from hamodel.generators.opsa import component_of, render_opsa, top_name

    from hamodel.analysis.components import set_key, sort_set

    v = view(ARCH, PLACEMENT, processes=PROCS)
    t = time.perf_counter()
    xml = render_opsa(v, sorted(v.services))
    src, out = Path(workdir) / "bench.xml", Path(workdir) / "report.xml"
    src.write_text(xml)
    export = time.perf_counter() - t
    t = time.perf_counter()
    proc = subprocess.Popen(
        ["scram", str(src), "-o", str(out), "--limit-order", str(k), "--no-indent", f"--{algorithm}"]
    )
    _, status, usage = os.wait4(proc.pid, 0)
    secs = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, f"scram exited with {proc.returncode}"
    root = ET.parse(out).getroot()
    own = sum(float(x.text) for x in root.iter("products"))
    tops = {top_name(s): s for s in v.services}
    sets = {}
    for sop in root.iter("sum-of-products"):
        sets[tops[sop.get("name")]] = sorted(
            (sort_set(component_of(b.get("name")) for b in p.iter("basic-event")) for p in sop.iter("product")),
            key=set_key,
        )
    return sets, export, secs, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, own


def fmt(secs: float, exact: bool) -> str:
    return f"{secs:9.2f} s" + ("" if exact else " (extrapolated)")


def main() -> None:
    global ARCH, PLACEMENT, PROCS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--racks", type=int, default=115)
    ap.add_argument("--nodes", type=int, default=1150)
    ap.add_argument("--instances", type=int, default=3600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--k", default="1,2,3")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per brute-force run before extrapolating")
    ap.add_argument("--processes", action="store_true", help="one failure-prone process per instance")
    ap.add_argument(
        "--tolerant", action="store_true", help="every service active/active x4 (prove = all proofs, the hard case)"
    )
    ap.add_argument("--quick", action="store_true", help="small model (CI smoke run)")
    ap.add_argument("--greedy", action="store_true", help="seeded greedy spread instead of the Z3 placement")
    ap.add_argument("--enumerate-only", action="store_true", help="skip the prove phases")
    ap.add_argument("--no-scram", action="store_true", help="skip SCRAM (not installed)")
    a = ap.parse_args()
    if a.quick:
        a.racks, a.nodes, a.instances, a.budget = 40, 80, 300, 10.0
    PROCS = a.processes
    t = time.perf_counter()
    ARCH = synthetic(racks=a.racks, nodes=a.nodes, instances=a.instances, seed=a.seed)
    if a.tolerant:
        ARCH = tolerant_variant(ARCH)
    if a.greedy:
        PLACEMENT = greedy_placement(ARCH, a.seed)
    else:  # the real Z3 placement: the analysis runs on what hamodel would deploy
        from hamodel.analysis.placement import place

        t_place = time.perf_counter()
        PLACEMENT = place(ARCH).placement
        print(f"placed with hamodel.analysis.placement.place in {time.perf_counter() - t_place:.2f} s")
    v = view(ARCH, PLACEMENT, processes=PROCS)
    sizes = sorted(len(v.slice(s)) for s in v.services)
    print(
        f"model: {ARCH.name}; {len(v.services)} services, {len(v.components)} components "
        f"(processes {'in' if PROCS else 'out'}); slice size median {sizes[len(sizes) // 2]}, max {sizes[-1]}; "
        f"built in {time.perf_counter() - t:.2f} s; parent RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    for k in [int(x) for x in a.k.split(",")]:
        print(f"\n== k = {k} ==")
        if a.enumerate_only:
            enumerate_phases(k, a)
            continue
        (zp, worst), zt, zmem = measured(z3_prove, k)
        ncex = sum(1 for c in zp.values() if c is not None)
        print(
            f"prove      Z3 sliced          {fmt(zt, True)}  peak {zmem:6.0f} MB  "
            f"{ncex} counterexamples, {len(zp) - ncex} proofs; slowest query {worst * 1000:.1f} ms"
        )
        (bg, bgt, bgx), _, bgmem = measured(brute_prove_global, k, a.budget)
        print(f"prove      brute indexed      {fmt(bgt, bgx)}  peak {bgmem:6.0f} MB  ratio {bgt / zt:10.2f}x")
        if bgx:
            assert set(bg) == {s for s, c in zp.items() if c is not None}, "brute force disagrees with Z3"
            print("           agreement: the same services refuted by both")
        (bs, bst, bsx), _, bsmem = measured(brute_prove_sliced, k, a.budget)
        print(f"prove      brute sliced       {fmt(bst, bsx)}  peak {bsmem:6.0f} MB  ratio {bst / zt:10.2f}x")
        if bsx:
            assert {s for s, c in bs.items() if c} == {s for s, c in zp.items() if c is not None}
        enumerate_phases(k, a)


def enumerate_phases(k: int, a) -> None:
    """Every minimal cut set of <= k per service, side by side: Z3, hamodel's
    fault trees, sliced brute force, SCRAM on the exported trees; ratios are
    against the fault-tree enumeration."""
    import tempfile

    ze, zet, zemem = measured(z3_enumerate, k)
    print(
        f"enumerate  Z3 sliced          {fmt(zet, True)}  peak {zemem:6.0f} MB  "
        f"{sum(map(len, ze.values()))} minimal cut sets (CPU {LAST_CPU:.2f} s)"
    )
    (te, view_secs, tecpu), tet, temem = measured(tree_enumerate, k)
    print(
        f"enumerate  fault trees        {fmt(tet, True)}  peak {temem:6.0f} MB  Z3 / trees {zet / tet:8.2f}x  "
        f"(CPU {tecpu:.2f} s; model view {view_secs:.2f} s of it)"
    )
    assert te == ze, "fault-tree cut sets differ from Z3"
    print(f"           agreement: identical minimal cut sets for the {len(te)} services")
    (be, bet, bex), _, bemem = measured(brute_enumerate, k, a.budget)
    becpu = LAST_CPU
    print(
        f"enumerate  brute sliced       {fmt(bet, bex)}  peak {bemem:6.0f} MB  brute / trees {bet / tet:8.2f}x  "
        f"(CPU {becpu:.2f} s{'' if bex else ' until the budget'})"
    )
    same = all(ze[s] == be[s] for s in be)
    assert same, "brute-force cut sets differ from Z3"
    print(f"           agreement: identical minimal cut sets for the {len(be)} services enumerated")
    verdict = [
        f"brute / trees {bet / tet:.1f}x (target >= 5; CPU {becpu / tecpu:.1f}x"
        + ("" if bex else " until the budget")
        + ")"
    ]
    if not a.no_scram:
        fastest = fastest_cpu = None
        for alg in SCRAM_ALGORITHMS:
            with tempfile.TemporaryDirectory() as d:
                (se, export, st, scpu, smem, own), _, _ = measured(scram_enumerate, k, d, alg)
            print(
                f"enumerate  SCRAM --{alg:<5}      {fmt(st, True)}  peak {smem:6.0f} MB  SCRAM / trees {st / tet:8.2f}x  "
                f"(CPU {scpu:.2f} s; analysis {own:.2f} s by its own report; export {export:.2f} s, not counted)"
            )
            diff = [s for s in te if se.get(s) != te[s]]
            print(f"           agreement with SCRAM: {len(te) - len(diff)} services identical, {len(diff)} differ")
            fastest = min(fastest or st, st)
            fastest_cpu = min(fastest_cpu or scpu, scpu)
        verdict.append(f"fastest SCRAM / trees {fastest / tet:.2f}x (target >= 1; CPU {fastest_cpu / tecpu:.2f}x)")
    if k == 4:
        verdict.append(f"trees {tet:.2f} s (target < 30 s)")
    print("           " + "; ".join(verdict))


if __name__ == "__main__":
    main()
