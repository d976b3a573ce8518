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
