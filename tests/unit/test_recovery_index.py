"""The recovery table's per-component index gives the full evaluation's rows (issue 30).

The index evaluates, per failing component, only the services it can affect;
the reference is ``recovery_table(..., indexed=False)``, every service under
every component, as before the index.
"""

from __future__ import annotations

import pytest

from hamodel.analysis.components import ModelView, view
from hamodel.analysis.placement import place
from hamodel.analysis.recovery import RecoveryAnalysis, recovery_table
from hamodel.testing import synthetic

REFERENCE = ["kubeadm", "multirack", "openstack_keepalived", "openstack_pacemaker", "webplatform"]


def _tables(arch):
    r = place(arch)
    v = view(arch, r.placement, r.vrrp_groups)
    return recovery_table(v, r.vrrp_groups), recovery_table(v, r.vrrp_groups, indexed=False)


@pytest.mark.parametrize("name", REFERENCE)
def test_index_equals_full_evaluation_on_the_reference_models(name, reference_arch):
    got, want = _tables(reference_arch(name))
    assert want.rows  # the comparison compares something
    assert got == want


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_index_equals_full_evaluation_on_random_models(seed):
    arch = synthetic(10, 30 + 5 * seed, 40 + 10 * seed, seed=seed)
    got, want = _tables(arch)
    assert want.rows
    assert got == want


@pytest.mark.parametrize("drop", ["one service", "slices"])
def test_the_comparison_fails_when_the_index_drops_a_service(drop, monkeypatch, reference_arch):
    """A service left out of the index for a component that affects it changes its rows:
    the equality above really compares. Dropped here: one service's entries for node
    failures, or every service a component's slice holds (and the watched nodes)."""
    if drop == "slices":
        monkeypatch.setattr(ModelView, "slice", lambda self, s: frozenset())
        monkeypatch.setattr(RecoveryAnalysis, "_watched_nodes", lambda self, s: set())
    else:
        full = RecoveryAnalysis.index

        def dropping(self, services):
            full(self, services)
            del self._index["node"][min(self._index["node"])]

        monkeypatch.setattr(RecoveryAnalysis, "index", dropping)
    got, want = _tables(reference_arch("openstack_keepalived"))
    assert got != want


def _with_stops(arch, k: int = 2, spoil=None):
    """(index reading "down" from the services' single-component cut sets, full evaluation)."""
    from hamodel.analysis.failures import Analysis

    r = place(arch)
    a = Analysis(arch, r.placement, r.vrrp_groups)
    stops = a.single_stops(k)
    if spoil is not None:
        stops = spoil(stops)
    return recovery_table(a.view, r.vrrp_groups, stops=stops), recovery_table(a.view, r.vrrp_groups, indexed=False)


@pytest.mark.parametrize("name", REFERENCE)
@pytest.mark.parametrize("k", [1, 2])
def test_index_with_cut_set_stops_equals_full_evaluation_on_the_reference_models(name, k, reference_arch):
    got, want = _with_stops(reference_arch(name), k)
    assert want.rows
    assert got == want


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_index_with_cut_set_stops_equals_full_evaluation_on_random_models(seed):
    arch = synthetic(10, 30 + 5 * seed, 40 + 10 * seed, seed=seed)
    got, want = _with_stops(arch)
    assert want.rows and any(r.down or r.rto_s is None for r in want.rows)
    assert got == want


def test_the_stops_comparison_fails_with_wrong_stops(reference_arch):
    """Stops that miss a component (or add one) change the rows: the equality above compares."""
    arch = reference_arch("openstack_keepalived")
    got, want = _with_stops(arch, spoil=lambda st: {s: frozenset() for s in st})
    assert got != want
    every = lambda st: {s: frozenset(c for c in st[s]) | {"node:" + n.name for n in arch.nodes} for s in st}
    got, want = _with_stops(arch, spoil=every)
    assert got != want
