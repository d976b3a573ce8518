"""The placement lock file: read, validated field by field, and written atomically.

``hamodel place`` writes ``models/x.lock.json`` beside ``models/x.py``; every
later command reads it so that instances and VRRP router ids stay where
they were (:func:`hamodel.analysis.placement.place` takes the previous
placement as preferences, :mod:`hamodel.analysis.vrrp` keeps the ids).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from hamodel.analysis.results import Placement, PlacementResult
from hamodel.errors import HamodelError
from hamodel.files import read_bounded
from hamodel.model import Architecture

__all__ = ["LOCK_FORMAT", "lock_path_for", "read_lock", "write_lock"]

LOCK_FORMAT = 1


def lock_path_for(model: str) -> Path:
    """The lock file beside a model: ``models/x.py`` -> ``models/x.lock.json``."""
    spec = str(model)
    attr = None
    if ":" in spec and not Path(spec).exists():
        spec, attr = spec.rsplit(":", 1)
    p = Path(spec)
    if p.suffix in (".py", ".json"):
        stem = p.with_suffix("")
    else:  # a module name: lock in the current directory
        stem = Path(spec.replace(".", "_"))
    if attr:
        stem = stem.with_name(f"{stem.name}.{attr}")
    return stem.with_name(stem.name + ".lock.json")


def _json_type(v: object) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(v), type(v).__name__)


def read_lock(path: Path, arch: Architecture) -> Placement | None:
    """The placement stored in a lock file, without services or nodes that no longer exist.

    A malformed lock file (not JSON, not UTF-8, or a field of the wrong
    type) raises :class:`HamodelError` naming the file and the field:
    silently ignoring part of it would move instances without saying so.
    """
    path = Path(path)
    if not path.exists():
        return None

    def bad(where: str, why: str) -> HamodelError:
        return HamodelError(
            f"{path}: not a placement lock file: {where}{': ' if where else ''}{why} (delete it or use --fresh)"
        )

    try:  # a regular file of a sensible size: a FIFO does not hang, 1 GiB is not parsed
        data = json.loads(read_bounded(path, "a lock file").decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise bad("", f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise bad("", exc.strerror or str(exc)) from None
    except (ValueError, RecursionError) as exc:  # RecursionError: [[[...]]]; ValueError: UnreadableFile too
        raise bad("", str(exc)) from None
    if not isinstance(data, dict):
        raise bad("", f"expected an object, got {_json_type(data)}")
    fmt = data.get("format", LOCK_FORMAT)
    if type(fmt) is not int or fmt != LOCK_FORMAT:
        raise bad("format", f"expected {LOCK_FORMAT}, got {json.dumps(fmt)[:40]}")
    raw = data.get("placement")
    if not isinstance(raw, dict):
        raise bad("placement", "missing" if raw is None else f"expected an object, got {_json_type(raw)}")
    for s, ns in raw.items():
        if not isinstance(ns, list):
            raise bad(f"placement.{json.dumps(s)}", f"expected a list of node names, got {_json_type(ns)}")
        for i, n in enumerate(ns):
            if not isinstance(n, str):
                raise bad(f"placement.{json.dumps(s)}[{i}]", f"expected a node name, got {_json_type(n)}")
    groups = data.get("vrrp_groups", {})
    if not isinstance(groups, dict):
        raise bad("vrrp_groups", f"expected an object, got {_json_type(groups)}")
    for s, g in groups.items():
        if not isinstance(g, dict):
            raise bad(f"vrrp_groups.{json.dumps(s)}", f"expected an object, got {_json_type(g)}")
        vrid = g.get("vrid")
        if type(vrid) is not int or not 1 <= vrid <= 255:
            raise bad(
                f"vrrp_groups.{json.dumps(s)}.vrid", f"expected a number from 1 to 255, got {json.dumps(vrid)[:40]}"
            )
        for key in ("network", "master"):
            if key in g and not isinstance(g[key], str):
                raise bad(f"vrrp_groups.{json.dumps(s)}.{key}", f"expected a name, got {_json_type(g[key])}")
    services = {s.name for s in arch.services}
    nodes = {n.name for n in arch.nodes}
    inst = {s: tuple(n for n in ns if n in nodes) for s, ns in raw.items() if s in services}
    vrids = {s: g["vrid"] for s, g in groups.items() if s in services}
    return Placement(inst, vrids=vrids)


def write_lock(path: Path, result: PlacementResult, inputs: Iterable[tuple[Path, str]] = ()) -> None:
    """Write the lock file: deterministic JSON, replaced atomically (a regular
    file or a new path, never one of ``inputs``: see :func:`hamodel.output.refuse_output`)."""
    from hamodel.output import write_file

    data = {
        "format": LOCK_FORMAT,
        "placement": result.placement.to_dict(),
        "vrrp_groups": {
            g.service: {"network": g.network, "vrid": g.vrid, "master": g.master} for g in result.vrrp_groups
        },
    }
    write_file(Path(path), (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), inputs=inputs)
