"""Failure-prone components of a placed architecture, and the static facts
every failure semantics needs (who holds which VIP, which port is on which
switch, which components a service can depend on).

Component ids are stable strings, used in findings, docs and drills:

- ``node:<n>``: a machine (stops everything on it);
- ``domain:<d>``: a rack, power feed, zone, ... (stops every node inside it,
  and every domain nested in it: a zone takes its racks);
- ``switch:<s>``: a switch (cuts the ports attached to it; nodes keep running);
- ``link:<network>:<s1>~<s2>``: an inter-switch link of a network
  (``Network.switch_links()``);
- ``proc:<process>@<node>``: one process on one node (``keepalived`` for the
  holders of a VRRP group).

This module holds structure only; *when* a service is up is written twice,
independently: as Z3 formulas (:mod:`hamodel.analysis.encoding`) and as a
plain-Python evaluator (:mod:`hamodel.analysis.semantics`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from hamodel.deployment import Placement, VrrpGroup
from hamodel.model import Architecture, Service
from hamodel.model.strategies import ActivePassive, AppCluster, External, PacemakerVip, Vrrp

KEEPALIVED = "keepalived"
KIND_ORDER = {"node": 0, "proc": 1, "domain": 2, "switch": 3, "link": 4}


def node_id(n: str) -> str:
    return f"node:{n}"


def domain_id(d: str) -> str:
    return f"domain:{d}"


def switch_id(s: str) -> str:
    return f"switch:{s}"


def link_id(net: str, a: str, b: str) -> str:
    a, b = sorted((a, b))
    return f"link:{net}:{a}~{b}"


def proc_id(process: str, n: str) -> str:
    return f"proc:{process}@{n}"


def component_kind(cid: str) -> str:
    return cid.split(":", 1)[0]


def component_key(cid: str) -> tuple[int, str]:
    """Sort key: nodes, processes, domains, switches, links; then by name."""
    return (KIND_ORDER.get(component_kind(cid), 9), cid)


def sort_set(cs: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(cs, key=component_key))


def set_key(cs: Sequence[str]) -> tuple:
    """Order of failure sets: smaller first, then nodes before processes, ..."""
    return (len(cs), [component_key(c) for c in sort_set(cs)])


@dataclass
class ModelView:
    """The static structure of ``arch`` under ``placement`` that failure
    semantics needs. Build it with :func:`view`."""

    arch: Architecture
    placement: Placement
    services: dict[str, Service]
    instances: dict[str, tuple[str, ...]]
    node_domains: dict[str, tuple[str, ...]]          # node -> domain ids (with ancestors)
    switch_domains: dict[str, tuple[str, ...]]        # switch -> enclosing domain ids
    ports: dict[str, dict[str, str | None]]           # node -> network -> switch (None: no switch)
    net_switches: dict[str, tuple[str, ...]]
    net_links: dict[str, tuple[tuple[str, str], ...]]
    holders: dict[str, tuple[str, ...]]               # VIP-holding service -> holder nodes
    vip_network: dict[str, str]                       # VIP-holding service -> network
    vip_service: dict[str, str]                       # vip name -> holding service
    pcmk_nodes: tuple[str, ...]
    pcmk_quorum: int
    components: tuple[str, ...] = ()
    processes: bool = True
    component_set: frozenset[str] = frozenset()
    _slices: dict[str, frozenset[str]] = field(default_factory=dict)

    # -- per-service facts --------------------------------------------------

    def process(self, s: str) -> str:
        return self.services[s].process or s

    def holder_processes(self, s: str) -> tuple[str, ...]:
        """Processes that must run on a holder of ``s``'s VIPs."""
        svc = self.services[s]
        if isinstance(svc.strategy, Vrrp):
            procs = {self.process(s), svc.strategy.track or self.process(s), KEEPALIVED}
            return tuple(sorted(procs))
        return (self.process(s),)

    def quorum(self, s: str) -> int:
        """Members that must be alive and together for AppCluster ``s``."""
        st = self.services[s].strategy
        n = len(self.instances[s])
        if isinstance(st, AppCluster) and isinstance(st.quorum, int):
            return st.quorum
        return n // 2 + 1

    def access_holder(self, s: str) -> str | None:
        """The service holding the VIP in front of ``s``, if any."""
        a = self.services[s].access
        return self.vip_service.get(a.vip) if a is not None else None

    def dependencies(self, s: str) -> tuple[str, ...]:
        """Declared dependencies (``Service.dependencies``) known to the model."""
        return tuple(d for d in self.services[s].dependencies if d in self.services)

    def implicit_dependencies(self, s: str) -> tuple[str, ...]:
        """Dependencies plus the VIP holder in front of ``s`` (for attributing
        a cut set to the service it really belongs to)."""
        out = set(self.dependencies(s))
        h = self.access_holder(s)
        if h is not None and h != s:
            out.add(h)
        return tuple(sorted(out))

    def closure(self, s: str) -> tuple[str, ...]:
        """Every service ``s`` relies on, transitively (without ``s``)."""
        seen: set[str] = set()
        todo = list(self.implicit_dependencies(s))
        while todo:
            d = todo.pop()
            if d not in seen:
                seen.add(d)
                todo.extend(self.implicit_dependencies(d))
        seen.discard(s)
        return tuple(sorted(seen))

    def uses_pacemaker(self, s: str) -> bool:
        st = self.services[s].strategy
        return isinstance(st, PacemakerVip) or getattr(st, "manager", None) == "pacemaker"

    def counted_instances(self, s: str) -> tuple[str, ...]:
        """Instances whose failure matters: for an unmanaged active/passive
        service only the first placed one runs."""
        st = self.services[s].strategy
        inst = self.instances[s]
        if isinstance(st, ActivePassive) and st.manager is None:
            return inst[:1]
        return inst

    # -- slices ---------------------------------------------------------------

    def _node_components(self, n: str) -> set[str]:
        out = {node_id(n), *self.node_domains.get(n, ())}
        for net, sw in self.ports.get(n, {}).items():
            out |= self.network_components(net)
        return out

    def network_components(self, net: str) -> set[str]:
        out: set[str] = set()
        for s in self.net_switches.get(net, ()):
            out.add(switch_id(s))
            out.update(self.switch_domains.get(s, ()))
        out.update(link_id(net, a, b) for a, b in self.net_links.get(net, ()))
        return out

    def local_components(self, s: str) -> set[str]:
        """Components ``s`` itself (not its dependencies) can be stopped by."""
        svc = self.services[s]
        st = svc.strategy
        if isinstance(st, External):
            return set()
        out: set[str] = set()
        nodes = set(self.counted_instances(s))
        for n in nodes:
            out |= self._node_components(n)
            if self.processes:
                out.add(proc_id(self.process(s), n))
        if s in self.holders:
            for h in self.holders[s]:
                out |= self._node_components(h)
                if self.processes:
                    out.update(proc_id(p, h) for p in self.holder_processes(s))
        h = self.access_holder(s)
        if h is not None:
            out |= self.local_components(h)
        if self.uses_pacemaker(s):
            for n in self.pcmk_nodes:
                out |= self._node_components(n)
        return out

    def slice(self, s: str) -> frozenset[str]:
        """Every component whose failure may matter to ``s`` (its own and
        its dependencies', transitively). Cut sets are searched in here."""
        if s not in self._slices:
            out = self.local_components(s)
            for d in self.closure(s):
                out |= self.local_components(d)
            self._slices[s] = frozenset(out)
        return self._slices[s]

    # -- evaluation helpers shared by the evaluators (structure only) --------

    def nodes_killed_by(self, failed: Iterable[str]) -> set[str]:
        """Nodes that are down when ``failed`` components have failed."""
        f = set(failed)
        return {n for n in self.node_domains if node_id(n) in f or f & set(self.node_domains[n])}


