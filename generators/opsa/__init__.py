"""Open-PSA Model Exchange Format (MEF) fault trees, the input of SCRAM and
other PSA tools: ``hamodel export MODEL --format opsa-mef``.

One ``define-fault-tree`` per analysed service (External services and
witnesses have none of their own), whose top gate ``<service>-down`` is
"the service is not fully available" (for a sharded service: a shard is
lost), built by :mod:`hamodel.analysis.faulttree` from the same
per-strategy rules as the analysis. Every tree is self-contained (its gates
are private to it) so that each top gate is analysed on its own; the basic
events (one per component: node, process, domain, switch, link, trunk) are
shared in ``model-data``, each with the component id as its label and as
probability its unavailability ``1 - A`` (steady-state availability from
the model's reliability figures, see
:func:`hamodel.analysis.availability.component_reliability`; 0 for a
component without figures, which the analysis takes as never failing).

MEF names allow letters, digits and single dashes, so ids are escaped
reversibly (:func:`event_name`, :func:`component_of`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping

from hamodel.analysis.availability import component_reliability
from hamodel.analysis.components import ModelView, sort_set
from hamodel.analysis.faulttree import FALSE, TRUE, Formula, Tree, trees
from hamodel.errors import printable

_CODES = {"_": "__", ":": "_c", "@": "_a", "~": "_t", ".": "_d", "-": "_h", "/": "_s", " ": "_b"}
_DECODE = {v[1]: k for k, v in _CODES.items()}


def _escape(s: str) -> str:
    out = []
    for ch in s:
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        elif ch in _CODES:
            out.append(_CODES[ch])
        else:
            out.append(f"_u{ord(ch):06x}")
    return "".join(out)


def _text(s: str) -> str:
    """Model text for a ``label``: XML 1.0 has no way to carry most control
    characters (not even as ``&#27;``), so each non-printable character is
    written as its escape (``\\x1b``), as error messages show it; printable
    text is unchanged."""
    return printable(s)


def event_name(cid: str) -> str:
    """MEF name of the basic event of component ``cid`` (injective)."""
    return "e-" + _escape(cid)


def top_name(service: str) -> str:
    """MEF name of the top gate of ``service``'s tree."""
    return "s-" + _escape(service) + "-down"


def component_of(name: str) -> str:
    """Inverse of :func:`event_name`."""
    if not name.startswith("e-"):
        raise ValueError(f"not a hamodel basic event name: {name!r}")
    return re.sub(
        r"_(u[0-9a-f]{6}|.)",
        lambda m: chr(int(m.group(1)[1:], 16)) if len(m.group(1)) == 7 else _DECODE[m.group(1)],
        name[2:],
    )


def probabilities(v: ModelView, components: Iterable[str]) -> dict[str, float]:
    """Unavailability ``1 - A`` of each component (0 without figures)."""
    out = {}
    for c in components:
        r = component_reliability(v, c)
        out[c] = 0.0 if r is None else 1.0 - r.steady_state
    return out


class _Writer:
    """Failure gates of one tree: the dual of its success formula."""

    def __init__(self, ft: ET.Element, prefix: str, atleast: str = "expand"):
        self.ft = ft
        self.prefix = prefix
        self.atleast = atleast
        self.names: dict[int, str] = {}
        self.keep: list[Formula] = []  # ids stay valid while the writer lives
        self.count = 0

    def _new(self) -> str:
        self.count += 1
        return f"{self.prefix}-g{self.count}"

    def _at_least(self, g: ET.Element, m: int, xs: tuple) -> None:
        """``m`` of the failure events of ``xs`` occur, as AND/OR gates:
        T(i, m) = (x_i AND T(i+1, m-1)) OR T(i+1, m), shared sub-gates,
        O(n m) gates (exact for these coherent operands)."""
        memo: dict[tuple[int, int], str] = {}
        n = len(xs)

        def put(parent: ET.Element, i: int, m: int) -> None:
            if m == 1:
                op = ET.SubElement(parent, "or")
                for x in xs[i:]:
                    self.ref(op, x)
            elif m == n - i:
                op = ET.SubElement(parent, "and")
                for x in xs[i:]:
                    self.ref(op, x)
            else:
                op = ET.SubElement(parent, "or")
                both = ET.SubElement(op, "and")
                self.ref(both, xs[i])
                ET.SubElement(both, "gate", name=sub(i + 1, m - 1))
                ET.SubElement(op, "gate", name=sub(i + 1, m))

        def sub(i: int, m: int) -> str:
            if (i, m) not in memo:
                memo[(i, m)] = name = self._new()
                put(ET.SubElement(self.ft, "define-gate", name=name), i, m)
            return memo[(i, m)]

        put(g, 0, m)

    def ref(self, parent: ET.Element, f: Formula) -> None:
        """Append to ``parent`` the failure event of success formula ``f``."""
        if f[0] == "var":
            ET.SubElement(parent, "basic-event", name=event_name(f[1]))
        elif f[0] == "not" and f[1][0] == "var":
            # success(NOT up_c) fails exactly when c is up: NOT(c failed).
            ET.SubElement(ET.SubElement(parent, "not"), "basic-event", name=event_name(f[1][1]))
        else:
            ET.SubElement(parent, "gate", name=self.gate(f))

    def gate(self, f: Formula, name: str | None = None) -> str:
        key = id(f)
        if key in self.names and name is None:
            return self.names[key]
        name = name or self._new()
        self.names[key] = name
        self.keep.append(f)
        g = ET.SubElement(self.ft, "define-gate", name=name)
        t = f[0]
        if t == "var":
            self.ref(g, f)
        elif t == "not":
            self.ref(ET.SubElement(g, "not"), f[1])
        elif t in ("and", "or"):
            op = ET.SubElement(g, "or" if t == "and" else "and")
            for x in f[1]:
                self.ref(op, x)
        elif t == "atleast":
            k, xs = f[1], f[2]
            if self.atleast == "gate":
                op = ET.SubElement(g, "atleast", min=str(len(xs) - k + 1))
                for x in xs:
                    self.ref(op, x)
            else:
                self._at_least(g, len(xs) - k + 1, xs)
        else:  # constant success formula: the top event never / always occurs
            ET.SubElement(g, "house-event", name="hamodel-never" if f == TRUE else "hamodel-always")
        return name


def fault_trees(v: ModelView, services: Iterable[str] | None = None) -> dict[str, Tree]:
    return trees(v, services)


def render_opsa(
    v: ModelView,
    services: Iterable[str] | Mapping[str, Tree] | None = None,
    model_name: str = "",
    atleast: str = "expand",
) -> str:
    """The MEF document (XML text) for the analysed services of ``v`` (or
    the ``services`` named, or the trees given by name).

    ``atleast="expand"`` (default) writes each k-of-n vote as AND/OR gates
    (see :meth:`_Writer._at_least`); ``"gate"`` writes MEF ``atleast`` gates,
    which SCRAM 0.16.2 (Debian's) gets wrong when two of them share an
    argument: tests/integration/test_faulttree.py keeps a reproduction."""
    if atleast not in ("expand", "gate"):
        raise ValueError(f"atleast must be 'expand' or 'gate', not {atleast!r}")
    ts = dict(services) if isinstance(services, Mapping) else fault_trees(v, services)
    root = ET.Element("opsa-mef")
    if model_name:
        root.set("name", "m-" + _escape(model_name))
        ET.SubElement(root, "label").text = _text(f"hamodel fault trees of {model_name}")
    used: set[str] = set()
    constants = False
    for s in sorted(ts):
        t = ts[s]
        ft = ET.SubElement(root, "define-fault-tree", name="ft-" + _escape(s))
        ET.SubElement(ft, "label").text = _text(f"{s} not fully available") + (
            "" if t.coherent else " (not coherent: contains NOT gates)"
        )
        w = _Writer(ft, "s-" + _escape(s), atleast)
        top = t.up
        if top[0] in ("var",) or (top[0] == "not" and top[1][0] == "var"):
            g = ET.SubElement(ft, "define-gate", name=top_name(s))
            w.ref(g, top)
        else:
            w.gate(top, top_name(s))
        constants |= top in (TRUE, FALSE)
        used |= t.components
    data = ET.SubElement(root, "model-data")
    if constants:
        for name, value in (("hamodel-never", "false"), ("hamodel-always", "true")):
            ET.SubElement(ET.SubElement(data, "define-house-event", name=name), "constant", value=value)
    q = probabilities(v, used)
    for c in sort_set(used):
        be = ET.SubElement(data, "define-basic-event", name=event_name(c))
        ET.SubElement(be, "label").text = _text(c)
        ET.SubElement(be, "float", value=repr(q[c]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
