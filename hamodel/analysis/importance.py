"""Importance measures per component: what to fix first.

For each service ``s`` with unavailability ``U = P(s down)`` (exact, from
its fault tree's BDD, :mod:`hamodel.analysis.probability`)
and each component ``c`` failing with probability ``q_c``:

- Birnbaum ``I_B(c) = P(s down | c failed) - P(s down | c up)``: how much
  ``U`` moves per unit of ``q_c`` (``dU/dq_c``);
- Fussell-Vesely ``FV(c) = P(c failed | s down) = q_c P(s down | c failed) / U``:
  the share of the outages in which ``c`` is failed (the *diagnostic*
  form, SCRAM's ``DIF``; equal to the cut-set form for a single cut set);
- RAW ``P(s down | c failed) / U`` and RRW ``U / P(s down | c up)``.

All are exact: ``U`` is multilinear in the ``q_c``, so one pass over the
Shannon expansion of the cut-set family yields ``U`` and every
``I_B(c) = dU/dq_c`` (:func:`_birnbaum`); the conditional figures follow
(``P(down | c failed) = U + (1 - q_c) I_B``, ``P(down | c up) = U - q_c I_B``). :func:`what_to_fix` ranks components across
services by the downtime their repair would remove:
``sum_s (U_s - P(s down | c up))``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from hamodel.analysis.availability import component_reliability, failure_probabilities, has_figures
from hamodel.analysis.components import ModelView, component_key, view
from hamodel.analysis.results import FixFirst, Importance, Placement, VrrpGroup
from hamodel.model import Architecture

HOURS_PER_YEAR = 8766


def _q(v: ModelView, cut_sets: Sequence[Sequence[str]]) -> dict[str, float]:
    q = {}
    for cs in cut_sets:
        for c in cs:
            r = component_reliability(v, c)
            q[c] = 0.0 if r is None else 1.0 - r.steady_state
    return q


def _birnbaum(cut_sets: Sequence[Sequence[str]], q: Mapping[str, float]) -> tuple[float, dict[str, float]]:
    """``U`` and every Birnbaum measure ``dU/dq_c`` in two passes over the
    Shannon decomposition of the cut-set family (a BDD): bottom-up the
    probability of each sub-family, top-down the probability of reaching
    it. ``U`` is multilinear in the ``q_c`` and on every path a component is
    decided at most once, so ``dU/dq_c`` is the sum, over the nodes deciding
    ``c``, of P(reach node) x (P(down | c failed) - P(down | c up)) there."""
    fam = frozenset(frozenset(cs) for cs in cut_sets)
    fam = frozenset(cs for cs in fam if all(q.get(c, 0.0) > 0.0 for c in cs))

    def minimise(f: frozenset) -> frozenset:
        kept: list[frozenset] = []
        for x in sorted(f, key=len):
            if not any(k <= x for k in kept):
                kept.append(x)
        return frozenset(kept)

    prob: dict[frozenset, float] = {}
    node: dict[frozenset, tuple[str, frozenset, frozenset]] = {}
    order: list[frozenset] = []  # children before parents

    def rec(f: frozenset) -> float:
        if not f:
            return 0.0
        if frozenset() in f:
            return 1.0
        if f in prob:
            return prob[f]
        counts: dict[str, int] = {}
        for x in f:
            for c in x:
                counts[c] = counts.get(c, 0) + 1
        c = min(counts, key=lambda y: (-counts[y], y))
        hi, lo = minimise(frozenset(x - {c} for x in f)), frozenset(x for x in f if c not in x)
        p = q[c] * rec(hi) + (1.0 - q[c]) * rec(lo)
        prob[f], node[f] = p, (c, hi, lo)
        order.append(f)
        return p

    root = minimise(fam)
    u = rec(root)
    reach: dict[frozenset, float] = {root: 1.0}
    grad: dict[str, float] = {}
    for f in reversed(order):  # parents before children
        r = reach.get(f, 0.0)
        c, hi, lo = node[f]
        p_hi = prob.get(hi, 1.0 if frozenset() in hi else 0.0)
        p_lo = prob.get(lo, 1.0 if frozenset() in lo else 0.0)
        grad[c] = grad.get(c, 0.0) + r * (p_hi - p_lo)
        reach[hi] = reach.get(hi, 0.0) + r * q[c]
        reach[lo] = reach.get(lo, 0.0) + r * (1.0 - q[c])
    return u, grad


def service_importance(service: str, cut_sets: Sequence[Sequence[str]], q: Mapping[str, float]) -> list[Importance]:
    """Importance of every component of ``cut_sets`` with ``q_c > 0``, most
    important (the downtime its repair removes, ``q_c x I_B``) first."""
    u, grad = _birnbaum(cut_sets, q)
    return _rows(service, u, grad, q, {c for cs in cut_sets for c in cs})


def _rows(
    service: str, u: float, grad: Mapping[str, float], q: Mapping[str, float], components: set[str]
) -> list[Importance]:
    out = []
    for c in sorted((c for c in components if q.get(c, 0.0) > 0.0), key=component_key):
        b = grad.get(c, 0.0)
        up1, up0 = u + (1.0 - q[c]) * b, u - q[c] * b  # P(down | c failed), P(down | c up)
        fv = q[c] * up1 / u if u > 0 else 0.0
        raw = up1 / u if u > 0 else math.inf
        rrw = u / up0 if up0 > 0 else math.inf
        out.append(Importance(service, c, q[c], b, fv, raw, rrw, q[c] * b))
    return sorted(out, key=lambda i: (-i.reduction, component_key(i.component)))


def importance(
    arch: Architecture,
    placement: Placement,
    vrrp_groups: Sequence[VrrpGroup] = (),
    limit: int = 20_000,
    *,
    analyzer: Any = None,
    diagrams: Any = None,
) -> dict[str, list[Importance]]:
    """Per analysed service, the importance of its components (empty when
    the model has no reliability figures). Exact, from each service's BDD
    (``diagrams``: a :class:`~hamodel.analysis.probability.Diagrams` of this
    placement to reuse). Only where no diagram could be built, from the
    cut sets: a service whose family was truncated by ``limit`` is then left
    out, its figures would not be exact. ``analyzer``: an
    :class:`~hamodel.analysis.cutsets.Analyzer` of this placement to reuse."""
    from hamodel.analysis.cutsets import Analyzer
    from hamodel.analysis.probability import Diagrams, DiagramTooLarge

    an = analyzer if analyzer is not None else Analyzer(view(arch, placement, vrrp_groups))
    v = an.v
    if not has_figures(v):
        return {}
    names = [s for s in sorted(v.services) if v.analysed(s)]
    if diagrams is None:
        try:
            diagrams = Diagrams(v, names)
        except DiagramTooLarge:
            pass
    out = {}
    for s in names:
        if diagrams is not None:
            support = diagrams.support(s)
            q = failure_probabilities(v, support)
            u, grad = diagrams.birnbaum(s, q)
            out[s] = _rows(s, u, grad, q, {c for c in support if grad.get(c, 0.0) != 0.0})
            continue
        sets, complete = an.cut_sets(s, None, limit)
        if complete:
            out[s] = service_importance(s, sets, _q(v, sets))
    return out


def what_to_fix(
    imp: Mapping[str, list[Importance]], limit: int | None = 10, optional: Collection[str] = ()
) -> list[FixFirst]:
    """Components ranked by the downtime removed if they never failed:
    first that of the required services, then that of all (``optional``
    names the services marked ``required=False``, which tolerate downtime:
    a component only they need never outranks one a required service
    needs); ties by id. ``limit`` rows (None: all)."""
    per: dict[str, list[Importance]] = {}
    for rows in imp.values():
        for i in rows:
            per.setdefault(i.component, []).append(i)
    out, required_hours = [], {}
    for c, rows in per.items():
        top = max(rows, key=lambda i: (i.service not in optional, i.reduction, i.service))
        total = sum(i.reduction for i in rows)
        if total <= 0:
            continue
        required_hours[c] = sum(i.reduction for i in rows if i.service not in optional) * HOURS_PER_YEAR
        out.append(
            FixFirst(
                c,
                rows[0].probability,
                total * HOURS_PER_YEAR,
                tuple(sorted(i.service for i in rows if i.reduction > 0)),
                top.service,
                top.birnbaum,
                top.fussell_vesely,
            )
        )
    out.sort(key=lambda f: (-required_hours[f.component], -f.hours_per_year, component_key(f.component)))
    return out if limit is None else out[:limit]
