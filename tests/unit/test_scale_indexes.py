"""The indexes that replaced O(services^2) scans give the scans' answers (issue 30)."""

import pytest

from hamodel.analysis.failures import Analysis
from hamodel.analysis.placement import place
from hamodel.analysis.service_findings import _dependents
from hamodel.model.strategies import ActivePassive, AppCluster, Elected, External, Sharded, Witness
from hamodel.testing import synthetic


def _capacity_by_scan(a: Analysis, per: str) -> list[dict]:
    """The N+1 check as a scan: every service summed in every scenario."""
    v = a.view
    scenarios = (
        [f"node:{n}" for n in sorted(v.node_domains)]
        if per == "node"
        else [c for c in v.components if c.startswith("domain:")]
    )
    out = []
    for c in scenarios:
        dead = v.nodes_killed_by({c})
        load = {n: [0.0, 0.0] for n in v.node_domains if n not in dead}
        for s, svc in v.services.items():
            inst = v.instances[s]
            live = [n for n in inst if n not in dead]
            if not inst or not live:
                continue
            st = svc.strategy
            moves = not isinstance(st, (Sharded, External)) and not (
                isinstance(st, ActivePassive) and st.manager is None
            )
            share = len(inst) / len(live) if moves else 1.0
            # A replicated cluster's members each hold the whole data set (issue 23).
            mem_share = 1.0 if isinstance(st, (AppCluster, Elected, Witness)) else share
            for n in live:
                load[n][0] += svc.requests.cpu * share
                load[n][1] += svc.requests.memory_gb * mem_share
        for n, (cpu, mem) in sorted(load.items()):
            cap = a.arch.node(n).capacity
            if cpu > cap.cpu + 1e-9 or mem > cap.memory_gb + 1e-9:
                out.append(
                    {
                        "failure": c,
                        "node": n,
                        "cpu": round(cpu, 3),
                        "memory_gb": round(mem, 3),
                        "capacity_cpu": cap.cpu,
                        "capacity_memory_gb": cap.memory_gb,
                    }
                )
    return out


@pytest.mark.parametrize("per", ["node", "domain"])
def test_capacity_from_the_index_equals_the_scan(per):
    arch = synthetic(20, 100, 300, seed=1)
    r = place(arch)
    a = Analysis(arch, r.placement, r.vrrp_groups)
    got = a.capacity(per)
    assert got == _capacity_by_scan(a, per)


def test_dependents_from_the_index_equal_the_scan():
    arch = synthetic(20, 100, 300, seed=1)
    r = place(arch)
    v = Analysis(arch, r.placement, r.vrrp_groups).view
    for s in v.services:
        assert _dependents(v, s) == sorted(x for x in v.services if x != s and s in v.uses(x))


def test_nodes_killed_by_remembers_per_failure_set_and_hands_out_fresh_sets():
    arch = synthetic(20, 100, 300, seed=1)
    r = place(arch)
    v = Analysis(arch, r.placement, r.vrrp_groups).view
    for c in [c for c in v.components if c.startswith("domain:")][:5]:
        scan = {n for n in v.node_domains if v.node_down(n, {c})}
        got = v.nodes_killed_by({c})
        assert got == scan and scan
        got.clear()  # a caller's change does not reach the memo
        assert v.nodes_killed_by([c]) == scan


def test_cluster_voters_from_the_witness_index_equal_the_scan(reference_arch):
    """Witnesses found by one pass over the services, as the per-cluster scan found them."""
    for name in ("kubeadm", "multirack", "openstack_keepalived", "openstack_pacemaker", "webplatform"):
        arch = reference_arch(name)
        r = place(arch)
        v = Analysis(arch, r.placement, r.vrrp_groups).view
        for s, svc in v.services.items():
            if isinstance(svc.strategy, AppCluster):
                ws = sorted(w for w, x in v.services.items() if isinstance(x.strategy, Witness) and x.strategy.of == s)
                want = tuple((s, n) for n in v.instances[s]) + tuple((w, n) for w in ws for n in v.instances[w])
                assert v.voters[s] == want


def test_pacemaker_processes_from_the_per_deployment_map_equal_the_scan(reference_arch):
    from generators.manifest import pacemaker_processes
    from hamodel.model.strategies import PacemakerVip
    from hamodel.pipeline import resolve

    dep = resolve(reference_arch("openstack_pacemaker"), analyse=False)
    seen = 0
    for node in (n.name for n in dep.architecture.nodes):
        want = frozenset(
            s.process
            for s in dep.architecture.services
            if (
                isinstance(s.strategy, PacemakerVip)
                or getattr(s.strategy, "manager", None) == "pacemaker"
                or s.supervisor == "pacemaker"
            )
            and node in dep.placement.nodes_of(s.name)
        )
        assert pacemaker_processes(dep, node) == want
        seen += bool(want)
    assert seen  # some node runs Pacemaker processes
