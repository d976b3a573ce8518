"""Writing generated files: once, centrally, atomically, deterministically.

Generators return ``{relative path: bytes}``; :func:`write_tree` turns that
into a directory. The new tree is built beside the target and swapped in
with renames, so a failure leaves the previous output untouched.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Mapping

SECRET_MODE = 0o600


class FileSet(dict):
    """``{relative path: bytes}`` plus the set of paths that hold secrets."""

    def __init__(self, *args, secret: set[str] | None = None, **kw):
        super().__init__(*args, **kw)
        self.secret: set[str] = set(secret or ())


def _check_rel(path: str) -> None:
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise ValueError(f"generated path {path!r} escapes the output directory")


def write_file(path: Path, data: bytes, mode: int | None = None) -> None:
    """Atomically replace one file (temp file in the same directory + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode if mode is not None else 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_tree(out: Path, files: Mapping[str, bytes]) -> None:
    """Replace directory ``out`` by exactly ``files``, atomically.

    The tree is written to ``out.tmp-XXXX`` first; the old tree is renamed
    away and the new one renamed into place, then the old one removed.
    """
    out = Path(out)
    secret = getattr(files, "secret", set())
    for rel in files:
        _check_rel(rel)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.new-"))
    try:
        for rel in sorted(files):
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(files[rel])
            os.chmod(target, SECRET_MODE if rel in secret else 0o644)
        os.chmod(staging, 0o755)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
            os.rmdir(old)
            os.replace(out, old)
        os.replace(staging, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def diff_tree(out: Path, files: Mapping[str, bytes]) -> str:
    """Unified diff between directory ``out`` and ``files``; '' when equal."""
    out = Path(out)
    existing = {
        str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
    } if out.exists() else {}
    chunks: list[str] = []
    for rel in sorted(set(existing) | set(files)):
        a, b = existing.get(rel), files.get(rel)
        if a == b:
            continue
        a_lines = (a or b"").decode("utf-8", "replace").splitlines(keepends=True)
        b_lines = (b or b"").decode("utf-8", "replace").splitlines(keepends=True)
        chunks.extend(difflib.unified_diff(
            a_lines, b_lines,
            fromfile=f"a/{rel}" if a is not None else "/dev/null",
            tofile=f"b/{rel}" if b is not None else "/dev/null",
        ))
    return "".join(chunks)
