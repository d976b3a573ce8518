"""The ``hamodel`` command line: thin; parses, calls the pipeline, prints.

Exit codes: 0 ok, 1 the model is fine but a check failed (unsatisfiable,
violated, unacknowledged finding, drift), 2 usage or model error, 70 an
internal error (a bug: please report it), 141 standard output was closed
before everything was written (``hamodel diff | head``: as a shell reports
a program ended by SIGPIPE; no message).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.markup import escape

from hamodel.errors import HamodelError
from hamodel.loader import load
from hamodel.model import Architecture
from hamodel.terminal import SafeConsole

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Architecture-as-code for highly available deployments.",
    pretty_exceptions_enable=False,
)
console = SafeConsole()  # model text printed with its control characters escaped
err = SafeConsole(stderr=True)

MODEL_ARG = typer.Argument(
    ..., metavar="MODEL", help="Model file (models/x.py), file.py:attr, module:attr, or exported .json"
)


def _load(model: str) -> Architecture:
    try:
        return load(model)
    except HamodelError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _unplaceable(exc: Any, json_payload: dict | None) -> NoReturn:
    """Explain an unplaceable model (exit 1); as JSON on stdout when asked."""
    if json_payload is not None:
        sys.stdout.write(
            json.dumps({**json_payload, "placeable": False, "explanations": exc.explanations}, indent=2, sort_keys=True)
            + "\n"
        )
    err.print("[bold red]unplaceable:[/] no placement satisfies the model", highlight=False)
    for line in exc.explanations:
        err.print(f"  - {line}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _fail(exc: Exception) -> NoReturn:
    """A model or usage error the pipeline raised (exit 2)."""
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@app.command()
def check(
    model: str = MODEL_ARG,
    k: int = typer.Option(2, "-k", min=1, max=6, help="Largest set of simultaneous failures analysed."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
    fmt: str = typer.Option("text", "--format", help="text, json (as --json) or sarif (SARIF 2.1.0 on stdout)."),
    fail_on: str = typer.Option(
        "medium",
        "--fail-on",
        help="Exit 1 on an unacknowledged finding at or above: info, low, medium, high, critical.",
    ),
    fresh: bool = typer.Option(False, "--fresh", help="Ignore the placement lock file: place from scratch."),
    lock: Path | None = typer.Option(None, "--lock", help="Lock file (default: beside the model, x.lock.json)."),
    capacity_per: str = typer.Option(
        "node", "--capacity-per", help="N+1 capacity after the loss of one: node or domain."
    ),
    availability: bool = typer.Option(
        False, "--availability", help="Also print each service's steady-state availability (needs reliability figures)."
    ),
) -> None:
    """Validate, place and analyse failures; exit 1 on unacknowledged findings >= --fail-on."""
    from hamodel.analysis.findings import gate
    from hamodel.analysis.placement import Unplaceable, lock_path_for
    from hamodel.deployment import SEVERITIES
    from hamodel.pipeline import resolve
    from hamodel.tables import availability_table, findings_view, fix_first_table, placement_table, summary_table
    from hamodel.tables_plain import show

    if fail_on not in SEVERITIES:
        err.print(f"error: --fail-on must be one of {', '.join(SEVERITIES)}", highlight=False)
        raise typer.Exit(2)
    if capacity_per not in ("node", "domain"):
        err.print("error: --capacity-per must be node or domain", highlight=False)
        raise typer.Exit(2)
    if fmt not in ("text", "json", "sarif"):
        err.print("error: --format must be text, json or sarif", highlight=False)
        raise typer.Exit(2)
    json_out = json_out or fmt == "json"
    arch = _load(model)
    try:
        dep = resolve(
            arch, lock=lock or lock_path_for(model), fresh=fresh, k=k, capacity_per=capacity_per, answers=availability
        )
    except Unplaceable as exc:
        _unplaceable(exc, {"model": arch.name, "valid": True} if json_out else None)
    except HamodelError as exc:
        _fail(exc)
    failing = gate(dep.findings, fail_on)
    # An acknowledgement that matches no finding is stale (the model changed,
    # or the id has a typo): say so, so that it does not hide a future finding.
    found = {f.id for f in dep.findings}
    stale = sorted(a.finding for a in arch.acknowledgements if a.finding not in found)
    for a in stale:
        err.print(f"warning: acknowledgement {a!r} matches no finding (k={k})", markup=False, highlight=False)
    for w in dep.notes:  # what place warns about, check shows too
        err.print(f"warning: {w}", markup=False, highlight=False, soft_wrap=True)
    estimates = {}
    fix_first: list = []
    if availability:
        estimates = dict(dep.answers().availability)
        if not estimates:
            err.print("note: the model carries no reliability figures: no availability estimate", highlight=False)
        else:
            fix_first = list(dep.answers().fix_first)
    if fmt == "sarif":
        from hamodel.report_formats import check_sarif

        sys.stdout.write(check_sarif(dep.findings, arch, model))
    elif json_out:
        from hamodel.diff import locate

        sys.stdout.write(
            json.dumps(
                {
                    "model": arch.name,
                    "valid": True,
                    "k": k,
                    "fail_on": fail_on,
                    "placement": dep.placement.to_dict(),
                    "findings": [{**f.to_dict(), "locations": locate(arch, f, model)} for f in dep.findings],
                    "failing": [f.id for f in failing],
                    "stale_acknowledgements": stale,
                    "warnings": list(dep.notes),
                    "recovery": dep.recovery.to_dict() if dep.recovery is not None else {},
                    **(
                        {
                            "availability": {s: a.to_dict() for s, a in sorted(estimates.items())},
                            "what_to_fix_first": [f.to_dict() for f in fix_first],
                        }
                        if availability
                        else {}
                    ),
                },
                indent=2,
                sort_keys=True,
            )
            + "\n"
        )
    else:
        console.print(summary_table(arch))
        console.print("[green]model is valid[/]")
        show(console, placement_table(arch, dep))
        show(console, findings_view(dep.findings, title=f"{arch.name}: findings (k={k})", width=console.width))
        if dep.recovery is not None and dep.recovery.targets:
            from hamodel.tables import recovery_table_view

            show(console, recovery_table_view(escape(arch.name), dep.recovery))
        if estimates:
            console.print(availability_table(escape(arch.name), estimates))
            if fix_first:
                console.print(fix_first_table(escape(arch.name), fix_first))
        accepted = sum(1 for f in dep.findings if f.acknowledged)
        verdict = (
            f"[bold red]{len(failing)} unacknowledged finding(s) at or above {fail_on}[/]"
            if failing
            else f"[green]no unacknowledged finding at or above {fail_on}[/]"
        )
        console.print(f"{len(dep.findings)} finding(s), {accepted} accepted; {verdict}", highlight=False)
    if failing:
        raise typer.Exit(1)


def _stdout(path: Path | None) -> bool:
    """No ``-o`` or ``-o -``: standard output."""
    return path is None or str(path) == "-"


def _inputs(model: str, lock: Path | None = None) -> list[tuple[Path, str]]:
    """What a command reads and so must never write over: the model, the
    modules it imported from its folder (after :func:`_load`), the lock."""
    from hamodel.loader import model_inputs

    found = [(p, "the model" if i == 0 else "a module the model imports") for i, p in enumerate(model_inputs(model))]
    return found + ([(lock, "the lock file this command reads")] if lock is not None else [])


def _refuse_output(output: Path | None, inputs: Sequence[tuple[Path, str]] = ()) -> None:
    """Exit 2 now (before any work) when ``output`` may not be written."""
    from hamodel.output import OutputError, refuse_output

    if not _stdout(output):
        try:
            refuse_output(output, inputs)  # type: ignore[arg-type]  # not None: not stdout
        except OutputError as exc:
            _fail(exc)


def _emit(text: str, output: Path | None, inputs: Sequence[tuple[Path, str]] = ()) -> None:
    """Print ``text`` (no ``-o``, or ``-o -``), or write it atomically to ``output``
    (a regular file or a new path, none of the command's ``inputs``)."""
    if _stdout(output):
        sys.stdout.write(text)
    else:
        from hamodel.output import OutputError, write_file

        try:
            write_file(output, text.encode(), inputs=inputs)  # type: ignore[arg-type]
        except OutputError as exc:
            _fail(exc)


@app.command()
def diff(
    old: str | None = typer.Argument(
        None, metavar="OLD", help="Old model (file, file.py:attr or exported .json); omit with --base."
    ),
    new: str | None = typer.Argument(None, metavar="NEW", help="New model; with --base, the working-tree model file."),
    base: str | None = typer.Option(
        None,
        "--base",
        help="Compare NEW (or the one model given) with the same file at this git revision (e.g. HEAD, origin/main).",
    ),
    k: int = typer.Option(2, "-k", min=1, max=6, help="Largest set of simultaneous failures analysed."),
    fmt: str = typer.Option("text", "--format", help="text, markdown, json or sarif."),
    fail_on: str = typer.Option(
        "medium", "--fail-on", help="Exit 1 when the change ADDS an unacknowledged finding at or above this."
    ),
) -> None:
    """What a change does to availability: findings added/removed, failure sets, moves, VRRP, files."""
    import contextlib

    from hamodel.analysis.findings import gate
    from hamodel.deployment import SEVERITIES
    from hamodel.diff import at_revision, compare, load_side

    if fail_on not in SEVERITIES:
        err.print(f"error: --fail-on must be one of {', '.join(SEVERITIES)}", highlight=False)
        raise typer.Exit(2)
    if fmt not in ("text", "markdown", "json", "sarif"):
        err.print("error: --format must be text, markdown, json or sarif", highlight=False)
        raise typer.Exit(2)
    given = [x for x in (old, new) if x is not None]
    if (base is None and len(given) != 2) or (base is not None and len(given) != 1):
        err.print("error: give OLD and NEW, or one model file with --base REV", highlight=False)
        raise typer.Exit(2)
    try:
        with contextlib.ExitStack() as stack:
            if base is not None:
                path, root = stack.enter_context(at_revision(given[0], base))
                a = load_side(path, f"{given[0]}@{base}", k=k, display_root=root)
                b = load_side(given[0], k=k)
            else:
                a, b = load_side(given[0], k=k), load_side(given[1], k=k)
            d = compare(a, b, k)
            if fmt == "text":
                from hamodel.report_formats import diff_text

                diff_text(d, console)
            else:
                from hamodel import report_formats as rf

                sys.stdout.write({"markdown": rf.diff_markdown, "json": rf.diff_json, "sarif": rf.diff_sarif}[fmt](d))
    except HamodelError as exc:
        _fail(exc)
    # A finding whose severity rose counts as added at its new severity; one that fell does not.
    if gate(d.added + [n for o, n in d.changed if n.severity.rank > o.severity.rank], fail_on):
        raise typer.Exit(1)


@app.command()
def export(
    model: str = MODEL_ARG,
    format: str = typer.Option(
        "json",
        "--format",
        help="Output format: json (the model), opsa-mef (each service's fault tree, "
        "Open-PSA MEF XML for SCRAM and other PSA tools), mermaid (Markdown with the "
        "logical and physical flowcharts) or structurizr (a Structurizr DSL workspace).",
    ),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="Write to this file instead of stdout (a regular file or a new path; - is stdout)."
    ),
) -> None:
    """Write the validated model as canonical JSON, its services' fault trees (opsa-mef), or diagrams (mermaid, structurizr)."""
    if format not in ("json", "opsa-mef", "mermaid", "structurizr"):
        err.print(
            f"error: unknown format {format!r} (json, opsa-mef, mermaid, structurizr)", markup=False, highlight=False
        )
        raise typer.Exit(2)
    arch = _load(model)
    from hamodel.analysis.placement import lock_path_for

    inputs = _inputs(model, lock_path_for(model))
    _refuse_output(output, inputs)
    if format == "json":
        _emit(arch.to_json(), output, inputs)
        return
    from hamodel.analysis.components import view
    from hamodel.analysis.placement import Unplaceable
    from hamodel.generators.opsa import render_opsa
    from hamodel.pipeline import resolve

    try:  # the trees follow the placement (lock file beside the model, as check uses)
        dep = resolve(arch, lock=lock_path_for(model), analyse=False)
    except Unplaceable as exc:
        _unplaceable(exc, None)
    except HamodelError as exc:
        _fail(exc)
    if format == "mermaid":
        from hamodel.generators.mermaid import markdown

        _emit(markdown(dep), output, inputs)
    elif format == "structurizr":
        from hamodel.generators.structurizr import workspace

        _emit(workspace(dep), output, inputs)
    else:
        _emit(render_opsa(view(arch, dep.placement, dep.vrrp_groups), model_name=arch.name), output, inputs)


