"""The state a failure leaves, for the per-finding diagrams: which nodes
are down or cut off, which side of a partition each node is on, who is VRRP
master on each side (keepalived elects one per side: two masters in a split
brain), and which instances are lost.

Drawn from the model's topology as the failure leaves it (the same reading
as the failure analysis: a switch cuts its ports, a cut link separates its
switches, a node whose every path is gone is cut off; a node cut off from
the group's network, or whose tracked process failed, goes to FAULT)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hamodel.deployment import Deployment, Finding


@dataclass
class AfterFailure:
    down: set[str] = field(default_factory=set)  # nodes stopped (node, rack, power)
    cut_off: set[str] = field(default_factory=set)  # running, but every port's switch is gone
    side: dict[str, int] = field(default_factory=dict)  # node -> partition side (running, connected)
    masters: dict[str, list[str]] = field(default_factory=dict)  # VRRP group service -> masters after it
    fault: dict[str, set[str]] = field(default_factory=dict)  # group service -> members in FAULT
    lost: dict[str, set[str]] = field(default_factory=dict)  # node -> services whose instance there is lost

    def node_failed(self, node: str) -> bool:
        return node in self.down or node in self.cut_off


def after_failure(dep: Deployment, finding: Finding, node_down) -> AfterFailure:
    """``node_down(arch, node, failed)``: the diagram's reading of a node stop."""
    arch = dep.architecture
    failed = set(finding.scenario)
    st = AfterFailure()
    st.down = {n.name for n in arch.nodes if node_down(arch, n.name, failed)}
    dead_switches = {
        d.name
        for d in arch.domains
        if f"switch:{d.name}" in failed
        or any(f"domain:{a}" in failed or f"switch:{a}" in failed for a in arch.domain_ancestors(d.name))
    }

    # Switch graph as the failure leaves it: surviving switches, uncut links.
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for net in arch.networks:
        for sw in net.switches:
            find(f"{net.name}/{sw}")
        for (a, b), trunk in net.link_parts():
            cut = (f"trunk:{trunk.name}" in failed) if trunk is not None else f"link:{net.name}:{a}~{b}" in failed
            if not cut and a not in dead_switches and b not in dead_switches:
                parent[find(f"{net.name}/{a}")] = find(f"{net.name}/{b}")

    def attachments(node: str, network: str) -> list[str]:
        out = []
        net = arch.network(network)
        for i in arch.node(node).interfaces:
            if i.network != network:
                continue
            sws = i.switches or (net.switches[:1] if net.switches else [])
            if not sws:
                out.append(f"{network}/*")  # a flat network: everyone on it is together
            out += [f"{network}/{s}" for s in sws if s not in dead_switches]
        return out

    for n in arch.nodes:
        if n.name in st.down:
            continue
        if n.interfaces and all(not attachments(n.name, i.network) for i in n.interfaces):
            st.cut_off.add(n.name)
    # Sides: running nodes grouped by the switch components they reach (first network of each node).
    sides: dict[str, int] = {}
    for n in arch.nodes:
        if st.node_failed(n.name) or not n.interfaces:
            continue
        reach = sorted({find(a) if not a.endswith("/*") else a for a in attachments(n.name, n.interfaces[0].network)})
        key = reach[0] if reach else n.name
        st.side[n.name] = sides.setdefault(key, len(sides))

    procs = {c.split(":", 1)[1] for c in failed if c.startswith("proc:")}
    for g in dep.vrrp_groups:
        svc = arch.service(g.service)
        by_side: dict[object, list[str]] = {}
        faulted = set()
        for m in g.members:  # highest priority first
            att = attachments(m, g.network) if m not in st.down else []
            if m in st.down or not att or f"{svc.process}@{m}" in procs:
                faulted.add(m)
                continue
            by_side.setdefault(find(att[0]) if not att[0].endswith("/*") else att[0], []).append(m)
        st.fault[g.service] = faulted
        st.masters[g.service] = sorted(ms[0] for ms in by_side.values())

    for n in arch.nodes:
        lost = set()
        for s in dep.placement.services_on(n.name):
            if st.node_failed(n.name) or f"{arch.service(s).process}@{n.name}" in procs:
                lost.add(s)
        st.lost[n.name] = lost
    return st


def involved_nodes(dep: Deployment, finding: Finding, st: AfterFailure) -> list[str]:
    """The nodes a finding's diagram shows: those the failure hits, those running
    the finding's services, and the members of the VIP groups it concerns."""
    arch = dep.architecture
    if not finding.services:
        return [n.name for n in arch.nodes]  # nothing to focus on: the whole layout
    keep = set(st.down) | set(st.cut_off)
    for c in finding.scenario:
        kind, _, name = c.partition(":")
        if kind == "node":
            keep.add(name)
        elif kind == "proc":
            keep.add(name.split("@", 1)[1])
    for s in finding.services[:1]:  # the finding's own service; the rest are its dependents
        keep.update(dep.placement.nodes_of(s))
    for g in dep.vrrp_groups:
        if g.service in finding.services[:1]:
            keep.update(g.members)
    for g in dep.vrrp_groups:  # the address moved: draw where it went
        if g.master in keep and g.master not in st.masters.get(g.service, []):
            keep.update(st.masters.get(g.service, []))
    if len(st.side) > 0 and len(set(st.side.values())) > 1:
        keep.update(st.side)  # a partition: both sides
    return [n.name for n in arch.nodes if n.name in keep] or [n.name for n in arch.nodes]
