"""Table cells, rows and notes of the architecture document, as reStructuredText.

Every model string reaches the document through hamodel.generators.docs.rst:
templates escape each ``{{ value }}`` by default (Jinja finalize), and the
rows and notes built here are Rst only when assembled from escaped parts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from hamodel.generators.docs import facts
from hamodel.generators.docs.rst import Rst, rst_escape, rst_literal, rst_title

from hamodel.deployment import Deployment


def _title(text: str, char: str) -> Rst:
    return rst_title(text, char)


def _literal(value: Any) -> Rst:
    return rst_literal(value)


def _join(items: Sequence[Any]) -> Rst:
    return Rst(", ".join(rst_escape(i) for i in items)) if items else Rst("\u2014")


def _nines(a: float) -> str:
    import math

    return f"{-math.log10(1 - a):.2f}" if a < 1 else "\u221e"


def _downtime(a: float) -> str:
    minutes = (1 - a) * 365.25 * 24 * 60
    return f"{minutes / 60:.1f} h" if minutes >= 120 else f"{minutes:.1f} min"


def _fix_first_rows(dep: Deployment) -> list[list[Any]]:
    """Rows of the "what to fix first" table (the analysis' ``fix_first``, computed
    before the Deployment was built: a clear error when it carries no results)."""
    fix = dep.answers().fix_first
    return [
        [
            _literal(f.component),
            _downtime(1 - f.hours_per_year / (365.25 * 24)),
            _join(f.services),
            rst_escape(f.top_service),
            f"{f.birnbaum:.3g}",
            f"{f.fussell_vesely:.3f}",
        ]
        for f in fix
    ]


def _camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", name) if p)


def _alert_groups(names: list[str], arch: Any) -> list[str]:
    """Alert names, one entry per kind of per-service alert (``HamodelBackendDown<Service>`` for
    15 services) rather than one per service."""
    suffixes = sorted((_camel(s.name) for s in arch.services), key=len, reverse=True)
    kinds: dict[str, list[str]] = {}
    for n in names:
        stem = next((n[: -len(x)] for x in suffixes if n.endswith(x) and len(n) > len(x)), n)
        kinds.setdefault(stem, []).append(n)
    return [
        members[0] if len(members) == 1 else f"{stem}<service> ({len(members)} services)"
        for stem, members in kinds.items()
    ]


def _node_config_lines(configs: list[dict[str, Any]]) -> list[tuple[list[str], Rst]]:
    """Nodes with the same config file names share a line: ``([nodes], [file names])``."""
    per_node: dict[str, list[str]] = {}
    for c in configs:
        if c["folder"].startswith("node "):
            per_node.setdefault(c["folder"][len("node ") :], []).append(
                _literal(c["name"]) + (" (holds a secret: not published)" if c["secret"] else "")
            )
    lines: dict[tuple[str, ...], list[str]] = {}
    for node, names in per_node.items():
        lines.setdefault(tuple(names), []).append(node)
    return [(nodes, Rst(", ".join(names))) for names, nodes in lines.items()]


def _short_reach(arch: Any, words: str) -> str:
    """With one virtual IP, its address is said once above the table: the cell keeps the port."""
    if len(arch.vips) == 1:
        words = words.replace(f"{arch.vips[0].address}:", ":")
    return words


def _merged_service_rows(services: list[dict[str, Any]]) -> list[list[Any]]:
    """One row per run of services that differ only by name and VIP port (the
    reference table's "heat-api, heat-api-cfn, heat-api-cloudwatch" row)."""
    rows: list[list[Any]] = []
    last: tuple | None = None
    for s in services:
        name = s["name"] + (f" ({s['process']})" if s["process"] != s["name"] else "")
        key = (
            s["group"],
            s["mode"],
            s["how"],
            tuple(s["needs"]),
            ":" in s["reach"] and "clients" not in s["reach"],
            s["reach"] if ":" not in s["reach"] or "clients" in s["reach"] else "",
        )
        if rows and key == last:
            rows[-1][0] = Rst(f"{rows[-1][0]}, {rst_escape(name)}")
            if key[4]:
                rows[-1][4] = Rst(f"{rows[-1][4]}; {rst_escape(s['reach'])}")
            continue
        rows.append([rst_escape(name), s["mode"], rst_escape(s["how"]), _join(s["needs"]), rst_escape(s["reach"])])
        last = key
    return rows


def _merged_scenario_rows(rows: list[list[str]]) -> list[list[str]]:
    """Failures with the same outcome share one row (their names joined, in
    the order of the analysis): the table lists each outcome once."""
    merged: dict[tuple[str, ...], list[str]] = {}
    for failure, *outcome in rows:
        merged.setdefault(tuple(outcome), []).append(failure)
    return [[", ".join(failures), *outcome] for outcome, failures in merged.items()]


def _merged_frontend_rows(frontends: list[dict[str, Any]]) -> list[list[Any]]:
    """HAProxy fronts with the same mode, balance, backend nodes and check in one row."""
    merged: dict[str, dict[str, Any]] = {}
    for f in frontends:  # one entry per service, all its ports
        if f["service"] in merged:
            m = merged[f["service"]]
            m["bind"] = m["bind"] + ", " + f["bind"]
        else:
            merged[f["service"]] = dict(f)
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for f in merged.values():
        nodes = tuple(f["nodes"])
        groups.setdefault((f["mode"], f["balance"], nodes, f["check"]), []).append(f)
    rows = []
    for (mode, balance, nodes, check), fs in groups.items():
        vip = fs[0]["bind"].split(", ")[0].rsplit(":", 1)[0]
        binds = "; ".join(
            f"{f['service']} " + ", ".join(b.rsplit(":", 1)[1] for b in f["bind"].split(", ")) for f in fs
        )
        rows.append(
            [
                rst_escape(f"{vip}: {binds}"),
                mode,
                rst_escape(balance),
                _join([f"{n}" for n in nodes]) if nodes else Rst("\u2014"),
                rst_escape(check),
            ]
        )
    return rows


# Details the finding's impact already states, per finding kind.
_REPEATS = {
    "manual-recovery": ("procedures", "cases"),
    "single-point-of-failure": ("k", "min_size", "cut_sets"),
    "partial-outage": ("k", "min_size"),
    "quorum-loss": ("k", "min_size"),
}


_URL = re.compile(r"https?://[^\s()]+[^\s().,;:]")


def _linked(text: str) -> Rst:
    """Text with its web addresses as links (every other character escaped)."""

    def esc(part: str) -> str:  # rst_escape trims: keep the spaces around each part
        core = part.strip()
        if not core:
            return part
        lead, trail = part[: len(part) - len(part.lstrip())], part[len(part.rstrip()) :]
        return lead + rst_escape(core) + trail

    out, last = [], 0
    for m in _URL.finditer(text):
        before = text[last : m.start()]
        out.append(esc(before) + ("\\ " if before and not before[-1].isspace() else ""))
        out.append(f"`{m.group(0)} <{m.group(0)}>`__")
        last = m.end()
    rest = text[last:]
    out.append(("\\ " if rest and not rest[0].isspace() and last else "") + esc(rest))
    return Rst("".join(out))


def _plain_detail(value: Any, dep: Deployment) -> Any:
    """Component ids inside a finding detail in plain words."""
    if isinstance(value, str):
        return facts.plain_text(value, dep)
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v) for v in value):
            return [Rst(" + ".join(rst_escape(facts.plain_text(x, dep)) for x in v)) for v in value]
        return [_plain_detail(v, dep) for v in value]
    return value


