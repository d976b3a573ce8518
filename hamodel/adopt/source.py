"""Reading collected files safely, and what an import reports.

Everything read here comes from machines hamodel did not configure: a file
is refused (with its path) when it is too big, binary, not UTF-8, nested
too deep or not a regular file, never executed, and names are checked
before they reach a model file.
"""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass
from pathlib import Path

from hamodel.errors import HamodelError, printable

#: Larger collected files are refused: a real keepalived.conf, haproxy.cfg or
#: CIB of a few hundred services is well under a megabyte.
MAX_BYTES = 4 * 1024 * 1024
#: Brace or XML nesting deeper than this is refused (real configs nest 3 or 4 levels).
MAX_DEPTH = 16
#: A name hamodel writes into a model: the model's own Name pattern (no shell,
#: Jinja or markup characters).
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class AdoptError(HamodelError):
    """A collected file hamodel refuses to read (the message names file and line)."""


@dataclass(frozen=True, order=True)
class Unmapped:
    """A directive the import did not carry into the model, and why."""

    file: str
    line: int
    directive: str
    reason: str  # unknown | unsupported | ambiguous | unsafe
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.directive}: {self.reason}" + (
            f" ({self.detail})" if self.detail else ""
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "directive": self.directive,
            "reason": self.reason,
            "detail": self.detail,
        }


def read_text(path: Path, label: str | None = None) -> str:
    """The text of one collected file; :class:`AdoptError` when it is not a
    small regular UTF-8 text file."""
    label = label or str(path)
    try:
        st = path.lstat()
    except OSError as exc:
        raise AdoptError(f"{label}: cannot read: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise AdoptError(f"{label}: a symbolic link; collect the file itself (symlinks are not followed)")
    if not stat.S_ISREG(st.st_mode):
        raise AdoptError(f"{label}: not a regular file")
    if st.st_size > MAX_BYTES:
        raise AdoptError(f"{label}: {st.st_size} bytes, more than the {MAX_BYTES} hamodel reads from one file")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise AdoptError(f"{label}: cannot read: {exc.strerror}") from None
    return decode(data, label)


def decode(data: bytes, label: str) -> str:
    """UTF-8 text without NUL bytes, or :class:`AdoptError` naming the line."""
    if len(data) > MAX_BYTES:
        raise AdoptError(f"{label}: more than the {MAX_BYTES} bytes hamodel reads from one file")
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise AdoptError(f"{label}:{line}: binary data (a NUL byte): not a config file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise AdoptError(f"{label}:{line}: not UTF-8 text") from None


def safe_name(value: str) -> bool:
    """Whether ``value`` can be a name in the model (and so in every generated file)."""
    return bool(NAME.match(value))


def shown(value: str, limit: int = 60) -> str:
    """``value`` made printable and short, for a message."""
    v = printable(value)
    return v if len(v) <= limit else v[:limit] + "..."
