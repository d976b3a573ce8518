"""The consoles hamodel prints to: no control character of printed text
reaches the terminal; a reader that goes away (``hamodel diff | head``)
ends the command quietly with exit 141, as a shell reports a program
ended by SIGPIPE, never 1 (a failed gate) nor a traceback."""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

from hamodel.errors import printable

__all__ = ["EXIT_BROKEN_PIPE", "SafeConsole", "StdoutGuard", "broken_pipe"]

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE


def broken_pipe() -> NoReturn:
    """The reader of standard output has gone: exit 141 without a word.

    Standard output is pointed at /dev/null first, so that the
    interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ is not None else 1)
    except (OSError, ValueError):
        pass
    raise SystemExit(EXIT_BROKEN_PIPE)


class StdoutGuard:
    """``sys.stdout`` whose writes end the command quietly when the pipe is
    closed (Python ignores SIGPIPE: a write raises BrokenPipeError, which
    click would turn into exit 1 and an uncaught one into a traceback)."""

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            broken_pipe()

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            broken_pipe()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


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

    def on_broken_pipe(self) -> None:
        """rich's hook for a closed pipe (its default exits 1, a failed gate's code)."""
        self.quiet = True
        broken_pipe()
