"""The analysis' results as plain data: severities, findings, the placement
and the VRRP allocation, and the answers the documents print (single
failures, availability, importance, cut sets: :class:`AnalysisResults`).

Both sides import them from here: the analysis produces them, the
:class:`~hamodel.deployment.Deployment` holds them and the generators read
them, so the flow has no way back (the Deployment module re-exports them).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal


class Severity(enum.StrEnum):
    """How bad a finding is, ordered ``info < low < medium < high < critical``.

    A ``str`` (``Severity.HIGH == "high"``, JSON and templates print the
    plain word), but compared by rank, not alphabetically: every severity
    comparison in hamodel goes through this type. Plain strings are
    accepted on the other side of a comparison.
    """

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for info up to 4 for critical."""
        return _RANK[self]

    def lowered(self, steps: int = 1) -> Severity:
        """``steps`` ranks lower, never below info."""
        return _ORDER[max(0, self.rank - steps)]

    def at_least(self, threshold: str) -> bool:
        """Whether this severity is ``threshold`` or worse."""
        return self >= threshold

    # str's own comparisons are alphabetical ("high" < "low"): rank instead.
    def __lt__(self, other: object) -> bool:
        return self.rank < Severity(other).rank  # type: ignore[arg-type]

    def __le__(self, other: object) -> bool:
        return self.rank <= Severity(other).rank  # type: ignore[arg-type]

    def __gt__(self, other: object) -> bool:
        return self.rank > Severity(other).rank  # type: ignore[arg-type]

    def __ge__(self, other: object) -> bool:
        return self.rank >= Severity(other).rank  # type: ignore[arg-type]


_ORDER: tuple[Severity, ...] = tuple(Severity)
_RANK: dict[Severity, int] = {s: i for i, s in enumerate(_ORDER)}

#: The severity words, lowest first (CLI choices, ``--fail-on``).
SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)


@dataclass(frozen=True)
class Placement:
    """Where each service's instances run: service -> sorted node names."""

    instances: Mapping[str, tuple[str, ...]]
    # VRRP router ids allocated before (read from a lock file), kept when
    # still valid so that adding a group never renumbers existing ones.
    vrids: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "instances",
            MappingProxyType({s: tuple(sorted(n)) for s, n in sorted(self.instances.items())}),
        )
        object.__setattr__(self, "vrids", MappingProxyType(dict(sorted(self.vrids.items()))))

    def nodes_of(self, service: str) -> tuple[str, ...]:
        return self.instances.get(service, ())

    def services_on(self, node: str) -> tuple[str, ...]:
        """The services with an instance on ``node``, by name (an index built on first use:
        the generators ask it once per node)."""
        by_node = self.__dict__.get("_by_node")
        if by_node is None:
            index: dict[str, list[str]] = {}
            for s, ns in self.instances.items():
                for n in dict.fromkeys(ns):
                    index.setdefault(n, []).append(s)
            by_node = {n: tuple(ss) for n, ss in index.items()}
            object.__setattr__(self, "_by_node", by_node)
        return by_node.get(node, ())

    def to_dict(self) -> dict[str, list[str]]:
        return {s: list(n) for s, n in self.instances.items()}


@dataclass(frozen=True)
class VrrpGroup:
    """One VRRP instance (keepalived) or Pacemaker VIP group, allocated.

    ``priorities`` are distinct; ``master`` is the preferred holder (the
    highest priority). ``vrid`` is unique on ``network``.
    """

    service: str
    vips: tuple[str, ...]
    network: str
    vrid: int
    priorities: Mapping[str, int]
    master: str
    manager: Literal["keepalived", "pacemaker"] = "keepalived"

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(sorted(self.priorities, key=lambda n: (-self.priorities[n], n)))


