"""Renderers for ``hamodel diff`` and ``hamodel check``: rich text,
Markdown (a pull-request comment), JSON and SARIF 2.1.0 (code scanning)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hamodel.deployment import Finding
from hamodel.diff import ModelDiff
from hamodel.errors import printable

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
# SARIF has three levels; a high finding must fail a code-scanning gate.
SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


def _fmt_min(v: int | None, k: int) -> str:
    return f">{k}" if v is None else str(v)


def _fmt_avail(v: float | None) -> str:
    return "-" if v is None else f"{v:.6f}"


def _span(rto: list[float] | None, down: list[str] | None = None) -> str:
    """A predicted interval as read: the components that stop the service for good
    come first (an interval of None then is no recovery, not an unknown one)."""
    if down:
        return f"stops ({', '.join(down[:2])}{', ...' if len(down) > 2 else ''})"
    return "unknown" if rto is None else f"{rto[0]:g}-{rto[1]:g} s"


def _scenario(f: Finding) -> str:
    return " + ".join(f.scenario) if f.scenario else "-"


# -- JSON -----------------------------------------------------------------------------------------


def diff_json(d: ModelDiff) -> str:
    return json.dumps(d.to_dict(), indent=2, sort_keys=True) + "\n"


# -- Markdown -------------------------------------------------------------------------------------


# CommonMark line endings: a CR alone ends a table row as LF does.
_LINE_END = re.compile(r"\r\n|\r|\n")
# Characters that open an inline construct (code, emphasis, strikethrough,
# link, image, footnote, autolink, raw HTML, entity, math, table cell):
# model text never starts a line, so only inline constructs can apply.
_MD_SPECIAL = {c: "\\" + c for c in "\\`*_~[]!|$"} | {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# What GitHub links although CommonMark reads it as text: @user and
# @org/team mentions, #123 and owner/repo#123 references, bare URLs (www.,
# scheme://, mailto:, xmpp:), e-mail addresses, commit hashes. Such a word
# is shown as a code span, which nothing links.
_WORD = re.compile(r"[^\s|`]+")
_LIVE = re.compile(r"[@#]|://|www\.|mailto:|xmpp:|^[0-9a-f]{7,40}$", re.I)


def _md(text: str) -> str:
    """Free text inside Markdown (a table cell, a list item, the heading):
    one line, no control character, every construct that renders (a link,
    an image, HTML, emphasis, a mention, an issue reference, a table cell
    break) shown as its text. Stripped: ``**text **`` would not close."""
    text = printable(_LINE_END.sub(" ", text)).strip()
    out, pos = [], 0
    for m in _WORD.finditer(text):
        out.append(_md_chars(text[pos : m.start()]))
        word = m.group()
        out.append(f"`{word}`" if _LIVE.search(word) else _md_chars(word))
        pos = m.end()
    out.append(_md_chars(text[pos:]))
    return "".join(out)


def _md_chars(text: str) -> str:
    return "".join(_MD_SPECIAL.get(c, c) for c in text)


def _html(text: str) -> str:
    """Text inside an HTML block (``<summary>``), where Markdown escapes do not apply."""
    import html

    return html.escape(printable(_LINE_END.sub(" ", text)))


def _code(text: str) -> str:
    """An inline code span: Markdown escapes do not apply inside one, so
    only backticks (which would end it) and line endings are replaced."""
    return "`" + printable(_LINE_END.sub(" ", text)).replace("`", "'") + "`"


def diff_markdown(d: ModelDiff) -> str:
    """A pull-request comment: the headline, then details folded."""
    out = [f"### hamodel diff: {_md(d.headline())}", ""]
    out.append(f"{_code(d.old.label)} → {_code(d.new.label)} (failure sets up to k={d.k})")
    out.append("")
    if d.added or d.removed or d.changed:
        out += ["| change | severity | finding | scenario | where |", "|---|---|---|---|---|"]
        for tag, f, side in [("added", f, "new") for f in d.added] + [("removed", f, "old") for f in d.removed]:
            loc = d.locations(f, side)
            where = f"{_md(loc[0]['file'])}:{loc[0]['line']}" if loc and loc[0]["line"] else "-"
            out.append(f"| {tag} | {f.severity} | **{_md(f.title)}** ({_code(f.id)}) | {_md(_scenario(f))} | {where} |")
        for o, n in d.changed:
            loc = d.locations(n, "new")
            where = f"{_md(loc[0]['file'])}:{loc[0]['line']}" if loc and loc[0]["line"] else "-"
            out.append(
                f"| severity | {o.severity} → {n.severity} | **{_md(n.title)}** ({_code(n.id)}) "
                f"| {_md(_scenario(n))} | {where} |"
            )
        out.append("")
    out += _affected_chart(d)
    sections = []
    if d.added:
        body = []
        for f in d.added:
            body.append(
                f"- **{f.severity}** {_code(f.id)}: {_md(f.impact)}"
                + (f" *Mitigation:* {_md(f.mitigation)}" if f.mitigation else "")
            )
        sections.append(("Added findings in detail", "\n".join(body)))
    if d.services:
        rows = ["| service | smallest failure set | cut sets ≤ k | availability |", "|---|---|---|---|"]
        for r in d.services:
            om, nm = r["smallest_failure_set"]
            oc, nc = r["cut_sets"]
            av = r.get("availability", [None, None])
            rows.append(
                f"| {_md(r['service'])} | {_fmt_min(om, d.k)} → {_fmt_min(nm, d.k)} | {oc} → {nc} "
                f"| {_fmt_avail(av[0])} → {_fmt_avail(av[1])} |"
            )
        sections.append((f"Services whose failure sets change ({len(d.services)})", "\n".join(rows)))
    if d.moves or d.vrrp:
        rows = [
            f"- move {_code(m['service'])}: {_md(', '.join(m['from']) or '-')} → {_md(', '.join(m['to']) or '-')}"
            for m in d.moves
        ]
        rows += [
            f"- VRRP {_code(v['service'])} {_md(v['field'])}: {_md(str(v['old']))} → {_md(str(v['new']))}"
            for v in d.vrrp
        ]
        sections.append((f"Placement and VRRP ({len(d.moves)} move(s), {len(d.vrrp)} VRRP change(s))", "\n".join(rows)))
    if d.recovery:
        rows = ["| service | disruption | predicted RTO | dominated by |", "|---|---|---|---|"]
        rows += [
            f"| {_md(r['service'])} | {r['disruption']} | {_md(_span(r['old'], r.get('old_down')))} → {_md(_span(r['new'], r.get('new_down')))} "
            f"| {_md(str(r['new_dominated_by'] or '-'))} |"
            for r in d.recovery
        ]
        sections.append((f"Predicted recovery that changes ({len(d.recovery)})", "\n".join(rows)))
    if d.files:
        rows = [f"- {_code(f['path'])} ({f['status']}): {_md(f['action'])}" for f in d.files]
        diff = printable("".join(f["diff"] for f in d.files), keep="\n\t")
        # A fence longer than any backtick run inside the diff keeps it one code block.
        fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", diff)), default=0))
        body = "\n".join(rows) + "\n\n" + fence + "diff\n" + diff + ("" if diff.endswith("\n") else "\n") + fence
        sections.append((f"Generated files that change ({len(d.files)}); secrets are shown as placeholders", body))
    for title, body in sections:
        out += ["<details>", f"<summary>{_html(title)}</summary>", "", body, "", "</details>", ""]
    for s in (d.old, d.new):
        if s.files_error:
            out.append(f"> files of {_code(s.label)} could not be built: {_md(s.files_error)}")
    return "\n".join(out).rstrip() + "\n"


def _affected_chart(d: ModelDiff) -> list[str]:
    """A small Mermaid chart of the services whose findings or failure sets change (GitHub and GitLab draw it)."""
    from hamodel.generators.mermaid import affected

    names = {s for f in d.added + d.removed for s in f.services} | {s for _, f in d.changed for s in f.services}
    names |= {r["service"] for r in d.services}
    if not names:
        return []
    return [
        "Services whose findings or failure sets change:",
        "",
        "```mermaid",
        affected(names, d.new.dep).rstrip("\n"),
        "```",
        "",
    ]


# -- rich text ------------------------------------------------------------------------------------


def diff_text(d: ModelDiff, console: Any) -> None:
    """Print the diff on a rich console, readable at 80 columns."""
    from rich.text import Text

    t = printable  # model text: control characters as escapes
    from hamodel.tables import SEVERITY_STYLE

    console.print(Text(t(d.headline()), style="bold"), soft_wrap=False)
    console.print(Text(t(f"{d.old.label} -> {d.new.label} (k={d.k})"), style="dim"))
    for tag, items in (("added", d.added), ("removed", d.removed)):
        if not items:
            continue
        console.print(Text(f"\nFindings {tag} ({len(items)})", style="bold underline"))
        for f in items:
            line = Text("  + " if tag == "added" else "  - ")
            line.append(f.severity.upper(), style=SEVERITY_STYLE.get(f.severity, ""))
            line.append(t(f"  {f.id}  "))
            line.append(t(f.title))
            console.print(line)
            console.print(Text(t(f"      scenario: {_scenario(f)}"), style="dim"))
            loc = d.locations(f, "new" if tag == "added" else "old")
            if loc and loc[0]["line"]:
                console.print(Text(t(f"      at {loc[0]['file']}:{loc[0]['line']} ({loc[0]['object']})"), style="dim"))
    if d.changed:
        console.print(Text(f"\nSeverity changed ({len(d.changed)})", style="bold underline"))
        for o, n in d.changed:
            console.print(Text(t(f"  ~ {n.id}: {o.severity} -> {n.severity}  {n.title}")))
    if d.services:
        console.print(
            Text(f"\nServices (smallest failure set; cut sets <= {d.k}; availability)", style="bold underline")
        )
        for r in d.services:
            om, nm = r["smallest_failure_set"]
            oc, nc = r["cut_sets"]
            s = f"  {r['service']}: {_fmt_min(om, d.k)} -> {_fmt_min(nm, d.k)}; {oc} -> {nc}"
            if "availability" in r:
                s += f"; {_fmt_avail(r['availability'][0])} -> {_fmt_avail(r['availability'][1])}"
            console.print(Text(t(s)))
    if d.moves:
        console.print(Text(f"\nPlacement moves ({len(d.moves)})", style="bold underline"))
        for m in d.moves:
            console.print(Text(t(f"  {m['service']}: {', '.join(m['from']) or '-'} -> {', '.join(m['to']) or '-'}")))
    if d.vrrp:
        console.print(Text(f"\nVRRP changes ({len(d.vrrp)})", style="bold underline"))
        for v in d.vrrp:
            console.print(Text(t(f"  {v['service']} {v['field']}: {v['old']} -> {v['new']}")))
    if d.recovery:
        console.print(Text(f"\nPredicted recovery ({len(d.recovery)})", style="bold underline"))
        for r in d.recovery:
            console.print(
                Text(
                    t(
                        f"  {r['service']} {r['disruption']}: {_span(r['old'], r.get('old_down'))} -> "
                        f"{_span(r['new'], r.get('new_down'))}"
                        + (f"  ({r['new_dominated_by']})" if r["new_dominated_by"] else "")
                    )
                )
            )
    if d.files:
        console.print(
            Text(f"\nGenerated files ({len(d.files)}; secrets shown as placeholders)", style="bold underline")
        )
        for f in d.files:
            console.print(Text(t(f"  {f['status']:8} {f['path']}  ({f['action']})")))
        for f in d.files:
            console.print(Text(t(f["diff"].rstrip("\n"), keep="\n\t")), soft_wrap=True)
    for s in (d.old, d.new):
        if s.files_error:
            console.print(Text(t(f"files of {s.label} could not be built: {s.files_error}"), style="yellow"))


# -- SARIF ----------------------------------------------------------------------------------------


class _Bases:
    """Artifact locations relative to the root of the git repository that
    holds each file (``uriBaseId``; the first repository is ``SRCROOT``, as
    code scanning expects), absolute ``file://`` URIs for a file in none."""

    def __init__(self) -> None:
        self.ids: dict[Path, str] = {}

    def location(self, path: str) -> dict[str, str]:
        p = Path(os.path.abspath(path))
        root = next((d for d in p.parents if (d / ".git").exists()), None)
        if root is None:
            return {"uri": p.as_uri()}
        base = self.ids.setdefault(root, "SRCROOT" if not self.ids else f"SRCROOT{len(self.ids)}")
        return {"uri": quote(p.relative_to(root).as_posix()), "uriBaseId": base}

    def original(self) -> dict[str, Any]:
        return {base: {"uri": root.as_uri() + "/"} for root, base in self.ids.items()}


