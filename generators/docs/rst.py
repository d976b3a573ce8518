"""Inert reStructuredText from untrusted text: the one escaping function.

Model text (names, descriptions, acknowledgement reasons, recovery
procedures, error messages) must never become rST markup: a description
holding ``.. literalinclude::`` would otherwise publish any file the
documentation build can read, ``.. raw:: html`` would publish script.

:func:`rst_escape` makes any value inert inline text: whitespace collapses
to single spaces (so no line can start a directive, section, table or
list), characters no document should carry (control characters, lone
surrogates, unassigned code points) become U+FFFD, and every other
character that is not a letter, digit or space is backslash-escaped, so no
markup of any kind (directive, role, substitution, hyperlink target or
reference, footnote, comment, emphasis, literal, list, field, table or
section adornment, smart quotes and dashes) can start from it. Spaces and
commas stay as they are, and so do ``-``, ``.`` and ``/`` between two
letters or digits. Escaped characters render as themselves.

Templates use :func:`environment`: every ``{{ value }}`` passes through
:func:`rst_escape` unless the value is already :class:`Rst` (built by these
helpers), so a template cannot forget to escape.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jinja2
from docutils.utils import column_width

__all__ = [
    "Rst",
    "environment",
    "rst_block_line",
    "rst_escape",
    "rst_literal",
    "rst_name",
    "rst_option",
    "rst_path",
    "rst_plain",
    "rst_table",
    "rst_title",
]


class Rst(str):
    """Text that is already reStructuredText (built from escaped parts):
    templates output it as is."""

    __slots__ = ()


# Categories no document text should carry: control characters, lone
# surrogates (not encodable as UTF-8) and unassigned code points.
_REPLACED = frozenset({"Cc", "Cs", "Cn"})


def rst_plain(value: Any) -> str:
    """The text :func:`rst_escape` renders: one line, whitespace collapsed,
    control characters, surrogates and unassigned code points as U+FFFD."""
    text = " ".join(str(value).split())
    return "".join("\ufffd" if unicodedata.category(c) in _REPLACED else c for c in text)


# Never markup: a space separates words, a comma starts and ends nothing.
_SAFE = frozenset(" ,")
# Markup only next to other punctuation or whitespace ("--" becomes a dash,
# ".." starts a comment, "- " a bullet): safe between two letters or digits,
# which keeps names such as ``ctl-1`` and ``10.0.0.1`` readable in the source.
_SAFE_INSIDE = frozenset("-./")


def rst_block_line(value: Any) -> str:
    """One line for an indented literal block: tabs expanded, control
    characters, surrogates and unassigned code points as U+FFFD (the caller
    splits lines with ``str.splitlines``, as docutils does)."""
    text = str(value).expandtabs()
    return "".join("\ufffd" if unicodedata.category(c) in _REPLACED else c for c in text)


def rst_escape(value: Any) -> Rst:
    """Any value as inert inline reStructuredText (see the module docstring)."""
    if isinstance(value, Rst):
        return value
    text = rst_plain(value)
    out = []
    for i, c in enumerate(text):
        if (
            c in _SAFE
            or c.isalnum()
            or (c in _SAFE_INSIDE and 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum())
        ):
            out.append(c)
        else:
            out.append("\\" + c)
    escaped = "".join(out)
    if escaped and not escaped.strip("\\"):
        # Only backslashes: a line of one repeated punctuation character is a
        # transition or section adornment. An escaped space renders as nothing.
        escaped = "\\ " + escaped
    return Rst(escaped)


def rst_literal(value: Any) -> Rst:
    """A value as an inline literal (````text````); backticks become ``'``.

    Inside an inline literal nothing is markup, not even a backslash; only
    a run of backticks could end it early.
    """
    text = rst_plain(value).replace("`", "'")
    return Rst(f"``{text}``") if text else Rst("")


def rst_option(value: Any) -> Rst:
    """A directive option value shown as plain text (``:alt:``): one line.

    Option values such as ``:alt:`` are not parsed as markup, so they are
    not backslash-escaped (the backslashes would show); keeping them on
    one line is what keeps them inert.
    """
    return Rst(rst_plain(value))


def rst_title(text: Any, char: str, overline: bool = False) -> Rst:
    """A section title from free text: escaped, with a long enough adornment."""
    t = rst_escape(text) or Rst("\\ ")
    # docutils measures the title in display columns (a wide character is two).
    rule = char * max(len(t), column_width(t), 3)
    return Rst(f"{rule}\n{t}\n{rule}" if overline else f"{t}\n{rule}")


_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def rst_name(value: Any) -> Rst:
    """A reference name or document name (labels, toctree entries): only
    letters, digits, ``_`` and ``-``; anything else becomes ``-``."""
    return Rst(_NAME_UNSAFE.sub("-", str(value)) or "-")


_PATH = re.compile(r"^/?[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*/?$")


def rst_path(value: Any) -> Rst:
    """A generated file path in a role or directive argument; refuses
    anything but safe path segments (no ``..``, spaces or markup)."""
    text = str(value)
    if text and not _PATH.fullmatch(text):
        raise ValueError(f"refusing to place {text!r} in reStructuredText as a path")
    return Rst(text)


def rst_table(
    headers: Sequence[Any], rows: Iterable[Sequence[Any]], widths: str | None = None, cls: str | None = None
) -> Rst:
    """A ``list-table``; every cell is escaped unless it is :class:`Rst`.

    No rows is the sentence "None." (a list-table needs a body row)."""
    rows = list(rows)
    if not rows:
        return Rst("None.")
    lines = [".. list-table::", "   :header-rows: 1"]
    if widths:
        if not re.fullmatch(r"[0-9 ]+", widths):
            raise ValueError(f"invalid table widths {widths!r}")
        lines.append(f"   :widths: {widths}")
    lines.append("   :class: hamodel-table" + (f" {rst_name(cls)}" if cls else ""))
    lines.append("")
    for row in [headers, *rows]:
        cells = [rst_escape(c) or Rst("\\ ") for c in row]
        lines.append(f"   * - {cells[0]}")
        lines += [f"     - {c}" for c in cells[1:]]
    return Rst("\n".join(lines))


def _finalize(value: Any) -> Any:
    return rst_escape(value) if value is not None else rst_escape("")


def environment(loader: jinja2.BaseLoader | None = None, *, templates: Path | None = None) -> jinja2.Environment:
    """A Jinja environment for rST templates: every ``{{ }}`` is escaped
    (``finalize``) unless it is :class:`Rst`."""
    if loader is None and templates is not None:
        loader = jinja2.FileSystemLoader(str(templates))
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # reStructuredText: escaped by finalize, not HTML
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(rst=rst_escape, literal=rst_literal, option=rst_option, name=rst_name, path=rst_path)
    env.globals.update(title=rst_title, table=rst_table)
    return env
