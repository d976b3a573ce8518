"""Presenting and gating findings (used by ``hamodel check``)."""

from __future__ import annotations

from typing import Iterable

from hamodel.deployment import Finding, Severity

SEVERITY_STYLE = {Severity.CRITICAL: "bold red", Severity.HIGH: "red", Severity.MEDIUM: "yellow",
                  Severity.LOW: "cyan", Severity.INFO: "dim"}


def at_least(severity: str, threshold: str) -> bool:
    """Whether ``severity`` is ``threshold`` or worse (ranked by :class:`Severity`)."""
    return Severity(severity).at_least(threshold)


def gate(findings: Iterable[Finding], fail_on: str) -> list[Finding]:
    """Unacknowledged findings at or above ``fail_on``: what fails a CI run."""
    return [f for f in findings if f.acknowledged is None and at_least(f.severity, fail_on)]


# Below this many columns the five-column table squeezes its text columns
# into word fragments: print one block per finding instead.
TABLE_MIN_WIDTH = 140


def findings_view(findings: Iterable[Finding], title: str = "findings", width: int = 80):
    """Findings for a terminal ``width`` columns wide: the table when it
    fits, else one block per finding (:func:`findings_blocks`)."""
    if width >= TABLE_MIN_WIDTH:
        return findings_table(findings, title)
    return findings_blocks(findings, title)


def findings_blocks(findings: Iterable[Finding], title: str = "findings"):
    """One block per finding, readable at 80 columns::

        HIGH  spof:cinder-volume  open
          cinder-volume is a single point of failure
          scenario    node:ctl-1
          impact      ...text wrapped under its label...
          mitigation  ...
    """
    from rich.console import Group
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    parts: list = [Text(title, style="bold", justify="center")]
    for f in findings:
        head = Text()
        head.append(f.severity.upper(), style=SEVERITY_STYLE.get(f.severity, ""))
        head.append("  ")
        head.append(f.id, style="bold")
        head.append("  ")
        head.append(f"accepted: {f.acknowledged}" if f.acknowledged else "open",
                    style="green" if f.acknowledged else "")
        rows = Table.grid(padding=(0, 2))
        rows.add_column(style="dim", no_wrap=True)
        rows.add_column(overflow="fold")
        # Text, not str: a finding's prose may hold brackets rich would read as markup.
        rows.add_row("scenario", Text(" + ".join(f.scenario) if f.scenario else "-"))
        rows.add_row("impact", Text(f.impact))
        if f.mitigation:
            rows.add_row("mitigation", Text(f.mitigation))
        parts += [Text(""), head, Padding(Group(Text(f.title, style="bold"), rows), (0, 0, 0, 2))]
    return Group(*parts)


def findings_table(findings: Iterable[Finding], title: str = "findings"):
    """A rich table: severity, id, title, scenario, acknowledgement."""
    from rich.table import Table
    from rich.text import Text

    t = Table(title=Text(title), show_lines=True, expand=True)  # a model name: never Rich markup
    t.add_column("severity", no_wrap=True)
    t.add_column("id", no_wrap=True)
    t.add_column("finding", overflow="fold", ratio=3)
    t.add_column("scenario", overflow="fold", ratio=1)
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
