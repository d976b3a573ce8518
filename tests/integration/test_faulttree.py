"""Evidence: hamodel's failure analysis agrees with SCRAM, a fault-tree tool
nobody here wrote, on the Open-PSA MEF export of every service.

- minimal cut sets up to order k: SCRAM (``--limit-order k``, BDD) equals
  :func:`hamodel.analysis.failures.cut_sets` (Z3), for the reference models
  and for hypothesis-generated ones;
- probability: SCRAM's exact BDD probability (``--probability true``) equals
  ``1 - availability`` from :func:`hamodel.analysis.failures.availability`.
  SCRAM's report prints 6 significant digits, so the comparison is to
  1e-9 absolute or, where that is finer than the print, to half a unit in
  its 6th digit (every figure of the reference models is below 4e-3);
- importance: Birnbaum (SCRAM's MIF), Fussell-Vesely (DIF) and RAW.

Needs the ``scram`` executable (Debian package ``scram``, see .ci/install).
"""

from __future__ import annotations

import itertools
import math
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hamodel.generators.opsa import component_of, event_name, render_opsa, top_name
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hamodel.analysis.availability import unavailability
from hamodel.analysis.components import set_key, sort_set, view
from hamodel.analysis.cutsets import Analyzer
from hamodel.analysis.failures import availability
from hamodel.analysis.faulttree import Builder, holds, tree_cut_sets, trees
from hamodel.analysis.importance import importance, service_importance, what_to_fix
from hamodel.analysis.placement import lock_path_for
from hamodel.analysis.semantics import Evaluation
from hamodel.loader import load
from hamodel.model import Reliability
from hamodel.pipeline import resolve

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_failures_oracle import dc_models, small_models

ROOT = Path(__file__).resolve().parents[2]
MODELS = sorted(p.stem for p in (ROOT / "models").glob("*.py"))
SCRAM = shutil.which("scram")
pytestmark = pytest.mark.skipif(SCRAM is None, reason="scram not installed (apt-get install scram)")

# Agreement counted across the whole run, printed at the end (pytest -s).
TALLY = {"services": 0, "cut_sets": 0, "differences": 0, "probabilities": 0, "non_coherent": 0}


