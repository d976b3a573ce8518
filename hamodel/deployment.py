"""The resolved deployment: the one object every generator consumes.

``Architecture`` (what the architect wrote) + ``Placement`` (where each
instance runs) + allocations (VRRP groups) + ``Finding``s (what analysis
proved). Generators never re-derive a fact: if two generators need it, it
lives here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Mapping

from hamodel.model import Architecture
from hamodel.model.strategies import BehindVip

if TYPE_CHECKING:
    from hamodel.analysis.failures import Analysis

#: Where the load-balancer HAProxy writes its pid: haproxy.cfg's ``pidfile``
#: and keepalived's track script (``pgrep -F``) must name the same file.
#: Debian's and Ubuntu's haproxy.service pass ``-p /run/haproxy.pid`` too.
HAPROXY_PIDFILE = "/run/haproxy.pid"
#: HAProxy's admin socket (haproxy.cfg ``stats socket``); its directory is a
#: runtime prerequisite of the deploy.
HAPROXY_STATS_SOCKET = "/run/haproxy/admin.sock"

# -- monitoring: facts the HAProxy, keepalived and monitoring generators share --

#: HAProxy's built-in Prometheus exporter (PROMEX) listens here, on the node's
#: own address on its VRRP network (haproxy.cfg frontend ``hamodel-metrics``).
HAPROXY_METRICS_PORT = 8405
#: node_exporter's textfile collector folder (Debian's default for
#: prometheus-node-exporter): keepalived's state script writes here.
NODE_TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
#: The generated keepalived notify script writing VRRP state as node_exporter
#: textfile metrics (``notify_master``/``_backup``/``_fault``/``_stop``).
KEEPALIVED_STATE_SCRIPT = "/usr/local/lib/hamodel/keepalived-state"


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
            self, "instances",
            MappingProxyType({s: tuple(sorted(n)) for s, n in sorted(self.instances.items())}),
        )
        object.__setattr__(self, "vrids", MappingProxyType(dict(sorted(self.vrids.items()))))

    def nodes_of(self, service: str) -> tuple[str, ...]:
        return self.instances.get(service, ())

    def services_on(self, node: str) -> tuple[str, ...]:
        return tuple(s for s, ns in self.instances.items() if node in ns)

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
            "id": self.id, "kind": self.kind, "severity": self.severity.value, "title": self.title,
            "services": list(self.services), "scenario": list(self.scenario), "impact": self.impact,
            "mitigation": self.mitigation, "acknowledged": self.acknowledged, "details": dict(self.details),
        }


@dataclass(frozen=True)
class Deployment:
    """Model + placement + allocations + findings, resolved and frozen."""

    architecture: Architecture
    placement: Placement
    vrrp_groups: tuple[VrrpGroup, ...] = ()
    nonlocal_bind_nodes: frozenset[str] = frozenset()
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()

    @cached_property
    def analysis(self) -> "Analysis":
        """The questions the analysis answers about this deployment (cut sets, split brain,
        single failures, availability, cold start, capacity), over one view built once
        (:class:`hamodel.analysis.failures.Analysis`)."""
        from hamodel.analysis.failures import Analysis

        return Analysis(self.architecture, self.placement, self.vrrp_groups)

    def group_of(self, service: str) -> VrrpGroup | None:
        return next((g for g in self.vrrp_groups if g.service == service), None)

    def vip_holders(self, vip: str) -> tuple[str, ...]:
        for g in self.vrrp_groups:
            if vip in g.vips:
                return g.members
        return ()

    # -- facts the HAProxy and keepalived generators (and the manifest) share --

    def fronted_services(self) -> list[tuple[str, BehindVip]]:
        """(service, access) of every service with an HAProxy front, by name."""
        return sorted(((s.name, s.access) for s in self.architecture.services if s.access is not None),
                      key=lambda x: x[0])

    def front_holders(self, service: str) -> tuple[str, ...]:
        """Nodes that run the HAProxy front of ``service``: every holder of any of its VIPs."""
        access = self.architecture.service(service).access
        if access is None:
            return ()
        return tuple(sorted({n for f in access.fronts for n in self.vip_holders(str(f.vip))}))

    def fronts_on(self, node: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``(service, VIP names)`` of every HAProxy front ``node`` runs (it holds one of the VIPs), by name."""
        out = []
        for name, access in self.fronted_services():
            if node in self.front_holders(name):
                out.append((name, tuple(sorted(str(f.vip) for f in access.fronts))))
        return tuple(out)

    def backend_network(self, service: str, backend: str) -> str | None:
        """The network HAProxy reaches ``backend`` of ``service`` over.

        The network of the first of its VIPs (``vip``, then ``also_on``) the
        backend is on; otherwise the first network (by name) that the
        backend and every node holding one of its VIPs share; None when
        there is none (HAProxy could not reach it).
        """
        arch = self.architecture
        access = arch.service(service).access
        assert access is not None
        node = arch.node(backend)
        for f in access.fronts:
            net = arch.vip(str(f.vip)).network
            if node.interface_on(net) is not None:
                return net
        lbs = [arch.node(n) for n in self.front_holders(service)]
        for i in sorted(node.interfaces, key=lambda i: i.network):
            if all(lb.interface_on(i.network) is not None for lb in lbs):
                return i.network
        return None

    def backend_networks(self, vips: set[str]) -> set[str]:
        """Networks HAProxy uses to reach the backends of every service
        answering on one of ``vips`` (keepalived tracks their interfaces)."""
        out: set[str] = set()
        for name, access in self.fronted_services():
            if {str(f.vip) for f in access.fronts} & vips:
                for b in self.placement.nodes_of(name):
                    net = self.backend_network(name, b)
                    if net is not None:
                        out.add(net)
        return out
