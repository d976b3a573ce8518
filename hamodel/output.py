"""Writing generated files: once, centrally, atomically, deterministically.

Generators return ``{relative path: bytes}``; :func:`write_tree` turns that
into a directory and :func:`write_file` writes one file. Both refuse to
destroy what hamodel did not write, and turn every write failure into an
:class:`OutputError` that names the path (the CLI prints it, exit 2).

Why the tree swap is ``renameat2(RENAME_EXCHANGE)``: the new tree is
written and fsynced in a hidden sibling, then exchanged with OUT in one
system call, so OUT is, at every instant and after a crash, either the old
complete tree or the new complete tree, and it stays a real directory
(deploy tools, ``cp -r``, rsync, git and ``build --check`` see no symlink,
and trees written by earlier versions are replaced in place). A symlink
flip would be atomic too, but would turn OUT into a link that ``cp -r``
and ``tar`` copy as a dangling relative link. The old tree, now at the
hidden name, is removed afterwards; a kill leaves only hidden litter named
``.OUT.hamodel-*`` that the next run for the same OUT removes. Where the
filesystem lacks the exchange (EINVAL, ENOSYS), two renames are used and
the window is recovered from the same way.
"""

from __future__ import annotations

import ctypes
import difflib
import errno
import fcntl
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath

from hamodel.errors import HamodelError
from hamodel.files import file_kind, read_bounded

SECRET_MODE = 0o600

#: Files of a hamodel output tree besides the per-node files its manifest lists.
TREE_EXTRAS = frozenset({"manifest.json", "ansible/inventory.yml", "ansible/deploy.yml", "ansible/collect.yml"})

_LITTER = ".hamodel-"  # staging/old trees: .OUT.hamodel-new-XXXX, .OUT.hamodel-old-XXXX
_LEGACY_LITTER = (".new-", ".old-")  # names used by hamodel <= 0.1 (two-rename swap)


class OutputError(HamodelError):
    """Output could not be written, or writing it would destroy something; names the path."""


class FileSet(dict):
    """``{relative path: bytes}`` plus the set of paths that hold secrets."""

    def __init__(self, *args, secret: set[str] | None = None, **kw):
        super().__init__(*args, **kw)
        self.secret: set[str] = set(secret or ())