def view(arch: Architecture, placement: Placement, vrrp_groups: Sequence[VrrpGroup] = (),
         processes: bool = True) -> ModelView:
    """The :class:`ModelView` of ``arch`` placed by ``placement``.

    ``processes=False`` leaves process failures out (every process is taken
    as restarted at once); nodes, domains, switches and links remain."""
    doms = {d.name: d for d in arch.domains}

    def did(d: str) -> str:
        return switch_id(d) if doms[d].kind == "switch" else domain_id(d)

    node_domains = {n.name: tuple(sorted(did(d) for d in arch.node_domains(n.name))) for n in arch.nodes}
    switch_domains: dict[str, tuple[str, ...]] = {}
    for d in arch.domains:
        if d.kind == "switch":
            switch_domains[d.name] = tuple(sorted(did(x) for x in arch.domain_ancestors(d.name)[1:]))
    ports: dict[str, dict[str, str | None]] = {}
    net_switches = {net.name: tuple(sorted(net.switches)) for net in arch.networks}
    for n in arch.nodes:
        ports[n.name] = {}
        for i in n.interfaces:
            sw = i.switch
            if sw is None and len(net_switches.get(i.network, ())) == 1:
                sw = net_switches[i.network][0]
            ports[n.name][i.network] = sw
    net_links = {net.name: tuple(net.switch_links()) for net in arch.networks}

    services = {s.name: s for s in arch.services}
    instances = {s: tuple(placement.nodes_of(s)) for s in services}
    groups = {g.service: g for g in vrrp_groups}
    holders: dict[str, tuple[str, ...]] = {}
    vip_network: dict[str, str] = {}
    vip_service: dict[str, str] = {}
    for s, svc in services.items():
        if svc.holds_vips:
            g = groups.get(s)
            holders[s] = tuple(sorted(g.priorities)) if g is not None else instances[s]
            vip_network[s] = g.network if g is not None else arch.vip(svc.holds_vips[0]).network
            for v in svc.holds_vips:
                vip_service[v] = s
    pcmk_nodes: tuple[str, ...] = ()
    pcmk_quorum = 0
    if arch.pacemaker is not None:
        pcmk_nodes = tuple(sorted(n.name for n in arch.nodes_with_roles(arch.pacemaker.on)))
        q = arch.pacemaker.quorum
        pcmk_quorum = q if isinstance(q, int) else len(pcmk_nodes) // 2 + 1

    v = ModelView(arch, placement, services, instances, node_domains, switch_domains, ports, net_switches,
                  net_links, holders, vip_network, vip_service, pcmk_nodes, pcmk_quorum, processes=processes)
    comps: set[str] = {node_id(n) for n in node_domains}
    comps |= {did(d.name) for d in arch.domains}
    for net in net_links:
        comps.update(link_id(net, a, b) for a, b in net_links[net])
    for s in services if processes else ():
        if isinstance(services[s].strategy, External):
            continue
        comps.update(proc_id(v.process(s), n) for n in instances[s])
        for h in holders.get(s, ()):
            comps.update(proc_id(p, h) for p in v.holder_processes(s))
    v.components = sort_set(comps)
    v.component_set = frozenset(comps)
    return v