_DETAIL_LABELS = {
    "k": "Failure sets analysed up to size",
    "min_size": "Smallest failure set",
    "cut_sets": "Each of these stops it (minimal cut sets)",
    "dependents": "Services depending on it",
    "scenarios": "Partitions",
}


def _detail(value: Any) -> Rst | list[Rst]:
    """A finding's detail value as reStructuredText: one line, or bullets."""
    if isinstance(value, Mapping):
        return [Rst(f"**{rst_escape(k)}**: {_detail_line(v)}") for k, v in sorted(value.items())] or Rst("none")
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(x, (list, tuple)) for x in value):
            return [_detail_line(x) for x in value]
        return _detail_line(value)
    return _detail_line(value)


def _detail_line(value: Any) -> Rst:
    if isinstance(value, (list, tuple)):
        if not value:
            return Rst("none")
        if all(isinstance(x, str) for x in value):
            return Rst(" + ".join(_literal(x) for x in value)) if any(":" in x for x in value) else _join(value)
        return Rst(", ".join(_detail_line(x) for x in value))
    if isinstance(value, Mapping):
        return Rst("; ".join(f"{rst_escape(k)}: {_detail_line(v)}" for k, v in sorted(value.items())) or "none")
    if isinstance(value, bool):
        return Rst("yes" if value else "no")
    return rst_escape(value)


def _count(running: Sequence[str], total: int) -> str:
    """A long list of services as a count (the table stays readable): all
    of them, the names when few, else how many."""
    if len(running) == total:
        return Rst("all services")
    if not running:
        return Rst("\u2014")
    return _join(running) if len(running) <= 8 else Rst(f"{len(running)} services")


def _language(path: str) -> str:
    if path.endswith(".json"):
        return "json"
    if path.endswith((".yml", ".yaml")):
        return "yaml"
    if path.endswith(".xml"):
        return "xml"
    if path.endswith(".sh"):
        return "sh"
    return "none"
