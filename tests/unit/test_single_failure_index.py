"""Single-failure scenarios from the slice index equal the full evaluation (issue 30).

``Analysis.single_failures`` evaluates, per component, only the services whose
slice holds it; the reference (``indexed=False``) evaluates every service.
"""

from __future__ import annotations

import pytest

from hamodel.analysis.components import ModelView
from hamodel.analysis.failures import Analysis
from hamodel.analysis.placement import place
from hamodel.testing import synthetic

REFERENCE = ["kubeadm", "multirack", "openstack_keepalived", "openstack_pacemaker", "webplatform"]
KINDS = ("node", "domain", "switch", "trunk", "link", "nic", "cable", "process")


def _both(arch):
    r = place(arch)
    a = Analysis(arch, r.placement, r.vrrp_groups)
    return a.single_failures(KINDS), a.single_failures(KINDS, indexed=False)


@pytest.mark.parametrize("name", REFERENCE)
def test_index_equals_full_evaluation_on_the_reference_models(name, reference_arch):
    got, want = _both(reference_arch(name))
    assert any(f.down or f.degraded for f in want)  # the comparison compares something
    assert got == want


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_index_equals_full_evaluation_on_random_models(seed):
    got, want = _both(synthetic(10, 30 + 5 * seed, 40 + 10 * seed, seed=seed))
    assert any(f.down or f.degraded for f in want)
    assert got == want


def test_the_comparison_fails_when_the_index_drops_a_service(monkeypatch, reference_arch):
    """A slice that leaves out one component of one service changes the scenarios."""
    arch = reference_arch("openstack_keepalived")
    full = ModelView.slice

    def short(self, s):
        out = full(self, s)
        return out - {min(c for c in out if c.startswith("node:"))} if s == "haproxy" else out

    monkeypatch.setattr(ModelView, "slice", short)
    got, want = _both(arch)
    assert got != want
