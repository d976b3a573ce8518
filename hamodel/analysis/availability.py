"""Steady-state availability of services from their minimal cut sets.

Every component fails independently with probability ``q = 1 - A`` where
``A`` is its steady-state availability (``MTBF / (MTBF + MTTR)`` or the
given figure): the object's own ``reliability`` if it has one (node,
failure domain, switch, a network's ``link_reliability``), else
``Architecture.reliability[kind]`` with kind ``node``, ``process``,
``link``, ``trunk`` (else ``link``), ``switch`` or the domain's kind (``rack``, ``power``, ``zone``,
...). A component without figures is taken as never failing.

``U = P(service down)`` is computed *exactly* (no sampling, no rare-event
approximation) from the service's fault tree, as a binary decision
diagram (:mod:`hamodel.analysis.probability`): its cost is the size of the
diagram, not the number of minimal cut sets (a majority over 41 nodes has
some 10^11). ``cut_sets`` still counts the minimal cut sets, up to a limit
(``cut_sets_complete`` False past it).

:func:`unavailability` is the older route, kept as an independent check
and as the fallback when a diagram grows too large: Shannon expansion over
the family of cut sets, ``P(F) = q_x P(F | x failed) + (1 - q_x) P(F | x up)``,
exact given the *complete* family; with a truncated family the figure is an
upper bound on availability and ``exact`` is False. Only floating-point
rounding remains.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hamodel.analysis.components import ModelView, component_kind
from hamodel.model import Reliability


@dataclass(frozen=True)
class ServiceAvailability:
    """Availability of one service; ``nines = -log10(1 - availability)``."""

    service: str
    availability: float
    unavailability: float
    nines: float
    cut_sets: int
    exact: bool
    cut_sets_complete: bool = True  # False: the service has more than ``cut_sets`` minimal cut sets
    #: A single-writer service whose replicas answer reads without a leader: the
    #: availability of its reads, where it differs from that of its writes (above).
    reads: ServiceAvailability | None = None

    def to_dict(self) -> dict:
        out = {
            "service": self.service,
            "availability": self.availability,
            "unavailability": self.unavailability,
            "nines": self.nines,
            "cut_sets": self.cut_sets,
            "exact": self.exact,
            "cut_sets_complete": self.cut_sets_complete,
        }
        if self.reads is not None:
            r = self.reads
            out["reads"] = {
                "availability": r.availability,
                "unavailability": r.unavailability,
                "nines": r.nines,
                "cut_sets": r.cut_sets,
                "exact": r.exact,
                "cut_sets_complete": r.cut_sets_complete,
            }
        return out


def component_reliability(v: ModelView, cid: str) -> Reliability | None:
    """Figures for component ``cid`` (own, else the architecture default)."""
    arch = v.arch
    kind = component_kind(cid)
    name = cid.split(":", 1)[1]
    if kind == "node":
        return arch.node(name).reliability or arch.reliability.get("node")
    if kind == "proc":
        return arch.reliability.get("process")
    if kind == "link":
        net = arch.network(name.split(":", 1)[0])
        return net.link_reliability or arch.reliability.get("link")
    if kind == "trunk":  # a shared inter-switch link: its own figures, else "trunk", else "link"
        t = next((t for net in arch.networks for _, t in net.link_parts() if t is not None and t.name == name), None)
        return (
            (t.reliability if t is not None else None) or arch.reliability.get("trunk") or arch.reliability.get("link")
        )
    if kind in ("domain", "switch"):
        d = arch.domain(name)
        return d.reliability or arch.reliability.get(d.kind)
    return None


def has_figures(v: ModelView) -> bool:
    arch = v.arch
    return (
        bool(arch.reliability)
        or any(x.reliability for x in [*arch.nodes, *arch.domains])
        or any(n.link_reliability for n in arch.networks)
    )


def unavailability(cut_sets: Iterable[Iterable[str]], q: Mapping[str, float]) -> float:
    """Exact ``P(some cut set fully failed)`` for independent components."""
    fam = frozenset(frozenset(c for c in cs) for cs in cut_sets)
    # Components that never fail make their cut sets impossible.
    fam = frozenset(cs for cs in fam if all(q.get(c, 0.0) > 0.0 for c in cs))
    memo: dict[frozenset, float] = {}

    def minimise(f: frozenset) -> frozenset:
        sets = sorted(f, key=len)
        kept: list[frozenset] = []
        for s in sets:
            if not any(k <= s for k in kept):
                kept.append(s)
        return frozenset(kept)

    def rec(f: frozenset) -> float:
        if not f:
            return 0.0
        if frozenset() in f:
            return 1.0
        if f in memo:
            return memo[f]
        counts: dict[str, int] = {}
        for s in f:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        x = min(counts, key=lambda c: (-counts[c], c))
        failed = minimise(frozenset(s - {x} for s in f))
        up = frozenset(s for s in f if x not in s)
        r = q[x] * rec(failed) + (1.0 - q[x]) * rec(up)
        memo[f] = r
        return r

    return rec(minimise(fam))


def failure_probabilities(v: ModelView, components: Iterable[str]) -> dict[str, float]:
    """``q_c = 1 - A_c`` for each component (0.0: no figures, never fails)."""
    q = {}
    for c in components:
        r = component_reliability(v, c)
        q[c] = 0.0 if r is None else 1.0 - r.steady_state
    return q


def _result(service: str, u: float, cut_sets: int, exact: bool, complete: bool = True) -> ServiceAvailability:
    nines = math.inf if u <= 0 else -math.log10(u)
    return ServiceAvailability(service, 1.0 - u, u, nines, cut_sets, exact, complete)


def availability_of(v: ModelView, service: str, cut_sets: list[tuple[str, ...]], exact: bool) -> ServiceAvailability:
    """Availability from a family of minimal cut sets (Shannon expansion, :func:`unavailability`)."""
    q = failure_probabilities(v, {c for cs in cut_sets for c in cs})
    return _result(service, unavailability(cut_sets, q), len(cut_sets), exact, exact)


def count_cut_sets(an: Any, diagrams: Any, s: str, limit: int) -> tuple[int, bool]:
    """How many minimal cut sets ``s`` has: ``(count, True)``, counted on its BDD
    for a coherent tree (never listed: a 41-node majority has some 10^11), else
    listed by Z3 up to ``limit`` (``(limit, False)`` past it)."""
    from hamodel.analysis.faulttree import coherent

    if coherent(diagrams.formulas[s]):
        n = diagrams.count_cut_sets(s)
        if n is not None:
            return n, True
    sets, complete = an.cut_sets(s, None, limit)
    return len(sets), complete


def availabilities(
    an: Any, services: Iterable[str], diagrams: Any, limit: int = 20_000
) -> dict[str, ServiceAvailability]:
    """Exact availability of each of ``services`` from its BDD
    (:class:`hamodel.analysis.probability.Diagrams`); ``an`` is the
    :class:`~hamodel.analysis.cutsets.Analyzer` that counts cut sets. With
    ``diagrams`` None (too large), from the cut sets as before."""
    out = {}
    for s in services:
        if diagrams is None:
            sets, complete = an.cut_sets(s, None, limit)
            out[s] = availability_of(an.v, s, sets, complete)
            continue
        n, complete = count_cut_sets(an, diagrams, s, limit)
        q = failure_probabilities(an.v, diagrams.support(s))
        out[s] = _result(s, diagrams.unavailability(s, q), n, True, complete)
    return out


def with_reads(
    an: Any, writes: dict[str, ServiceAvailability], services: Iterable[str], limit: int = 20_000
) -> dict[str, ServiceAvailability]:
    """``writes`` with the read availability of each of ``services`` (the
    single-writer ones) added where it differs. Reads fail on the service's
    read cut sets (:meth:`~hamodel.analysis.cutsets.Analyzer.read_cut_sets`,
    every size): the Shannon expansion over them is exact when the family is
    complete (``exact`` False past ``limit``)."""
    from dataclasses import replace

    out = dict(writes)
    for s in services:
        if s not in out:
            continue
        sets, complete = an.read_cut_sets(s, None, limit)
        r = availability_of(an.v, s, sets, complete)
        if abs(r.unavailability - out[s].unavailability) > 1e-15 * max(1.0, out[s].unavailability):
            out[s] = replace(out[s], reads=r)
    return out
