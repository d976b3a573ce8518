"""The reference page (issue 31): its title and distribution come from the model, the drill's
figures are copied beside the predictions with the drill's stamp, and each drill page sits under
its architecture in the navigation."""

from __future__ import annotations

import json
from pathlib import Path

from hamodel.generators.docs import DocExtras, generate
from hamodel.generators.drill_report import read_page_stamp, read_summary

from hamodel.loader import load
from hamodel.pipeline import resolve
from hamodel.sphinx import _drill_section

REPO = Path(__file__).resolve().parents[2]


def _document(extras: DocExtras) -> str:
    dep = resolve(load(REPO / "models" / "openstack_keepalived.py"))
    return generate(dep, slug="ref", extras=extras)["ref/index.rst"].decode()


def test_title_and_distribution_come_from_the_model() -> None:
    text = _document(DocExtras())
    assert text.splitlines()[3] == "The keepalived architecture"  # the reference page's title, not the name
    scope = text.split("Scope and assumptions", 1)[1].split("High availability strategies", 1)[0]
    assert "Distribution\\: RDO \\/ Red Hat OpenStack Platform" in scope


def test_drill_figures_are_copied_with_the_stamp(tmp_path: Path) -> None:
    page = (
        ".. hamodel-drill-stamp: "
        + json.dumps({"commit": "abc123def456", "date": "2026-12-01 10:00 UTC", "model_sha256": "f" * 64})
        + "\n\n"
        "   * - Scenario\n     - Agreed\n     - Measured\n"
        "   * - ``partition``\n     - yes\n     - split brain seen (ctl-2, ctl-3), one holder 9.87 s after heal\n"
        "   * - ``holder-crash``\n     - no\n     - VIP moved in 4.56 s, 3 of 9 requests failed\n\n"
    )
    figures, stamp = read_summary(page), read_page_stamp(page)
    assert figures["holder-crash"] == (False, "VIP moved in 4.56 s, 3 of 9 requests failed")
    text = _document(
        DocExtras(
            measured={"partition": "/drills", "holder-crash": "/drills"}, measured_figures=figures, measured_stamp=stamp
        )
    )
    assert ":Measured: ``partition``: split brain seen (ctl-2, ctl-3), one holder 9.87 s after heal" in text
    assert "2026-12-01 10\\:00 UTC, at commit abc123def456" in text
    # The stamp sentence is a paragraph of its own: the first finding's label stays a label.
    assert "\n\n.. _ref-finding-1:\n" in text
    # Without the drill's figures the line names the scenario only: nothing is invented.
    assert "9.87 s" not in _document(DocExtras(measured={"partition": "/drills"}))


def test_the_committed_drill_pages_give_their_figures() -> None:
    for name in ("drills.rst", "drills-pacemaker.rst"):
        page = (REPO / "docs" / name).read_text()
        assert read_summary(page), name
        assert read_page_stamp(page)["commit"], name


def test_drill_pages_sit_under_their_architecture() -> None:
    section = _drill_section([("drills", "Measured failover")])
    assert ".. toctree::\n   :hidden:\n\n   /drills\n" in section
