"""Scale benchmark: whole commands on large synthetic models, wall clock and peak RSS.

Each figure is one ``hamodel`` process (``check``, ``build``, ``check -k 3``,
``diff``) on a model from :func:`hamodel.testing.synthetic` (seeded), timed
from start to exit, with its peak RSS from ``wait4``. Targets (issue 30):

- 10,000 services: ``check`` < 10 s, ``build`` < 20 s, peak RSS < 1 GiB;
- 2,000 nodes: ``check -k 3`` < 30 s;
- ``diff`` of two 2,000-node versions < 10 s;
- exact availability of a 41-node majority cluster with figures: well under 1 s
  (in-process, :meth:`hamodel.analysis.failures.Analysis.availability`).

    python benchmarks/bench_scale.py              # every case
    python benchmarks/bench_scale.py --only check --services 2000
    python benchmarks/bench_scale.py --only place --place-services 2000   # greedy vs exact, side by side
    python benchmarks/bench_scale.py --only index --index-services 1000   # recovery/single failures: index vs old
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODEL = """\
from hamodel.testing import synthetic
architecture = synthetic({racks}, {nodes}, {instances}, seed={seed})
"""

TARGETS = {"check": 10.0, "build": 20.0, "check -k 3": 30.0, "diff": 10.0}
GIB = 1 << 30


def _model(folder: Path, name: str, services: int, nodes: int, seed: int = 1) -> Path:
    p = folder / f"{name}.py"
    p.write_text(MODEL.format(racks=max(10, nodes // 10), nodes=nodes, instances=3 * services, seed=seed))
    return p


def run(args: list[str], cwd: Path, timeout: float) -> tuple[float, int, int]:
    """(seconds, peak RSS bytes, exit code) of one hamodel process; its CPU seconds
    (user + system) go to stderr, the figure to read on a loaded machine."""
    t = time.monotonic()
    p = subprocess.Popen(
        [sys.executable, "-m", "hamodel.cli", *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = t + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            p.kill()
            pid, status, ru = os.wait4(p.pid, 0)
            return float("inf"), ru.ru_maxrss * 1024, -9
        time.sleep(0.05)
    p.returncode = os.waitstatus_to_exitcode(status)
    print(f"  ({' '.join(args[:1] + args[2:])}: {ru.ru_utime + ru.ru_stime:.2f} s CPU)", file=sys.stderr)
    return time.monotonic() - t, ru.ru_maxrss * 1024, p.returncode


def availability_41() -> float:
    from hamodel import Architecture, Network, Node, Rack, Reliability, Service, Switch, VirtualIP
    from hamodel.analysis.failures import Analysis
    from hamodel.analysis.placement import place
    from hamodel.strategies import AppCluster, BehindVip, Vrrp

    n = 41
    sw = [Switch("sw-a"), Switch("sw-b")]
    net = Network("lan", subnet="10.0.0.0/16", switches=sw)
    vip = VirtualIP("vip", "10.0.255.1", network=net)
    nodes = [
        Node(f"n{i}", roles={"db"}, domains=[Rack(f"r{i % 3}")], switch=sw[i % 2], addresses={net: f"10.0.0.{10 + i}"})
        for i in range(n)
    ]
    arch = Architecture(
        "cluster",
        nodes=nodes,
        networks=[net],
        vips=[vip],
        services=[
            Service("haproxy", on="db", replicas=n, strategy=Vrrp(vip, track="haproxy")),
            Service(
                "galera",
                on="db",
                replicas=n,
                strategy=AppCluster(quorum="majority", access=BehindVip(vip, port=3306, single_writer=True)),
            ),
        ],
        reliability={
            k: Reliability(availability=a)
            for k, a in {"node": 0.99, "process": 0.999, "rack": 0.9995, "switch": 0.9999, "link": 0.9999}.items()
        },
    )
    r = place(arch)
    a = Analysis(arch, r.placement, r.vrrp_groups)
    _ = a.view  # built before the clock starts
    t = time.process_time()
    a.availability()
    a.importance()
    return time.process_time() - t


def placement_side_by_side(services: int) -> list[tuple[str, float, float]]:
    """place() on the ``check`` model shape, in-process: the greedy first pass
    (today's path for large models) and the exact Z3 search alone (the old
    path), as (label, wall seconds, CPU seconds)."""
    from hamodel.analysis import placement as P
    from hamodel.analysis import placement_solver as S
    from hamodel.testing import synthetic

    nodes = max(100, services // 3)
    arch = synthetic(max(10, nodes // 10), nodes, 3 * services, seed=1)
    out = []
    greedy = S.greedy
    for label, first in (("greedy first", greedy), ("exact search only (old)", lambda pr: None)):
        S.greedy = first
        try:
            w, c = time.monotonic(), time.process_time()
            P.place(arch)
            out.append((label, time.monotonic() - w, time.process_time() - c))
        finally:
            S.greedy = greedy
    return out


def index_side_by_side(services: int) -> list[tuple[str, float, float, float]]:
    """The recovery table and the single-failure scenarios on the ``check`` model shape,
    in-process: through the per-component index (today's path) and evaluating every
    service under every component (the old path), as (label, wall s, CPU s, peak MB
    allocated, from tracemalloc)."""
    import tracemalloc

    from hamodel.analysis.failures import Analysis
    from hamodel.analysis.placement import place
    from hamodel.analysis.recovery import recovery_table
    from hamodel.testing import synthetic

    nodes = max(100, services // 3)
    arch = synthetic(max(10, nodes // 10), nodes, 3 * services, seed=1)
    r = place(arch)
    out = []
    for indexed in (True, False):
        for what in ("recovery table", "single failures"):
            a = Analysis(arch, r.placement, r.vrrp_groups)
            _ = a.view
            tracemalloc.start()
            w, c = time.monotonic(), time.process_time()
            if what == "recovery table":
                got = recovery_table(a.view, r.vrrp_groups, indexed=indexed)
            else:
                got = a.single_failures(indexed=indexed)
            wall, cpu = time.monotonic() - w, time.process_time() - c
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            del got
            out.append((f"{what}, {'indexed' if indexed else 'every service (old)'}", wall, cpu, peak))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--nodes", type=int, default=2_000, help="for check -k 3 and diff")
    ap.add_argument(
        "--only", choices=["check", "build", "k3", "diff", "availability", "place", "index"], action="append"
    )
    ap.add_argument(
        "--index-services",
        type=int,
        default=1_000,
        help="model size for the in-process index comparison (the old path is quadratic)",
    )
    ap.add_argument(
        "--place-services",
        type=int,
        default=2_000,
        help="model size for the in-process placement comparison (the old path is slow)",
    )
    ap.add_argument("--timeout", type=float, default=600.0)
    a = ap.parse_args(argv)
    todo = a.only or ["availability", "place", "index", "check", "build", "k3", "diff"]
    print(f"{'case':<44} {'seconds':>9} {'peak RSS':>10} {'exit':>5}  target")
    if "availability" in todo:
        cpu = availability_41()
        print(f"{'availability + importance, 41-node majority':<44} {cpu:>9.2f} {'':>10} {'':>5}  < 1 s CPU")
    if "place" in todo:
        for label, wall, cpu in placement_side_by_side(a.place_services):
            print(
                f"{f'place(), {a.place_services} services, {label}':<44} {wall:>9.2f} {'':>10} {'':>5}  "
                f"{cpu:.2f} s CPU",
                flush=True,
            )
    if "index" in todo:
        for label, wall, cpu, peak in index_side_by_side(a.index_services):
            print(
                f"{f'{a.index_services} services, {label}':<44} {wall:>9.2f} {peak:>8.0f} MB {'':>5}  "
                f"{cpu:.2f} s CPU (tracemalloc peak)",
                flush=True,
            )
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        svc_nodes = max(100, a.services // 3)
        big = _model(folder, "big", a.services, svc_nodes)
        wide = _model(folder, "wide", a.nodes * 2 // 3, a.nodes)
        for case, args, target in (
            ("check", ["check", str(big)], "check"),
            ("build", ["build", str(big), "-o", str(folder / "out")], "build"),
            ("k3", ["check", str(wide), "-k", "3"], "check -k 3"),
        ):
            if case not in todo:
                continue
            label = {"k3": f"check -k 3, {a.nodes} nodes"}.get(case, f"{case}, {a.services} services")
            secs, rss, rc = run(args, folder, a.timeout)
            ok = secs < TARGETS[target] and (rss < GIB or case == "k3")
            print(
                f"{label:<44} {secs:>9.2f} {rss / 2**20:>8.0f} MB {rc:>5}  < {TARGETS[target]:.0f} s"
                f"{', < 1 GiB' if case != 'k3' else ''} {'ok' if ok else 'MISSED'}",
                flush=True,
            )
        if "diff" in todo:
            v2 = _model(folder, "wide2", a.nodes * 2 // 3 + 5, a.nodes)
            secs, rss, rc = run(["diff", str(wide), str(v2)], folder, a.timeout)
            ok = secs < TARGETS["diff"]
            print(
                f"{f'diff of two {a.nodes}-node versions':<44} {secs:>9.2f} {rss / 2**20:>8.0f} MB {rc:>5}  "
                f"< 10 s {'ok' if ok else 'MISSED'}",
                flush=True,
            )


if __name__ == "__main__":
    main()
