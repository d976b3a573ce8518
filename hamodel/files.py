"""Reading the files hamodel is given (JSON models, lock files): only
regular files, and only as many bytes as such a file can sensibly hold,
so that a FIFO does not hang a command and a huge file does not take
gigabytes of memory before its error."""

from __future__ import annotations

import os
import stat
from pathlib import Path

#: The largest JSON model or lock file read (bytes): far above a 10,000-service
#: model (about 10 MiB exported), far below what takes gigabytes to parse.
MAX_JSON_BYTES = 64 << 20

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str:
    """What a ``stat`` mode is, in words: "a regular file", "a FIFO (named pipe)"..."""
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} bytes"


class UnreadableFile(ValueError):
    """A given file is not a regular file, or is too large; the message says which."""


def read_bounded(path: Path | str, what: str, limit: int = MAX_JSON_BYTES) -> bytes:
    """The bytes of the regular file at ``path`` (symbolic links followed).

    Raises :class:`UnreadableFile` (``what`` names the file's role: "a JSON
    model") when it is a directory, FIFO, device or socket, or larger than
    ``limit``; ``OSError`` when it cannot be opened. A FIFO is opened
    without blocking and never read.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFile(f"it is {file_kind(st.st_mode)}, not {what}")
        if st.st_size > limit:
            raise UnreadableFile(f"it is {_size(st.st_size)}: {what} can be at most {_size(limit)}")
        chunks, total = [], 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew while being read
                raise UnreadableFile(f"it is more than {_size(limit)}: {what} can be at most {_size(limit)}")
        return b"".join(chunks)
    finally:
        os.close(fd)