@dataclass(frozen=True)
class Finding:
    """A fact proved by analysis, in the model's terms.

    ``id`` is stable across runs (an architect acknowledges it by id);
    ``scenario`` lists the failed components that demonstrate it.
    """

    id: str
    kind: str
    severity: Severity
    title: str
    services: tuple[str, ...]
    scenario: tuple[str, ...]
    impact: str
    mitigation: str
    acknowledged: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A plain word is accepted (tests, hand-built findings); an unknown one is refused here.
        object.__setattr__(self, "severity", Severity(self.severity))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "severity": self.severity.value,
            "title": self.title,
            "services": list(self.services),
            "scenario": list(self.scenario),
            "impact": self.impact,
            "mitigation": self.mitigation,
            "acknowledged": self.acknowledged,
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class PlacementResult:
    """A placement with its allocations (VRRP groups) and notes."""

    placement: Placement
    vrrp_groups: tuple[VrrpGroup, ...]
    nonlocal_bind_nodes: frozenset[str]
    warnings: tuple[str, ...]
    moved: int = 0

    def to_dict(self) -> dict:
        return {
            "placement": self.placement.to_dict(),
            "vrrp_groups": [
                {
                    "service": g.service,
                    "vips": list(g.vips),
                    "network": g.network,
                    "vrid": g.vrid,
                    "priorities": dict(sorted(g.priorities.items())),
                    "master": g.master,
                    "manager": g.manager,
                }
                for g in self.vrrp_groups
            ],
            "nonlocal_bind_nodes": sorted(self.nonlocal_bind_nodes),
            "moved": self.moved,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class SingleFailure:
    """One component failed: what stops (``down``), loses shards
    (``partial``), runs with fewer instances (``degraded``), keeps running."""

    component: str
    down: tuple[str, ...]
    partial: tuple[str, ...]
    degraded: tuple[str, ...]
    running: tuple[str, ...]

    def to_dict(self) -> dict:
        return {
            "component": self.component,
            "down": list(self.down),
            "partial": list(self.partial),
            "degraded": list(self.degraded),
            "running": list(self.running),
        }


@dataclass(frozen=True)
class Importance:
    """Importance of ``component`` for ``service`` (see :mod:`hamodel.analysis.importance`)."""

    service: str
    component: str
    probability: float
    birnbaum: float
    fussell_vesely: float
    raw: float
    rrw: float
    reduction: float  # U - P(down | component never fails)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class FixFirst:
    """One component across services: the downtime its repair would remove."""

    component: str
    probability: float
    hours_per_year: float  # sum over services of the unavailability removed, in hours per year
    services: tuple[str, ...]
    top_service: str
    birnbaum: float  # for top_service
    fussell_vesely: float  # for top_service

    def to_dict(self) -> dict:
        return {**self.__dict__, "services": list(self.services)}


@dataclass(frozen=True)
class ColdStart:
    """After a full power loss with ``missing`` nodes not coming back:
    ``outcome`` is ``automatic``, ``manual`` (``procedure`` needed),
    ``blocked`` (too few members return for a quorum) or ``unblock``
    (Pacemaker ``wait_for_all`` waits for nodes that never return)."""

    service: str
    outcome: Literal["automatic", "manual", "blocked", "unblock"]
    procedure: str
    missing: tuple[str, ...]

    def to_dict(self) -> dict:
        return {
            "service": self.service,
            "outcome": self.outcome,
            "procedure": self.procedure,
            "missing": list(self.missing),
        }


@dataclass(frozen=True)
class AnalysisResults:
    """The analysis' answers the documents, the explorer, ``diff`` and
    ``check --availability`` print, computed once before the Deployment is
    built (:func:`hamodel.pipeline.resolve` with ``answers=True``), so that
    nothing downstream starts a solver.

    ``view`` is the component view the answers are about
    (:class:`hamodel.analysis.components.ModelView`, read only: the explorer
    draws its fault trees over it); ``cut_sets`` are the minimal cut sets
    of at most ``k`` failures per analysed service; ``fix_first`` is
    :func:`hamodel.analysis.importance.what_to_fix` over ``importance``
    (required services first, ten rows). ``availability`` and
    ``importance`` are empty when the model carries no reliability figures;
    ``availability`` holds :class:`hamodel.analysis.availability.ServiceAvailability`
    rows (typed loosely here: that module reads the component view, which
    reads this one).
    """

    k: int
    view: Any
    cut_sets: Mapping[str, tuple[tuple[str, ...], ...]]
    single_failures: tuple[SingleFailure, ...]
    availability: Mapping[str, Any]
    importance: Mapping[str, tuple[Importance, ...]]
    fix_first: tuple[FixFirst, ...]
    #: :meth:`hamodel.analysis.failures.Analysis.cold_start` by ``(stop, k)``: a full
    #: stop (``"crash"`` / ``"graceful"``) with ``k`` members not returning (0 or 1).
    cold_start: Mapping[tuple[str, int], tuple[ColdStart, ...]] = field(default_factory=dict)

    def cold_start_of(self, service: str, stop: str, k: int) -> ColdStart | None:
        """The cold-start outcome of ``service`` after a full ``stop`` with ``k`` members missing."""
        return next((c for c in self.cold_start.get((stop, k), ()) if c.service == service), None)
