"""Steady-state availability of services from their minimal cut sets.

Every component fails independently with probability ``q = 1 - A`` where
``A`` is its steady-state availability (``MTBF / (MTBF + MTTR)`` or the
given figure): the object's own ``reliability`` if it has one (node,
failure domain, switch, a network's ``link_reliability``), else
``Architecture.reliability[kind]`` with kind ``node``, ``process``,
``link``, ``trunk`` (else ``link``), ``switch`` or the domain's kind (``rack``, ``power``, ``zone``,
...). A component without figures is taken as never failing.

A service is down exactly when every component of at least one minimal cut
set has failed, so ``U = P(union of cut-set events)``. It is computed
*exactly* (no sampling, no rare-event approximation) by Shannon expansion
over the family of cut sets with memoisation (a BDD-style decomposition):
``P(F) = q_x P(F | x failed) + (1 - q_x) P(F | x up)``. The result is exact
for independent failures given the *complete* family of minimal cut sets;
when the family was truncated (``limit``) the figure is an upper bound on
availability and ``exact`` is False. Only floating-point rounding remains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping

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

    def to_dict(self) -> dict:
        return {"service": self.service, "availability": self.availability, "unavailability": self.unavailability,
                "nines": self.nines, "cut_sets": self.cut_sets, "exact": self.exact}


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
        return (t.reliability if t is not None else None) or arch.reliability.get("trunk") or arch.reliability.get("link")
    if kind in ("domain", "switch"):
        d = arch.domain(name)
        return d.reliability or arch.reliability.get(d.kind)
    return None


def has_figures(v: ModelView) -> bool:
    arch = v.arch
    return bool(arch.reliability) or any(x.reliability for x in [*arch.nodes, *arch.domains]) or any(
        n.link_reliability for n in arch.networks)


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


def availability_of(v: ModelView, service: str, cut_sets: list[tuple[str, ...]], exact: bool) -> ServiceAvailability:
    q = {}
    for cs in cut_sets:
        for c in cs:
            r = component_reliability(v, c)
            q[c] = 0.0 if r is None else 1.0 - r.steady_state
    u = unavailability(cut_sets, q)
    a = 1.0 - u
    nines = math.inf if u <= 0 else -math.log10(u)
    return ServiceAvailability(service, a, u, nines, len(cut_sets), exact)
