"""The measured-failover pages say which commit, date, model and scenarios
they measured, and the suite fails when the model or the drill scenarios
changed since (issue 31: the page had gone stale silently)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hamodel.generators.drill_report import render_rst

from hamodel.drill.report import not_measured
from hamodel.drill.stamp import make_stamp, read_stamp, stale
from hamodel.loader import load
from hamodel.pipeline import resolve

ROOT = Path(__file__).resolve().parents[2]
PAGES = {"drills.rst": "openstack_keepalived", "drills-pacemaker.rst": "openstack_pacemaker"}


@pytest.fixture(scope="module")
def dep():
    return resolve(load(ROOT / "models" / "openstack_keepalived.py"), analyse=True)


def _report(dep, **extra):
    return {
        "model": dep.architecture.name,
        "model_file": "models/openstack_keepalived.py",
        "quick": False,
        "lab": {
            "daemons": {"keepalived": "k", "haproxy": "h"},
            "nodes": {},
            "switches": [],
            "inter_switch_links": [],
            "client": "c",
            "config_rewrites": [],
            "notes": [],
            "services_without_backends": [],
        },
        "summary": {"agreed": 0, "scenarios": 0},
        "duration_s": 1.0,
        "startup": {"first_holder_s": 1.0},
        "scenarios": [],
        **extra,
    }


def test_a_page_carries_its_stamp_and_is_current(dep):
    stamp = make_stamp(dep, now=dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC))
    page = render_rst(_report(dep, stamp=stamp))
    assert read_stamp(page) == stamp and stale(page, dep) == []
    assert f"run at commit ``{stamp['commit']}`` on 2026-12-07 12\\:00 UTC" in page
    assert "`OpenStack, keepalived <generated/openstack_keepalived/index.html>`__" in page


def test_a_changed_model_or_scenario_set_makes_the_page_stale(dep):
    page = render_rst(_report(dep, stamp=make_stamp(dep)))
    changed = resolve(dep.architecture.model_copy(update={"description": "changed"}), analyse=False)
    assert any("model changed" in w for w in stale(page, changed))
    forged = dict(read_stamp(page), scenarios_sha256="0" * 64)
    page = render_rst(_report(dep, stamp=forged))
    assert any("scenarios changed" in w for w in stale(page, dep))
    assert stale(render_rst(_report(dep)), dep) == [
        "the page has no stamp (generated before stamps, or edited by hand)"
    ]


def test_the_page_has_method_and_not_measured_sections(dep):
    report = _report(
        dep,
        stamp=make_stamp(dep),
        scenarios=[
            {
                "name": "backend-death:keystone",
                "kind": "backend-death",
                "service": "keystone",
                "title": "t",
                "vip": "v",
                "agreed": True,
                "notes": [],
            }
        ],
        startup={"first_holder_s": 1.0, "services": {"keystone:5000": "ctl-1"}},
    )
    report["not_measured"] = not_measured(dep, report)
    page = render_rst(report)
    assert "\nMethod\n------" in page and "every 50 ms" in page and "Stand-ins" in page
    missing = {n["service"] for n in report["not_measured"]}
    assert {"cinder-volume", "neutron-lbaas-agent", "rabbitmq", "mongodb", "redis"} <= missing
    assert "keystone" not in missing and "haproxy" not in missing
    # The table header is text, not a URI (it rendered as a link "Service:port").
    assert "* - Service\\:port" in page


@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_committed_drill_pages_are_current(page):
    """Fails when the model or the drill scenarios changed after the page was measured:
    run ``make drill`` (root, about 7 minutes) and commit the pages."""
    dep = resolve(load(ROOT / "models" / f"{PAGES[page]}.py"), analyse=False)
    why = stale((ROOT / "docs" / page).read_text(encoding="utf-8"), dep)
    assert not why, f"docs/{page} is stale: {'; '.join(why)}; regenerate it with make drill"


def test_every_scenario_module_is_in_its_labs_stamp():
    """A scenario whose source is not fingerprinted could change without the page going stale:
    redis-promoted-kill's module was missing from the Pacemaker stamp until this test."""
    import fnmatch
    import inspect

    from hamodel.drill import stamp
    from hamodel.drill.pacemaker import quorum
    from hamodel.drill.pacemaker.cluster import PacemakerClusterLab
    from hamodel.drill.registry import KINDS

    drill = Path(stamp.__file__).resolve().parent

    def stamped(cls: type, lab: str) -> bool:
        rel = Path(inspect.getsourcefile(cls) or "").resolve().relative_to(drill).as_posix()
        patterns = (*stamp._SCENARIO_SOURCES, *stamp._LAB_SOURCES[lab])
        return any(fnmatch.fnmatch(rel, p) for p in patterns)

    missing = [k.__name__ for k in KINDS.values() if not stamped(k, "keepalived")]
    missing += [k.__name__ for k in (*PacemakerClusterLab.kinds, *quorum.SCENARIO_KINDS) if not stamped(k, "pacemaker")]
    assert missing == []