def _check_rel(path: str) -> None:
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or not p.parts or "." in p.parts or path != str(p):
        raise ValueError(f"generated path {path!r} escapes the output directory")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _fsync_dir(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- one file ----------------------------------------------------------------------

#: An output path that is one of the command's inputs: ``(path, what)``, e.g. ``(models/x.py, "the model")``.
Inputs = Iterable[tuple["Path | str", str]]


def refuse_output(path: Path, inputs: Inputs = ()) -> None:
    """Raise :class:`OutputError` unless ``path`` is a new path or a regular
    file that is none of ``inputs``.

    hamodel replaces only a regular file: a directory, a symbolic link, a
    device (``/dev/null``), a FIFO or a socket is refused with its kind (as
    root, replacing ``/dev/null`` by a file breaks the machine). So is a
    Python file (hamodel writes no Python: that is a model) and any of the
    command's own inputs (the model, a module it imports, the lock it reads),
    compared by inode so that another spelling of the path is caught too.
    """
    path = Path(path)
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return  # a new path (or one under a file: write_file names that error)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"cannot write {path}: it is a directory (give a file name)")
    if not stat.S_ISREG(st.st_mode):
        kind = file_kind(st.st_mode) + (f" (to {os.readlink(path)})" if stat.S_ISLNK(st.st_mode) else "")
        raise OutputError(
            f"refusing to write {path}: it is {kind}; hamodel replaces only a regular file or "
            "writes a new path (for standard output give -o - or no -o)"
        )
    if path.suffix == ".py":
        raise OutputError(f"refusing to write {path}: it is Python source (a model?); hamodel writes no Python")
    for p, what in inputs:
        try:
            if os.path.samestat(st, os.stat(p)):
                raise OutputError(f"refusing to write {path}: it is {what} ({p}), an input of this command")
        except OSError:
            continue


def holds_model(path: Path) -> str | None:
    """What hamodel data a regular file at ``path`` holds ("a hamodel model",
    "a placement lock file"), else None: for a command with no model input
    (``schema -o``) that must still not write over one."""
    if os.path.islink(path):
        return None  # refused anyway, as every symbolic link
    try:
        data = json.loads(read_bounded(path, "JSON"))
    except (OSError, ValueError, RecursionError):  # ValueError: not JSON, not a regular file, too big
        return None
    if isinstance(data, dict) and isinstance(data.get("nodes"), list) and "services" in data:
        return "a hamodel model"
    if isinstance(data, dict) and isinstance(data.get("placement"), dict):
        return "a placement lock file"
    return None


def write_file(path: Path, data: bytes, mode: int | None = None, *, inputs: Inputs = ()) -> None:
    """Atomically replace one file (temp file in the same directory, fsync, rename, fsync dir).

    Only a regular file or a new path is written; anything else, and any
    of the command's ``inputs``, is refused (see :func:`refuse_output`).
    Raises :class:`OutputError` naming ``path`` on any write failure
    (permission, read-only or full filesystem, a directory in the way);
    the previous file, if any, is left as it was and no temp file remains.
    """
    path = Path(path)
    inputs = list(inputs)
    refuse_output(path, inputs)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode if mode is not None else 0o644)
            os.fsync(fh.fileno())
        refuse_output(path, inputs)  # again, just before the rename: what is there now
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(path.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from None
    finally:
        if tmp is not None and os.path.lexists(tmp):
            os.unlink(tmp)


def check_writable(path: Path, inputs: Inputs = ()) -> None:
    """Raise :class:`OutputError` now when :func:`write_file` to ``path`` would fail.

    For commands that write a file after long work (a drill): a temp file is
    created and removed in the nearest existing directory; nothing remains.
    """
    path = Path(path)
    refuse_output(path, inputs)
    parent = path.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.")
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from None


# -- reading a tree without following symlinks ------------------------------------------


def _walk(top: Path, *, read: Callable[[str], bool] | bool = False) -> Iterator[tuple[str, str, int, bytes | None]]:
    """Yield ``(rel, kind, mode, data)`` for every entry under ``top``.

    ``kind`` is file, dir, symlink or other. No symlink is followed, at any
    depth (every directory is opened relative to its parent with
    ``O_NOFOLLOW``), so a link inside OUT can never make hamodel read or
    print its target. ``data`` is the file's bytes when ``read`` (or ``read(rel)``) is true.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW

    def walk(fd: int, prefix: str) -> Iterator[tuple[str, str, int, bytes | None]]:
        with os.scandir(fd) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            rel = f"{prefix}{e.name}"
            st = os.stat(e.name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                yield rel, "symlink", st.st_mode, None
            elif stat.S_ISDIR(st.st_mode):
                yield rel, "dir", st.st_mode, None
                sub = os.open(e.name, flags, dir_fd=fd)
                try:
                    yield from walk(sub, rel + "/")
                finally:
                    os.close(sub)
            elif stat.S_ISREG(st.st_mode):
                data = None
                if read is True or (callable(read) and read(rel)):
                    f = os.open(e.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
                    with os.fdopen(f, "rb") as fh:
                        data = fh.read()
                yield rel, "file", st.st_mode, data
            else:
                yield rel, "other", st.st_mode, None

    fd = os.open(top, flags)
    try:
        yield from walk(fd, "")
    finally:
        os.close(fd)


def read_manifest(out: Path) -> dict | None:
    """OUT/manifest.json when it is a regular file written by hamodel, else None."""
    try:
        fd = os.open(Path(out) / "manifest.json", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return None
            data = json.loads(fh.read(16 << 20))
    except (OSError, ValueError, RecursionError):  # RecursionError: a hostile [[[...]]] manifest
        return None
    if not (
        isinstance(data, dict)
        and str(data.get("generator", "")).startswith("hamodel")
        and isinstance(data.get("files"), dict)
    ):
        return None
    return data


def foreign_entries(out: Path, limit: int = 5) -> list[str] | None:
    """What in directory ``out`` hamodel did not write: ``[]`` for a hamodel tree or an empty dir.

    A hamodel tree has a manifest.json from hamodel and holds only the
    files it lists (plus :data:`TREE_EXTRAS`) and their directories: no
    other file, no symlink, no empty directory. Returns ``None`` when
    ``out`` is not empty and has no such manifest (not walked: it may be a
    home directory). At most ``limit`` entries are returned.
    """
    out = Path(out)
    with os.scandir(out) as it:
        if next(it, None) is None:
            return []
    manifest = read_manifest(out)
    if manifest is None:
        return None
    fmt = manifest.get("format")
    # ansible/deploy.yml is hamodel's since manifest format 2: in an older
    # tree a file there is the operator's own playbook, never replaced.
    extras = (
        TREE_EXTRAS if type(fmt) is int and fmt >= 2 else TREE_EXTRAS - {"ansible/deploy.yml", "ansible/collect.yml"}
    )
    central = manifest.get("central")  # monitoring/: files for no node
    listed = (
        {str(k) for k in manifest["files"]}
        | extras
        | ({str(k) for k in central} if isinstance(central, dict) else set())
    )
    dirs = {str(PurePosixPath(p).parent) for p in listed}
    dirs = {str(parent) for d in dirs for parent in [PurePosixPath(d), *PurePosixPath(d).parents]} - {"."}
    found: list[str] = []
    for rel, kind, _mode, _ in _walk(out):
        ok = (kind == "file" and rel in listed) or (kind == "dir" and rel in dirs)
        if not ok:
            found.append(rel + ("/" if kind == "dir" else f" ({kind})" if kind != "file" else ""))
            if len(found) >= limit:
                break
    return found


# -- a whole tree -----------------------------------------------------------------------


def _is_within(inner: str, outer: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def _refuse(out: Path, protect: tuple[Path, ...]) -> None:
    """Raise OutputError unless replacing ``out`` can only destroy a tree hamodel wrote."""
    if str(out) == "/" or not out.name:
        raise OutputError(f"refusing to replace {out}: it is the root directory")
    real = os.path.realpath(out)
    for what, place in (("your home directory", os.path.expanduser("~")), ("the current directory", os.getcwd())):
        for p in {os.path.abspath(place), os.path.realpath(place)}:
            if _is_within(p, str(out)) or _is_within(p, real):
                raise OutputError(f"refusing to replace {out}: it is or contains {what} ({p})")
    for p in protect:
        if p is not None and os.path.lexists(p):
            rp = os.path.realpath(p)
            if _is_within(rp, real) or _is_within(os.path.abspath(p), str(out)):
                raise OutputError(f"refusing to replace {out}: it contains {p}")
    if os.path.islink(out):
        raise OutputError(
            f"refusing to replace {out}: it is a symbolic link (to {os.readlink(out)}); "
            "hamodel replaces only a directory it wrote: remove the link or choose another -o"
        )
    if not os.path.lexists(out):
        return
    if not out.is_dir():
        raise OutputError(f"refusing to replace {out}: it exists and is not a directory")
    if os.path.ismount(out):
        raise OutputError(f"refusing to replace {out}: it is a mount point; choose a directory inside it")
    try:
        foreign = foreign_entries(out)
    except OSError as exc:
        raise OutputError(f"cannot read {out}: {_reason(exc)}") from None
    if foreign is None:
        raise OutputError(
            f"refusing to replace {out}: it is not empty and holds no hamodel manifest.json, "
            "so hamodel did not write it; choose an empty or new directory"
        )
    if foreign:
        raise OutputError(
            f"refusing to replace {out}: it holds what its hamodel manifest does not list "
            f"({', '.join(foreign)}); move these away or choose another directory"
        )


def _litter(out: Path) -> list[Path]:
    """Hidden siblings of ``out`` left by an interrupted hamodel run for this OUT."""
    mine = f".{out.name}{_LITTER}"
    legacy = tuple(f".{out.name}{x}" for x in _LEGACY_LITTER)
    found = []
    try:
        names = os.listdir(out.parent)
    except OSError:
        return []
    for name in names:
        p = out.parent / name
        if not (name.startswith(mine) or name.startswith(legacy)):
            continue
        try:
            if not stat.S_ISDIR(os.lstat(p).st_mode):
                continue
            # Legacy names are less distinctive: take only what is hamodel's own.
            if name.startswith(legacy) and foreign_entries(p) != []:
                continue
        except OSError:
            continue
        found.append(p)
    return sorted(found)


_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2
_AT_FDCWD = -100


def _renameat2(src: str, dst: str, flags: int) -> None:
    """``renameat2(2)`` through libc; raises OSError (ENOSYS when libc lacks it)."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except AttributeError:
        raise OSError(errno.ENOSYS, "renameat2 not available") from None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), src)


