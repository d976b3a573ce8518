"""The "Measured failover" docs page: a drill report rendered as reStructuredText.

:func:`render_rst` turns the JSON report of ``hamodel drill`` into a page;
:func:`generate` returns it as ``{"drills.rst": bytes}`` like every other
generator. The page is a view of the report: every figure on it comes from
a measurement, every bound from the prediction the runner recorded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import jinja2

__all__ = ["generate", "render_rst", "rst_text"]

TEMPLATE = Path(__file__).parent / "drills.rst.j2"

_SPECIAL = re.compile(r"([\\`*_|<>\[\]])")


def rst_text(value: Any) -> str:
    """A value as inline reStructuredText: markup characters escaped, one line."""
    if isinstance(value, bool):
        s = "yes" if value else "no"
    elif isinstance(value, float):
        s = f"{value:.2f}"
    elif isinstance(value, (list, tuple)):
        s = ", ".join(rst_text(v) for v in value) if value else "none"
        return s
    elif value is None:
        s = "n/a"
    else:
        s = str(value)
    s = " ".join(s.split())
    return _SPECIAL.sub(r"\\\1", s)


def _seconds(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.2f} s"


def _headline(sc: Mapping[str, Any]) -> str:
    """The one figure of a scenario that the summary table shows."""
    m = sc.get("measured") or {}
    kind = sc.get("kind")
    if sc.get("error"):
        return "error"
    if kind in ("holder-crash", "holder-kill", "haproxy-death"):
        back = m.get("service_restored_s")
        return (f"VIP moved in {_seconds(m.get('failover_s'))}"
                + (f", service back after {_seconds(back)}" if back is not None else "")
                + f", {m.get('failed_requests', 0)} of {m.get('requests', 0)} requests failed")
    if kind in ("backend-death", "single-writer"):
        return (f"marked down in {_seconds(m.get('marked_down_s'))}, "
                f"{m.get('failed_requests', 0)} of {m.get('requests', 0)} requests failed")
    if kind == "partition":
        return (f"split brain {'seen' if m.get('split_brain') else 'not seen'} "
                f"({rst_text(m.get('holders_during_partition'))}), one holder {_seconds(m.get('convergence_s'))} after heal")
    return ""


def _label(key: str) -> str:
    """``failover_s`` -> ``failover (s)``."""
    if key.endswith("_s"):
        key = key[:-2] + " (s)"
    return rst_text(key.replace("_", " "))


def _heading(text: str, char: str) -> str:
    return f"{text}\n{char * max(len(text), 3)}"


def render_rst(report: Mapping[str, Any], *, orphan: bool = False) -> str:
    """The page for one drill report."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters.update(t=rst_text, s=_seconds, headline=_headline, label=_label)
    env.globals.update(heading=_heading)
    text = env.from_string(TEMPLATE.read_text()).render(r=report, orphan=orphan)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"


def generate(report: Mapping[str, Any], *, orphan: bool = False) -> dict[str, bytes]:
    """``{"drills.rst": page}``."""
    return {"drills.rst": render_rst(report, orphan=orphan).encode()}
