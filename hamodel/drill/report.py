"""The drill report: assembled from typed results, JSON on disk, a table on the terminal, and the ``hamodel drill`` flow.

The CLI command is a thin wrapper around :func:`command`, which a library
user can call too.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hamodel.drill.lab import cleanup_leftovers
from hamodel.drill.results import ScenarioResult, Startup, as_json
from hamodel.errors import HamodelError
from hamodel.model import Architecture


def assemble(*, model: str, quick: bool, lab_prefix: str, analysis_findings: list[str], startup: Startup,
             scenarios: list[ScenarioResult], lab: dict[str, Any], duration_s: float) -> dict[str, Any]:
    """The JSON report of one drill, with its summary (what disagreed, what did not answer at start)."""
    unreachable = [k for k, v in startup.services.items() if v.startswith("failed")]
    return as_json({
        "model": model, "quick": quick, "lab_prefix": lab_prefix, "analysis_findings": analysis_findings,
        "startup": startup, "scenarios": scenarios, "lab": lab, "duration_s": duration_s,
        "summary": {"scenarios": len(scenarios), "agreed": sum(1 for s in scenarios if s.agreed),
                    "disagreed": [s.name for s in scenarios if not s.agreed] + [f"startup:{k}" for k in unreachable],
                    "services_reachable_at_start": len(startup.services) - len(unreachable),
                    "services_unreachable_at_start": unreachable},
    })


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
    t = Table(title=escape(f"Drill of {report['model']}" + (" (quick)" if report.get("quick") else "")), show_lines=False)
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
            t.add_row(escape(sc["name"]) if first else "", escape(c["what"]), escape(_fmt(c["expected"])),
                      escape(_fmt(c["measured"])), "[green]ok[/]" if c["agreed"] else "[red]differs[/]")
            first = False
    return t


def command(model: str | None, *, scenarios: list[str] | None, rst_out: Path | None,
            cleanup: bool, quick: bool, console: Console, err: Console,
            load: Callable[[str], Architecture], json_stdout: bool = False, json_file: Path | None = None,
            lock: Path | None = None) -> int:
    """``hamodel drill``: returns the exit code (0 agreed, 1 a measurement differs, 2 error).

    ``lock`` is the placement lock file (default: beside the model), read as
    ``hamodel build`` reads it, so the drill runs the configs build writes.

    ``json_stdout`` prints the JSON report on stdout, as ``--json`` does for
    every command (give a ``console`` on stderr then); ``json_file`` writes
    it to a file (the deprecated ``--json-out``).
    """
    if os.geteuid() != 0:
        err.print("[bold red]error:[/] drills create network namespaces and need root")
        return 2
    if cleanup:
        removed = cleanup_leftovers()
        console.print(f"cleanup: removed {len(removed['namespaces'])} namespaces, "
                      f"{len(removed['processes'])} processes, {len(removed['dirs'])} lab dirs")
        if model is None:
            return 0
    if model is None:
        err.print("[bold red]error:[/] give a MODEL (or --cleanup alone)")
        return 2
    arch = load(model)
    from hamodel.output import check_writable

    from hamodel.analysis.placement import lock_path_for
    from hamodel.loader import model_inputs

    inputs = [(p, "the model" if i == 0 else "a module the model imports") for i, p in enumerate(model_inputs(model))]
    inputs.append((lock or lock_path_for(model), "the lock file this command reads"))
    try:  # before a long drill, not after it: an unwritable report path is a usage error
        for target in (json_file, rst_out):
            if target is not None and str(target) != "-":
                check_writable(target, inputs)
    except HamodelError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
    from hamodel.drill.lab import LabError
    from hamodel.drill.runner import generated_files, run_drill

    try:
        with console.status("placing, analysing, generating configs"):
            dep, files = generated_files(arch, analyse=True, lock=lock or lock_path_for(model))
    except HamodelError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
    t0 = time.monotonic()
    try:
        with console.status("building the lab") as status:
            def progress(msg: str) -> None:
                console.print(f"[dim]{time.monotonic() - t0:6.1f}s[/] {escape(msg)}", highlight=False)
                status.update(escape(msg.strip()))

            report = run_drill(arch, dep=dep, files=files, quick=quick, scenarios=scenarios, progress=progress,
                               model_file=model)
            report["model_file"] = model
    except ValueError as exc:  # unknown scenario name
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
    except LabError as exc:
        err.print(f"[bold red]lab error:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted: lab torn down")
        return 130
    console.print(terminal_table(report))
    s = report["summary"]
    console.print(f"{s['agreed']}/{s['scenarios']} scenarios agreed with the predictions; "
                  f"drill took {report['duration_s']:.1f} s")
    from hamodel.output import write_file

    if json_stdout:
        sys.stdout.write(to_json(report))
    try:
        if json_file is not None:
            if str(json_file) == "-":
                sys.stdout.write(to_json(report))
            else:
                write_file(json_file, to_json(report).encode(), inputs=inputs)
                console.print(f"report: {escape(str(json_file))}", highlight=False)
        if rst_out is not None:
            from hamodel.generators.drill_report import render_rst

            if str(rst_out) == "-":  # as every -o: standard output
                sys.stdout.write(render_rst(report))
            else:
                write_file(rst_out, render_rst(report).encode(), inputs=inputs)
                console.print(f"docs page: {escape(str(rst_out))}", highlight=False)
    except HamodelError as exc:  # e.g. the disk filled up during the drill
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
    return 0 if not s["disagreed"] else 1
