"""The drill report: assembled from typed results, as JSON and as a table on the terminal.

The ``hamodel drill`` flow that prints and writes it is :mod:`hamodel.drill.command`.
"""

from __future__ import annotations

import json
from typing import Any

from rich.markup import escape
from rich.table import Table

from hamodel.drill.results import ScenarioResult, Startup, as_json


def assemble(
    *,
    model: str,
    quick: bool,
    lab_prefix: str,
    analysis_findings: list[str],
    startup: Startup,
    scenarios: list[ScenarioResult],
    lab: dict[str, Any],
    duration_s: float,
) -> dict[str, Any]:
    """The JSON report of one drill, with its summary (what disagreed, what did not answer at start)."""
    unreachable = [k for k, v in startup.services.items() if v.startswith("failed")]
    return as_json(
        {
            "model": model,
            "quick": quick,
            "lab_prefix": lab_prefix,
            "analysis_findings": analysis_findings,
            "startup": startup,
            "scenarios": scenarios,
            "lab": lab,
            "duration_s": duration_s,
            "summary": {
                "scenarios": len(scenarios),
                "agreed": sum(1 for s in scenarios if s.agreed),
                "disagreed": [s.name for s in scenarios if not s.agreed] + [f"startup:{k}" for k in unreachable],
                "services_reachable_at_start": len(startup.services) - len(unreachable),
                "services_unreachable_at_start": unreachable,
            },
        }
    )


def not_measured(dep: Any, report: dict[str, Any]) -> list[dict[str, str]]:
    """The services no scenario of this drill exercised, each with the reason
    (the page's "Not measured" section): what the lab does not run."""
    from hamodel.model.strategies import ActivePassive, AppCluster, Coordinated, Sharded

    ran = {sc.get("service") for sc in report.get("scenarios", [])}
    if any(str(sc.get("kind", "")).startswith("galera-") for sc in report.get("scenarios", [])):
        ran |= {s.name for s in dep.architecture.services if s.access is not None and s.access.single_writer}
    fronted = {s.name for s in dep.architecture.services if s.access is not None}
    out = []
    for s in dep.architecture.services:
        st = s.strategy
        if s.name in ran or s.name in fronted or s.holds_vips:
            continue
        if isinstance(st, ActivePassive) and st.manager is None:
            why = "nothing moves it: the analysis predicts it stays down until an operator starts it elsewhere"
        elif isinstance(st, ActivePassive):
            why = "its cluster manager's take-over is drilled on the Pacemaker lab, not here"
        elif isinstance(st, Sharded):
            why = "its shards stop with their node (the analysis' partial outage); the lab runs no agent"
        elif isinstance(st, AppCluster):
            why = "its own cluster does not run in the lab (only Galera does); quorum and recovery are the analysis'"
        elif isinstance(st, Coordinated):
            why = f"one instance per node ({st.mechanism}); the lab runs none of them"
        else:
            why = "not run in the lab"
        out.append({"service": s.name, "why": why})
    return out


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.2f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v) or "-"
    if v is None:
        return "-"
    return str(v)


def terminal_table(report: dict[str, Any]) -> Table:
    """Every check of every scenario: expected, measured, agreed."""
    t = Table(
        title=escape(f"Drill of {report['model']}" + (" (quick)" if report.get("quick") else "")), show_lines=False
    )
    t.add_column("scenario")
    t.add_column("check")
    t.add_column("predicted", justify="right")
    t.add_column("measured", justify="right")
    t.add_column("", justify="center")
    for sc in report["scenarios"]:
        first = True
        if sc.get("error"):
            t.add_row(escape(sc["name"]), escape(sc["error"]), "", "", "[red]error[/]")
        for c in sc.get("checks", []):
            t.add_row(
                escape(sc["name"]) if first else "",
                escape(c["what"]),
                escape(_fmt(c["expected"])),
                escape(_fmt(c["measured"])),
                "[green]ok[/]" if c["agreed"] else "[red]differs[/]",
            )
            first = False
    return t
