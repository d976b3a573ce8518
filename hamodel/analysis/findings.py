"""Presenting and gating findings (used by ``hamodel check``)."""

from __future__ import annotations

from typing import Iterable

from hamodel.deployment import SEVERITIES, Finding

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def at_least(severity: str, threshold: str) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(threshold)


def gate(findings: Iterable[Finding], fail_on: str) -> list[Finding]:
    """Unacknowledged findings at or above ``fail_on``: what fails a CI run."""
    return [f for f in findings if f.acknowledged is None and at_least(f.severity, fail_on)]


def findings_table(findings: Iterable[Finding], title: str = "findings"):
    """A rich table: severity, id, title, scenario, acknowledgement."""
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title, show_lines=True)
    t.add_column("severity")
    t.add_column("id", no_wrap=True)
    t.add_column("finding", overflow="fold")
    t.add_column("scenario", overflow="fold")
    t.add_column("status", overflow="fold")
    for f in findings:
        scen = " + ".join(f.scenario) if f.scenario else "-"
        if len(scen) > 120:
            scen = scen[:117] + "..."
        status = Text(f"accepted: {f.acknowledged}", style="green") if f.acknowledged else Text("open")
        body = Text(f.title, style="bold")
        body.append("\n" + f.impact, style="")
        if f.mitigation:
            body.append("\nmitigation: " + f.mitigation, style="italic")
        t.add_row(Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")), f.id, body, scen, status)
    return t
