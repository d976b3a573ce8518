"""Failure semantics as Z3 formulas over Bool failure literals.

One Bool per component id (true = failed). The rules are
:mod:`hamodel.analysis.rules` (stated once); this back end builds them as
Z3 terms, simplifying constants away. Connectivity over inter-switch links
is a layered reachability (at most |switches| - 1 rounds), quorum a
pseudo-boolean ``AtLeast`` over "voter ok and reachable" terms.
"""

from __future__ import annotations

from collections.abc import Iterable

import z3

from hamodel.analysis.components import ModelView
from hamodel.analysis.rules import Algebra, Rules

TRUE, FALSE = z3.BoolVal(True), z3.BoolVal(False)


def _or(xs: Iterable[z3.BoolRef]) -> z3.BoolRef:
    out = []
    for x in xs:
        if z3.is_true(x):
            return TRUE
        if not z3.is_false(x):
            out.append(x)
    return FALSE if not out else out[0] if len(out) == 1 else z3.Or(out)  # pyright: ignore[reportReturnType]  (z3's Or/And/Not/AtLeast of BoolRefs is a BoolRef; untyped, inferred as also Probe)


def _and(xs: Iterable[z3.BoolRef]) -> z3.BoolRef:
    out = []
    for x in xs:
        if z3.is_false(x):
            return FALSE
        if not z3.is_true(x):
            out.append(x)
    return TRUE if not out else out[0] if len(out) == 1 else z3.And(out)  # pyright: ignore[reportReturnType]  (z3's Or/And/Not/AtLeast of BoolRefs is a BoolRef; untyped, inferred as also Probe)


def _at_least(xs: Iterable[z3.BoolRef], q: int) -> z3.BoolRef:
    items = [x for x in xs if not z3.is_false(x)]
    q -= sum(1 for x in items if z3.is_true(x))
    items = [x for x in items if not z3.is_true(x)]
    if q <= 0:
        return TRUE
    if len(items) < q:
        return FALSE
    if q == 1:
        return _or(items)
    if q == len(items):
        return _and(items)
    return z3.AtLeast(*items, q)


class Z3Terms(Algebra[z3.BoolRef]):
    """Z3 terms over one failure literal per component."""

    TRUE, FALSE = TRUE, FALSE

    def __init__(self) -> None:
        self.literals: dict[str, z3.BoolRef] = {}
        self._layers: dict[tuple[str, str], dict[str, z3.BoolRef]] = {}

    def failed(self, cid: str) -> z3.BoolRef:
        if cid not in self.literals:
            self.literals[cid] = z3.Bool(cid)
        return self.literals[cid]

    def alive(self, cid: str) -> z3.BoolRef:
        return z3.Not(self.failed(cid))  # pyright: ignore[reportReturnType]  (z3's Or/And/Not/AtLeast of BoolRefs is a BoolRef; untyped, inferred as also Probe)

    def and_(self, xs: Iterable[z3.BoolRef]) -> z3.BoolRef:
        return _and(xs)

    def or_(self, xs: Iterable[z3.BoolRef]) -> z3.BoolRef:
        return _or(xs)

    def at_least(self, k: int, xs: Iterable[z3.BoolRef]) -> z3.BoolRef:
        return _at_least(xs, k)

    def not_(self, x: z3.BoolRef) -> z3.BoolRef:
        return FALSE if z3.is_true(x) else TRUE if z3.is_false(x) else z3.Not(x)  # pyright: ignore[reportReturnType]  (z3's Or/And/Not/AtLeast of BoolRefs is a BoolRef; untyped, inferred as also Probe)

    def connected(self, rules: Rules[z3.BoolRef], net: str, a: str, b: str) -> z3.BoolRef:
        if a == b:
            return rules.switch_up(a)
        a, b = sorted((a, b))
        return self._reach_from(rules, net, a)[b]

    def _reach_from(self, rules: Rules[z3.BoolRef], net: str, a: str) -> dict[str, z3.BoolRef]:
        """Switch x reachable from switch a over up switches and links, by
        rounds: r_i(x) = r_{i-1}(x) or some neighbour y with r_{i-1}(y), the
        link and x up."""
        key = (net, a)
        if key not in self._layers:
            v = rules.v
            sws = v.net_switches[net]
            adj: dict[str, list[tuple[str, str]]] = {s: [] for s in sws}
            for x, y, cid in v.net_links[net]:
                adj[x].append((y, cid))
                adj[y].append((x, cid))
            cur = {x: (rules.switch_up(a) if x == a else FALSE) for x in sws}
            for _ in range(len(sws) - 1):
                nxt = {
                    x: _or(
                        [cur[x]]
                        + [
                            _and([cur[y], rules.alive(cid), rules.switch_up(x)])
                            for y, cid in adj[x]
                            if not z3.is_false(cur[y])
                        ]
                    )
                    for x in sws
                }
                if all(z3.eq(nxt[x], cur[x]) for x in sws):
                    break
                cur = nxt
            self._layers[key] = cur
        return self._layers[key]


class Encoder(Rules[z3.BoolRef]):
    """Memoised Z3 formulas for one :class:`ModelView`."""

    alg: Z3Terms

    def __init__(self, v: ModelView):
        super().__init__(v, Z3Terms())

    def failed(self, cid: str) -> z3.BoolRef:
        """The failure literal of component ``cid``."""
        return self.alg.failed(cid)
