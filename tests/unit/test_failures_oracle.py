"""Evidence: Z3 cut sets agree exactly with brute-force enumeration through the
independent plain-Python evaluator (hamodel.analysis.semantics)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_strategies import dc_models, small_models

from hamodel.analysis.components import view
from hamodel.analysis.cutsets import Analyzer, brute_force_cut_sets
from hamodel.analysis.semantics import Evaluation
from hamodel.deployment import Placement
from hamodel.loader import load

ROOT = Path(__file__).resolve().parents[2]


def _oracle(v, s, k, comps=None):
    comps = v.slice(s) if comps is None else comps
    return brute_force_cut_sets(comps, k, lambda f: not Evaluation(v, f).up(s))


def _split_oracle(v, s, k, comps=None):
    comps = v.slice(s) if comps is None else comps
    return brute_force_cut_sets(comps, k, lambda f: Evaluation(v, f).split_brain(s))


@pytest.mark.parametrize("name", ["openstack_keepalived", "openstack_pacemaker"])
def test_reference_models_cut_sets_match_brute_force(name):
    from hamodel.analysis.placement import place

    arch = load(ROOT / "models" / f"{name}.py")
    r = place(arch)
    v = view(arch, r.placement, r.vrrp_groups)
    an = Analyzer(v)
    for s in ["haproxy", "galera", "keystone", "cinder-volume", "neutron-lbaas-agent", "nova-conductor"]:
        z3_sets, complete = an.cut_sets(s, 2)
        assert complete
        assert z3_sets == _oracle(v, s, 2), s
    assert an.split_brain("haproxy", 2) == _split_oracle(v, "haproxy", 2)


# -- random small models (tests/model_strategies.py) -------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_models(), st.integers(1, 2))
def test_random_models_z3_equals_brute_force(model, k):
    arch, placement = model
    v = view(arch, placement)
    an = Analyzer(v)
    for s in v.services:
        z3_sets, complete = an.cut_sets(s, k)
        assert complete
        # The oracle searches *every* component, not the slice: slicing loses nothing.
        assert z3_sets == _oracle(v, s, k, v.components), s
        for cs in z3_sets:  # every counterexample replays through the evaluator
            assert not Evaluation(v, cs).up(s)
            assert all(Evaluation(v, set(cs) - {c}).up(s) for c in cs)
        cex = an.counterexample(s, k)
        assert (cex is None) == (not z3_sets)
        if cex is not None:
            assert not Evaluation(v, cex).up(s)
    for s in v.holders:
        assert an.split_brain(s, k) == _split_oracle(v, s, k, v.components)


def test_brute_force_agrees_at_k3_on_a_small_model():
    arch = load(ROOT / "models" / "openstack_keepalived.py")
    placement = Placement(
        {s.name: ["ctl-1", "ctl-2", "ctl-3"] if s.name != "cinder-volume" else ["ctl-2"] for s in arch.services}
    )
    v = view(arch, placement)
    an = Analyzer(v)
    for s in ["galera", "haproxy"]:
        assert an.cut_sets(s, 3)[0] == _oracle(v, s, 3)


def test_exact_availability_equals_state_enumeration():
    """Shannon expansion over cut sets == summing 2^n failure states."""
    from hamodel import Reliability
    from hamodel.analysis.availability import availability_of, component_reliability

    arch = load(ROOT / "models" / "openstack_keepalived.py")
    arch = arch.model_copy(
        update={
            "reliability": {
                "node": Reliability(availability=0.99),
                "rack": Reliability(availability=0.999),
                "switch": Reliability(availability=0.995),
                "link": Reliability(availability=0.98),
            }
        }
    )
    placement = Placement(
        {s.name: ["ctl-1", "ctl-2", "ctl-3"] for s in arch.services if s.name != "cinder-volume"}
        | {"cinder-volume": ["ctl-1"]}
    )
    v = view(arch, placement)
    an = Analyzer(v)
    for s in ["memcached", "cinder-volume"]:
        sets, complete = an.cut_sets(s, None)
        got = availability_of(v, s, sets, complete)
        comps = sorted(c for c in v.slice(s) if component_reliability(v, c) is not None)
        q = {c: 1 - component_reliability(v, c).steady_state for c in comps}
        exact = 0.0
        for bits in itertools.product((False, True), repeat=len(comps)):
            failed = {c for c, b in zip(comps, bits) if b}
            if not Evaluation(v, failed).up(s):
                p = 1.0
                for c, b in zip(comps, bits):
                    p *= q[c] if b else 1 - q[c]
                exact += p
        assert got.exact and got.unavailability == pytest.approx(exact, rel=1e-9, abs=1e-15)


# -- random data-centre models: redundant power, bonds, trunks, witnesses,
#    delegated quorum, Pacemaker two_node / qdevice / fencing (issue 10) ---------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dc_models(), st.integers(1, 2))
def test_random_datacentre_models_z3_equals_brute_force(model, k):
    arch, placement = model
    v = view(arch, placement)
    an = Analyzer(v)
    for s in v.services:
        z3_sets, complete = an.cut_sets(s, k)
        assert complete
        assert z3_sets == _oracle(v, s, k, v.components), s
    for s in [*v.holders, "coord", "leader"]:
        assert an.split_brain(s, k) == _split_oracle(v, s, k, v.components), s
    if arch.service("leader").strategy.steps_down:  # the lock is exclusive: never two writers
        assert an.split_brain("leader", k) == []
