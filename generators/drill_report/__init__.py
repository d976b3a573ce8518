"""The "Measured failover" docs page: a drill report rendered as reStructuredText.

:func:`render_rst` turns the JSON report of ``hamodel drill`` into a page;
:func:`generate` returns it as ``{"drills.rst": bytes}`` like every other
generator. The page is a view of the report: every figure on it comes from
a measurement, every bound from the prediction the runner recorded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hamodel.generators.docs.rst import Rst, rst_escape, rst_title
from hamodel.generators.docs.rst import environment as rst_environment

__all__ = [
    "MEASURED_MARK",
    "STAMP_PREFIX",
    "generate",
    "read_measured",
    "read_page_stamp",
    "read_summary",
    "render_rst",
    "rst_text",
    "stamp_line",
    "unanswered",
]

#: The comment line that carries a drill page's stamp (read back by hamodel.drill.stamp).
STAMP_PREFIX = ".. hamodel-drill-stamp: "


def stamp_line(stamp: Mapping[str, Any]) -> str:
    """The page's stamp (commit, date, model and scenario hashes) as one comment line."""
    return STAMP_PREFIX + json.dumps(dict(stamp), sort_keys=True)


TEMPLATE = Path(__file__).parent / "drills.rst.j2"
#: The page of a Pacemaker cluster drill (``report["kind"] == "pacemaker"``).
PACEMAKER_TEMPLATE = Path(__file__).parent / "pacemaker.rst.j2"


def rst_text(value: Any) -> Rst:
    """A value as inert inline reStructuredText, one line: text through the
    docs' escaping function, numbers and flags as the report shows them."""
    if isinstance(value, bool):
        return Rst("yes" if value else "no")
    if isinstance(value, float):
        return Rst(f"{value:.2f}")
    if isinstance(value, (list, tuple)):
        return Rst(", ".join(rst_text(v) for v in value) if value else "none")
    if value is None:
        return Rst("n/a")
    if isinstance(value, dict):  # a Galera measurement's nested figures (rows per member, grastate)
        return Rst("; ".join(f"{rst_escape(k)}: {rst_text(v)}" for k, v in sorted(value.items())) if value else "none")
    return rst_escape(value)


def _seconds(v: Any) -> Rst:
    return Rst("n/a" if v is None else f"{float(v):.2f} s")


def _headline(sc: Mapping[str, Any]) -> Rst:
    return Rst(_headline_text(sc))


def _headline_text(sc: Mapping[str, Any]) -> str:
    """The one figure of a scenario that the summary table shows."""
    m = sc.get("measured") or {}
    kind = sc.get("kind")
    if sc.get("error"):
        return "error"
    if kind in ("holder-crash", "holder-kill", "haproxy-death"):
        back = m.get("service_restored_s")
        return (
            f"VIP moved in {_seconds(m.get('failover_s'))}"
            + (f", service back after {_seconds(back)}" if back is not None else "")
            + f", {rst_text(m.get('failed_requests', 0))} of {rst_text(m.get('requests', 0))} requests failed"
        )
    if kind in ("backend-death", "single-writer"):
        return (
            f"marked down in {_seconds(m.get('marked_down_s'))}, "
            f"{rst_text(m.get('failed_requests', 0))} of {rst_text(m.get('requests', 0))} requests failed"
        )
    if kind and kind.startswith("galera-"):
        return _galera_headline(kind, m)
    if kind == "redis-primary-kill":
        return (
            f"primary {rst_text(m.get('primary'))} killed under load, {rst_text(m.get('promoted'))} promoted: "
            f"{rst_text(m.get('lost'))} of {rst_text(m.get('acknowledged'))} acknowledged writes lost"
        )
    if kind == "keepalived-kill":
        return (
            f"a backup took the VIP after {_seconds(m.get('takeover_s'))}; held by {rst_text(m.get('holders_after'))}"
        )
    if kind == "partition":
        return (
            f"split brain {'seen' if m.get('split_brain') else 'not seen'} "
            f"({rst_text(m.get('holders_during_partition'))}), one holder {_seconds(m.get('convergence_s'))} after heal"
        )
    if kind == "switch-failure":
        vips = m.get("vips") or []
        moved = [v for v in vips if v.get("moved_after_s") is not None]
        failed = sum((v.get("summary") or {}).get("failed_requests", 0) for v in vips)
        total = sum((v.get("summary") or {}).get("requests", 0) for v in vips)
        down = m.get("services_down_measured") or []
        return (
            f"{len(moved)} of {len(vips)} VIPs moved, at most {max((v.get('max_holders', 0) for v in vips), default=0)} "
            f"holder(s) each; {rst_text(failed)} of {rst_text(total)} requests failed; "
            + (f"down: {rst_text(', '.join(down))}" if down else "no service down")
        )
    return ""