def _result(f: Finding, locations: list[dict[str, Any]], baseline: str | None, bases: _Bases) -> dict[str, Any]:
    text = f.title.rstrip(".") + ". " + f.impact + (f" Mitigation: {f.mitigation}" if f.mitigation else "")
    r: dict[str, Any] = {
        "ruleId": f.kind,
        "level": SARIF_LEVEL.get(f.severity, "warning"),
        "message": {"text": text},
        "partialFingerprints": {"hamodelFindingId/v1": f.id},
        "properties": {
            "hamodel-id": f.id,
            "severity": f.severity,
            "scenario": list(f.scenario),
            "services": list(f.services),
            **({"acknowledged": f.acknowledged} if f.acknowledged else {}),
        },
    }
    if f.acknowledged:  # accepted by the architect: reported, not alerted
        r["suppressions"] = [{"kind": "inSource", "justification": f.acknowledged}]
    if baseline:
        r["baselineState"] = baseline
    locs = []
    for loc in locations[:1] + [x for x in locations[1:] if x["line"]][:9]:
        phys: dict[str, Any] = {"artifactLocation": bases.location(loc["file"])}
        if loc["line"]:
            phys["region"] = {"startLine": int(loc["line"])}
        locs.append({"physicalLocation": phys, "logicalLocations": [{"name": loc["object"], "kind": "object"}]})
    if locs:
        r["locations"] = locs[:1]
        if len(locs) > 1:
            r["relatedLocations"] = [{**l, "id": i} for i, l in enumerate(locs[1:], start=1)]
    return r


