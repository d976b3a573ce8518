"""Failure-prone components of a placed architecture, and the static facts
every failure semantics needs (who holds which VIP, which port is on which
switch, which components a service can depend on).

Component ids are stable strings, used in findings, docs and drills:

- ``node:<n>``: a machine (stops everything on it);
- ``domain:<d>``: a rack, power feed, zone, ... (stops every node inside it,
  and every domain nested in it: a zone takes its racks); a dual-corded
  node (``Node.power``) stops only when all of its feeds are down;
- ``switch:<s>``: a switch (cuts the ports attached to it; nodes keep running);
- ``link:<network>:<s1>~<s2>``: an inter-switch link of a network
  (``Network.switch_links()``);
- ``trunk:<t>``: a physical inter-switch link shared by every network that
  lists the :class:`~hamodel.model.Trunk` (cuts all of them at once);
- ``proc:<process>@<node>``: one process on one node (``keepalived`` for the
  holders of a VRRP group).

This module holds structure only; *when* a service is up is written twice,
independently: as Z3 formulas (:mod:`hamodel.analysis.encoding`) and as a
plain-Python evaluator (:mod:`hamodel.analysis.semantics`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from hamodel.analysis.results import Placement, VrrpGroup
from hamodel.model import Architecture, Service
from hamodel.model.strategies import ActivePassive, AppCluster, Elected, External, PacemakerVip, Vrrp, Witness

KEEPALIVED = "keepalived"
QNETD = "corosync-qnetd"
KIND_ORDER = {"node": 0, "proc": 1, "domain": 2, "switch": 3, "link": 4, "trunk": 5, "nic": 6, "cable": 7}


def node_id(n: str) -> str:
    return f"node:{n}"


def domain_id(d: str) -> str:
    return f"domain:{d}"


def switch_id(s: str) -> str:
    return f"switch:{s}"


def link_id(net: str, a: str, b: str) -> str:
    a, b = sorted((a, b))
    return f"link:{net}:{a}~{b}"


def trunk_id(t: str) -> str:
    return f"trunk:{t}"


def nic_id(n: str, device: str, i: int) -> str:
    return f"nic:{n}:{device}/{i}"


def cable_id(n: str, device: str, i: int) -> str:
    return f"cable:{n}:{device}/{i}"


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
    node_domains: dict[str, tuple[str, ...]]  # node -> domain ids (with ancestors)
    node_feeds: dict[str, tuple[tuple[str, ...], ...]]  # node -> per redundant feed: its ids (with ancestors)
    switch_domains: dict[str, tuple[str, ...]]  # switch -> enclosing domain ids
    ports: dict[str, dict[str, tuple[str, ...]]]  # node -> network -> switches (bond; empty: no switch)
    net_switches: dict[str, tuple[str, ...]]
    net_links: dict[str, tuple[tuple[str, str, str], ...]]  # network -> (switch, switch, component id)
    holders: dict[str, tuple[str, ...]]  # VIP-holding service -> holder nodes
    vip_network: dict[str, str]  # VIP-holding service -> network
    vip_service: dict[str, str]  # vip name -> holding service
    pcmk_nodes: tuple[str, ...]
    pcmk_quorum: int
    voters: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)  # cluster -> (service, node)
    pcmk_qdevice: str | None = None
    pcmk_two_node: bool = False
    pcmk_fencing: bool = True
    # node -> network -> per bond member: (its switch, its NIC port and cable ids);
    # only for interfaces with a bond_mode (others have no member components).
    members: dict[str, dict[str, tuple[tuple[str, tuple[str, ...]], ...]]] = field(default_factory=dict)
    # VIP-holding service -> every network its VIPs sit on (the advert network first)
    vip_networks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # VRRP service -> the services of its vrrp_sync_group (itself included, sorted); absent: none
    sync: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # service -> the switches its clients come in through (Service.clients; any of them)
    clients: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # service -> the network its clients are on, when Service.clients names one (reached over it only)
    client_nets: dict[str, str] = field(default_factory=dict)
    components: tuple[str, ...] = ()
    processes: bool = True
    component_set: frozenset[str] = frozenset()
    _slices: dict[str, frozenset[str]] = field(default_factory=dict)
    _uses: dict[tuple[str, str | None], frozenset[str]] = field(default_factory=dict)
    _node_domain_ids: frozenset[str] | None = None
    _killed: dict[frozenset[str], frozenset[str]] = field(default_factory=dict)

    def node_domain_ids(self) -> frozenset[str]:
        """Every domain id that holds a node (with ancestors), computed once."""
        if self._node_domain_ids is None:
            self._node_domain_ids = frozenset(d for ds in self.node_domains.values() for d in ds)
        return self._node_domain_ids

    # -- the Pacemaker cluster ------------------------------------------------

    def fence_delays(self) -> dict[str, int]:
        """Per cluster node, the static delay (``pcmk_delay_base``) before it can be fenced:
        the largest ``delay_base_s`` of the devices that fence it (per-node entries,
        ``targets``, or every cluster node)."""
        pm = self.arch.pacemaker
        out = dict.fromkeys(self.pcmk_nodes, 0)
        for d in pm.fence if pm is not None else ():
            fenced = list(d.per_node) if d.per_node else (list(d.targets) or list(self.pcmk_nodes))
            for n in fenced:
                if n in out:
                    out[n] = max(out[n], d.delay_base_s)
        return out

    @property
    def pcmk_winner(self) -> str:
        """The node that wins a 2-node fence race: the one whose fencing is delayed longest
        (the other is fenced first); on equal delays, the first by name (what the
        analysis assumes: timing decides, see :meth:`fence_race_decided`)."""
        delays = self.fence_delays()
        return max(self.pcmk_nodes, key=lambda n: (delays[n], -self.pcmk_nodes.index(n)))

    def fence_race_decided(self) -> bool:
        """True when the fencing delays of a 2-node cluster differ (the winner is certain)."""
        return len(set(self.fence_delays().values())) > 1

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
        """Votes (members and witnesses) that must be alive and together
        for AppCluster ``s``."""
        st = self.services[s].strategy
        n = len(self.cluster_voters(s))
        if isinstance(st, AppCluster) and isinstance(st.quorum, int):
            return st.quorum
        return n // 2 + 1

    def cluster_voters(self, s: str) -> tuple[tuple[str, str], ...]:
        """(service, node) of every vote of cluster ``s``: its members, then
        the instances of its witnesses."""
        return self.voters.get(s) or tuple((s, n) for n in self.instances[s])

    def witnesses(self, s: str) -> tuple[str, ...]:
        return tuple(sorted({w for w, _ in self.cluster_voters(s) if w != s}))

    def coordinator(self, s: str) -> str | None:
        """The quorum cluster an Elected service holds its leader lock in."""
        st = self.services[s].strategy
        return st.by if isinstance(st, Elected) and st.by in self.services else None

    def analysed(self, s: str) -> bool:
        """External services and witnesses have no findings of their own."""
        return not isinstance(self.services[s].strategy, (External, Witness))

    def qdevice_procs(self) -> tuple[str, ...]:
        return (proc_id(QNETD, self.pcmk_qdevice),) if self.pcmk_qdevice and self.processes else ()

    def access_holder(self, s: str, consumer: str | None = None) -> str | None:
        """The service holding the VIP through which ``s`` is reached, if any.

        For ``s``'s own clients (``consumer`` None) that is its first front
        (``vip``). A service that depends on ``s`` reaches it through its first
        front on an ``exposure="internal"`` VIP when it has one (``also_on``:
        service-to-service traffic does not hairpin through the public VIP),
        else through the first front as well."""
        a = self.services[s].access
        if a is None:
            return None
        fronts = a.fronts
        if consumer is not None:
            internal = [f for f in fronts if self.arch.vip(str(f.vip)).exposure == "internal"]
            fronts = internal or fronts
        return self.vip_service.get(str(fronts[0].vip))

    def front_holders(self, s: str) -> tuple[str, ...]:
        """Every service holding a VIP in front of ``s`` that some client uses
        (its own clients' and its dependents'), without repeats."""
        hs = [self.access_holder(s), self.access_holder(s, consumer=s)]
        return tuple(dict.fromkeys(h for h in hs if h is not None))

    def dependencies(self, s: str) -> tuple[str, ...]:
        """Declared dependencies (``Service.dependencies``) known to the model."""
        return tuple(d for d in self.services[s].dependencies if d in self.services)

    def local_dependencies(self, s: str) -> frozenset[str]:
        """Dependencies served on the consumer's own node (``Local``)."""
        return frozenset(d for d in self.services[s].local_deps if d in self.services)

    def soft_dependencies(self, s: str) -> tuple[str, ...]:
        """Dependencies whose loss only degrades ``s`` (``Soft``)."""
        return tuple(d for d in self.services[s].soft_deps if d in self.services)

    def implicit_dependencies(self, s: str) -> tuple[str, ...]:
        """Dependencies plus the VIP holder in front of ``s`` (for attributing
        a cut set to the service it really belongs to)."""
        out = set(self.dependencies(s))
        out.update(h for h in self.front_holders(s) if h != s)
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

    def uses(self, s: str, via: str | None = None) -> frozenset[str]:
        """The services whose state decides whether ``s`` is up for clients
        that come through VIP holder ``via`` (default: its first front's),
        transitively: the holder, the dependencies, and theirs as ``s``
        reaches them (through their internal front). Narrower than
        :meth:`closure`, which takes every front's holder, for slicing."""
        h = self.access_holder(s) if via is None else via
        key = (s, h)
        memo = self._uses
        if key not in memo:
            memo[key] = frozenset()  # a cycle (refused by the model) ends here
            out: set[str] = set()
            if h is not None and h != s:
                out |= {h} | self.uses(h)
            for d in self.dependencies(s):
                out |= {d} | self.uses(d, self.access_holder(d, s))
            out.discard(s)
            memo[key] = frozenset(out)
        return memo[key]

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
        for ms in self.members.get(n, {}).values():
            for _, cids in ms:
                out.update(cids)
        for feed in self.node_feeds.get(n, ()):
            out.update(feed)
        for net in self.ports.get(n, {}):
            out |= self.network_components(net)
        return out

    def network_components(self, net: str) -> set[str]:
        out: set[str] = set()
        for s in self.net_switches.get(net, ()):
            out.add(switch_id(s))
            out.update(self.switch_domains.get(s, ()))
        out.update(cid for _, _, cid in self.net_links.get(net, ()))
        return out

    def local_components(self, s: str) -> set[str]:
        """Components ``s`` itself (not its dependencies) can be stopped by."""
        svc = self.services[s]
        st = svc.strategy
        if isinstance(st, External):
            return set()
        out: set[str] = set()
        nodes = set(self.counted_instances(s))
        for w, n in self.cluster_voters(s):
            if w != s:
                out |= self._node_components(n)
                if self.processes:
                    out.add(proc_id(self.process(w), n))
        for n in nodes:
            out |= self._node_components(n)
            if self.processes:
                out.add(proc_id(self.process(s), n))
        if s in self.holders:
            for h in self.holders[s]:
                out |= self._node_components(h)
                if self.processes:
                    for peer in self.sync.get(s, (s,)):  # a sync group fails over as one
                        out.update(proc_id(p, h) for p in self.holder_processes(peer))
        for h in self.front_holders(s):
            out |= self.local_components(h)
        if self.uses_pacemaker(s):
            for n in self.pcmk_nodes:
                out |= self._node_components(n)
            if self.pcmk_qdevice:
                out |= self._node_components(self.pcmk_qdevice)
                out.update(self.qdevice_procs())
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

    def node_down(self, n: str, failed: frozenset[str] | set[str]) -> bool:
        """Node ``n`` is down: it or an enclosing domain failed, or every one
        of its redundant power feeds is down."""
        if node_id(n) in failed or not failed.isdisjoint(self.node_domains[n]):
            return True
        feeds = self.node_feeds.get(n, ())
        return bool(feeds) and all(not failed.isdisjoint(f) for f in feeds)

    def nodes_killed_by(self, failed: Iterable[str]) -> set[str]:
        """Nodes that are down when ``failed`` components have failed (a fresh set;
        remembered per failure set, as findings ask again for the same domain)."""
        f = frozenset(failed)
        if f not in self._killed:
            self._killed[f] = frozenset(n for n in self.node_domains if self.node_down(n, f))
        return set(self._killed[f])


