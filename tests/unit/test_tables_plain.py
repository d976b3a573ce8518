"""Plain layouts of the big views of ``hamodel check`` (issue 30, scale).

Beyond PLAIN_ROWS rows the placement, findings and recovery views are plain
columns and blocks instead of rich tables (rich's layout took as long as the
analysis at 5,000 services). Under it (every reference model) rich's output
is unchanged; the plain views hold the same cells, and model text still goes
through the printable filter."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from hamodel import tables
from hamodel.cli import app
from hamodel.loader import load
from hamodel.pipeline import resolve
from hamodel.tables_plain import PLAIN_ROWS, Plain
from hamodel.testing import synthetic

ROOT = Path(__file__).resolve().parents[2]


def _rich_cells(table: Table | Plain) -> list[list[str]]:
    """The rows of ``table`` rendered without wrapping, cells stripped."""
    assert isinstance(table, Table)
    c = Console(width=1000, record=True, file=io.StringIO())
    c.print(table)
    lines = [ln for ln in c.export_text().splitlines() if ln.startswith("│")]
    return [[x.strip() for x in ln.strip("│").split("│")] for ln in lines]


def _plain_cells(text: str) -> list[list[str]]:
    return [re.split(r"  +", ln.strip()) for ln in text.splitlines()[3:]]


def test_reference_models_stay_rich():
    dep = resolve(load(ROOT / "models" / "openstack_keepalived.py"))
    assert len(dep.architecture.services) <= PLAIN_ROWS and len(dep.findings) <= PLAIN_ROWS
    assert not isinstance(tables.placement_table(dep.architecture, dep), Plain)
    assert not isinstance(tables.findings_view(dep.findings), Plain)


def test_plain_placement_has_rich_cells(monkeypatch):
    arch = synthetic(10, 100, 300, seed=3)
    dep = resolve(arch)
    want = _rich_cells(tables.placement_table(arch, dep))
    monkeypatch.setattr(tables, "PLAIN_ROWS", 10)
    got = tables.placement_table(arch, dep)
    assert isinstance(got, Plain) and got.startswith(f"{arch.name}: placement\n")
    assert _plain_cells(got) == want and len(want) == len(arch.services)


def test_plain_findings_hold_every_field(monkeypatch):
    dep = resolve(load(ROOT / "models" / "openstack_keepalived.py"))
    monkeypatch.setattr(tables, "PLAIN_ROWS", 1)
    text = tables.findings_view(dep.findings, title="t")
    assert isinstance(text, Plain)
    blocks = text.split("\n\n")[1:]
    assert len(blocks) == len(dep.findings) > 1
    for f, b in zip(dep.findings, blocks, strict=True):
        assert b.startswith(f"{f.severity.upper()}  {f.id}  ")
        assert f"\n  impact      {f.impact}" in b and f"\n  {f.title}\n" in b
        assert (f"\n  mitigation  {f.mitigation}" in b) == bool(f.mitigation)


def test_plain_view_filters_control_characters(monkeypatch):
    arch = synthetic(10, 100, 300, seed=3).model_copy(update={"name": "evil\x1b]0;title\x07"})
    dep = resolve(arch)
    monkeypatch.setattr(tables, "PLAIN_ROWS", 1)
    for view in (tables.placement_table(arch, dep), tables.findings_view(dep.findings, title=arch.name)):
        assert isinstance(view, Plain) and "\x1b" not in view and "\x07" not in view and "evil\\x1b" in view


def test_check_prints_plain_views(monkeypatch, tmp_path):
    monkeypatch.setattr(tables, "PLAIN_ROWS", 1)
    r = CliRunner().invoke(app, ["check", str(ROOT / "models" / "openstack_keepalived.py"), "--fresh"])
    assert "openstack-keepalived: placement\nservice" in r.stdout or ": placement\nservice" in r.stdout
    assert ": findings (k=2)\n\n" in r.stdout
    assert r.stdout.rstrip().endswith("at or above medium") or "finding(s)" in r.stdout.splitlines()[-1]


def test_show_filters_a_plain_text_that_was_not():
    """show() is the net under a Plain text whose pieces missed the filter."""
    from hamodel.tables_plain import show

    c = Console(file=io.StringIO())
    show(c, Plain("a\x1b[2Jb\nok\n\x07\n"))
    assert c.file.getvalue() == "a\\x1b[2Jb\nok\n\\x07\n"  # pyright: ignore[reportAttributeAccessIssue]