@app.command()
def schema(
    output: Path | None = typer.Option(
        None, "-o", "--output", help="Write to this file instead of stdout (a regular file or a new path; - is stdout)."
    ),
) -> None:
    """Write the JSON Schema of a model (for editors and other tools)."""
    from hamodel.output import OutputError, holds_model

    if not _stdout(output) and (held := holds_model(output)):  # type: ignore[arg-type]
        _fail(OutputError(f"refusing to write {output}: it holds {held}, not a schema"))
    _emit(json.dumps(Architecture.model_json_schema(), indent=2, sort_keys=True) + "\n", output)


@app.command()
def place(
    model: str = MODEL_ARG,
    fresh: bool = typer.Option(False, "--fresh", help="Ignore the lock file: place from scratch."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
    lock: Path | None = typer.Option(None, "--lock", help="Lock file (default: beside the model, x.lock.json)."),
    tolerate: int = typer.Option(
        0, "--tolerate", min=0, max=4, help="Re-place until no K failures stop a required service."
    ),
) -> None:
    """Place instances on nodes with Z3 and write the lock file."""
    from hamodel.analysis.placement import Unplaceable, lock_path_for, read_lock, write_lock
    from hamodel.analysis.placement import place as place_instances
    from hamodel.analysis.tolerance import tolerant_place
    from hamodel.tables import placement_table
    from hamodel.tables_plain import show

    arch = _load(model)
    if lock is not None and str(lock) == "-":
        _fail(HamodelError("--lock -: the lock file is read and written, so it must be a file"))
    lock = lock or lock_path_for(model)
    _refuse_output(lock, _inputs(model))  # never the model itself (place --fresh --lock MODEL)
    try:
        previous = None if fresh else read_lock(lock, arch)
        result = tolerant_place(arch, tolerate, previous) if tolerate else place_instances(arch, previous=previous)
    except Unplaceable as exc:
        _unplaceable(exc, {} if json_out else None)
    except HamodelError as exc:
        _fail(exc)
    try:
        write_lock(lock, result, inputs=_inputs(model))
    except HamodelError as exc:  # an unwritable lock path: named, exit 2
        _fail(exc)
    if json_out:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n")
        return
    show(console, placement_table(arch, result))
    for w in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(str(w))}", highlight=False, soft_wrap=True)
    console.print(f"{result.moved} instance(s) moved; lock file {escape(str(lock))}", highlight=False)


