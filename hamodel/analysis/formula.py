"""Boolean formulas over component-up variables, as interned tuples.

The fault-tree back end's truth values (:mod:`hamodel.analysis.faulttree`):
``("T",)``, ``("F",)``, ``("var", cid)``, ``("not", f)``, ``("and", fs)``,
``("or", fs)``, ``("atleast", k, fs)`` with ``fs`` a tuple of formulas.
Constructors simplify constants and flatten nested gates of one kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

# Formulas are interned tuples: ("T",), ("F",), ("var", cid), ("not", f),
# ("and", fs), ("or", fs), ("atleast", k, fs) with fs a tuple of formulas.
Formula = tuple
TRUE: Formula = ("T",)
FALSE: Formula = ("F",)


def var(cid: str) -> Formula:
    return ("var", cid)


def _dedupe(xs: Iterable[Formula]) -> list[Formula]:
    seen: dict[Formula, None] = {}
    for x in xs:
        seen.setdefault(x, None)
    return list(seen)


def and_(xs: Iterable[Formula]) -> Formula:
    out: list[Formula] = []
    for x in xs:
        if x == FALSE:
            return FALSE
        if x == TRUE:
            continue
        out.extend(x[1] if x[0] == "and" else (x,))
    out = _dedupe(out)
    return TRUE if not out else out[0] if len(out) == 1 else ("and", tuple(out))


def or_(xs: Iterable[Formula]) -> Formula:
    out: list[Formula] = []
    for x in xs:
        if x == TRUE:
            return TRUE
        if x == FALSE:
            continue
        out.extend(x[1] if x[0] == "or" else (x,))
    out = _dedupe(out)
    return FALSE if not out else out[0] if len(out) == 1 else ("or", tuple(out))


def atleast(k: int, xs: Iterable[Formula]) -> Formula:
    """At least ``k`` of ``xs`` hold (duplicates count once per occurrence)."""
    items = list(xs)
    k -= sum(1 for x in items if x == TRUE)
    items = [x for x in items if x not in (TRUE, FALSE)]
    if k <= 0:
        return TRUE
    if k > len(items):
        return FALSE
    if k == 1:
        return or_(items)
    if k == len(items):
        return and_(items)
    if len(set(items)) < len(items):
        # A repeated operand counts twice: a k-of-n gate over distinct
        # events cannot say that, so expand as OR over k-subsets (rare:
        # only when two voters share a node and a process).
        return or_(and_(c) for c in combinations(items, k))
    return ("atleast", k, tuple(items))


def not_(x: Formula) -> Formula:
    if x == TRUE:
        return FALSE
    if x == FALSE:
        return TRUE
    return x[1] if x[0] == "not" else ("not", x)


def variables(f: Formula) -> set[str]:
    """Component ids appearing in ``f``."""
    out: set[str] = set()
    seen: set[int] = set()
    todo = [f]
    while todo:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if x[0] == "var":
            out.add(x[1])
        elif x[0] == "not":
            todo.append(x[1])
        elif x[0] in ("and", "or"):
            todo.extend(x[1])
        elif x[0] == "atleast":
            todo.extend(x[2])
    return out


def holds(f: Formula, failed: frozenset[str] | set[str], memo: dict | None = None) -> bool:
    """Evaluate success formula ``f`` with ``failed`` components down."""
    memo = {} if memo is None else memo
    key = id(f)
    if key in memo:
        return memo[key]
    t = f[0]
    if t == "T":
        r = True
    elif t == "F":
        r = False
    elif t == "var":
        r = f[1] not in failed
    elif t == "not":
        r = not holds(f[1], failed, memo)
    elif t == "and":
        r = all(holds(x, failed, memo) for x in f[1])
    elif t == "or":
        r = any(holds(x, failed, memo) for x in f[1])
    else:
        r = sum(holds(x, failed, memo) for x in f[2]) >= f[1]
    memo[key] = r
    return r


def coherent(f: Formula) -> bool:
    """``f`` has no NOT gate (monotone in the failures)."""
    todo, seen = [f], set()
    while todo:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if x[0] == "not":
            return False
        if x[0] in ("and", "or"):
            todo.extend(x[1])
        elif x[0] == "atleast":
            todo.extend(x[2])
    return True
