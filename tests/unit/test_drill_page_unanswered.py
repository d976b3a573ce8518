"""The drill page says where Prometheus left polls unanswered (issue 25).

The labs count a poll Prometheus did not answer as unknown (``unanswered_polls``
in a measurement, :func:`hamodel.drill.prometheus.unanswered_polls`); before, the
page showed the count only as one more ``key: value`` buried in a scenario's
alerts line, never for the healthy window, and the keepalived lab's resolve loop
did not count at all. Now a note says how many, and where; nothing when none.
"""

from __future__ import annotations

import copy
import itertools

import docutils.core
from hamodel.generators.drill_report import render_rst, unanswered

from hamodel.drill.keepalived.monitoring import LabMonitor
from tests.unit.test_drill_units import REPORT


def _with_polls(during: int, healthy: int) -> dict:
    r = copy.deepcopy(REPORT)
    alerts = {"predicted": {}, "fired_after_s": {}, "unexpected": [], "held_s": 1.0, "still": []}
    if during:
        alerts["unanswered_polls"] = during
    r["scenarios"][0]["measured"]["alerts"] = alerts
    r["lab"]["monitoring"] = {
        "healthy": {"window_s": 55.0, "fired": []} | ({"unanswered_polls": healthy} if healthy else {}),
        "rewrites": [],
    }
    return r


def test_unanswered_finds_nested_counts():
    assert unanswered({"a": {"unanswered_polls": 2}, "b": {"c": {"unanswered_polls": 1}}, "d": 3}) == {
        "a": 2,
        "b.c": 1,
    }
    assert unanswered({"alerts": {"unanswered_polls": 0}}) == {}


def test_page_notes_unanswered_polls_only_when_some():
    quiet = render_rst(_with_polls(0, 0))
    assert "unanswered" not in quiet
    text = render_rst(_with_polls(3, 2))
    assert "Prometheus left 3 poll(s) of the alert checks unanswered (alerts: 3)" in text
    assert "Prometheus left 2 poll(s) of the alert checks unanswered (healthy window: 2)" in text
    docutils.core.publish_doctree(text, settings_overrides={"halt_level": 2, "report_level": 2})


def test_the_resolve_loop_adds_its_unanswered_polls(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    lm = LabMonitor.__new__(LabMonitor)
    lm.exporters = {}
    lm.liveness = {}
    answers = iter([None, None, set()])
    lm.firing = lambda: next(answers)  # type: ignore[method-assign]
    assert lm.after({"unanswered_polls": 4})["unanswered_polls"] == 6
    answers2 = iter([set()])
    lm.firing = lambda: next(answers2)  # type: ignore[method-assign]
    assert "unanswered_polls" not in lm.after({})
    lm.firing = lambda: None  # type: ignore[method-assign]
    clock = itertools.count(0, 5.0)
    monkeypatch.setattr("time.monotonic", lambda: next(clock))
    assert lm.after({})["unanswered_polls"] > 0


def test_keepalived_kill_has_a_summary_headline():
    r = copy.deepcopy(REPORT)
    sc = r["scenarios"][0]
    sc.update(kind="keepalived-kill", name="keepalived-kill")
    sc["measured"] = {"takeover_s": 2.947, "holders_after": ["ctl-1", "ctl-2"], "old_holder": "ctl-1"}
    text = render_rst(r)
    assert "a backup took the VIP after 2.95 s; held by ctl-1, ctl-2" in text
