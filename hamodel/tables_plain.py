"""Plain-text layouts for the views of :mod:`hamodel.tables` with many rows.

rich lays a table out cell by cell (measure, wrap, pad, crop): at 5,000
services the findings and placement views of ``hamodel check`` took 10 s of
CPU, as long as the analysis. Beyond :data:`PLAIN_ROWS` rows the views are
laid out here instead: the same columns and blocks as plain lines (no
colour, no wrapping, no frame), model text through the same printable filter.
Views under the threshold (every reference model) are rich's, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hamodel.errors import printable

PLAIN_ROWS = 1000  # a view with more rows than this is laid out as plain text


class Plain(str):
    """Text already laid out (lines ending in a newline), printed as it is:
    see :func:`show`."""


def show(console, view) -> None:
    """Print ``view`` on ``console``: a :class:`Plain` text written as it is
    (after the printable filter, newlines kept), anything else through rich."""
    if isinstance(view, Plain):
        # The pieces were filtered as they were laid out; this is the net. Checked
        # line by line at C speed: filtering 20 MB character by character took 2 s.
        lines = view.split("\n")
        console.file.write("\n".join(ln if ln.isprintable() else printable(ln) for ln in lines))
        console.file.flush()
    else:
        console.print(view)


def columns(title: str, headers: Sequence[str], rows: Iterable[Sequence[str]], right: Sequence[int] = ()) -> Plain:
    """``rows`` under ``headers`` in columns two spaces apart, padded to the
    widest cell (columns in ``right`` right-aligned), under ``title``."""
    rows = [[printable(c) for c in r] for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        out = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(out).rstrip() + "\n"

    parts = [printable(title) + "\n", line(headers), line(["-" * w for w in widths])]
    parts.extend(line(r) for r in rows)
    return Plain("".join(parts))


def finding_blocks(findings: Sequence, title: str) -> Plain:
    """One block per finding, as :func:`hamodel.tables.findings_blocks` lays
    them out, each field on one line (no wrapping)."""
    parts = [printable(title) + "\n"]
    for f in findings:
        status = f"accepted: {f.acknowledged}" if f.acknowledged else "open"
        parts.append(f"\n{f.severity.upper()}  {printable(f.id)}  {printable(status)}\n")
        parts.append(f"  {printable(f.title)}\n")
        parts.append(f"  scenario    {printable(' + '.join(f.scenario)) if f.scenario else '-'}\n")
        parts.append(f"  impact      {printable(f.impact)}\n")
        if f.mitigation:
            parts.append(f"  mitigation  {printable(f.mitigation)}\n")
    return Plain("".join(parts))