def _lost(m: Mapping[str, Any]) -> str:
    lost = sum(len(v) for v in (m.get("lost") or {}).values())
    return f"{rst_text(m.get('committed', 0))} rows committed, {lost} lost"


def _galera_headline(kind: str, m: Mapping[str, Any]) -> str:
    """The one line of a Galera scenario: what the cluster did, how long it took, rows lost."""
    if kind == "galera-member-down":
        return (
            f"writer {rst_text(m.get('victim'))} down: HAProxy marked it DOWN in {_seconds(m.get('haproxy_down_s'))}, "
            f"writes on {rst_text(m.get('new_writer'))} after {_seconds(m.get('first_write_on_backup_s'))}; " + _lost(m)
        )
    if kind == "galera-partition":
        return (
            f"{rst_text(m.get('minority'))} non-Primary after {_seconds(m.get('non_primary_after_s'))}, health "
            f"{rst_text(m.get('minority_health'))}, HAProxy {rst_text(m.get('haproxy_minority'))}; majority "
            f"Primary {rst_text(m.get('majority_primary'))}; " + _lost(m)
        )
    if kind == "galera-quorum-loss":
        return (
            f"survivor {rst_text(m.get('survivor'))} non-Primary after {_seconds(m.get('non_primary_after_s'))}, "
            f"write through the VIP {rst_text(m.get('write_through_vip'))}; operator recovery "
            f"{_seconds(m.get('recovery_s'))}; " + _lost(m)
        )
    if m.get("formed_by_itself"):
        return f"re-formed by itself in {_seconds(m.get('formed_after_s'))}; " + _lost(m)
    return (
        f"waited for an operator; bootstrap of {rst_text(m.get('bootstrapped'))} and rejoin took "
        f"{_seconds(m.get('recovery_s'))}; " + _lost(m)
    )


def _slug(model_file: str) -> Rst:
    """The generated document of a model file (``models/x.py`` -> ``x``), as hamodel.sphinx names it."""
    return Rst(re.sub(r"[^A-Za-z0-9_-]", "_", Path(str(model_file).split(":", 1)[0]).stem))


def _label(key: str) -> Rst:
    """``failover_s`` -> ``failover (s)``."""
    if key.endswith("_s"):
        key = key[:-2] + " (s)"
    return rst_text(key.replace("_", " "))


def unanswered(measured: Any, path: str = "") -> dict[str, int]:
    """Where a measurement counted polls Prometheus left unanswered (``unanswered_polls``, non-zero
    only): ``{where: count}``, ``where`` the dotted path of the measurement that counted them."""
    out: dict[str, int] = {}
    if isinstance(measured, Mapping):
        n = measured.get("unanswered_polls")
        if isinstance(n, int) and n > 0:
            out[path or "measured"] = n
        for k, v in measured.items():
            if k != "unanswered_polls":
                out.update(unanswered(v, f"{path}.{k}" if path else str(k)))
    return out


