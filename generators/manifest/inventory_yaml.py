"""Strings in the generated Ansible inventory: every model string ``!unsafe`` (Ansible never
templates it), names checked, values that YAML would read as another type quoted instead."""

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


class InventoryDumper(yaml.SafeDumper):
    pass


def _represent_unsafe(dumper: yaml.SafeDumper, value: Unsafe) -> yaml.Node:
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
    return dumper.represent_scalar("!unsafe", text)


InventoryDumper.add_representer(Unsafe, _represent_unsafe)
InventoryDumper.add_representer(Template, lambda d, v: d.represent_str(str(v)))

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
