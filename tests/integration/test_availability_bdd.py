"""Exact availability from the fault trees' BDDs (issue 30, "Hangs").

The Shannon expansion over minimal cut sets took 76-99 s on a 7-node
majority cluster with reliability figures and more than 2 minutes from 9
nodes (``check --availability``, ``diff``). The figures now come from a
BDD of each service's fault tree (hamodel/analysis/probability.py):
checked here against SCRAM's probability analysis of the MEF export, and
on a 41-node cluster whose cut-set family (some 10^19 sets) no expansion
could list.
"""

import math
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from hamodel.generators.opsa import render_opsa, top_name

from hamodel import Architecture, Network, Node, Rack, Reliability, Service, Switch, VirtualIP
from hamodel.analysis.availability import unavailability
from hamodel.analysis.failures import Analysis
from hamodel.analysis.placement import place
from hamodel.analysis.probability import Diagrams
from hamodel.strategies import AppCluster, BehindVip, Vrrp

SCRAM = shutil.which("scram")

FIGURES = {"node": 0.99, "process": 0.999, "rack": 0.9995, "switch": 0.9999, "link": 0.9999}


def majority_cluster(n: int) -> Architecture:
    """``n`` nodes over three racks and two switches: a VRRP holder in front
    of a Galera-like majority cluster, every component with figures."""
    sw = [Switch("sw-a"), Switch("sw-b")]
    net = Network("lan", subnet="10.0.0.0/16", switches=sw)
    vip = VirtualIP("vip", "10.0.255.1", network=net)
    nodes = [
        Node(
            f"n{i}",
            roles={"db"},
            domains=[Rack(f"r{i % 3}")],
            switch=sw[i % 2],
            addresses={net: f"10.0.{i // 200}.{10 + i % 200}"},
        )
        for i in range(n)
    ]
    return Architecture(
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
        reliability={k: Reliability(availability=a) for k, a in FIGURES.items()},
    )


def _analysis(n: int) -> Analysis:
    arch = majority_cluster(n)
    r = place(arch)
    return Analysis(arch, r.placement, r.vrrp_groups)


@pytest.mark.skipif(SCRAM is None, reason="scram not installed (apt-get install scram)")
@pytest.mark.parametrize("n", [5, 7])
def test_majority_cluster_availability_equals_scram(tmp_path, n):
    a = _analysis(n)
    est = a.availability()
    src, out = tmp_path / "model.xml", tmp_path / "report.xml"
    src.write_text(render_opsa(a.view))
    r = subprocess.run(
        [SCRAM, str(src), "-o", str(out), "--probability", "true"], capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr
    sops = {s.get("name"): s for s in ET.parse(out).getroot().find("results").iter("sum-of-products")}
    for s, got in est.items():
        sop = sops[top_name(s)]
        assert got.exact and got.cut_sets_complete
        # SCRAM prints 6 significant digits; its products are the minimal cut sets
        assert math.isclose(float(sop.get("probability")), got.unavailability, rel_tol=1e-5), s
        assert got.cut_sets == int(sop.get("products")), s


def test_cut_set_count_and_probability_equal_the_cut_set_route():
    """The BDD's count of minimal cut sets and its probability equal the
    (independent) Shannon expansion over the listed cut sets."""
    a = _analysis(5)
    d = Diagrams(a.view)
    for s in d.formulas:
        sets, complete = a.analyzer.cut_sets(s, None)
        assert complete
        q = {c: 1 - r for c, r in ((c, _avail(a, c)) for c in {c for cs in sets for c in cs})}
        assert d.count_cut_sets(s) == len(sets)
        assert math.isclose(d.unavailability(s, q), unavailability(sets, q), rel_tol=1e-12)


def _avail(a: Analysis, c: str) -> float:
    from hamodel.analysis.availability import component_reliability

    return component_reliability(a.view, c).steady_state


def test_a_41_node_majority_is_exact():
    """Was unbounded (the expansion over 20,000 truncated cut sets); now exact, every
    figure consistent: the majority's unavailability lies between the best and worst
    single-switch bounds and importance is computed for every member."""
    a = _analysis(41)
    est = a.availability()
    g = est["galera"]
    assert g.exact and g.cut_sets_complete and g.cut_sets > 10**12
    # P(down) >= P(sw-a down): the VIP's master sits on sw-a's side
    assert g.unavailability >= 1 - FIGURES["switch"]
    assert 0 < g.unavailability < 1e-3
    imp = a.importance()["galera"]
    assert {f"node:n{i}" for i in range(41)} <= {i.component for i in imp}
    # Birnbaum measures reproduce U (multilinearity): U(q_c -> 0) = U - q_c I_B
    d = a.diagrams
    q = {c: 1 - _avail(a, c) for c in d.support("galera")}
    for i in imp[:5]:
        u0 = d.unavailability("galera", {**q, i.component: 0.0})
        assert math.isclose(u0, g.unavailability - i.reduction, rel_tol=1e-9, abs_tol=1e-15)
