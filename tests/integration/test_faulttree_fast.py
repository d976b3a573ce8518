"""The fast cut-set enumerator (hamodel.analysis.faulttree.CutSets) is exact,
and Analyzer.cut_sets uses it only where it gives Z3's answer.

- random coherent formulas (AND / OR / k-of-n, shared and repeated
  operands, constants): the bottom-up families equal a brute-force
  search over every failure set through :func:`faulttree.holds`;
- hypothesis-generated models (tests/model_strategies.py): for every
  service and k = 1..4 (and k=None), the tree's cut sets equal Z3's
  enumeration on the Z3 encoding; non-coherent trees (two-node Pacemaker
  with fencing) are left to Z3;
- routing: a coherent tree never reaches Z3's enumeration, a non-coherent
  one or an unbounded enumeration past its limit does.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_strategies import dc_models, small_models

from hamodel.analysis import cutsets as cutsets_mod
from hamodel.analysis.components import view
from hamodel.analysis.cutsets import Analyzer
from hamodel.analysis.faulttree import (
    FALSE,
    TRUE,
    Builder,
    CutSets,
    TooMany,
    and_,
    atleast,
    coherent,
    holds,
    or_,
    var,
)
from hamodel.deployment import Placement
from hamodel.loader import load

ROOT = Path(__file__).resolve().parents[2]
VARS = [f"node:n{i}" for i in range(7)]


# -- random formulas against brute force -----------------------------------------------

leaves = st.one_of(st.sampled_from(VARS).map(var), st.sampled_from([TRUE, FALSE]))
formulas = st.recursive(
    leaves,
    lambda kids: st.one_of(
        st.lists(kids, min_size=1, max_size=4).map(and_),
        st.lists(kids, min_size=1, max_size=4).map(or_),
        st.tuples(st.integers(1, 4), st.lists(kids, min_size=1, max_size=5)).map(lambda t: atleast(*t)),
    ),
    max_leaves=14,
)


# Layered (OR of ANDs of ORs, k-of-n of those): operands whose cut sets are
# pairs and triples, so products of larger sets with each other, the case
# the single-component shortcut does not cover.
clauses = st.lists(st.sampled_from(VARS).map(var), min_size=1, max_size=3).map(or_)
terms = st.lists(clauses, min_size=1, max_size=3).map(and_)
layered = st.one_of(
    st.lists(terms, min_size=2, max_size=3).map(or_),
    st.tuples(st.integers(1, 3), st.lists(terms, min_size=2, max_size=4)).map(lambda t: atleast(*t)),
)


def brute(f, k: int) -> frozenset[frozenset[str]]:
    """Minimal failure sets of size <= k falsifying ``f``, by trying all."""
    found: list[frozenset[str]] = []
    for size in range(k + 1):
        for combo in itertools.combinations(VARS, size):
            fs = frozenset(combo)
            if not any(x <= fs for x in found) and not holds(f, fs):
                found.append(fs)
    return frozenset(found)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(formulas, layered), min_size=1, max_size=3), st.integers(0, 5), st.booleans())
def test_families_equal_brute_force(fs, k, ordered):
    # One CutSets for several formulas: gates shared between them (equal
    # sub-formulas are hash-consed) must not leak one formula's answer.
    cs = CutSets(k, VARS if ordered else ())
    for f in fs:
        assert cs.failures(f) == brute(f, k), f
        if ordered:  # bits in VARS order: smallest sets first, then in that order
            names = cs.as_names(cs.family(f))
            assert names == sorted(names, key=lambda t: (len(t), [VARS.index(c) for c in t]))


def test_shared_component_across_votes():
    """2-of-3 votes where one component fails two votes at once (a shared
    switch): {sw} alone is a cut, and no set containing it is reported."""
    a, b, c, sw = (var(f"node:{x}") for x in ("a", "b", "c", "sw"))
    f = atleast(2, [and_([a, sw]), and_([b, sw]), c])
    assert CutSets(3).failures(f) == {
        frozenset({"node:sw"}),
        frozenset({"node:a", "node:b"}),
        frozenset({"node:a", "node:c"}),
        frozenset({"node:b", "node:c"}),
    }


def test_not_gate_is_refused():
    with pytest.raises(ValueError, match="coherent"):
        CutSets(2).failures(and_([var("node:a"), ("not", var("node:b"))]))


def test_cap_gives_up_on_a_large_family_and_remembers_it():
    # OR of 2-element ANDs: 2^6 minimal cut sets of order 6.
    f = or_(and_([var(f"node:x{i}"), var(f"node:y{i}")]) for i in range(6))
    cs = CutSets(12, cap=40)
    with pytest.raises(TooMany):
        cs.family(f)
    with pytest.raises(TooMany):
        cs.family(and_([f, var("node:z")]))  # contains the gate: refused at once
    assert len(CutSets(12, cap=64).failures(f)) == 64


# -- generated models: the tree equals Z3's enumeration -----------------------------


def _tree_equals_z3(model, k):
    arch, placement = model
    v = view(arch, placement)
    an = Analyzer(v)
    b = Builder(v)
    for s in sorted(v.services):
        tree = an.tree_cut_sets(s, k)
        z3_sets = an.z3_cut_sets(s, k)
        if not coherent(b.up(s)):
            assert tree is None, s  # non-coherent: prime implicants are Z3's job
            assert an.cut_sets(s, k) == z3_sets, s
            continue
        assert tree == z3_sets, (s, k)
        assert an.cut_sets(s, k) == z3_sets, s
    for s in sorted(v.services):  # unbounded order, with and without a limit
        if coherent(b.up(s)):
            every = an.tree_cut_sets(s, None)
            assert every == an.z3_cut_sets(s, None), s
            # Past the limit, which sets come first is the solver's choice:
            # the same count, all of them minimal cut sets, marked incomplete.
            (got, complete), (z3_got, z3_complete) = Analyzer(v).cut_sets(s, None, 3), an.z3_cut_sets(s, None, 3)
            assert complete == z3_complete == (len(every[0]) < 3), s
            assert len(got) == len(z3_got) and set(got) <= set(every[0]), s
            if complete:
                assert got == z3_got, s


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_models(), st.integers(1, 4))
def test_random_models_tree_equals_z3(model, k):
    _tree_equals_z3(model, k)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dc_models(), st.integers(1, 4))
def test_random_datacentre_models_tree_equals_z3(model, k):
    _tree_equals_z3(model, k)


# -- routing ------------------------------------------------------------------------


def _no_z3_enumeration(monkeypatch):
    calls = []
    real = cutsets_mod.enumerate_minimal
    monkeypatch.setattr(cutsets_mod, "enumerate_minimal", lambda *a, **kw: calls.append(a) or real(*a, **kw))
    return calls


def test_coherent_trees_do_not_reach_z3(monkeypatch):
    arch = load(ROOT / "models" / "openstack_keepalived.py")
    placement = Placement(
        {s.name: ["ctl-1", "ctl-2", "ctl-3"] if s.name != "cinder-volume" else ["ctl-2"] for s in arch.services}
    )
    an = Analyzer(view(arch, placement))
    calls = _no_z3_enumeration(monkeypatch)
    sets, complete = an.cut_sets("galera", 3)
    assert complete and sets and calls == []
    sets, complete = an.cut_sets("galera", None, 20_000)
    assert complete and calls == []
    # Past the limit the first ``limit`` sets are Z3's, as before.
    assert an.cut_sets("haproxy", None, 2) == an.z3_cut_sets("haproxy", None, 2)
    assert calls


def test_two_node_fencing_tree_goes_to_z3(monkeypatch):
    from hamodel import Architecture, Network, Node, PacemakerCluster, Rack, Service, Switch, VirtualIP
    from hamodel.strategies import PacemakerVip

    sw = Switch("sw0")
    net = Network("lan", subnet="10.0.0.0/24", switches=[sw], links="mesh")
    vip = VirtualIP("vip", "10.0.0.100", network=net)
    nodes = [
        Node(f"n{i}", roles={"r"}, domains=[Rack(f"rack{i}")], addresses={net: f"10.0.0.{10 + i}"}, switch=sw)
        for i in range(2)
    ]
    arch = Architecture(
        "fence",
        nodes=nodes,
        networks=[net],
        vips=[vip],
        services=[Service("s", on="r", strategy=PacemakerVip(vip))],
        pacemaker=PacemakerCluster(on=["r"], two_node=True, fencing=True),
    )
    an = Analyzer(view(arch, Placement({"s": ["n0", "n1"]})))
    assert not coherent(Builder(an.v).up("s"))
    calls = _no_z3_enumeration(monkeypatch)
    sets, complete = an.cut_sets("s", 2)
    assert calls and complete and sets == an.z3_cut_sets("s", 2)[0]
