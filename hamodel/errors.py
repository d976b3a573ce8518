"""Errors that name the model object and field at fault."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any


class HamodelError(Exception):
    """Base class of every error hamodel reports to a user."""


def printable(text: str, keep: str = "") -> str:
    """``text`` with control characters escaped (``\\n``), so that a hostile
    name cannot break an error message into lines or move the cursor.

    The one filter between model text and a terminal (errors, tables,
    findings, diffs): C0 and C1 controls (ESC, BEL, CSI), DEL, bidirectional
    overrides and other non-printable characters become their escapes;
    ``keep`` lists characters let through (``"\\n"`` for multi-line text)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep else c.encode("unicode_escape").decode("ascii") for c in text)


class ModelError(HamodelError, ValueError):
    """A model is malformed. ``problems`` holds ``(path, message)`` pairs.

    ``path`` reads like ``services[cinder-volume].strategy.vips[0]``: the
    object by its name, then the field.
    """

    def __init__(self, problems: Iterable[tuple[str, str]], label: str | None = None):
        self.problems = sorted(set(problems))
        self.label = label
        super().__init__("\n".join(self._line(p, m) for p, m in self.problems))

    def _line(self, path: str, message: str) -> str:
        where = printable(".".join(x for x in (self.label, path) if x).replace(".[", "["))
        message = printable(message)
        return f"{where}: {message}" if where else message


class LoadError(HamodelError):
    """A model file could not be loaded; names the file and line."""

    def __init__(self, message: str, filename: str | None = None, lineno: int | None = None):
        self.filename = filename
        self.lineno = lineno
        shown = printable(str(filename)) if filename else ""
        where = f"{shown}:{lineno}: " if filename and lineno else (f"{shown}: " if filename else "")
        super().__init__(f"{where}{message}")


def _label(container: Any, index: int) -> str:
    """``[name]`` when the list element has a name, ``[index]`` otherwise."""
    try:
        item = container[index]
    except (IndexError, KeyError, TypeError):
        return f"[{index}]"
    name = item.get("name") if isinstance(item, dict) else getattr(item, "name", None)
    return f"[{name}]" if isinstance(name, str) and name else f"[{index}]"


# Location parts pydantic adds for the members of a union or a chain of
# validators (``lax-or-strict[...]``, ``function-after[...]``,
# ``literal['majority']``, ``constrained-int``, ``int``): schema internals,
# not fields the user wrote. Field names are identifiers (no '-' or '[').
_SCHEMA_TAG = re.compile(r"^[a-z][a-z0-9_]*(-[a-z0-9_-]+)*(\[.*\])?$", re.S)
_PLAIN_TAGS = {"int", "str", "float", "bool", "none", "list", "dict", "set", "tuple", "bytes", "decimal"}


def _schema_tag(part: Any, cur: Any) -> bool:
    if not isinstance(part, str) or part == "[key]" or (isinstance(cur, dict) and part in cur):
        return False
    if cur is not None and not isinstance(cur, dict) and hasattr(cur, part):
        return False
    return ("-" in part or "[" in part or part in _PLAIN_TAGS) and bool(_SCHEMA_TAG.match(part))


def format_loc(loc: tuple, data: Any = None) -> str:
    """Turn a pydantic error location into ``services[galera].strategy.port``."""
    return _format_loc(loc, data)[0]


def _format_loc(loc: tuple, data: Any) -> tuple[str, bool]:
    """The path, and whether a union member's schema tag was left out."""
    out = ""
    cur: Any = data
    tagged = False
    for part in loc:
        if _schema_tag(part, cur):
            tagged = True
            continue
        if isinstance(part, int):
            out += _label(cur, part)
            try:
                cur = cur[part]
            except (IndexError, KeyError, TypeError):
                cur = None
        else:
            # pydantic puts the discriminator tag into the location of a
            # tagged union member; it is not a field the user wrote.
            if isinstance(cur, dict) and part not in cur and cur.get("kind") == part:
                continue
            if cur is not None and not isinstance(cur, dict) and getattr(cur, "kind", None) == part:
                continue
            out += f".{part}" if out else str(part)
            if isinstance(cur, dict):
                cur = cur.get(part)
            else:
                cur = getattr(cur, part, None) if cur is not None else None
    return out, tagged


_IP_ERRORS = {"ip_v4_address", "ip_v6_address", "ip_any_address"}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def from_validation_error(exc: Any, data: Any = None, prefix: str | None = None) -> ModelError:
    """Convert a pydantic ``ValidationError`` into a :class:`ModelError`.

    The failed members of a union at one place become one message in plain
    words (``'10.0.0.999' is not a valid IPv4/IPv6 address``; ``Input should
    be 'majority' or a valid integer``), without pydantic's schema names.
    """
    problems = []
    union: dict[str, list[dict]] = {}
    for err in exc.errors(include_url=False):
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        ctx_err = (err.get("ctx") or {}).get("error")
        path, tagged = _format_loc(tuple(err["loc"]), data)
        if isinstance(ctx_err, ModelError):
            # A nested object's own error: its paths are relative to it.
            for sub, m in ctx_err.problems:
                problems.append((".".join(x for x in (path, sub) if x).replace(".[", "["), m))
            continue
        if tagged:  # one member of a union: said once for all members, below
            union.setdefault(path, []).append({**err, "msg": msg})
            continue
        problems.append((path, msg))
    for path, errs in union.items():
        problems.append((path, _union_message(errs)))
    return ModelError(problems, label=prefix or None)


def _union_message(errs: list[dict]) -> str:
    if all(e["type"] in _IP_ERRORS for e in errs):
        families = sorted({"IPv4" if "v4" in e["type"] else "IPv6" if "v6" in e["type"] else "IPv4/IPv6" for e in errs})
        family = "IPv4/IPv6" if len(families) > 1 else families[0]
        return f"{_shown(errs[0].get('input'))} is not a valid {family} address"
    return _either([e["msg"] for e in errs])


def _either(msgs: list[str]) -> str:
    msgs = list(dict.fromkeys(msgs))
    head = "Input should be "
    if len(msgs) > 1 and all(m.startswith(head) for m in msgs):
        return head + " or ".join(m[len(head) :] for m in msgs)
    return "; or: ".join(msgs)
