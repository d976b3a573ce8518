"""``hamodel drill``: the one entry point of every drill (keepalived, Galera, Pacemaker).

The CLI command is a thin wrapper around :func:`command`, which a library
user can call too: it computes the generated files once
(:func:`hamodel.drill.files.generated_files`), runs the drill
(:func:`hamodel.drill.runner.run_drill`, which hands a cluster-managed
deployment to its cluster lab), and prints and writes the report
(:mod:`hamodel.drill.report`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from hamodel.drill.files import generated_files
from hamodel.drill.lab import LabError, cleanup_leftovers
from hamodel.drill.recovery import add_to_report
from hamodel.drill.report import not_measured, terminal_table, to_json
from hamodel.drill.runner import run_drill
from hamodel.drill.stamp import make_stamp
from hamodel.errors import HamodelError
from hamodel.model import Architecture

__all__ = ["command"]


def command(
    model: str | None,
    *,
    scenarios: list[str] | None,
    rst_out: Path | None,
    cleanup: bool,
    quick: bool,
    console: Console,
    err: Console,
    load: Callable[[str], Architecture],
    json_stdout: bool = False,
    json_file: Path | None = None,
    lock: Path | None = None,
) -> int:
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
        console.print(
            f"cleanup: removed {len(removed['namespaces'])} namespaces, "
            f"{len(removed['processes'])} processes, {len(removed['dirs'])} lab dirs"
        )
        if model is None:
            return 0
    if model is None:
        err.print("[bold red]error:[/] give a MODEL (or --cleanup alone)")
        return 2
    arch = load(model)
    from hamodel.analysis.placement import lock_path_for
    from hamodel.loader import model_inputs
    from hamodel.output import check_writable

    inputs = [(p, "the model" if i == 0 else "a module the model imports") for i, p in enumerate(model_inputs(model))]
    inputs.append((lock or lock_path_for(model), "the lock file this command reads"))
    try:  # before a long drill, not after it: an unwritable report path is a usage error
        for target in (json_file, rst_out):
            if target is not None and str(target) != "-":
                check_writable(target, inputs)
    except HamodelError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
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

            report = run_drill(
                arch, dep=dep, files=files, quick=quick, scenarios=scenarios, progress=progress, model_file=model
            )
            report["model_file"] = model
            report["title"] = arch.title or arch.name  # the drill page is titled like its architecture
            add_to_report(dep, report)  # measured outage and loss against the predicted recovery
            report["stamp"] = make_stamp(dep)  # the page says what it measured, and when
            report["not_measured"] = not_measured(dep, report)
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
    console.print(
        f"{s['agreed']}/{s['scenarios']} scenarios agreed with the predictions; drill took {report['duration_s']:.1f} s"
    )
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
