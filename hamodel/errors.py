"""Errors that name the model object and field at fault."""

from __future__ import annotations

from typing import Any, Iterable


class HamodelError(Exception):
    """Base class of every error hamodel reports to a user."""


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
        where = ".".join(x for x in (self.label, path) if x).replace(".[", "[")
        return f"{where}: {message}" if where else message


class LoadError(HamodelError):
    """A model file could not be loaded; names the file and line."""

    def __init__(self, message: str, filename: str | None = None, lineno: int | None = None):
        self.filename = filename
        self.lineno = lineno
        where = f"{filename}:{lineno}: " if filename and lineno else (f"{filename}: " if filename else "")
        super().__init__(f"{where}{message}")


def _label(container: Any, index: int) -> str:
    """``[name]`` when the list element has a name, ``[index]`` otherwise."""
    try:
        item = container[index]
    except (IndexError, KeyError, TypeError):
        return f"[{index}]"
    name = item.get("name") if isinstance(item, dict) else getattr(item, "name", None)
    return f"[{name}]" if isinstance(name, str) and name else f"[{index}]"


def format_loc(loc: tuple, data: Any = None) -> str:
    """Turn a pydantic error location into ``services[galera].strategy.port``."""
    out = ""
    cur = data
    for part in loc:
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
    return out


def from_validation_error(exc: Any, data: Any = None, prefix: str | None = None) -> ModelError:
    """Convert a pydantic ``ValidationError`` into a :class:`ModelError`."""
    problems = []
    for err in exc.errors(include_url=False):
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        ctx_err = (err.get("ctx") or {}).get("error")
        path = format_loc(tuple(err["loc"]), data)
        if isinstance(ctx_err, ModelError):
            # A nested object's own error: its paths are relative to it.
            for sub, m in ctx_err.problems:
                problems.append((".".join(x for x in (path, sub) if x).replace(".[", "["), m))
            continue
        problems.append((path, msg))
    return ModelError(problems, label=prefix or None)
