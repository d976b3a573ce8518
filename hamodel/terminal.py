"""The consoles hamodel prints to: no control character of printed text reaches the terminal."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

from hamodel.errors import printable

__all__ = ["SafeConsole"]


class SafeConsole(Console):
    """A rich console that writes no control character of the text it prints.

    The views of :mod:`hamodel.tables` filter model text before layout (so
    widths are right); this is the net under them and every other print: a segment of
    text (not one of rich's own control segments) holding a control
    character is written with it escaped, newlines kept."""

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None):  # type: ignore[override]
        for seg in super().render(renderable, options):
            if seg.control or seg.text.isprintable() or seg.text == "\n":
                yield seg
            else:
                yield Segment(printable(seg.text, keep="\n"), seg.style, seg.control)
