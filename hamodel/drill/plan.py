"""The lab plan: what to build, from the model and the generated files.

:func:`plan_lab` reads the generated configs of every node and decides the
lab's nodes (with their interfaces, sysctls and stand-in backend ports),
switches, inter-switch links (loop-free without STP) and the client's legs.
:func:`describe_lab` is the report's ``lab`` section. Nothing here starts a
process or creates a namespace: that is :mod:`hamodel.drill.runner`'s job.
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hamodel.deployment import Deployment, VrrpGroup
from hamodel.drill import reroot
from hamodel.drill.lab import BOND_MIIMON_MS, LabError, access_of
from hamodel.model import Architecture


@dataclass
class NodePlan:
    name: str
    interfaces: list[tuple[str, str, str, str]]  # (device, address/prefix, switch, network)
    keepalived: str | None = None
    haproxy: str | None = None
    sysctls: list[tuple[str, str]] = field(default_factory=list)
    backend_ports: dict[int, str] = field(default_factory=dict)  # port -> bind address
    #: device -> every switch of a bonded interface (first one first, as in ``interfaces``)
    bonds: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class LabPlan:
    switches: list[str]
    links: list[tuple[str, str]]
    split_horizon: set[tuple[str, str]]
    nodes: dict[str, NodePlan]
    client_interfaces: list[tuple[str, str, str, str]]  # (device, address/prefix, switch, network)
    haproxy: dict[str, reroot.HaproxyConfig]
    keepalived: dict[str, reroot.KeepalivedConfig]
    backend_services: list[str]
    skipped_backend_services: list[str]
    notes: list[str] = field(default_factory=list)
    #: the client's bonded legs: device -> switches (the client is bonded where the VIP's
    #: preferred holder is, so that failing one of its switches leaves the client connected)
    client_bonds: dict[str, list[str]] = field(default_factory=dict)
    #: (network, a, b) -> the model's trunk carrying that inter-switch link (informational)
    trunks: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def switches_of(self, node: str, network: str) -> list[str]:
        """Every switch ``node`` is attached to on ``network`` (a bond's members, or one)."""
        np_ = self.nodes[node]
        for dev, _, sw, net in np_.interfaces:
            if net == network:
                return list(np_.bonds.get(dev, [sw]))
        return []


def switch_of(arch: Architecture, network: str, switch: str | None) -> str:
    if switch is not None:
        return switch
    net = arch.network(network)
    return net.switches[0] if net.switches else f"{network}-sw"


def _sysctls(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            k, v = (x.strip() for x in line.split("=", 1))
            if k.startswith("net."):  # per-namespace keys only
                out.append((k, v))
    return out


def plan_lab(
    arch: Architecture,
    dep: Deployment,
    files: Mapping[str, bytes],
    *,
    backend_services: list[str] | None = None,
    real_services: frozenset[str] = frozenset(),
) -> LabPlan:
    """Nodes, switches, links and stand-in backends for this deployment's files.

    ``backend_services`` limits the stand-in backends to these services (all
    load-balanced ones by default); ``real_services`` get none at all: a
    scenario kind runs the real software for them (see
    :meth:`hamodel.drill.scenario.ScenarioKind.real_services`).
    """
    notes: list[str] = []
    nodes: dict[str, NodePlan] = {}
    for node in arch.nodes:
        base = f"nodes/{node.name}/"
        mine = {k[len(base) :]: v for k, v in files.items() if k.startswith(base)}
        if not mine:
            continue
        np_ = NodePlan(node.name, [])
        for i in node.interfaces:
            net = arch.network(i.network)
            np_.interfaces.append(
                (i.device, f"{i.address}/{net.subnet.prefixlen}", switch_of(arch, i.network, i.switch), i.network)
            )
        np_.bonds = _bonds(node)
        if "keepalived/keepalived.conf" in mine:
            np_.keepalived = mine["keepalived/keepalived.conf"].decode()
        if "haproxy/haproxy.cfg" in mine:
            np_.haproxy = mine["haproxy/haproxy.cfg"].decode()
        for rel, data in sorted(mine.items()):
            if rel.startswith("sysctl.d/"):
                np_.sysctls += _sysctls(data.decode())
        nodes[node.name] = np_
    if not nodes:
        raise LabError("the generated files configure no node (no nodes/<node>/ files)")

    hap = {n: reroot.parse_haproxy(p.haproxy) for n, p in nodes.items() if p.haproxy}
    kad = {n: reroot.parse_keepalived(p.keepalived) for n, p in nodes.items() if p.keepalived}

    # Stand-in backends: every server of every proxy of the chosen services,
    # on the node that owns the server's address (a backend-only host when
    # it runs neither keepalived nor haproxy).
    owner = {str(i.address): n.name for n in arch.nodes for i in n.interfaces}
    all_lb = [
        s.name
        for s in arch.services
        if s.access is not None and dep.placement.nodes_of(s.name) and s.name not in real_services
    ]
    chosen = all_lb if backend_services is None else [s for s in all_lb if s in backend_services]
    real = [
        s.name
        for s in arch.services
        if s.name in real_services and s.access is not None and dep.placement.nodes_of(s.name)
    ]
    for sname in chosen + real:
        a = access_of(arch, sname)
        vip = str(arch.vip(a.vip).address)
        for port in a.ports:
            for hc in hap.values():
                be = hc.backend_for(vip, port)
                if be is None:
                    continue
                for srv in be.servers:
                    n = owner.get(srv.address)
                    if n is None:
                        if sname not in real:
                            notes.append(f"{sname}: server {srv.address} is no node's address; no stand-in for it")
                        continue
                    if n not in nodes:
                        node = arch.node(n)
                        nodes[n] = NodePlan(
                            n,
                            [
                                (
                                    i.device,
                                    f"{i.address}/{arch.network(i.network).subnet.prefixlen}",
                                    switch_of(arch, i.network, i.switch),
                                    i.network,
                                )
                                for i in node.interfaces
                            ],
                            bonds=_bonds(node),
                        )
                    if sname in real:  # the host is in the lab; the kind runs the service on it
                        continue
                    nodes[n].backend_ports[srv.port] = srv.address
                    if srv.check_port:
                        nodes[n].backend_ports[srv.check_port] = srv.address

    switches = sorted(
        {sw for n in nodes.values() for (_, _, sw, _) in n.interfaces}
        | {sw for n in nodes.values() for sws in n.bonds.values() for sw in sws}
    )
    # Every switch of the lab carries every network on one bridge (this kernel has no
    # 802.1Q and no VLAN-filtering bridge), so one veth pair per switch pair carries all
    # the networks between them: a model's trunk is exactly that one link.
    links: set[tuple[str, str]] = set()
    trunks: dict[tuple[str, str, str], str] = {}
    for net in arch.networks:
        for (a, b), trunk in net.link_parts():
            if a in switches and b in switches:
                links.add((a, b))
                if trunk is not None:
                    trunks[(net.name, a, b)] = trunk.name
        for a, b in net.switch_links():
            if a in switches and b in switches:
                links.add((a, b))
    links_l = sorted(links)
    split_horizon = loop_free(switches, links_l, notes)

    # The client: one interface per network that carries a keepalived VIP,
    # at the highest free host address, on the switch of the group's
    # preferred holder (the side a partition keeps).
    used = {ipaddress.ip_address(a) for a in owner} | {v.address for v in arch.vips}
    client_ifaces: list[tuple[str, str, str, str]] = []
    client_bonds: dict[str, list[str]] = {}
    for g in dep.vrrp_groups:
        if g.manager != "keepalived" or any(c[3] == g.network for c in client_ifaces):
            continue
        net = arch.network(g.network)
        client_ip = next(h for h in reversed(list(net.subnet.hosts())) if h not in used)
        miface = arch.node(g.master).interface_on(net.name)
        dev = f"eth{len(client_ifaces)}"
        client_ifaces.append(
            (
                dev,
                f"{client_ip}/{net.subnet.prefixlen}",
                switch_of(arch, net.name, miface.switch if miface else None),
                net.name,
            )
        )
        if miface is not None and len(miface.switches) > 1:
            client_bonds[dev] = list(miface.switches)
    if not client_ifaces:
        raise LabError(
            "no virtual IP is held by keepalived: the lab runs keepalived and haproxy only "
            "(a Pacemaker-held VIP cannot be drilled here)"
        )
    if any(n.bonds for n in nodes.values()):
        notes.append(
            "bonded interfaces: this kernel has no bonding driver, so each bond is a bridge in the node's "
            "namespace named like the interface, one veth member per switch, kept active-backup "
            f"(miimon {BOND_MIIMON_MS} ms, one member forwarding, gratuitous ARP on failover) by "
            "hamodel.drill.bond; the client is bonded like the VIP's preferred holder"
        )
    if trunks:
        names = sorted(set(trunks.values()))
        notes.append(
            f"trunk(s) {', '.join(names)}: the lab's switches carry every network on one bridge (no "
            "802.1Q in this kernel), so one veth pair per switch pair is the trunk: cutting it cuts "
            "every network it carries"
        )
    return LabPlan(
        switches,
        links_l,
        split_horizon,
        nodes,
        client_ifaces,
        hap,
        kad,
        chosen,
        [s for s in all_lb if s not in chosen],
        notes,
        client_bonds,
        trunks,
    )


def _bonds(node: Any) -> dict[str, list[str]]:
    """device -> switches of each of ``node``'s bonded interfaces (two switches or more)."""
    return {i.device: list(i.switches) for i in node.interfaces if len(i.switches) > 1}


def loop_free(switches: list[str], links: list[tuple[str, str]], notes: list[str]) -> set[tuple[str, str]]:
    """The links to mark split-horizon so the lab's L2 has no loop (the lab runs no STP).

    Per connected group of switches: a tree needs nothing; a full mesh is
    made loop-free by split horizon (a frame entering a switch from one
    inter-switch link never leaves by another, like a fabric); anything
    else is refused.
    """
    comp = {s: s for s in switches}

    def find(x: str) -> str:
        while comp[x] != x:
            x = comp[x]
        return x

    for a, b in links:
        comp[find(a)] = find(b)
    marked: set[tuple[str, str]] = set()
    for root in sorted({find(s) for s in switches}):
        members = [s for s in switches if find(s) == root]
        mine = [l for l in links if find(l[0]) == root]
        n = len(members)
        if len(mine) == n - 1:
            continue
        if len(mine) == n * (n - 1) // 2:
            marked.update(mine)
            notes.append(
                f"inter-switch links of {', '.join(members)} form a full mesh: the lab marks them "
                "split-horizon (bridge port 'isolated') instead of running STP, so the mesh has no L2 "
                "loop; cutting one link therefore separates its two switches, unlike a real fabric"
            )
            continue
        raise LabError(f"inter-switch links {mine} form loops but not a full mesh: the lab has no STP")
    return marked


def switch_counts(arch: Architecture, groups: list[VrrpGroup]) -> dict[str, int]:
    """Per VIP of ``groups``: on how many switches its members sit (a partition needs two).

    A group with a bonded member counts as on one switch: the analysis
    predicts that cutting inter-switch links splits no bonded group (the
    node keeps the network through either switch, as with MLAG, whose
    secondary shuts its bond ports when the peer link fails), but the lab's
    active-backup bonds have no peer-link logic, so an inter-switch cut
    there would split members whose active ports sit on different switches:
    that drill would measure the lab, not the model.
    """
    out = {}
    for g in groups:
        sws = set()
        for n in g.priorities:
            for i in arch.node(n).interfaces:
                if i.network == g.network:
                    sws.add(switch_of(arch, i.network, i.switch))
                    if len(i.switches) > 1:
                        sws = {"bonded"}
                        break
            if sws == {"bonded"}:
                break
        for v in g.vips:
            out[v] = len(sws)
    return out


def describe_lab(p: LabPlan, rewrite_notes: set[str]) -> dict[str, Any]:
    """The report's ``lab`` section: what was built, and what the lab changed in the configs."""
    return {
        "nodes": {
            n: {
                "interfaces": [
                    f"{d} {a} on {'+'.join(np_.bonds.get(d, [sw]))}" + (" (bond)" if d in np_.bonds else "")
                    for d, a, sw, _ in np_.interfaces
                ],
                "keepalived": bool(np_.keepalived),
                "haproxy": bool(np_.haproxy),
                "sysctl": [f"{k}={v}" for k, v in np_.sysctls],
                "backend_ports": sorted(np_.backend_ports),
            }
            for n, np_ in p.nodes.items()
        },
        "switches": p.switches,
        "inter_switch_links": [f"{a}-{b}" for a, b in p.links],
        "split_horizon_links": [f"{a}-{b}" for a, b in sorted(p.split_horizon)],
        "client": "; ".join(
            f"{d} {a} on {'+'.join(p.client_bonds.get(d, [sw]))}" for d, a, sw, _ in p.client_interfaces
        ),
        "backend_services": p.backend_services,
        "services_without_backends": p.skipped_backend_services,
        "config_rewrites": sorted(rewrite_notes),
        "notes": p.notes,
        "daemons": {"keepalived": _version(["keepalived", "-v"]), "haproxy": _version(["haproxy", "-v"])},
    }


def _version(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=5)
        return (p.stdout or p.stderr).splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"
