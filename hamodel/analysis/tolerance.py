"""Tolerant placement: place, verify with the failure analysis, turn each
counterexample into a placement constraint, place again.

``tolerant_place(arch, k)`` returns a placement under which no set of at
most ``k`` component failures stops a required service, or raises
:class:`~hamodel.analysis.placement.Unplaceable` explaining why none exists.

A counterexample (a minimal failure set ``C`` stopping service ``s``)
becomes "at most ``m`` instances of ``s`` on the nodes ``C`` makes unusable"
(``m`` = instances - 1, or instances - quorum for a cluster). The placement
engine needs no new API for it: the constraint is stated in the model's own
terms on a private copy of the architecture -- a failure domain of a fresh
kind (``tolerate-<i>``) holding those nodes, and ``max_per_domain`` on the
service -- which :func:`~hamodel.analysis.placement.place` already honours.
The result is verified against the original architecture.
"""

from __future__ import annotations

import json
from graphlib import TopologicalSorter

from hamodel.analysis.components import view
from hamodel.analysis.cutsets import Analyzer
from hamodel.analysis.results import Placement
from hamodel.analysis.semantics import Evaluation
from hamodel.model import Architecture
from hamodel.model.strategies import ActivePassive, AppCluster, External, Sharded

Limit = tuple[str, tuple[str, ...], int]  # (service, nodes, at most this many instances there)


def _with_limits(arch: Architecture, limits: list[Limit]) -> Architecture:
    if not limits:
        return arch
    data = json.loads(arch.to_json())
    nodes = {n["name"]: n for n in data["nodes"]}
    services = {s["name"]: s for s in data["services"]}
    for i, (svc, ns, m) in enumerate(limits):
        kind, name = f"tolerate-{i}", f"tolerate-{i}"
        data["domains"].append({"name": name, "kind": kind, "parent": None, "reliability": None})
        for n in ns:
            nodes[n]["domains"].append(name)
        services[svc]["max_per_domain"][kind] = m
    return Architecture.model_validate(data)


def _shrink(v, s: str, cut: tuple[str, ...]) -> tuple[str, ...]:
    """A minimal sub-set of ``cut`` that still stops ``s`` (plain evaluator)."""
    cur = list(cut)
    for c in list(cur):
        rest = [x for x in cur if x != c]
        if not Evaluation(v, rest).up(s):
            cur = rest
    return tuple(cur)


def _unusable(v, s: str, cut: tuple[str, ...]) -> tuple[str, ...]:
    """Nodes on which an instance of ``s`` cannot serve under ``cut``."""
    e = Evaluation(v, cut)
    nodes = sorted(v.node_domains)
    return tuple(n for n in nodes if not e.node_up(n) or (v.ports[n] and not any(e.port_up(n, x) for x in v.ports[n])))


def _explain_limits(
    arch: Architecture, v, k: int, limits: list[Limit], causes: list[tuple[str, ...]], explanations: list[str]
) -> list[str]:
    """Why no placement tolerates ``k`` failures, in the model's terms: the
    failure behind each learned limit (and its cause when it is a single
    component), never the private ``tolerate-<i>`` domains."""
    from hamodel.analysis.causes import _cause
    from hamodel.analysis.placement import candidates

    out = [f"no placement tolerates {k} failure(s):"]
    for (s, ns, m), cut in zip(limits, causes):
        cand = set(candidates(arch, arch.service(s)))
        line = (
            f"{' + '.join(cut)} leaves {s} unusable on {', '.join(ns)}, so at most {m} of its instances may run there"
        )
        if cand <= set(ns):
            line += f", but every node that may run {s} is among them"
            if len(cut) == 1 and v is not None:
                why, fix = _cause(v, s, cut[0])
                line += f": {why}. {fix}"
        out.append(line)
    out.extend(e for e in explanations if "tolerate-" not in e)
    return out


def tolerant_place(arch: Architecture, k: int, previous: Placement | None = None, max_rounds: int = 60):
    """A :class:`~hamodel.analysis.placement.PlacementResult` tolerating any
    ``k`` failures for every required service (see module docstring)."""
    from hamodel.analysis.placement import Unplaceable, place

    required = [s for s in arch.services if s.required and not isinstance(s.strategy, External)]
    hopeless = [
        s.name
        for s in required
        if k >= 1
        and (isinstance(s.strategy, Sharded) or (isinstance(s.strategy, ActivePassive) and s.strategy.manager is None))
    ]
    if hopeless:
        raise Unplaceable(
            [
                f"{s} cannot tolerate a failure by placement: every instance is needed "
                "(sharded, or unmanaged active/passive); mark it required=False or change its strategy"
                for s in hopeless
            ]
        )
    graph = {s.name: set(s.dependencies) for s in arch.services}
    order = [s for s in TopologicalSorter(graph).static_order() if s in {x.name for x in required}]
    limits: list[Limit] = []
    causes: list[tuple[str, ...]] = []  # the failure set behind each limit
    v = None
    for _ in range(max_rounds):
        try:
            result = place(_with_limits(arch, limits), previous=previous)
        except Unplaceable as exc:
            raise Unplaceable(_explain_limits(arch, v, k, limits, causes, exc.explanations)) from None
        v = view(arch, result.placement, result.vrrp_groups)
        an = Analyzer(v)
        for s in order:
            cex = an.counterexample(s, k)
            if cex is not None:
                break
        else:
            return result
        cut = _shrink(v, s, cex)
        svc = arch.service(s)
        n = len(v.counted_instances(s)) or 1
        m = n - v.quorum(s) if isinstance(svc.strategy, AppCluster) else n - 1
        ns = _unusable(v, s, cut)
        limit = (s, ns, m)
        if not ns or m < 0 or limit in limits:
            raise Unplaceable(
                [
                    f"{s} stops after {' + '.join(cut)} whatever the placement "
                    "(a partition or a shared dependency, not where instances run)"
                ]
            )
        limits.append(limit)
        causes.append(cut)
    # Not a proof that none exists: say so, never "unplaceable".
    from hamodel.analysis.placement import Undecided

    raise Undecided(f"tolerant placement (k={k}) after {max_rounds} rounds of placing and learning limits")
