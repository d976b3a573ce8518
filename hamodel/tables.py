"""Every rich table and view the CLI prints, in one place.

The analysis answers with data (:class:`~hamodel.deployment.Finding`,
placement, availability rows); this module turns it into terminal output.
Free text from a model (names, prose) is always passed as
:class:`rich.text.Text` or escaped, never read as Rich markup, and through
:func:`hamodel.errors.printable` (:func:`_t`), so that no control sequence
of a model (a window title, a clear screen, an OSC 8 link) reaches the
terminal; :class:`hamodel.terminal.SafeConsole` is the net under every print.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from hamodel.analysis.placement_statements import names
from hamodel.deployment import Finding, Severity
from hamodel.errors import printable
from hamodel.model import Architecture
from hamodel.ordering import natural_key
from hamodel.tables_plain import PLAIN_ROWS, Plain, columns, finding_blocks

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def _t(text: str) -> str:
    """Model text for a terminal: control characters as escapes."""
    return printable(text)


def summary_table(arch: Architecture) -> Table:
    t = Table(title=escape(_t(arch.name)), show_lines=False)  # free text: no Rich markup
    t.add_column("what")
    t.add_column("count", justify="right")
    t.add_column("names")
    for field in ("domains", "networks", "nodes", "vips", "services"):
        items = getattr(arch, field)
        names = ", ".join(x.name for x in items)
        t.add_row(field, str(len(items)), escape(names if len(names) < 90 else names[:87] + "..."))
    return t


def placement_table(arch: Architecture, result: Any) -> Table | Plain:
    """A rich table, node x service: ``●`` runs there, ``M`` the VRRP master."""
    nodes = sorted({n for ns in result.placement.instances.values() for n in ns}, key=natural_key)
    masters = {g.service: g.master for g in result.vrrp_groups}
    t = Table(title=Text(_t(f"{arch.name}: placement")), show_lines=False)  # a model name: never Rich markup
    if len(arch.services) > PLAIN_ROWS:  # rich's layout would take seconds: plain columns
        rows = []
        for svc in arch.services:
            ns = result.placement.nodes_of(svc.name)
            rows.append((svc.name, str(len(ns)), names(sorted(ns, key=natural_key), limit=12)))
        return columns(f"{arch.name}: placement", ("service", "n", "nodes"), rows, right=(1,))
    if len(nodes) > 24:  # too wide for a matrix: one row per service
        t.add_column("service")
        t.add_column("n", justify="right")
        t.add_column("nodes")
        for svc in arch.services:
            ns = result.placement.nodes_of(svc.name)
            t.add_row(svc.name, str(len(ns)), names(sorted(ns, key=natural_key), limit=12))
        return t
    t.add_column("service")
    t.add_column("n", justify="right")
    for n in nodes:
        t.add_column(n, justify="center")
    for svc in arch.services:
        ns = set(result.placement.nodes_of(svc.name))
        cells = [("M" if masters.get(svc.name) == n else "●") if n in ns else "·" for n in nodes]
        t.add_row(svc.name, str(len(ns)), *cells)
    return t


# Below this many columns the five-column table squeezes its text columns
# into word fragments: print one block per finding instead.
TABLE_MIN_WIDTH = 140


def findings_view(findings: Iterable[Finding], title: str = "findings", width: int = 80):
    """Findings for a terminal ``width`` columns wide: the table when it
    fits, else one block per finding (:func:`findings_blocks`); plain text
    blocks beyond :data:`~hamodel.tables_plain.PLAIN_ROWS` findings."""
    findings = list(findings)
    if len(findings) > PLAIN_ROWS:
        return finding_blocks(findings, title)
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
    parts: list = [Text(_t(title), style="bold", justify="center")]
    for f in findings:
        head = Text()
        head.append(f.severity.upper(), style=SEVERITY_STYLE.get(f.severity, ""))
        head.append("  ")
        head.append(_t(f.id), style="bold")
        head.append("  ")
        head.append(
            _t(f"accepted: {f.acknowledged}") if f.acknowledged else "open", style="green" if f.acknowledged else ""
        )
        rows = Table.grid(padding=(0, 2))
        rows.add_column(style="dim", no_wrap=True)
        rows.add_column(overflow="fold")
        # Text, not str: a finding's prose may hold brackets rich would read as markup.
        rows.add_row("scenario", Text(_t(" + ".join(f.scenario)) if f.scenario else "-"))
        rows.add_row("impact", Text(_t(f.impact)))
        if f.mitigation:
            rows.add_row("mitigation", Text(_t(f.mitigation)))
        parts += [Text(""), head, Padding(Group(Text(_t(f.title), style="bold"), rows), (0, 0, 0, 2))]
    return Group(*parts)


def findings_table(findings: Iterable[Finding], title: str = "findings"):
    """A rich table: severity, id, title, scenario, acknowledgement."""
    t = Table(title=Text(_t(title)), show_lines=True, expand=True)  # a model name: never Rich markup
    t.add_column("severity", no_wrap=True)
    t.add_column("id", no_wrap=True)
    t.add_column("finding", overflow="fold", ratio=3)
    t.add_column("scenario", overflow="fold", ratio=1)
    t.add_column("status", overflow="fold")
    for f in findings:
        scen = _t(" + ".join(f.scenario)) if f.scenario else "-"
        if len(scen) > 120:
            scen = scen[:117] + "..."
        status = Text(_t(f"accepted: {f.acknowledged}"), style="green") if f.acknowledged else Text("open")
        body = Text(_t(f.title), style="bold")
        body.append("\n" + _t(f.impact), style="")
        if f.mitigation:
            body.append("\nmitigation: " + _t(f.mitigation), style="italic")
        t.add_row(Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")), _t(f.id), body, scen, status)
    return t


def availability_table(name: str, estimates: dict) -> Table:
    t = Table(title=f"{_t(name)}: steady-state availability (independent failures)")
    for col, just in (
        ("service", "left"),
        ("availability", "right"),
        ("nines", "right"),
        ("downtime / year", "right"),
        ("cut sets", "right"),
        ("exact", "left"),
    ):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for s, a in sorted(estimates.items(), key=lambda kv: (kv[1].availability, kv[0])):
        t.add_row(
            _t(s),
            f"{a.availability:.6f}",
            f"{a.nines:.2f}",
            f"{a.unavailability * 8766:.2f} h",
            (str(a.cut_sets) if a.cut_sets < 10**6 else f"{a.cut_sets:.2e}") + ("" if a.cut_sets_complete else "+"),
            "yes" if a.exact else "no (truncated)",
        )
        if a.reads is not None:  # a single writer: writes above, reads (any replica answers) here
            r = a.reads
            t.add_row(
                _t(f"{s} (reads)"),
                f"{r.availability:.6f}",
                f"{r.nines:.2f}",
                f"{r.unavailability * 8766:.2f} h",
                str(r.cut_sets) + ("" if r.cut_sets_complete else "+"),
                "yes" if r.exact else "no (truncated)",
            )
    return t


def fix_first_table(name: str, rows: list) -> Table:
    # "saves": downtime per year summed over services if the component never
    # failed; Birnbaum and Fussell-Vesely (FV) for the service it affects most.
    t = Table(title=f"{_t(name)}: what to fix first")
    for col, just in (
        ("component", "left"),
        ("saves / year", "right"),
        ("services", "right"),
        ("worst for", "left"),
        ("Birnbaum", "right"),
        ("FV", "right"),
    ):
        t.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
    for f in rows:
        t.add_row(
            escape(_t(f.component)),
            f"{f.hours_per_year:.3f} h",
            str(len(f.services)),
            escape(_t(f.top_service)),
            f"{f.birnbaum:.3g}",
            f"{f.fussell_vesely:.3f}",
        )
    return t


def files_table(title: str, files: Any) -> Table:
    """What ``hamodel build`` wrote: path, mode and the start of its sha256 (never a secret file's)."""
    table = Table(title=escape(_t(title)))
    for col in ("file", "mode", "sha256"):
        table.add_column(col)
    for rel in sorted(files):
        digest = "(secret)" if rel in files.secret else hashlib.sha256(files[rel]).hexdigest()[:12]
        table.add_row(rel, "0600" if rel in files.secret else "0644", digest)
    return table


def recovery_table_view(name: str, table: Any) -> Table | Plain:
    """Predicted recovery against the policy: the rows that have a target
    (plain columns beyond :data:`~hamodel.tables_plain.PLAIN_ROWS` rows)."""
    if len(table.rows) > PLAIN_ROWS:
        return _recovery_plain(name, table)
    t = Table(title=f"{name}: recovery objectives")
    for col, just in (
        ("service", "left"),
        ("disruption", "left"),
        ("predicted RTO", "right"),
        ("target", "right"),
        ("dominated by", "left"),
        ("RPO", "left"),
    ):
        t.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
    for r in table.rows:
        rto, rpo = table.target(r.service, "rto", r.disruption), table.target(r.service, "rpo", r.disruption)
        if rto is None and rpo is None:
            continue
        pred = ("down" if r.down else "unknown") if r.rto_s is None else f"{r.rto_s[0]:g}-{r.rto_s[1]:g} s"
        ok = r.rto_s is not None and (rto is None or r.rto_s[1] <= rto)
        pred_text = Text(pred, style="green" if ok else "red")
        t.add_row(
            escape(r.service),
            r.disruption,
            pred_text,
            "-" if rto is None else f"{rto:g} s",
            escape(r.dominated_by or r.note),
            escape(r.rpo),
        )
    return t


def _recovery_plain(name: str, table: Any) -> Plain:
    """:func:`recovery_table_view`'s rows as plain columns (``name`` as there:
    rich markup escaped, which plain text does not read: unescaped here)."""
    from rich.markup import render

    rows = []
    for r in table.rows:
        rto, rpo = table.target(r.service, "rto", r.disruption), table.target(r.service, "rpo", r.disruption)
        if rto is None and rpo is None:
            continue
        pred = ("down" if r.down else "unknown") if r.rto_s is None else f"{r.rto_s[0]:g}-{r.rto_s[1]:g} s"
        rows.append(
            (r.service, r.disruption, pred, "-" if rto is None else f"{rto:g} s", r.dominated_by or r.note, r.rpo)
        )
    heads = ("service", "disruption", "predicted RTO", "target", "dominated by", "RPO")
    return columns(f"{render(name).plain}: recovery objectives", heads, rows, right=(2, 3))
