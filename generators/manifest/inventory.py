"""The Ansible inventory's YAML: every model string ``!unsafe``, dumped with libyaml when it writes
the bytes of the pure-Python emitter.

Split out of :mod:`hamodel.generators.manifest` (size). The inventory of a large model
(10,000 services) took most of the manifest's time in the pure-Python emitter; libyaml
writes the same bytes as long as no line reaches the folding width (the two emitters
fold long scalars at different places): :func:`dump_inventory` checks that and falls
back to the Python emitter otherwise. ``tests/unit/test_inventory_yaml.py`` compares both.
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class Unsafe(str):
    """A string Ansible must never template (written as ``!unsafe``)."""

    __slots__ = ()


class Template(str):
    """A string hamodel templates on purpose (written as a plain string)."""

    __slots__ = ()


class _InventoryDumper(yaml.SafeDumper):
    pass


def _represent_unsafe(dumper: yaml.SafeDumper, value: Unsafe, style: str | None = None) -> yaml.Node:
    # Ansible re-resolves an !unsafe scalar as if it were plain, ignoring
    # its quotes: '0644' would load as the integer 420 and 'yes' as true. A
    # string that resolves to another type cannot hold a template delimiter
    # (no YAML 1.1 int, float, bool, null or timestamp contains a brace), so
    # it is written as a quoted string instead, which Ansible loads as is.
    text = str(value)
    if dumper.resolve(yaml.ScalarNode, text, (True, False)) != "tag:yaml.org,2002:str":
        if any(c in text for c in "{}%#"):
            raise ValueError(f"refusing to write {text!r} into the Ansible inventory")
        return dumper.represent_str(text)
    return dumper.represent_scalar("!unsafe", text, style)


_HAVE_LIBYAML = hasattr(yaml, "CSafeDumper")


class _CInventoryDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """The same representers over libyaml's emitter when PyYAML has it (the same bytes,
    tested; the inventory of a large model was most of the manifest's time)."""


_InventoryDumper.add_representer(Unsafe, _represent_unsafe)
# libyaml writes a tagged scalar plain where it can; the Python emitter quotes every scalar whose
# tag is not implicit, as if asked for single quotes: ask libyaml for them.
_CInventoryDumper.add_representer(Unsafe, lambda d, v: _represent_unsafe(d, v, "'"))
for _d in (_InventoryDumper, _CInventoryDumper):
    _d.add_representer(Template, lambda d, v: d.represent_str(str(v)))
del _d

# Host names, group names and file paths inside a templated ``src``: names
# only (the model's Name grammar), so nothing in them can template.
KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")


def checked(pattern: re.Pattern, value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"refusing to write {value!r} into the Ansible inventory as a {what}")
    return value


def inert(value: Any) -> Any:
    """Every string of ``value`` as ``!unsafe`` (mapping keys are checked
    names: Ansible does not template keys, and a tag on a key is not portable)."""
    if isinstance(value, Template):
        return value
    if isinstance(value, str):
        return Unsafe(value)
    if isinstance(value, dict):
        return {checked(KEY, k, "name"): inert(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [inert(v) for v in value]
    return value


#: Folding width of the inventory (both emitters).
WIDTH = 1000
#: Largest escaped length of one string, and nesting depth, for which no line of the
#: dump can reach :data:`WIDTH`: indentation + key + tag + value stays below it.
_MAX_COST, _MAX_DEPTH = 400, 40


def _cost(text: str) -> int:
    """An upper bound of ``text``'s length once quoted and escaped (``\\"`` 2, ``\\UXXXXXXXX`` 10)."""
    return 2 * len(text) if text.isascii() and text.isprintable() else 10 * len(text)


def fits_libyaml(value: Any, depth: int = 0) -> bool:
    """True when no line of ``value``'s dump can reach :data:`WIDTH` (see the module doc)."""
    if depth > _MAX_DEPTH:
        return False
    if isinstance(value, str):
        return _cost(value) < _MAX_COST
    if isinstance(value, dict):
        return all(isinstance(k, str) and _cost(k) < _MAX_COST and fits_libyaml(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(fits_libyaml(v, depth + 1) for v in value)
    return True


def dump_inventory(data: Any, *, fast: bool = True) -> str:
    """``data`` (from :func:`inert`) as YAML, sorted keys, block style, ASCII only; with libyaml
    when ``fast``, PyYAML has it and :func:`fits_libyaml` (else the pure-Python emitter)."""
    dumper = _CInventoryDumper if fast and _HAVE_LIBYAML and fits_libyaml(data) else _InventoryDumper
    return yaml.dump(data, Dumper=dumper, sort_keys=True, default_flow_style=False, allow_unicode=False, width=WIDTH)
