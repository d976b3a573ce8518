"""A YAML dumper for large generated files: libyaml's emitter, PyYAML's safe representer with
its per-scalar overhead cut, the same bytes (issue 30: the monitoring rules and tests of a
10,000-service model spent most of their time representing and resolving scalars in Python).

:class:`FastSafeDumper` is ``yaml.CSafeDumper`` (``yaml.SafeDumper`` without libyaml) with two
shortcuts that give the nodes the safe representer gives:

- a plain ``str``, ``int``, ``bool`` or ``None`` (exact types; subclasses and every other type
  take PyYAML's path) becomes its scalar node directly. These types never carry an alias
  (PyYAML's ``ignore_aliases``), so nothing of the alias bookkeeping is skipped;
- the implicit-tag resolution of a scalar (two regex lookups per scalar, asked by the
  emitter) is remembered per value: it depends only on the value here (the safe resolver
  has no path resolvers; a dumper that adds one does not take the memo).

``tests/unit/test_build_indexes.py`` compares its bytes with ``yaml.SafeDumper``'s.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import ScalarNode

_STR, _INT, _BOOL, _NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "bool", "null"))


class FastSafeDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """See the module doc."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._resolved: dict[tuple[str, tuple[bool, bool]], str] = {}

    def represent_data(self, data: Any) -> yaml.Node:
        t = type(data)
        if t is str:
            return ScalarNode(_STR, data, style=self.default_style)
        if t is int:
            return ScalarNode(_INT, str(data), style=self.default_style)
        if t is bool:
            return ScalarNode(_BOOL, "true" if data else "false", style=self.default_style)
        if data is None:
            return ScalarNode(_NULL, "null", style=self.default_style)
        return super().represent_data(data)

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is not ScalarNode or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        key = (value, tuple(implicit))
        tag = self._resolved.get(key)
        if tag is None:
            tag = self._resolved[key] = super().resolve(kind, value, implicit)
        return tag