def sarif_log(results: Iterable[tuple[Finding, list[dict[str, Any]], str | None]]) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run: ``results`` are (finding, locations,
    baselineState or None)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("hamodel")
    except PackageNotFoundError:  # running from a checkout without install
        ver = "0"
    items = list(results)
    bases = _Bases()
    out = [_result(f, locs, b, bases) for f, locs, b in items]
    rules = {}
    for f, _, _ in items:
        rules.setdefault(
            f.kind,
            {
                "id": f.kind,
                "name": f.kind.replace("-", " ").title().replace(" ", ""),
                "shortDescription": {"text": f"hamodel {f.kind} finding"},
            },
        )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "hamodel", "version": ver, "rules": [rules[k] for k in sorted(rules)]}},
                "results": out,
                **({"originalUriBaseIds": bases.original()} if bases.ids else {}),
            }
        ],
    }


def check_sarif(findings: Iterable[Finding], arch: Any, model_file: str) -> str:
    from hamodel.diff import locate

    here = os.path.abspath(model_file)
    log = sarif_log((f, locate(arch, f, here), None) for f in findings)
    return json.dumps(log, indent=2, sort_keys=True) + "\n"


def diff_sarif(d: ModelDiff) -> str:
    """What the change adds (``new``) or re-grades (``updated``)."""
    items = [(f, d.locations(f, "new"), "new") for f in d.added]
    items += [(n, d.locations(n, "new"), "updated") for _, n in d.changed]
    return json.dumps(sarif_log(items), indent=2, sort_keys=True) + "\n"