def _swap(staging: Path, out: Path) -> bool:
    """Make ``staging`` visible at ``out`` in one step; True when the old tree is now at ``staging``."""
    existed = os.path.lexists(out)
    try:
        _renameat2(str(staging), str(out), _RENAME_EXCHANGE if existed else _RENAME_NOREPLACE)
        return existed
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise
    # No exchange on this filesystem: two renames; a kill between them leaves
    # OUT missing until the next run, which removes the litter and rewrites it.
    old = out.parent / f".{out.name}{_LITTER}old-{staging.name.rsplit('-', 1)[-1]}"
    if existed:
        os.rename(out, old)
    os.rename(staging, out)
    if existed:
        os.rename(old, staging)
    return existed


def _syncfs(fd: int) -> bool:
    """``syncfs(2)`` through libc: every file and directory written on ``fd``'s filesystem
    reaches the disk in one call (one journal commit instead of one per file). False when
    libc lacks it; raises OSError when the flush fails."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except AttributeError:
        return False
    fn.argtypes = [ctypes.c_int]
    if fn(fd) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return True


#: Flush the staging tree with one ``syncfs`` (False: fsync every file and directory, the old path).
SYNCFS = True


def _write_staging(staging: Path, files: Mapping[str, bytes], secret: set[str]) -> None:
    """Write ``files`` under ``staging`` and make them durable before the swap: one ``syncfs``
    when available (a large model writes thousands of files, and an fsync each took most of
    the write), else an fsync per file and directory."""
    per_file = not SYNCFS
    if not per_file:
        fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
        try:
            _write_files(staging, files, secret, fsync=False)
            os.chmod(staging, 0o755)
            if _syncfs(fd):
                return
        finally:
            os.close(fd)
        for rel in sorted(files):  # no syncfs in this libc: fsync what was written
            fd = os.open(staging / rel, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        for d in sorted(_dirs_of(staging, files), key=lambda p: len(p.parts), reverse=True):
            _fsync_dir(d)
        return
    dirs = _write_files(staging, files, secret, fsync=True)
    os.chmod(staging, 0o755)
    for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        _fsync_dir(d)


def _dirs_of(staging: Path, files: Mapping[str, bytes]) -> set[Path]:
    return {staging} | {staging / p for rel in files for p in PurePosixPath(rel).parents[:-1]}


def _write_files(staging: Path, files: Mapping[str, bytes], secret: set[str], *, fsync: bool) -> set[Path]:
    dirs = {staging}
    for rel in sorted(files):
        target = staging / rel
        for parent in reversed(target.relative_to(staging).parents[:-1]):
            d = staging / parent
            if d not in dirs:
                os.mkdir(d, 0o755)
                os.chmod(d, 0o755)
                dirs.add(d)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(files[rel])
            os.fchmod(fh.fileno(), SECRET_MODE if rel in secret else 0o644)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
    return dirs


def write_tree(out: Path, files: Mapping[str, bytes], *, protect: tuple[Path, ...] = ()) -> None:
    """Replace directory ``out`` by exactly ``files``, atomically.

    Only an empty or missing directory, or a tree hamodel wrote (see
    :func:`foreign_entries`), is replaced; anything else (a foreign or
    non-empty directory, a file, a symlink, ``/``, the home or current
    directory, a directory holding one of ``protect``) raises
    :class:`OutputError` with nothing touched. The new tree is written and
    fsynced in ``.OUT.hamodel-new-XXXX``, exchanged with OUT in one step,
    and the old tree removed; litter of interrupted runs for the same OUT
    is removed first. Concurrent writers of one parent directory are
    serialised by a ``flock`` on that directory.
    """
    out = Path(os.path.abspath(out))
    secret = set(getattr(files, "secret", set()))
    for rel in files:
        _check_rel(rel)
    _refuse(out, tuple(Path(p) for p in protect if p is not None))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(out.parent, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {_reason(exc)}") from None
    staging: Path | None = None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _refuse(out, tuple(Path(p) for p in protect if p is not None))  # again, under the lock
        for old in _litter(out):
            shutil.rmtree(old)
        staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}{_LITTER}new-"))
        _write_staging(staging, files, secret)
        if not _swap(staging, out):
            staging = None
        _fsync_dir(out.parent)
        if staging is None:
            return
        # staging now holds the previous tree. Someone may have added a file
        # to it since it was checked: keep such a tree instead of removing it.
        leftover = foreign_entries(staging)
        if leftover == []:
            shutil.rmtree(staging, ignore_errors=True)  # what remains is litter for the next run
        else:
            kept = out.parent / f"{out.name}.hamodel-kept-{staging.name.rsplit('-', 1)[-1]}"
            os.rename(staging, kept)
            staging = None
            raise OutputError(
                f"wrote {out}, but its previous content changed meanwhile "
                f"({', '.join(leftover or ['no manifest'])}): kept it as {kept}"
            )
        staging = None
        _fsync_dir(out.parent)
    except OSError as exc:
        raise OutputError(
            f"cannot write {out}: {_reason(exc)}"
            + (f" ({exc.filename})" if exc.filename and str(exc.filename) != str(out) else "")
        ) from None
    finally:
        if staging is not None and os.path.lexists(staging):
            shutil.rmtree(staging, ignore_errors=True)
        os.close(lock)


# -- comparing ---------------------------------------------------------------------------


def diff_tree(
    out: Path, files: Mapping[str, bytes], secret: set[str] | frozenset[str] = frozenset(), limit: int = 50
) -> str:
    """Unified diff between directory ``out`` and ``files``; '' when equal.

    Nothing secret is printed: a file in ``secret``, in ``files.secret``,
    marked secret by OUT's own manifest, or mode 0600 on disk, is compared
    and reported as differing without its contents; so is a file that
    ``files`` does not hold (``-o ~/.ssh`` must not print a key). No symlink
    inside OUT is followed: links and special files are reported as
    unexpected entries. At most ``limit`` such entries are listed.
    """
    out = Path(out)
    fs_secret = set(getattr(files, "secret", ()))
    hidden = set(secret) | fs_secret
    existing: dict[str, tuple[int, bytes]] = {}
    chunks: list[str] = []
    if os.path.islink(out):
        return f"{out} is a symbolic link, not a directory hamodel wrote (not followed)\n"
    if os.path.lexists(out) and not out.is_dir():
        return f"{out} is not a directory\n"
    if out.is_dir():
        manifest = read_manifest(out) or {}
        hidden |= {str(k) for k, v in manifest.get("files", {}).items() if isinstance(v, dict) and v.get("secret")}
        extra = 0
        for rel, kind, mode, data in _walk(out, read=lambda rel: rel in files):
            if kind == "file" and rel in files:
                existing[rel] = (stat.S_IMODE(mode), data or b"")
                if stat.S_IMODE(mode) & 0o077 == 0:
                    hidden.add(rel)
            elif kind != "dir":
                extra += 1
                if extra > limit:
                    chunks.append(f"... more entries in {out} not listed\n")
                    break
                chunks.append(
                    f"--- a/{rel}\n+++ /dev/null\nOnly in a: {rel} (not generated: contents not shown)\n"
                    if kind == "file"
                    else f"Unexpected {kind} a/{rel} (not followed)\n"
                )
    for rel in sorted(set(existing) | set(files)):
        a = existing[rel][1] if rel in existing else None
        b = files.get(rel)
        if rel in hidden:
            if a != b:
                chunks.append(f"Files a/{rel} and b/{rel} differ (secret: contents not shown)\n")
            elif rel in fs_secret and existing[rel][0] != SECRET_MODE:
                chunks.append(f"Mode of a/{rel} is {existing[rel][0]:04o}, should be {SECRET_MODE:04o}\n")
            continue
        if a == b:
            continue
        a_lines = (a or b"").decode("utf-8", "replace").splitlines(keepends=True)
        b_lines = (b or b"").decode("utf-8", "replace").splitlines(keepends=True)
        chunks.extend(
            difflib.unified_diff(
                a_lines,
                b_lines,
                fromfile=f"a/{rel}" if a is not None else "/dev/null",
                tofile=f"b/{rel}" if b is not None else "/dev/null",
            )
        )
    return "".join(chunks)
