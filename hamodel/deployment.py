"""The resolved deployment: the one object every generator consumes.

``Architecture`` (what the architect wrote) + ``Placement`` (where each
instance runs) + allocations (VRRP groups) + ``Finding``s (what analysis
proved). Generators never re-derive a fact: if two generators need it, it
lives here.
"""

from __future__ import annotations

from dataclasses import dataclass

from hamodel.analysis.recovery_results import RecoveryTable
from hamodel.analysis.results import (
    SEVERITIES,
    AnalysisResults,
    Finding,
    Placement,
    Severity,
    VrrpGroup,
)
from hamodel.model import Architecture
from hamodel.model.strategies import BehindVip, PacemakerVip
from hamodel.timers import (
    IPADDR2_START_TIMEOUT_S,
    TOKEN_COEFFICIENT_MS,
    corosync_token_timeout_ms,
)

#: Where the load-balancer HAProxy writes its pid: Debian's and Ubuntu's
#: haproxy.service pass ``-p /run/haproxy.pid`` (the unit owns it, so
#: haproxy.cfg has no ``pidfile``); keepalived's track script (``pgrep -F``)
#: reads the same file.
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


@dataclass(frozen=True)
class Deployment:
    """Model + placement + allocations + findings, resolved and frozen."""

    architecture: Architecture
    placement: Placement
    vrrp_groups: tuple[VrrpGroup, ...] = ()
    nonlocal_bind_nodes: frozenset[str] = frozenset()
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    #: Predicted recovery per service and disruption class (None: not analysed).
    recovery: RecoveryTable | None = None
    #: The analysis' answers the documents print (single failures, availability,
    #: importance, cut sets), computed before the Deployment was built
    #: (``resolve(..., answers=True)``); None: not asked for.
    results: AnalysisResults | None = None

    def answers(self) -> AnalysisResults:
        """:attr:`results`, or a clear error naming how to get them: nothing
        downstream of the Deployment starts the analysis."""
        if self.results is None:
            raise ValueError(
                f"the deployment of {self.architecture.name!r} carries no analysis results: "
                "resolve it with hamodel.pipeline.resolve(..., answers=True)"
            )
        return self.results

    def group_of(self, service: str) -> VrrpGroup | None:
        return next((g for g in self.vrrp_groups if g.service == service), None)

    def vip_holders(self, vip: str) -> tuple[str, ...]:
        for g in self.vrrp_groups:
            if vip in g.vips:
                return g.members
        return ()

    # -- facts the HAProxy and keepalived generators (and the manifest) share --

    def fronted_services(self) -> list[tuple[str, BehindVip]]:
        """(service, access) of every service with an HAProxy front, by name (computed once)."""
        fronted = self.__dict__.get("_fronted")
        if fronted is None:
            fronted = tuple(
                sorted(
                    ((s.name, s.access) for s in self.architecture.services if s.access is not None),
                    key=lambda x: x[0],
                )
            )
            object.__setattr__(self, "_fronted", fronted)
        return list(fronted)

    def front_holders(self, service: str) -> tuple[str, ...]:
        """Nodes that run the HAProxy front of ``service``: every holder of any of its VIPs."""
        access = self.architecture.service(service).access
        if access is None:
            return ()
        return tuple(sorted({n for f in access.fronts for n in self.vip_holders(str(f.vip))}))

    def fronts_on(self, node: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``(service, VIP names)`` of every HAProxy front ``node`` runs (it holds one of the VIPs), by name
        (an index of every node's fronts, built on first use)."""
        by_node = self.__dict__.get("_fronts_by_node")
        if by_node is None:
            index: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
            for name, access in self.fronted_services():
                vips = tuple(sorted(str(f.vip) for f in access.fronts))
                for n in self.front_holders(name):
                    index.setdefault(n, []).append((name, vips))
            by_node = {n: tuple(fs) for n, fs in index.items()}
            object.__setattr__(self, "_fronts_by_node", by_node)
        return by_node.get(node, ())

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

    # -- Pacemaker ------------------------------------------------------------------------

    def pacemaker_managed(self) -> list[str]:
        """The services Pacemaker runs: Pacemaker strategies and ``supervisor="pacemaker"``."""
        out = []
        for s in self.architecture.services:
            st = s.strategy
            if (
                isinstance(st, PacemakerVip)
                or getattr(st, "manager", None) == "pacemaker"
                or s.supervisor == "pacemaker"
            ):
                out.append(s.name)
        return sorted(out)

    def pacemaker_resources(self) -> list[tuple[str, str, str, str]]:
        """``(service, resource id, what, key)`` of every CIB resource that runs a service: each
        managed service's primitive (the id its clone's instances carry; key: the service) and
        each VIP's IPaddr2 (key: the VIP). The CIB generator names its resources so; the
        monitoring rules watch them."""
        out = [(name, pacemaker_resource_id(name), f"the {name} resource", name) for name in self.pacemaker_managed()]
        for g in sorted((g for g in self.vrrp_groups if g.manager == "pacemaker"), key=lambda g: (g.service, g.vips)):
            out += [(g.service, f"ip-{v}", f"VIP {v}", v) for v in g.vips]
        return out


def pacemaker_resource_id(service: str) -> str:
    """The CIB id of a managed service's primitive (an id must start with a letter)."""
    return service if service[:1].isalpha() else f"svc-{service}"