def view(
    arch: Architecture, placement: Placement, vrrp_groups: Sequence[VrrpGroup] = (), processes: bool = True
) -> ModelView:
    """The :class:`ModelView` of ``arch`` placed by ``placement``.

    ``processes=False`` leaves process failures out (every process is taken
    as restarted at once); nodes, domains, switches and links remain."""
    doms = {d.name: d for d in arch.domains}

    def did(d: str) -> str:
        return switch_id(d) if doms[d].kind == "switch" else domain_id(d)

    node_domains = {n.name: tuple(sorted(did(d) for d in arch.node_domains(n.name))) for n in arch.nodes}
    node_feeds = {
        n.name: tuple(tuple(sorted(did(x) for x in arch.domain_ancestors(f))) for f in n.power) for n in arch.nodes
    }
    switch_domains: dict[str, tuple[str, ...]] = {}
    for d in arch.domains:
        if d.kind == "switch":
            switch_domains[d.name] = tuple(sorted(did(x) for x in arch.domain_ancestors(d.name)[1:]))
    ports: dict[str, dict[str, tuple[str, ...]]] = {}
    members: dict[str, dict[str, tuple[tuple[str, tuple[str, ...]], ...]]] = {}
    net_switches = {net.name: tuple(sorted(net.switches)) for net in arch.networks}
    for n in arch.nodes:
        ports[n.name] = {}
        for i in n.interfaces:
            sws = tuple(sorted(i.switches))
            if not sws and len(net_switches.get(i.network, ())) == 1:
                sws = net_switches[i.network]
            ports[n.name][i.network] = sws
            if i.bond_mode is not None:
                members.setdefault(n.name, {})[i.network] = tuple(
                    (sw, (nic_id(n.name, i.device, k), cable_id(n.name, i.device, k)))
                    for k, sw in enumerate(i.bond_members())
                )
    net_links = {
        net.name: tuple(
            (a, b, trunk_id(t.name) if t is not None else link_id(net.name, a, b)) for (a, b), t in net.link_parts()
        )
        for net in arch.networks
    }

    services = {s.name: s for s in arch.services}
    instances = {s: tuple(placement.nodes_of(s)) for s in services}
    groups = {g.service: g for g in vrrp_groups}
    holders: dict[str, tuple[str, ...]] = {}
    vip_network: dict[str, str] = {}
    vip_service: dict[str, str] = {}
    vip_networks: dict[str, tuple[str, ...]] = {}
    sync_groups: dict[str, list[str]] = {}
    for s, svc in services.items():
        if svc.holds_vips:
            g = groups.get(s)
            holders[s] = tuple(sorted(g.priorities)) if g is not None else instances[s]
            vip_network[s] = g.network if g is not None else arch.vip(svc.holds_vips[0]).network
            vip_networks[s] = tuple(dict.fromkeys([vip_network[s], *(arch.vip(v).network for v in svc.holds_vips)]))
            for v in svc.holds_vips:
                vip_service[v] = s
            if isinstance(svc.strategy, Vrrp) and svc.strategy.sync_group is not None:
                sync_groups.setdefault(svc.strategy.sync_group, []).append(s)
    sync = {s: tuple(sorted(ms)) for ms in sync_groups.values() if len(ms) > 1 for s in ms}
    pcmk_nodes: tuple[str, ...] = ()
    pcmk_quorum = 0
    pm = arch.pacemaker
    if pm is not None:
        pcmk_nodes = arch.pacemaker_nodes()
        votes = len(pcmk_nodes) + (1 if pm.qdevice else 0)
        pcmk_quorum = pm.quorum if isinstance(pm.quorum, int) else votes // 2 + 1
    voters: dict[str, tuple[tuple[str, str], ...]] = {}
    witnesses_of: dict[str, list[str]] = {}  # cluster -> its witnesses (one pass: was a scan per cluster)
    for w, x in services.items():
        if isinstance(x.strategy, Witness):
            witnesses_of.setdefault(x.strategy.of, []).append(w)
    for s, svc in services.items():
        if isinstance(svc.strategy, AppCluster):
            ws = sorted(witnesses_of.get(s, ()))
            voters[s] = tuple((s, n) for n in instances[s]) + tuple((w, n) for w in ws for n in instances[w])

    v = ModelView(
        arch,
        placement,
        services,
        instances,
        node_domains,
        node_feeds,
        switch_domains,
        ports,
        net_switches,
        net_links,
        holders,
        vip_network,
        vip_service,
        pcmk_nodes,
        pcmk_quorum,
        voters,
        pm.qdevice if pm is not None else None,
        bool(pm and pm.two_node and len(pcmk_nodes) == 2),
        pm.fencing if pm is not None else True,
        members=members,
        vip_networks=vip_networks,
        sync=sync,
        clients={s: arch.client_switches(s) for s, svc in services.items() if svc.clients is not None},
        client_nets={s: net for s in services if (net := arch.client_network(s)) is not None},
        processes=processes,
    )
    comps: set[str] = {node_id(n) for n in node_domains}
    comps.update(c for by_net in members.values() for ms in by_net.values() for _, cids in ms for c in cids)
    comps |= {did(d.name) for d in arch.domains}
    for net in net_links:
        comps.update(cid for _, _, cid in net_links[net])
    comps.update(v.qdevice_procs())
    for s in services if processes else ():
        if isinstance(services[s].strategy, External):
            continue
        comps.update(proc_id(v.process(s), n) for n in instances[s])
        for h in holders.get(s, ()):
            comps.update(proc_id(p, h) for p in v.holder_processes(s))
    v.components = sort_set(comps)
    v.component_set = frozenset(comps)
    return v
