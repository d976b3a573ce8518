"""What a change to a model does to availability, as data (``hamodel diff``).

Both sides are resolved with the ordinary pipeline (placement from each
side's lock file, the failure analysis at the same ``k``), and their
generated files are built in memory with every secret replaced by a
placeholder, so that nothing in a diff can leak a password. Rendering lives
in :mod:`hamodel.report_formats`.
"""

from __future__ import annotations

import difflib
import importlib.abc
import json
import os
import posixpath
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hamodel.deployment import Deployment, Finding, Severity
from hamodel.errors import HamodelError
from hamodel.model import Architecture
from hamodel.model.base import HaBase

__all__ = ["DiffError", "ModelDiff", "Side", "at_revision", "compare", "load_side", "locate"]


class DiffError(HamodelError):
    """A side of a diff cannot be loaded or resolved (exit 2)."""


# -- source locations -------------------------------------------------------------------------------


def _objects(value: Any, out: dict[tuple[str, str], HaBase]) -> None:
    """Every named model object reachable from ``value``, by (kind, name)."""
    if isinstance(value, HaBase):
        name = getattr(value, "name", None)
        if isinstance(name, str):
            kind = "domain" if type(value).__name__ in _DOMAIN_CLASSES else type(value).__name__.lower()
            if (kind, name) not in out or out[(kind, name)].source is None:
                out[(kind, name)] = value
        for f in type(value).model_fields:
            _objects(getattr(value, f), out)
        for d in getattr(value, "_domain_objects", None) or ():
            _objects(d, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _objects(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _objects(v, out)


_INDEX: list[tuple[Architecture, dict[tuple[str, str], HaBase]]] = []  # the last architecture's


def _object_index(arch: Architecture) -> dict[tuple[str, str], HaBase]:
    """:func:`_objects` of ``arch``, walked once per architecture (once per finding
    was O(findings x model): most of a 2,000-node diff)."""
    for a, objs in _INDEX:
        if a is arch:
            return objs
    objs: dict[tuple[str, str], HaBase] = {}
    _objects(arch, objs)
    _INDEX[:] = [*_INDEX[-1:], (arch, objs)]  # both sides of a diff
    return objs


def _domain_classes() -> frozenset[str]:
    from hamodel.model import topology

    base = getattr(topology, "FailureDomain", None)
    return frozenset(
        n for n, c in vars(topology).items() if isinstance(c, type) and base is not None and issubclass(c, base)
    )


_DOMAIN_CLASSES = _domain_classes()


def _component_object(cid: str) -> tuple[str, str]:
    """(kind, name) of the model object a component id stands for."""
    kind, _, rest = cid.partition(":")
    if kind == "link":  # link:net:a~b -> the first node of the link
        return "node", rest.split(":", 1)[-1].split("~", 1)[0]
    if kind == "proc":  # proc:mariadb@ctl-1 -> the node it runs on
        return "node", rest.rsplit("@", 1)[-1]
    return kind, rest


def _display(path: str) -> str:
    """Relative to the current directory when under it (as CI and editors
    resolve paths), else absolute."""
    rel = os.path.relpath(path) if os.path.isabs(path) else path
    return path if rel.startswith("..") else rel


def locate(arch: Architecture, finding: Finding, model_file: str | None = None) -> list[dict[str, Any]]:
    """Source locations of the model objects a finding names: its services
    first, then the components of its scenario. Each is ``{"object", "file",
    "line"}``; ``line`` is None when the object has no recorded source (a
    model read from JSON: then ``file`` is the JSON file)."""
    objs = _object_index(arch)
    keys = [("service", s) for s in finding.services] + [_component_object(c) for c in finding.scenario]
    out, seen = [], set()
    for kind, name in keys:
        if (kind, name) in seen:
            continue
        seen.add((kind, name))
        obj = objs.get((kind, name))
        src = obj.source if obj is not None else None
        if src is not None:
            out.append({"object": f"{kind}:{name}", "file": _display(src[0]), "line": src[1]})
        elif obj is not None and model_file:
            out.append({"object": f"{kind}:{name}", "file": model_file, "line": None})
    return out


# -- one side ---------------------------------------------------------------------------------------


@dataclass
class Side:
    """One version of a model, resolved: findings, cut sets, files."""

    label: str  # as given on the command line (or path@REV)
    model_file: str  # the file the objects point at (for locations)
    arch: Architecture
    dep: Deployment
    cuts: dict[str, list[tuple[str, ...]]]
    availability: dict[str, Any]
    files: dict[str, bytes] | None
    files_error: str | None = None
    display_root: str | None = None  # a temp dir standing for the repository root (--base)

    def where(self, path: str) -> str:
        """``path`` as a reader knows it (temp copies of a revision shown by their repo path)."""
        if self.display_root and os.path.abspath(path).startswith(self.display_root + os.sep):
            return os.path.abspath(path)[len(self.display_root) + 1 :]
        return _display(path)


def load_side(
    spec: str, label: str | None = None, *, k: int = 2, lock: Path | None = None, display_root: str | None = None
) -> Side:
    """Load, place and analyse ``spec``; build its files with secrets redacted."""
    from hamodel.analysis.placement import Unplaceable, lock_path_for
    from hamodel.generators.configs import build_configs
    from hamodel.loader import load
    from hamodel.pipeline import resolve

    label = label or spec
    arch = load(spec)  # LoadError/ModelError name file, line, object and field
    try:
        dep = resolve(arch, lock=lock or lock_path_for(spec), k=k, answers=True)
    except Unplaceable as exc:
        raise DiffError(f"{label}: unplaceable: " + "; ".join(exc.explanations)) from None
    results = dep.answers()
    cuts = {s: [tuple(c) for c in sets] for s, sets in results.cut_sets.items()}
    avail = dict(results.availability)
    files, files_error = None, None
    try:
        # Placeholders instead of secrets: the diff is printed and posted.
        files = dict(build_configs(dep, redact=True))
    except HamodelError as exc:
        files_error = str(exc)
    model_file = os.path.abspath(spec.rsplit(":", 1)[0] if ":" in spec and not os.path.exists(spec) else spec)
    return Side(label, model_file, arch, dep, cuts, avail, files, files_error, display_root)


_LINK, _FILES = "120000", ("100644", "100755")
_MAX_LINKS = 40  # as the kernel's limit on symbolic links followed in one lookup


class _Git:
    """``git`` in one repository; every failure is a :class:`DiffError` with git's reason."""

    def __init__(self, cwd: Path):
        self.cwd = cwd

    def __call__(self, *args: str, stdin: bytes | None = None, what: str | None = None) -> bytes:
        r = subprocess.run(["git", *args], cwd=self.cwd, capture_output=True, input=stdin)
        if r.returncode != 0:
            reason = r.stderr.decode(errors="replace").strip() or f"exit status {r.returncode}"
            raise DiffError(f"{what or 'git ' + ' '.join(args)}: {reason}")
        return r.stdout

    def entries(self, rev: str, path: str, recursive: bool = False) -> list[tuple[str, str, int | None, str]]:
        """``(mode, oid, size, path)`` of the tree entries at ``path`` (under it when ``recursive``)."""
        out = self("ls-tree", "-z", "-l", *(["-r"] if recursive else []), "--full-tree", rev, "--", path)
        rows = []
        for row in out.split(b"\0"):
            if row:
                meta, _, name = row.decode(errors="surrogateescape").partition("\t")
                mode, _kind, oid, size = meta.split(maxsplit=3)
                rows.append((mode, oid, int(size) if size.strip().isdigit() else None, name))
        return rows

    def blobs(self, oids: list[str]) -> dict[str, bytes]:
        """The contents of many blobs, read by one ``git cat-file --batch``."""
        if not oids:
            return {}
        out = self("cat-file", "--batch", stdin="".join(f"{o}\n" for o in oids).encode())
        found, pos = {}, 0
        while pos < len(out):
            eol = out.index(b"\n", pos)
            oid, kind, size = out[pos:eol].decode().split()
            data = out[eol + 1 : eol + 1 + int(size)]
            found[oid] = data
            pos = eol + 1 + int(size) + 1
        return found


def _follow(git: _Git, rev: str, rel: str) -> tuple[str, list[tuple[str, str]]]:
    """Follow ``rel`` through symbolic links as they were at ``rev``: the file
    it names there, and the links on the way ``(path, target)``."""
    links: list[tuple[str, str]] = []
    cur = rel
    for _ in range(_MAX_LINKS):
        rows = [r for r in git.entries(rev, cur) if r[3] == cur]
        if not rows:
            via = f" (through the link {links[-1][0]} -> {links[-1][1]})" if links else ""
            raise DiffError(f"{rel} does not exist at revision {rev}{via}")
        mode, oid, _, _ = rows[0]
        if mode in _FILES:
            return cur, links
        if mode != _LINK:
            raise DiffError(f"{cur} is not a file at revision {rev}")
        target = git.blobs([oid])[oid].decode(errors="surrogateescape")
        nxt = posixpath.normpath(posixpath.join(posixpath.dirname(cur), target))
        if target.startswith("/") or nxt == ".." or nxt.startswith("../"):
            raise DiffError(f"{cur} at revision {rev} is a link out of the repository ({target})")
        links.append((cur, target))
        cur = nxt
    raise DiffError(f"{rel} at revision {rev}: too many levels of symbolic links")


class _RevisionImports(importlib.abc.MetaPathFinder):
    """Copies a module of the revision into the temporary tree when the model
    imports it (and makes a directory of the revision exist when it is
    looked up as a package), then lets Python's own path finder load it: so
    only what the model imports is read from git, however big the folder."""

    def __init__(self, git: _Git, root: Path, modules: dict[str, str]):
        self.git, self.root, self.modules = git, root, modules
        self.dirs = {d for m in modules for d in _parents(m)}

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        leaf = fullname.rpartition(".")[2]
        for entry in sys.path if path is None else path:
            try:
                rel = Path(entry).resolve().relative_to(self.root).as_posix()
            except (ValueError, OSError, TypeError):
                continue
            base = leaf if rel == "." else f"{rel}/{leaf}"
            wrote = False
            if base in self.dirs and not (self.root / base).is_dir():
                (self.root / base).mkdir(parents=True)
                wrote = True
            for cand in (f"{base}/__init__.py", f"{base}.py"):
                if cand in self.modules and not (self.root / cand).exists():
                    (self.root / cand).parent.mkdir(parents=True, exist_ok=True)
                    (self.root / cand).write_bytes(self.git.blobs([self.modules[cand]])[self.modules[cand]])
                    wrote = True
            if wrote:  # the path finder caches directory listings
                invalidate = getattr(sys.path_importer_cache.get(entry), "invalidate_caches", None)
                if invalidate is not None:
                    invalidate()
        return None


def _parents(name: str) -> list[str]:
    parts = name.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


@contextmanager
def at_revision(path: str, rev: str) -> Iterator[tuple[str, str]]:
    """The model file ``path`` as it was at git revision ``rev``.

    Yields ``(file, root)``: a temporary copy of the file, with the JSON
    files beside it (its lock file, exported models, data) and, as the model
    imports them, the modules of its folder, all as they were at ``rev``;
    and the temporary directory standing for the repository root. A model
    path that is a symbolic link is followed as the link was at ``rev`` (the
    link is recreated in the copy, so that the lock beside it and the
    imports beside its target are those a load at ``rev`` sees). The
    folder is listed once; a module is read from git only when imported.
    """
    spec, attr = path, None
    if ":" in path and not os.path.exists(path):
        spec, attr = path.rsplit(":", 1)
    given = Path(os.path.abspath(spec))  # the link itself, not what it points to now
    if not given.parent.is_dir():
        raise DiffError(f"{path}: no such directory")
    git = _Git(given.parent)
    top = Path(git("rev-parse", "--show-toplevel").decode().strip()).resolve()
    try:
        rel = (given.parent.resolve().relative_to(top) / given.name).as_posix()
    except ValueError:
        raise DiffError(f"{path} is not inside the git repository at {top}") from None
    git.cwd = top
    try:
        git("rev-parse", "--verify", "--end-of-options", f"{rev}^{{commit}}", what="git")
    except DiffError as exc:
        raise DiffError(
            f"--base {rev}: unknown revision: no commit of that name in the repository at {top} ({exc})"
        ) from None
    real, links = _follow(git, rev, rel)
    from hamodel.files import MAX_JSON_BYTES

    eager: dict[str, str] = {}  # the model, and JSON beside the link and the model: lock files, data
    modules: dict[str, str] = {}  # Python modules under the model's folder, copied when imported
    folders = list(dict.fromkeys(posixpath.dirname(p) for p in (rel, real)))
    for folder in folders:
        for mode, oid, size, name in git.entries(rev, folder + "/" if folder else ".", recursive=True):
            if mode not in _FILES:
                continue
            if name.endswith(".py") and (folder == posixpath.dirname(real)):
                modules[name] = oid
            if name == real or (
                name.endswith(".json") and posixpath.dirname(name) in folders and (size or 0) <= MAX_JSON_BYTES
            ):
                eager[name] = oid
    blobs = git.blobs(sorted(set(eager.values())))
    tmp = tempfile.mkdtemp(prefix="hamodel-diff-")
    finder = _RevisionImports(git, Path(tmp).resolve(), modules)
    try:
        for name, oid in sorted(eager.items()):
            dest = Path(tmp) / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(blobs[oid])
        for link, target in links:
            dest = Path(tmp) / link
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.is_symlink() or dest.exists():
                dest.unlink()
            dest.symlink_to(target)
        sys.meta_path.insert(0, finder)
        yield str(Path(tmp) / rel) + (f":{attr}" if attr else ""), tmp
    finally:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
        shutil.rmtree(tmp, ignore_errors=True)


# -- comparing ----------------------------------------------------------------------------------------


def _action(path: str, status: str, manifests: Sequence[Mapping[str, Any]] = ()) -> str:
    """What a node (or the monitoring server) needs after this generated file changed,
    appeared or went: the manifest's own install metadata (``manifests``: the new
    side's first, the old side's for a file that went)."""
    parts = path.split("/")
    node = parts[parts.index("nodes") + 1] if "nodes" in parts[:-1] else None
    for daemon in ("keepalived", "haproxy"):
        if daemon in parts:
            return {
                "added": f"install, enable and start {daemon} on {node}",
                "removed": f"stop and disable {daemon} on {node}",
            }.get(status, f"reload {daemon} on {node}")
    if "sysctl.d" in parts:
        return f"apply sysctl (sysctl --system) on {node}"
    for m in manifests:
        entry = (m.get("files") or {}).get(path)
        if isinstance(entry, dict):
            where = entry.get("node", node)
            change = entry.get("on_change")
            if isinstance(change, dict) and change.get("action"):
                return f"{change['action']} on {where}"
            note = (entry.get("validate") or {}).get("note")
            return f"none on {where}" + (f" ({note})" if note else "")
        if path in (m.get("central") or {}):
            if parts[:2] == ["monitoring", "tests"]:
                return "none (promtool tests of the rules: promtool test rules)"
            return "reload the Prometheus server that loads it (central; the playbook does not install it)"
    return "none (deployment metadata)"


def _manifest(files: Mapping[str, bytes] | None) -> dict[str, Any]:
    try:
        data = json.loads((files or {}).get("manifest.json", b"{}"))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class ModelDiff:
    """Everything a reviewer needs to know about OLD -> NEW."""

    old: Side
    new: Side
    k: int
    added: list[Finding] = field(default_factory=list)
    removed: list[Finding] = field(default_factory=list)
    changed: list[tuple[Finding, Finding]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    moves: list[dict[str, Any]] = field(default_factory=list)
    vrrp: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    #: Predicted recovery intervals that change: service, disruption, old/new rto_s, dominated_by.
    recovery: list[dict[str, Any]] = field(default_factory=list)

    def headline(self) -> str:
        """One line: the worst added finding first, then the counts."""
        # A finding raised to high is as new to a reviewer as an added one.
        raised = [n for o, n in self.changed if n.severity > o.severity]
        worst = max(self.added + raised, key=lambda f: f.severity.rank, default=None)
        counts = (
            f"{len(self.added)} finding(s) added, {len(self.removed)} removed, "
            f"{len(self.changed)} changed severity; {len(self.moves)} placement move(s); "
            f"{len(self.files)} generated file(s) change"
        )
        if worst is not None and worst.severity >= Severity.HIGH:
            was = next((o.severity for o, n in self.changed if n is worst), None)
            return (
                f"New {worst.severity} finding: {worst.title} ({worst.id}"
                + (f", was {was}" if was else "")
                + f"). {counts}"
            )
        gone = [f for f in self.removed if f.severity >= Severity.HIGH]
        if gone:
            return f"Removes {gone[0].severity} finding: {gone[0].title} ({gone[0].id}). {counts}"
        return counts[0].upper() + counts[1:]

    def locations(self, f: Finding, side: str = "new") -> list[dict[str, Any]]:
        s = self.new if side == "new" else self.old
        return [{**loc, "file": s.where(loc["file"])} for loc in locate(s.arch, f, s.model_file)]

    def to_dict(self) -> dict[str, Any]:
        def fd(f: Finding, side: str) -> dict[str, Any]:
            return {**f.to_dict(), "locations": self.locations(f, side)}

        return {
            "old": self.old.label,
            "new": self.new.label,
            "k": self.k,
            "headline": self.headline(),
            "findings": {
                "added": [fd(f, "new") for f in self.added],
                "removed": [fd(f, "old") for f in self.removed],
                "changed": [
                    {"id": n.id, "from": o.severity, "to": n.severity, "finding": fd(n, "new")} for o, n in self.changed
                ],
            },
            "services": self.services,
            "placement_moves": self.moves,
            "vrrp": self.vrrp,
            "files": self.files,
            "recovery": self.recovery,
            "files_errors": {s.label: s.files_error for s in (self.old, self.new) if s.files_error},
        }


def _min_and_count(sets: list[tuple[str, ...]] | None) -> tuple[int | None, int]:
    if not sets:
        return None, 0
    return min(len(c) for c in sets), len(sets)


def _recovery_changes(old: Deployment, new: Deployment) -> list[dict[str, Any]]:
    """Every (service, disruption) whose predicted interval, RPO or dominating timer changes."""

    def rows(dep: Deployment) -> dict[tuple[str, str], Any]:
        return {(r.service, r.disruption): r for r in (dep.recovery.rows if dep.recovery else ())}

    a, b = rows(old), rows(new)
    out = []
    for key in sorted(set(a) | set(b)):
        o, n = a.get(key), b.get(key)
        view = lambda r: None if r is None else (r.rto_s, r.rpo, r.dominated_by, r.down)
        if view(o) == view(n):
            continue
        out.append(
            {
                "service": key[0],
                "disruption": key[1],
                "old": None if o is None or o.rto_s is None else list(o.rto_s),
                "new": None if n is None or n.rto_s is None else list(n.rto_s),
                "old_dominated_by": o.dominated_by if o else None,
                "new_dominated_by": n.dominated_by if n else None,
                "old_rpo": o.rpo if o else None,
                "new_rpo": n.rpo if n else None,
                # The components of that class whose failure stops the service for good.
                "old_down": list(o.down) if o else [],
                "new_down": list(n.down) if n else [],
            }
        )
    return out


def _matcher() -> type[difflib.SequenceMatcher]:
    """cdifflib's SequenceMatcher (difflib's algorithm, its longest-match search in C: the
    same opcodes, about twice as fast on the monitoring files of a 2,000-node model), else
    difflib's."""
    try:
        from cdifflib import CSequenceMatcher
    except ImportError:  # pragma: no cover - a declared dependency; difflib gives the same text
        return difflib.SequenceMatcher
    return CSequenceMatcher


def _span(start: int, length: int) -> str:
    """A unified-diff hunk range: ``start,length``, 1-based (``start`` alone for one line; the
    line before for none)."""
    first = start + 1 if length else start
    return str(first) if length == 1 else f"{first},{length}"


def unified_diff(a: list[str], b: list[str], fromfile: str, tofile: str, *, matcher: type | None = None) -> str:
    """The text of ``difflib.unified_diff(a, b, fromfile, tofile)`` (3 lines of context), computed
    with :func:`_matcher` (or ``matcher``)."""
    out: list[str] = []
    for group in (matcher or _matcher())(None, a, b).get_grouped_opcodes(3):
        if not out:
            out += [f"--- {fromfile}\n", f"+++ {tofile}\n"]
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_span(i1, i2 - i1)} +{_span(j1, j2 - j1)} @@\n")
        for tag, x1, x2, y1, y2 in group:
            if tag == "equal":
                out += [" " + line for line in a[x1:x2]]
                continue
            if tag in ("replace", "delete"):
                out += ["-" + line for line in a[x1:x2]]
            if tag in ("replace", "insert"):
                out += ["+" + line for line in b[y1:y2]]
    return "".join(out)


def compare(old: Side, new: Side, k: int = 2) -> ModelDiff:
    """The differences between two resolved sides (see :class:`ModelDiff`)."""
    d = ModelDiff(old, new, k)
    of, nf = {f.id: f for f in old.dep.findings}, {f.id: f for f in new.dep.findings}
    order = lambda f: (-f.severity.rank, f.id)
    d.added = sorted((f for i, f in nf.items() if i not in of), key=order)
    d.removed = sorted((f for i, f in of.items() if i not in nf), key=order)
    d.changed = sorted(
        ((of[i], nf[i]) for i in nf if i in of and of[i].severity != nf[i].severity), key=lambda p: order(p[1])
    )

    for s in sorted(set(old.cuts) | set(new.cuts)):
        (om, oc), (nm, nc) = _min_and_count(old.cuts.get(s)), _min_and_count(new.cuts.get(s))
        oa, na = old.availability.get(s), new.availability.get(s)
        row: dict[str, Any] = {
            "service": s,
            "smallest_failure_set": [om, nm],
            "cut_sets": [oc, nc],
            "present": [s in old.cuts, s in new.cuts],
        }
        if oa is not None or na is not None:
            row["availability"] = [oa.availability if oa else None, na.availability if na else None]
        if (
            om != nm
            or oc != nc
            or row["present"][0] != row["present"][1]
            or ("availability" in row and row["availability"][0] != row["availability"][1])
        ):
            d.services.append(row)

    op, np_ = old.dep.placement.instances, new.dep.placement.instances
    for s in sorted(set(op) & set(np_)):
        a, b = sorted(op[s]), sorted(np_[s])
        if a != b:
            d.moves.append(
                {"service": s, "from": sorted(set(a) - set(b)), "to": sorted(set(b) - set(a)), "old": a, "new": b}
            )

    og, ng = {g.service: g for g in old.dep.vrrp_groups}, {g.service: g for g in new.dep.vrrp_groups}
    for s in sorted(set(og) | set(ng)):
        a, b = og.get(s), ng.get(s)
        if a is None or b is None:
            d.vrrp.append(
                {
                    "service": s,
                    "field": "group",
                    "old": None if a is None else a.vrid,
                    "new": None if b is None else b.vrid,
                }
            )
            continue
        for fld in ("vrid", "network", "master", "manager"):
            if getattr(a, fld) != getattr(b, fld):
                d.vrrp.append({"service": s, "field": fld, "old": getattr(a, fld), "new": getattr(b, fld)})
        for node in sorted(set(a.priorities) | set(b.priorities)):
            pa, pb = a.priorities.get(node), b.priorities.get(node)
            if pa != pb:
                d.vrrp.append({"service": s, "field": f"priority[{node}]", "old": pa, "new": pb})

    d.recovery = _recovery_changes(old.dep, new.dep)

    if old.files is not None and new.files is not None:
        manifests = (_manifest(new.files), _manifest(old.files))
        for rel in sorted(set(old.files) | set(new.files)):
            a, b = old.files.get(rel), new.files.get(rel)
            if a == b:
                continue
            text = unified_diff(
                (a or b"").decode("utf-8", "replace").splitlines(keepends=True),
                (b or b"").decode("utf-8", "replace").splitlines(keepends=True),
                f"a/{rel}" if a is not None else "/dev/null",
                f"b/{rel}" if b is not None else "/dev/null",
            )
            status = "added" if a is None else "removed" if b is None else "changed"
            d.files.append({"path": rel, "status": status, "action": _action(rel, status, manifests), "diff": text})
    return d
