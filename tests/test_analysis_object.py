"""One analysis object per deployment (issue 18, move 4): every question over one view."""

from __future__ import annotations

import pytest

import hamodel.analysis.failures as failures
from hamodel.pipeline import resolve


@pytest.fixture(scope="module")
def dep(reference_arch):
    return resolve(reference_arch("multirack"), k=2)


def test_the_deployment_answers_as_the_module_functions_do(dep):
    arch, pl, groups = dep.architecture, dep.placement, dep.vrrp_groups
    a = dep.analysis
    assert a.cut_sets(2) == failures.cut_sets(arch, pl, 2, groups)
    assert a.split_brain(2) == failures.split_brain(arch, pl, 2, groups)
    assert a.single_failures() == failures.single_failure_scenarios(arch, pl, groups)
    assert a.availability() == failures.availability(arch, pl, groups)
    assert a.cold_start(1) == failures.cold_start(arch, pl, 1, groups)
    assert a.capacity("domain") == failures.capacity_check(arch, pl, "domain", groups)
    assert tuple(a.findings(2)) == dep.findings


def test_the_view_is_built_once_for_every_question(reference_arch, monkeypatch):
    built = []
    real = failures.view
    monkeypatch.setattr(failures, "view", lambda *a, **kw: built.append(1) or real(*a, **kw))
    dep = resolve(reference_arch("openstack_keepalived"), k=2)
    # analyse = cut sets + split brain + capacity + cold start; then more questions
    dep.analysis.single_failures()
    dep.analysis.cut_sets(1)
    dep.analysis.cold_start(1, stop="graceful")
    assert len(built) == 1, f"the component view was built {len(built)} times"


def test_a_derived_deployment_gets_its_own_analysis(dep):
    import dataclasses

    other = dataclasses.replace(dep, findings=())
    assert other.analysis is not dep.analysis and other.analysis.arch is dep.architecture
