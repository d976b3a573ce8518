"""A poll Prometheus does not answer is unknown, never "no alert fires".

Before: the labs read an unanswered poll as an empty set of firing alerts,
so a resolve check passed at the first unanswered poll, and under heavy
load (two full drills beside the integration tier) the Galera lab's
alerts were "never seen" without saying why.
"""

from __future__ import annotations

import itertools

from hamodel.drill.galera.monitoring import PromLab
from hamodel.drill.keepalived.monitoring import LabMonitor


def _galera(answers):
    pl = PromLab.__new__(PromLab)
    it = iter(answers)
    pl.firing = lambda: next(it, {"A"})  # type: ignore[method-assign]
    return pl


def test_an_unanswered_poll_is_not_a_resolved_alert(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    pl = _galera([None, None, {"A"}, set()])
    r = pl.watch({"A"}, set(), 30, until_gone=True)
    assert r["unanswered_polls"] == 2 and r["still"] == [] and r["gone_after_s"] is not None
    # only unanswered polls: not gone, and said
    pl = _galera(itertools.repeat(None))
    clock = itertools.count(0, 0.5)
    monkeypatch.setattr("time.monotonic", lambda: next(clock))
    r = pl.watch({"A"}, set(), 5, until_gone=True)
    assert r["gone_after_s"] is None and r["unanswered_polls"] > 0


def test_unanswered_polls_are_counted_while_waiting_for_an_alert(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    pl = _galera([None, None, None, {"A"}])
    r = pl.watch({"A"}, set(), 30)
    assert "A" in r["fired_after_s"] and r["unanswered_polls"] == 3
    pl = _galera([set(), {"A"}])
    assert "unanswered_polls" not in pl.watch({"A"}, set(), 30)  # the report is unchanged when all answered


def test_the_keepalived_lab_does_not_resolve_on_an_unanswered_poll(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    lm = LabMonitor.__new__(LabMonitor)
    lm.exporters = {}
    lm.liveness = {}
    answers = iter([None, None, {"HamodelBackendDownKeystone"}, set()])
    lm.firing = lambda: next(answers)  # type: ignore[method-assign]
    r = lm.after({})
    assert r["still"] == [] and r["resolved_after_settled_s"] is not None
    lm.firing = lambda: None  # type: ignore[method-assign]
    clock = itertools.count(0, 5.0)
    monkeypatch.setattr("time.monotonic", lambda: next(clock))
    r = lm.after({})
    assert r["resolved_after_settled_s"] is None