@app.command()
def build(
    model: str = MODEL_ARG,
    out: Path = typer.Option(
        Path("out"),
        "-o",
        "--out",
        help="Output directory, replaced in one atomic step; must be new, empty, or an output tree hamodel wrote.",
    ),
    check_only: bool = typer.Option(False, "--check", help="Write nothing; exit 1 with a diff when OUT differs."),
    fresh: bool = typer.Option(False, "--fresh", help="Ignore the placement lock file: place from scratch."),
    lock: Path | None = typer.Option(None, "--lock", help="Lock file (default: beside the model, x.lock.json)."),
    validate: bool = typer.Option(
        False,
        "--validate",
        help="Run haproxy -c, keepalived -t and corosync -t (in "
        "a network namespace), crm_verify and the pcs script replay on every config, "
        "and promtool (check config, check rules, test rules) on the monitoring files "
        "when promtool is installed, first; write nothing if one fails. Needs root.",
    ),
    ansible_host: bool = typer.Option(
        False,
        "--ansible-host",
        help="Write each node's model address as its "
        "ansible_host in ansible/inventory.yml (by default a site inventory's "
        "address is never overridden).",
    ),
) -> None:
    """Generate keepalived.conf, haproxy.cfg, sysctl.d, corosync.conf and the Pacemaker CIB, and a manifest."""
    from hamodel.analysis.placement import Unplaceable, lock_path_for
    from hamodel.generators.configs import InconsistentConfig, build_configs, drift
    from hamodel.output import write_tree
    from hamodel.pipeline import resolve

    arch = _load(model)
    try:
        # analysed: the monitoring rules are labelled with the findings they answer
        dep = resolve(arch, lock=lock or lock_path_for(model), fresh=fresh, analyse=True)
        files = build_configs(dep, ansible_host=ansible_host)
    except (Unplaceable, InconsistentConfig) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        err.print("nothing was written", highlight=False)
        raise typer.Exit(1) from None
    except HamodelError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if validate:
        from hamodel.validate import validate_files

        failed = [r for r in validate_files(arch, files) if not r.ok]
        for r in failed:
            err.print(
                f"[bold red]rejected:[/] {escape(r.command)} exited {r.returncode}", highlight=False, soft_wrap=True
            )
            err.print(r.output.rstrip(), markup=False, highlight=False, soft_wrap=True)
        if failed:
            err.print("nothing was written", highlight=False)
            raise typer.Exit(1)
    if check_only:
        try:
            text = drift(out, files)
        except OSError as exc:
            err.print(
                f"[bold red]error:[/] cannot read {escape(str(out))}: {escape(exc.strerror or str(exc))}",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(2) from None
        if text:
            from hamodel.errors import printable

            sys.stdout.write(printable(text, keep="\n\t"))  # OUT may hold anyone's bytes: no control sequence
            err.print(
                f"[bold red]drift:[/] {escape(str(out))} differs from what {escape(model)} generates", highlight=False
            )
            raise typer.Exit(1)
        console.print(f"[green]up to date:[/] {escape(str(out))} ({len(files)} files)", highlight=False)
        return
    try:
        # Never replace what hamodel did not write; never the model or its lock.
        write_tree(out, files, protect=(Path(model), Path(model.rsplit(":", 1)[0]), lock or lock_path_for(model)))
    except HamodelError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    from hamodel.tables import files_table

    console.print(files_table(f"{arch.name} -> {out}", files))
    console.print(f"[green]wrote {len(files)} files[/] to {escape(str(out))}", highlight=False)


@app.command()
def drill(
    model: str | None = typer.Argument(
        None, metavar="MODEL", help="Model file (as for check); optional with --cleanup."
    ),
    scenario: list[str] | None = typer.Option(
        None,
        "--scenario",
        "-s",
        help="Run only this scenario (a name like backend-death:keystone, or a kind); repeatable.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the JSON report on stdout (progress goes to stderr)."),
    json_file: Path | None = typer.Option(None, "--json-out", hidden=True, help="Deprecated: --json > FILE."),
    rst_out: Path | None = typer.Option(None, "--rst-out", help="Write the 'Measured failover' docs page here."),
    cleanup: bool = typer.Option(False, "--cleanup", help="Remove leftovers of interrupted drills (hml-*) first."),
    quick: bool = typer.Option(
        False, "--quick", help="Reduced set: no SIGKILL variant, backends only for the drilled services."
    ),
    lock: Path | None = typer.Option(None, "--lock", help="Lock file (default: beside the model, x.lock.json)."),
) -> None:
    """Run failover drills on network-namespace hosts with the real daemons.

    Builds a lab of network namespaces (one per node and per switch), runs
    the generated keepalived.conf and haproxy.cfg with the real daemons,
    injects failures and compares measurements with the predictions. Needs
    root. Exit 0 when every measurement agreed, 1 when one differed.
    """
    from hamodel.drill.command import command

    if json_file is not None:  # the old spelling: every command now says --json
        err.print("warning: --json-out is deprecated: use --json (JSON on stdout) > FILE", highlight=False)
    code = command(
        model,
        scenarios=scenario or None,
        json_stdout=json_out,
        json_file=json_file,
        rst_out=rst_out,
        cleanup=cleanup,
        quick=quick,
        console=err if json_out else console,
        err=err,
        load=_load,
        lock=lock,
    )
    raise typer.Exit(code)


# -- brownfield: import and drift (hamodel.adopt) --------------------------------------------


@app.command("import")
def import_configs(
    folder: Path = typer.Argument(
        ...,
        metavar="FOLDER",
        help="Collected configs: DIR/<node>/etc/keepalived/keepalived.conf, "
        "etc/haproxy/haproxy.cfg, etc/corosync/corosync.conf, cib.xml, etc/hosts.",
    ),
    out: Path = typer.Option(..., "-o", "--out", help="The draft model file to write (e.g. models/site.py)."),
    name: str | None = typer.Option(None, "--name", help="The architecture's name (default: the folder's)."),
    force: bool = typer.Option(False, "--force", help="Replace OUT when it exists."),
    json_out: bool = typer.Option(False, "--json", help="Print the import report as JSON on stdout."),
) -> None:
    """Read collected configs into a draft model; report every directive not carried over (file:line, reason)."""
    from hamodel.adopt import import_folder
    from hamodel.output import write_file

    if out.exists() and not force:
        err.print(f"[bold red]error:[/] {escape(str(out))} exists: give --force to replace it", highlight=False)
        raise typer.Exit(2)
    try:
        draft = import_folder(folder, name)
        _check_draft(draft.source)
        write_file(out, draft.source.encode())
    except HamodelError as exc:
        _fail(exc)
    if json_out:
        sys.stdout.write(
            json.dumps(
                {
                    "model": str(out),
                    "nodes": draft.nodes,
                    "services": draft.services,
                    "unmapped": [u.to_dict() for u in draft.unmapped],
                    "notes": draft.notes,
                },
                indent=2,
                sort_keys=True,
            )
            + "\n"
        )
        return
    for u in draft.unmapped:
        err.print(f"not mapped: {u}", markup=False, highlight=False, soft_wrap=True)
    for n in draft.notes:
        err.print(f"note: {n}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"wrote {escape(str(out))}: {draft.nodes} nodes, {draft.services} services; "
        f"{len(draft.unmapped)} directive(s) not mapped (listed above). Each node is its own failure "
        "domain in the draft: edit the TODO comments (racks, power, switches, dependencies), then "
        "`hamodel check`.",
        highlight=False,
        soft_wrap=True,
    )


def _check_draft(source: str) -> None:
    """The draft must load before it is written (a draft that does not is a bug of the import)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hamodel-import-") as tmp:
        path = Path(tmp) / "draft.py"
        path.write_text(source)
        load(str(path))


@app.command("drift")
def drift_cmd(
    model: str = MODEL_ARG,
    folder: Path = typer.Argument(..., metavar="FOLDER", help="Collected configs (as for import)."),
    fmt: str = typer.Option("text", "--format", help="text, json or sarif (SARIF 2.1.0 on stdout)."),
    json_out: bool = typer.Option(False, "--json", help="As --format json."),
    lock: Path | None = typer.Option(None, "--lock", help="Lock file (default: beside the model, x.lock.json)."),
) -> None:
    """Compare collected configs with what build generates, semantically; exit 1 on drift."""
    from hamodel.adopt.drift import drift, drift_sarif
    from hamodel.analysis.placement import Unplaceable, lock_path_for
    from hamodel.generators.configs import InconsistentConfig, build_configs
    from hamodel.pipeline import resolve

    fmt = "json" if json_out else fmt
    if fmt not in ("text", "json", "sarif"):
        err.print("error: --format must be text, json or sarif", highlight=False)
        raise typer.Exit(2)
    arch = _load(model)
    try:
        dep = resolve(arch, lock=lock or lock_path_for(model), analyse=False)
        # Secrets are never needed: placeholders, and secret values are compared by presence only.
        report = drift(arch, build_configs(dep, redact=True), folder)
    except (Unplaceable, InconsistentConfig) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except HamodelError as exc:
        _fail(exc)
    if fmt == "json":
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n")
    elif fmt == "sarif":
        sys.stdout.write(drift_sarif(report))
    else:
        for d in report.items:
            console.print(
                f"{escape(d.node)}/{escape(d.file)}:{d.line}: {escape(d.object)}: {escape(d.message)}",
                highlight=False,
                soft_wrap=True,
            )
        console.print(
            f"[bold red]{len(report.items)} difference(s)[/]" if report.items else "[green]no drift[/]", highlight=False
        )
    if report.items:
        raise typer.Exit(1)


# sysexits.h EX_SOFTWARE: neither "a check failed" (1) nor "bad model" (2).
EXIT_INTERNAL = 70


def _internal_error(exc: BaseException) -> NoReturn:
    """Last resort for an exception no command handled: a bug, exit 70."""
    import os
    import traceback

    from hamodel.errors import printable

    if os.environ.get("HAMODEL_DEBUG") == "1":
        traceback.print_exception(exc)
    err.print(
        f"internal error: {type(exc).__name__}: {printable(str(exc))[:500]}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    err.print(
        "This is a bug in hamodel: please report it with the command and the model "
        "(HAMODEL_DEBUG=1 prints the traceback).",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    sys.exit(EXIT_INTERNAL)


EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C): 128 + 2
EXIT_TERMINATED = 143  # SIGTERM: 128 + 15


def main() -> None:  # console-script entry point
    import signal

    from hamodel import interrupts

    # SIGINT and SIGTERM end a command alike (KeyboardInterrupt unwinds, so
    # nothing half-done is claimed or left), each with its own exit code; the
    # interrupt is raised only where Python can take it (not inside Z3's
    # bindings, see hamodel.interrupts)
    guard = interrupts.SafeInterrupt((signal.SIGINT, signal.SIGTERM))
    guard.install()
    terminated = lambda: signal.SIGTERM in interrupts.received()
    from hamodel.terminal import StdoutGuard

    sys.stdout = StdoutGuard(sys.stdout)  # a closed pipe: exit 141 quietly (see the module doc)
    try:
        app()  # typer turns KeyboardInterrupt inside a command into exit 130
    except KeyboardInterrupt:
        sys.exit(EXIT_TERMINATED if terminated() else EXIT_INTERRUPTED)
    except SystemExit as exc:
        sys.stdout.flush()  # the last bytes may meet a closed pipe too: 141, not a traceback at exit
        if terminated() and exc.code == EXIT_INTERRUPTED:
            sys.exit(EXIT_TERMINATED)
        raise
    except Exception as exc:
        _internal_error(exc)


if __name__ == "__main__":
    main()
