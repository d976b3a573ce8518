"""One analysis object per deployment (issue 18, move 4): every question over one view;
its answers reach the Deployment as plain results (issue 28)."""

from __future__ import annotations

import pytest

import hamodel.analysis.failures as failures
from hamodel.analysis.failures import Analysis
from hamodel.pipeline import resolve


@pytest.fixture(scope="module")
def dep(reference_arch):
    return resolve(reference_arch("multirack"), k=2, answers=True)


def test_the_analysis_answers_as_the_module_functions_do(dep):
    arch, pl, groups = dep.architecture, dep.placement, dep.vrrp_groups
    a = Analysis(arch, pl, groups)
    assert a.cut_sets(2) == failures.cut_sets(arch, pl, 2, groups)
    assert a.split_brain(2) == failures.split_brain(arch, pl, 2, groups)
    assert a.single_failures() == failures.single_failure_scenarios(arch, pl, groups)
    assert a.availability() == failures.availability(arch, pl, groups)
    assert a.cold_start(1) == failures.cold_start(arch, pl, 1, groups)
    assert a.capacity("domain") == failures.capacity_check(arch, pl, "domain", groups)
    assert tuple(a.findings(2)) == dep.findings[: len(tuple(a.findings(2)))]


def test_the_deployment_carries_the_answers_as_plain_results(dep):
    arch, pl, groups = dep.architecture, dep.placement, dep.vrrp_groups
    r = dep.results
    assert r is not None and r.k == 2
    assert dict(r.cut_sets) == {s: tuple(sets) for s, sets in failures.cut_sets(arch, pl, 2, groups).items()}
    assert list(r.single_failures) == failures.single_failure_scenarios(arch, pl, groups)
    assert dict(r.availability) == failures.availability(arch, pl, groups)
    assert r.availability and r.fix_first  # multirack carries reliability figures


def test_without_answers_the_deployment_says_how_to_get_them(reference_arch):
    dep = resolve(reference_arch("multirack"), k=2)
    assert dep.results is None
    with pytest.raises(ValueError, match="answers=True"):
        dep.answers()


def test_the_view_is_built_once_for_every_question(reference_arch, monkeypatch):
    built = []
    real = failures.view
    monkeypatch.setattr(failures, "view", lambda *a, **kw: built.append(1) or real(*a, **kw))
    # findings (cut sets + split brain + capacity + cold start), recovery and the answers
    resolve(reference_arch("openstack_keepalived"), k=2, answers=True)
    assert len(built) == 1, f"the component view was built {len(built)} times"