def scram(xml: str, tmp: Path, *args: str) -> ET.Element:
    src, out = tmp / "model.xml", tmp / "report.xml"
    src.write_text(xml)
    r = subprocess.run([SCRAM, str(src), "-o", str(out), *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr + r.stdout
    return ET.parse(out).getroot().find("results")


def scram_products(results: ET.Element) -> dict[str, list[tuple[str, ...]]]:
    """Per top gate name, SCRAM's minimal cut sets as hamodel component ids."""
    return {
        sop.get("name"): sorted(
            (sort_set(component_of(b.get("name")) for b in p.iter("basic-event")) for p in sop.iter("product")),
            key=set_key,
        )
        for sop in results.iter("sum-of-products")
    }


def close(scram_value: float, ours: float) -> bool:
    """Equal to 1e-9, or within SCRAM's 6 printed significant digits."""
    digit = 0.5 * 10 ** (math.floor(math.log10(abs(scram_value))) - 5) if scram_value else 0.0
    return abs(scram_value - ours) <= max(1e-9 if scram_value < 2e-4 else 0.0, digit * 1.0000001, 1e-15)


def compare_cut_sets(v, k: int, tmp: Path, services=None) -> int:
    """SCRAM vs hamodel cut sets (order <= k) for every coherent tree; returns
    the number of differing services (also tallied)."""
    ts = trees(v, services)
    got = scram_products(scram(render_opsa(v, ts), tmp, "--limit-order", str(k)))
    an = Analyzer(v)
    coherent = [s for s, t in ts.items() if t.coherent]
    from_tree = tree_cut_sets(v, k, coherent)  # hamodel's own bottom-up enumeration over the same trees
    diffs = 0
    for s, t in ts.items():
        if not t.coherent:
            TALLY["non_coherent"] += 1
            continue
        ours = an.z3_cut_sets(s, k)[0]  # Z3 explicitly: Analyzer.cut_sets itself reads the tree now
        assert from_tree[s] == ours, s
        assert an.cut_sets(s, k) == (ours, True), s
        theirs = got[top_name(s)]
        if ours == [()]:  # down with nothing failed: SCRAM says UNITY (one empty product)
            theirs = [tuple(x) for x in theirs]
        TALLY["services"] += 1
        TALLY["cut_sets"] += len(ours)
        if theirs != ours:
            diffs += 1
            print(f"DIFF {s}: only SCRAM {set(theirs) - set(ours)}, only hamodel {set(ours) - set(theirs)}")
    TALLY["differences"] += diffs
    return diffs


def _deployment(name: str):
    arch = load(ROOT / "models" / f"{name}.py")
    dep = resolve(arch, lock=lock_path_for(str(ROOT / "models" / f"{name}.py")), analyse=False)
    return arch, dep, view(arch, dep.placement, dep.vrrp_groups)


# -- reference models -------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_reference_models_cut_sets_equal_scram(name, tmp_path):
    _, _, v = _deployment(name)
    assert compare_cut_sets(v, 2, tmp_path) == 0


@pytest.mark.parametrize("name", ["webplatform"])
def test_reference_model_cut_sets_equal_scram_at_order_3(name, tmp_path):
    _, _, v = _deployment(name)
    assert compare_cut_sets(v, 3, tmp_path) == 0


@pytest.mark.parametrize("name", ["multirack", "webplatform"])
def test_reference_models_probability_and_importance_equal_scram(name, tmp_path):
    arch, dep, v = _deployment(name)
    results = scram(render_opsa(v), tmp_path, "--probability", "true", "--importance", "true")
    est = availability(arch, dep.placement, dep.vrrp_groups)
    imp = importance(arch, dep.placement, dep.vrrp_groups)
    tops = {top_name(s): s for s in est}
    assert {sop.get("name") for sop in results.iter("sum-of-products")} == set(tops)
    for sop in results.iter("sum-of-products"):
        s = tops[sop.get("name")]
        assert est[s].exact
        p = float(sop.get("probability"))
        assert p > 0 and close(p, est[s].unavailability), (s, p, est[s].unavailability)
        TALLY["probabilities"] += 1
    for el in results.iter("importance"):
        s = tops[el.get("name")]
        ours = {i.component: i for i in imp[s]}
        theirs = {component_of(b.get("name")): b for b in el.iter("basic-event") if float(b.get("probability")) > 0}
        assert set(ours) == set(theirs), s
        for c, b in theirs.items():
            for attr, x in (("MIF", ours[c].birnbaum), ("DIF", ours[c].fussell_vesely), ("RAW", ours[c].raw)):
                assert math.isclose(float(b.get(attr)), x, rel_tol=1e-5), (s, c, attr, b.get(attr), x)


# -- hypothesis-generated models --------------------------------------------------


FIGURES = st.fixed_dictionaries(
    {k: st.floats(0.9, 0.99999) for k in ("node", "process", "link", "trunk", "switch", "rack", "power", "room")}
)


def _with_figures(arch, figures):
    return arch.model_copy(update={"reliability": {k: Reliability(availability=a) for k, a in figures.items()}})


def _check_random(model, k, figures, tmp: Path):
    arch, placement = model
    arch = _with_figures(arch, figures)
    v = view(arch, placement)
    b = Builder(v)
    # The tree is the semantics: same answer on every failure set of size
    # <= 2 over the components it could depend on.
    for s in v.services:
        up = b.up(s)
        comps = sorted(v.slice(s))
        for size in range(3):
            for fs in itertools.combinations(comps, size):
                assert holds(up, frozenset(fs)) == Evaluation(v, fs).up(s), (s, fs)
    assert compare_cut_sets(v, k, tmp) == 0
    ts = trees(v)
    results = scram(render_opsa(v, ts), tmp, "--probability", "true")
    est = availability(arch, placement)
    probs = {sop.get("name"): float(sop.get("probability")) for sop in results.iter("sum-of-products")}
    for s, t in ts.items():
        if t.coherent and est[s].exact:
            assert close(probs[top_name(s)], est[s].unavailability), (s, probs[top_name(s)], est[s].unavailability)
            TALLY["probabilities"] += 1


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(small_models(), st.integers(1, 3), FIGURES)
def test_random_models_equal_scram(tmp_path, model, k, figures):
    _check_random(model, k, figures, tmp_path)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(dc_models(), st.integers(1, 3), FIGURES)
def test_random_datacentre_models_equal_scram(tmp_path, model, k, figures):
    _check_random(model, k, figures, tmp_path)


def _shared_vote_model():
    """Found by hypothesis: two 2-of-3 Pacemaker votes sharing an argument."""
    from hamodel import Architecture, Network, Node, PacemakerCluster, Rack, Service, Switch, VirtualIP
    from hamodel.deployment import Placement
    from hamodel.strategies import BehindVip, PacemakerVip

    sw = Switch("sw0")
    net = Network("lan", subnet="10.0.0.0/24", switches=[sw], links="mesh")
    vip = VirtualIP("vip", "10.0.0.100", network=net)
    nodes = [
        Node(
            f"n{i}",
            roles={"r"},
            domains=[Rack("rack0" if i < 2 else "rack1")],
            addresses={net: f"10.0.0.{10 + i}"},
            switch=sw,
        )
        for i in range(3)
    ]
    arch = Architecture(
        "shared-vote",
        nodes=nodes,
        networks=[net],
        vips=[vip],
        services=[
            Service("s0", on="r", strategy=BehindVip(vip, port=1000)),
            Service("s1", on="r", strategy=PacemakerVip(vip)),
        ],
        pacemaker=PacemakerCluster(on=["r"], fencing=False),
        reliability={k: Reliability(availability=0.9375) for k in ("node", "process", "switch", "rack")},
    )
    return arch, Placement({"s0": ["n0"], "s1": ["n0", "n2"]})


def _xml_fails(root: ET.Element, top: str, failed: frozenset[str]) -> bool:
    """Evaluate a MEF gate by hand (the document's own semantics)."""
    gates = {g.get("name"): g for g in root.iter("define-gate")}

    def ev(el: ET.Element) -> bool:
        t = el.tag
        if t == "basic-event":
            return component_of(el.get("name")) in failed
        if t == "gate":
            return ev(next(c for c in gates[el.get("name")] if c.tag != "label"))
        xs = [ev(c) for c in el]
        if t == "or":
            return any(xs)
        if t == "and":
            return all(xs)
        if t == "atleast":
            return sum(xs) >= int(el.get("min"))
        assert t == "not"
        return not xs[0]

    return ev(next(c for c in gates[top] if c.tag != "label"))


@pytest.mark.parametrize("mode", ["expand", "gate"])
def test_exported_gates_mean_the_semantics_on_every_state(mode):
    arch, placement = _shared_vote_model()
    v = view(arch, placement)
    root = ET.fromstring(render_opsa(v, atleast=mode))
    for s in ("s0", "s1"):
        comps = sorted(v.slice(s))
        for bits in itertools.product((0, 1), repeat=len(comps)):
            f = frozenset(c for c, b in zip(comps, bits) if b)
            assert _xml_fails(root, top_name(s), f) == (not Evaluation(v, f).up(s)), (s, f)


def test_scram_agrees_on_shared_votes_with_expanded_atleast(tmp_path):
    """SCRAM 0.16.2 reports {n1, proc:s1@n0} as a cut set of s0 and 0.24399
    when the two votes are MEF atleast gates sharing an argument (the test
    above proves the gates mean the semantics); the default expansion into
    AND/OR gates gets hamodel's 9 cut sets and 0.241503."""
    arch, placement = _shared_vote_model()
    v = view(arch, placement)
    assert compare_cut_sets(v, 2, tmp_path) == 0
    results = scram(render_opsa(v, ["s0"]), tmp_path, "--probability", "true")
    p = float(next(results.iter("sum-of-products")).get("probability"))
    assert close(p, availability(arch, placement)["s0"].unavailability)


def test_two_node_fencing_tree_is_not_coherent_and_scram_probability_is_exact(tmp_path):
    """A 2-node Pacemaker cluster with fencing: the second node is quorate
    when the first is *down*. The tree says so with a NOT gate; SCRAM's
    exact probability equals the probability of the down states counted
    one by one with the plain-Python semantics."""
    from hamodel.generators.opsa import probabilities

    from hamodel import Architecture, Network, Node, PacemakerCluster, Service, Switch, VirtualIP
    from hamodel.deployment import Placement
    from hamodel.strategies import ActivePassive

    sws = [Switch("sw0"), Switch("sw1")]
    net = Network("lan", subnet="10.0.0.0/24", switches=sws, links="mesh")
    vip = VirtualIP("vip", "10.0.0.100", network=net)
    nodes = [Node(f"n{i}", roles={"r"}, addresses={net: f"10.0.0.{10 + i}"}, switch=sws[i]) for i in range(2)]
    arch = Architecture(
        "two-node",
        nodes=nodes,
        networks=[net],
        vips=[vip],
        services=[Service("db", on="r", strategy=ActivePassive(manager="pacemaker"))],
        pacemaker=PacemakerCluster(on=["r"], two_node=True, fencing=True),
        reliability={
            k: Reliability(availability=a)
            for k, a in (("node", 0.9), ("process", 0.8), ("link", 0.7), ("switch", 0.95))
        },
    )
    v = view(arch, Placement({"db": ["n0", "n1"]}))
    t = trees(v)["db"]
    assert not t.coherent
    comps = sorted(t.components)
    q = probabilities(v, comps)
    exact = 0.0
    for bits in itertools.product((0, 1), repeat=len(comps)):
        failed = frozenset(c for c, b in zip(comps, bits) if b)
        assert holds(t.up, failed) == Evaluation(v, failed).up("db"), failed
        if not Evaluation(v, failed).up("db"):
            exact += math.prod(q[c] if b else 1 - q[c] for c, b in zip(comps, bits))
    results = scram(render_opsa(v), tmp_path, "--probability", "true")
    p = float(next(results.iter("sum-of-products")).get("probability"))
    assert close(p, exact), (p, exact)
    # Failing n0 can bring db back (n1 wins the fence race): not monotone.
    assert not Evaluation(v, {"proc:db@n0", "link:lan:sw0~sw1"}).up("db")
    assert Evaluation(v, {"proc:db@n0", "link:lan:sw0~sw1", "node:n0"}).up("db")


# -- importance, export, names ----------------------------------------------------


def test_importance_closed_form():
    """Cut sets {a} and {b, c}: U = qa + (1 - qa) qb qc."""
    qa, qb, qc = 0.1, 0.2, 0.3
    q = {"node:a": qa, "node:b": qb, "node:c": qc}
    sets = [("node:a",), ("node:b", "node:c")]
    u = qa + (1 - qa) * qb * qc
    assert math.isclose(unavailability(sets, q), u)
    got = {i.component: i for i in service_importance("s", sets, q)}
    assert math.isclose(got["node:a"].birnbaum, 1 - qb * qc)
    assert math.isclose(got["node:b"].birnbaum, (1 - qa) * qc)
    assert math.isclose(got["node:c"].birnbaum, (1 - qa) * qb)
    assert math.isclose(got["node:a"].fussell_vesely, qa / u)
    assert math.isclose(got["node:b"].fussell_vesely, qb * (qa + (1 - qa) * qc) / u)
    assert math.isclose(got["node:b"].raw, (qa + (1 - qa) * qc) / u)
    assert math.isclose(got["node:b"].rrw, u / qa)
    assert next(i.component for i in service_importance("s", sets, q)) == "node:a"


def test_importance_matches_conditioning_on_a_reference_model():
    arch, dep, v = _deployment("webplatform")
    an = Analyzer(v)
    imp = importance(arch, dep.placement, dep.vrrp_groups)
    for s in ("web", "postgres"):
        sets, _ = an.cut_sets(s, None)
        q = {i.component: i.probability for i in imp[s]}
        for i in imp[s]:
            up1 = unavailability(sets, {**q, i.component: 1.0})
            up0 = unavailability(sets, {**q, i.component: 0.0})
            assert math.isclose(i.birnbaum, up1 - up0, rel_tol=1e-9, abs_tol=1e-15)
    fix = what_to_fix(imp, limit=None)
    hours = [f.hours_per_year for f in fix]
    assert hours == sorted(hours, reverse=True) and fix[0].component == "domain:dc"


def test_check_availability_shows_what_to_fix_first():
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "hamodel.cli",
            "check",
            str(ROOT / "models" / "webplatform.py"),
            "--availability",
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    import json

    assert r.returncode in (0, 1), r.stderr
    rows = json.loads(r.stdout)["what_to_fix_first"]
    arch, dep, _ = _deployment("webplatform")
    expected = what_to_fix(importance(arch, dep.placement, dep.vrrp_groups))
    assert [x["component"] for x in rows] == [f.component for f in expected] and len(rows) == 10


def test_docs_availability_section_lists_what_to_fix_first():
    import docutils.core
    from hamodel.generators.docs import DocExtras, render_section

    arch, dep, _ = _deployment("webplatform")
    est = availability(arch, dep.placement, dep.vrrp_groups)
    with pytest.raises(ValueError, match="answers=True"):  # the document never starts the analysis itself
        render_section(dep, "availability", extras=DocExtras(availability=est))
    dep = resolve(arch, lock=lock_path_for(str(ROOT / "models" / "webplatform.py")), answers=True)
    text = render_section(dep, "availability", extras=DocExtras(availability=est))
    expected = [f.component for f in what_to_fix(importance(arch, dep.placement, dep.vrrp_groups))]
    listed = [line.split("``")[1] for line in text.splitlines() if line.startswith("   * - ``")]
    assert listed == expected
    docutils.core.publish_doctree(text, settings_overrides={"halt_level": 2, "report_level": 2})


def test_cli_export_opsa_mef_is_valid_for_scram(tmp_path):
    out = tmp_path / "web.xml"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "hamodel.cli",
            "export",
            str(ROOT / "models" / "webplatform.py"),
            "--format",
            "opsa-mef",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    v = subprocess.run([SCRAM, "--validate", str(out)], capture_output=True, text=True)
    assert v.returncode == 0, v.stderr + v.stdout
    root = ET.parse(out).getroot()
    tops = {g.get("name") for g in root.iter("define-gate") if g.get("name").endswith("-down")}
    assert tops == {
        top_name(s) for s in ("etcd", "galera", "haproxy", "haproxy-public", "postgres", "redis", "sentinel", "web")
    }
    bad = subprocess.run(
        [sys.executable, "-m", "hamodel.cli", "export", str(ROOT / "models" / "webplatform.py"), "--format", "opsa"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "opsa-mef" in bad.stderr


@given(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=30))
def test_event_names_are_valid_and_reversible(a, b):
    import re

    for x in (a, b):
        n = event_name(x)
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*", n)
        assert component_of(n) == x
    assert (event_name(a) == event_name(b)) == (a == b)


def test_zz_report_agreement_figures():
    """Prints the agreement totals of this run (pytest -s)."""
    print(f"\nSCRAM agreement: {TALLY}")
    assert TALLY["differences"] == 0