def _unanswered_note(measured: Any, where: str = "") -> Rst:
    """One sentence for a page: how many polls Prometheus left unanswered, where; empty when none."""
    u = unanswered(measured, where)
    if not u:
        return Rst("")
    where = "; ".join(f"{rst_escape(k.replace('_', ' '))}: {v}" for k, v in sorted(u.items()))
    return Rst(
        f"Prometheus left {sum(u.values())} poll(s) of the alert checks unanswered ({where}): each counts as "
        'unknown, never as "no alert fires"; a check timed by them was measured less often.'
    )


def render_rst(report: Mapping[str, Any], *, orphan: bool = False) -> str:
    """The page for one drill report."""
    # Every {{ value }} is escaped unless built here from escaped parts (Rst).
    env = rst_environment()
    env.filters.update(t=rst_text, s=_seconds, headline=_headline, label=_label, unanswered=_unanswered_note)
    env.globals.update(stamp_line=lambda st: Rst(stamp_line(st)), slug=_slug)
    env.globals.update(
        heading=rst_title,
        has_galera=lambda r: any(str(sc.get("kind", "")).startswith("galera-") for sc in r.get("scenarios", [])),
    )
    template = PACEMAKER_TEMPLATE if report.get("kind") == "pacemaker" else TEMPLATE
    text = env.from_string(template.read_text()).render(r=report, orphan=orphan)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n" + _measured_comment(report)


#: The comment line through which a drill page hands its measured outages to the architecture document.
MEASURED_MARK = ".. hamodel-recovery-measured: "


def _measured_comment(report: Mapping[str, Any]) -> str:
    rows = [
        [c["service"], c["disruption"], c["measured_s"]]
        for c in report.get("recovery") or []
        if c.get("measured_s") is not None
    ]
    if not rows or not report.get("model_file"):
        return ""
    data = {"model": report.get("model"), "model_file": report["model_file"], "measured": rows}
    return "\n" + MEASURED_MARK + json.dumps(data, sort_keys=True, ensure_ascii=True) + "\n"


def read_measured(page: str) -> tuple[str | None, dict[tuple[str, str], float]]:
    """``(model file, {(service, disruption): seconds})`` a drill page carries; ``(None, {})`` when none."""
    for line in page.splitlines():
        if line.startswith(MEASURED_MARK):
            try:
                data = json.loads(line[len(MEASURED_MARK) :])
                out: dict[tuple[str, str], float] = {}
                for s, d, v in data["measured"]:  # the worst of the scenarios of one class
                    out[(str(s), str(d))] = max(float(v), out.get((str(s), str(d)), 0.0))
                return data["model_file"], out
            except (ValueError, KeyError, TypeError):
                return None, {}
    return None, {}


_SUMMARY_ROW = re.compile(r"(?m)^   \* - ``([^`\n]+)``\n     - (yes|no|n/a)\n     - (.+)$")


def read_summary(page: str) -> dict[str, tuple[bool, str]]:
    """``{scenario: (agreed, measured)}`` from a drill page's Summary table, as
    :func:`render_rst` writes it (the measured figure is reStructuredText)."""
    start = page.find("   * - Scenario\n     - Agreed\n     - Measured\n")
    if start < 0:
        return {}
    end = page.find("\n\n", start)
    table = page[start:] if end < 0 else page[start:end]
    return {m.group(1): (m.group(2) == "yes", m.group(3).strip()) for m in _SUMMARY_ROW.finditer(table)}


def read_page_stamp(page: str) -> dict[str, Any] | None:
    """The stamp line of a drill page (:func:`stamp_line`), or None."""
    for line in page.splitlines():
        if line.startswith(STAMP_PREFIX):
            try:
                found = json.loads(line[len(STAMP_PREFIX) :])
            except ValueError:
                return None
            return found if isinstance(found, dict) else None
    return None


def generate(report: Mapping[str, Any], *, orphan: bool = False) -> dict[str, bytes]:
    """``{"drills.rst": page}``."""
    return {"drills.rst": render_rst(report, orphan=orphan).encode()}
