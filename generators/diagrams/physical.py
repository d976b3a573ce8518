"""The physical view: failure domains, nodes with their services, VIP holders,
switches and links; with a finding, the state its failure leaves.
"""

from __future__ import annotations

from hamodel.generators.diagrams.after import AfterFailure, after_failure, involved_nodes
from hamodel.generators.diagrams.draw import (
    _BACKUP_BG,
    _BOND,
    _FAILED,
    _FAILED_BG,
    _GREY_BG,
    _LOST_BG,
    _MASTER_BG,
    _POWER,
    _TRUNK,
    _WITNESS,
    _WITNESS_BG,
    _e,
    _edge,
    _Graph,
    _icon,
    _id,
    _node,
)

from hamodel.deployment import Deployment, Finding
from hamodel.model import Architecture


def _failed_components(dep: Deployment, finding: Finding | None) -> set[str]:
    """The component ids of a finding's scenario (``node:ctl-1``,
    ``domain:r1``, ``switch:sw-1``, ``link:mgmt:sw-1~sw-2``,
    ``proc:haproxy@ctl-1``; see :mod:`hamodel.analysis.components`)."""
    return set(finding.scenario) if finding is not None else set()


def _domain_down(arch: Architecture, domain: str, failed: set[str]) -> bool:
    """``domain`` or a domain enclosing it failed."""
    return any(f"domain:{d}" in failed or f"switch:{d}" in failed for d in arch.domain_ancestors(domain))


def _node_down(arch: Architecture, node: str, failed: set[str]) -> bool:
    """Down as the analysis says: the node or one of its domains failed, or
    (dual-corded) every one of its power feeds is down."""
    if f"node:{node}" in failed or any(f"domain:{d}" in failed for d in arch.node_domains(node)):
        return True
    feeds = arch.node(node).power
    return bool(feeds) and all(_domain_down(arch, f, failed) for f in feeds)


def _feeds_of(arch: Architecture, node: str, chain: list[str]) -> tuple[list[str], bool]:
    """The power feeds drawn as edges into ``node`` and whether it is
    dual-corded: its ``power`` list, else the power-kind domains among its
    ``domains`` that are not drawn as its clusters (each alone stops it)."""
    n = arch.node(node)
    if n.power:
        return list(n.power), len(n.power) > 1
    kinds = {d.name: d.kind for d in arch.domains}
    return [d for d in n.domains if kinds.get(d) == "power" and d not in chain], False


def _primary_chain(arch: Architecture, node: str) -> list[str]:
    """The deepest nesting chain of a node's (non-switch) domains, outermost first.

    Graphviz clusters form a tree, so one chain is drawn as clusters; the
    node's other domains (a power feed, say) are listed in its label.
    """
    best: list[str] = []
    for d in arch.node(node).domains:
        chain = arch.domain_ancestors(d)
        if len(chain) > len(best):
            best = chain
    return list(reversed(best))


def _node_table(
    dep: Deployment,
    node: str,
    failed: set[str],
    lost: set[str],
    others: list[str],
    after: AfterFailure | None = None,
    shown: set[str] | None = None,
) -> str:
    """A node's box. ``after``: drawn as the failure leaves it (greyed when down or
    cut off, VRRP roles after the election, only its own lost instances shaded);
    ``shown``: the services listed by name (the others are counted)."""
    arch = dep.architecture
    n = arch.node(node)
    down = _node_down(arch, node, failed) if after is None else after.node_failed(node)
    head_bg = (_GREY_BG if after is not None else _FAILED_BG) if down else "#FFFFFF"
    icon = _e(_icon("onprem/compute/server.png"))
    rows = [
        f'<TR><TD COLSPAN="2" BGCOLOR="{head_bg}"><TABLE BORDER="0" CELLSPACING="0" CELLPADDING="1"><TR>'
        f'<TD FIXEDSIZE="TRUE" WIDTH="28" HEIGHT="28"><IMG SRC="{icon}" SCALE="TRUE"/></TD>'
        f"<TD><B>{_e(node)}</B>"
        + (
            f' <FONT COLOR="{_FAILED}">({"cut off" if after is not None and node in after.cut_off else "failed"})'
            "</FONT>"
            if down
            else ""
        )
        + "</TD></TR></TABLE></TD></TR>"
    ]
    plain = [f"{i.device} {i.address}" for i in n.interfaces if len(i.switches) < 2]
    if plain:
        rows.append(f'<TR><TD COLSPAN="2"><FONT POINT-SIZE="10">{_e(", ".join(plain))}</FONT></TD></TR>')
    for i in n.interfaces:
        if len(i.switches) > 1:  # bonded: the network stays while any of its switches is up
            rows.append(
                f'<TR><TD COLSPAN="2"><FONT POINT-SIZE="10" COLOR="{_BOND}">{_e(i.device)} {_e(i.address)} '
                f"bond {_e(' + '.join(i.switches))}</FONT></TD></TR>"
            )
    if others:
        rows.append(f'<TR><TD COLSPAN="2"><FONT POINT-SIZE="10">also in: {_e(", ".join(others))}</FONT></TD></TR>')
    if n.power and len(n.power) > 1:
        rows.append(
            f'<TR><TD COLSPAN="2"><FONT POINT-SIZE="10" COLOR="{_POWER}">dual-corded: '
            f"{_e(' + '.join(n.power))}</FONT></TD></TR>"
        )
    for g in dep.vrrp_groups:
        if node in g.priorities:
            if after is None:
                master, role = g.master == node, "MASTER" if g.master == node else "backup"
            else:
                master = node in after.masters.get(g.service, [])
                role = (
                    "down"
                    if node in after.down
                    else "FAULT"
                    if node in after.fault.get(g.service, set())
                    else "MASTER" + (" (one of two)" if len(after.masters.get(g.service, [])) > 1 else "")
                    if master
                    else "backup"
                )
            mark = "\u2605 " if master else ""
            bg = _MASTER_BG if master else _GREY_BG if role in ("FAULT", "down") else _BACKUP_BG
            rows.append(
                f'<TR><TD COLSPAN="2" BGCOLOR="{bg}">'
                f"{mark}{_e(', '.join(g.vips))}: {role} (priority {g.priorities[node]})</TD></TR>"
            )
    placed = list(dep.placement.services_on(node))
    services = [s for s in placed if shown is None or s in shown]
    cells = []
    for s in services:
        svc = dep.architecture.service(s)
        bad = (
            (s in after.lost.get(node, set()))
            if after is not None
            else (s in lost or f"proc:{svc.process}@{node}" in failed)
        )
        if svc.strategy.kind == "witness":
            # A vote-only member: drawn apart from the services it serves none of.
            bg = f' BGCOLOR="{_LOST_BG if bad else _WITNESS_BG}"'
            cells.append(
                f'<TD ALIGN="LEFT"{bg}><FONT POINT-SIZE="10" COLOR="{_WITNESS}"><I>{_e(s)} '
                f"(witness: votes in {_e(svc.strategy.of)})</I></FONT></TD>"
            )
            continue
        bg = f' BGCOLOR="{_LOST_BG}"' if bad else ""
        cells.append(f'<TD ALIGN="LEFT"{bg}><FONT POINT-SIZE="10">{_e(s)}</FONT></TD>')
    half = (len(cells) + 1) // 2
    for i in range(half):
        right = cells[half + i] if half + i < len(cells) else "<TD></TD>"
        rows.append(f"<TR>{cells[i]}{right}</TR>")
    if len(services) < len(placed):
        rest = len(placed) - len(services)
        what = "services on every node of their roles" if after is None else "other services"
        rows.append(
            f'<TR><TD COLSPAN="2" ALIGN="LEFT"><FONT POINT-SIZE="10"><I>+ {rest} {what}'
            + (" (lost)" if after is not None and down else "")
            + "</I></FONT></TD></TR>"
        )
    border = _FAILED if down else "#7B8894"
    return (
        f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" BGCOLOR="#FFFFFF" COLOR="{border}">'
        + "".join(rows)
        + "</TABLE>>"
    )


def _physical(dep: Deployment, finding: Finding | None = None) -> str:
    from diagrams import Cluster
    from hamodel.generators.words import plain_component

    arch = dep.architecture
    failed = _failed_components(dep, finding)
    lost = set(finding.services) if finding else set()
    after = after_failure(dep, finding, _node_down) if finding is not None else None
    title = f"{arch.title or arch.name}: physical view"
    if finding is not None:
        scenario = (
            " + ".join(plain_component(c, dep) for c in finding.scenario)
            if finding.scenario
            else "no component failure needed"
        )
        title = (
            f"{arch.title or arch.name}: {finding.title}\nafter: {scenario}\n"
            "grey, red border: failed or cut off; shaded: lost instances; \u2605: VRRP master after the failure"
        )
    # The nodes drawn: all of them, or for a finding those it involves.
    drawn = (
        set(involved_nodes(dep, finding, after))
        if finding is not None and after is not None
        else {n.name for n in arch.nodes}
    )
    if finding is not None:
        shown = set(finding.services[:1])
    else:  # the main view names the placement exceptions; the rest are counted
        shown = {
            s.name
            for s in arch.services
            if s.strategy.kind == "witness"
            or list(dep.placement.nodes_of(s.name)) != [n.name for n in arch.nodes_with_roles(list(s.on))]
        }
    domains = {d.name: d for d in arch.domains}
    chains = {n.name: _primary_chain(arch, n.name) for n in arch.nodes if n.name in drawn}

    with _Graph(title, direction="LR", ranksep="0.8") as g:
        server_of: dict[str, object] = {}

        def place_nodes(prefix: list[str]) -> None:
            here = [n for n in arch.nodes if n.name in chains and chains[n.name] == prefix]
            for n in here:
                # Power feeds are drawn as edges, the other domains named.
                others = sorted(set(n.domains) - set(prefix) - set(_feeds_of(arch, n.name, prefix)[0]))
                server_of[n.name] = _node(
                    _node_table(dep, n.name, failed, lost, others, after, shown), _id("node", n.name), shape="plain"
                )
            children = sorted(
                {
                    chains[n.name][len(prefix)]
                    for n in arch.nodes
                    if n.name in chains
                    and len(chains[n.name]) > len(prefix)
                    and chains[n.name][: len(prefix)] == prefix
                }
            )
            for child in children:
                d = domains[child]
                attrs = {}
                if f"domain:{child}" in failed:
                    attrs = {"bgcolor": _FAILED_BG, "pencolor": _FAILED, "fontcolor": _FAILED, "penwidth": "2"}
                with Cluster(
                    f"{d.kind} {d.name}" + (" (failed)" if f"domain:{child}" in failed else ""), graph_attr=attrs
                ):
                    place_nodes(prefix + [child])

        place_nodes([])

        # Networks: their switches (one cluster per set of networks a switch
        # carries) and the links between them.
        switch_node: dict[str, object] = {}
        carried: dict[str, list[str]] = {}
        for net in arch.networks:
            for sw in net.switches:
                carried.setdefault(sw, []).append(net.name)
        nets = {net.name: net for net in arch.networks}
        if finding is not None:  # only the switches the drawn nodes hang on, and the failed ones
            used = {sw for n in arch.nodes if n.name in drawn for i in n.interfaces for sw in i.switches}
            used |= {c.split(":", 1)[1] for c in failed if c.startswith("switch:")}
            used |= {x for c in failed if c.startswith("link:") for x in c.rsplit(":", 1)[1].split("~")}
            carried = {sw: v for sw, v in carried.items() if sw in used}
        for group in sorted({tuple(v) for v in carried.values()}, key=lambda t: [list(nets).index(x) for x in t]):
            # One network per line: the cluster is no wider than its switches.
            label = ("network " if len(group) == 1 else "networks\n") + "\n".join(
                f"{x} {nets[x].subnet}" for x in group
            )
            with Cluster(label, graph_attr={"bgcolor": "#F8F9F9"}):
                for sw in sorted(x for x, v in carried.items() if tuple(v) == group):
                    bad = f"switch:{sw}" in failed or _domain_down(arch, sw, failed)
                    switch_node[sw] = _node(
                        sw + (" (failed)" if bad else ""),
                        _id("switch", sw),
                        "generic/network/switch.png",
                        fontcolor=_FAILED if bad else "#2D3436",
                    )
        for net in arch.networks:
            if not net.switches:
                with Cluster(f"network {net.name} {net.subnet}", graph_attr={"bgcolor": "#F8F9F9"}):
                    switch_node[f"net:{net.name}"] = _node(
                        f"{net.name}\n{net.subnet}", _id("net", net.name), "generic/network/subnet.png"
                    )
        # Inter-switch links: one edge per network link; a trunk is one edge
        # however many networks it carries (one failure cuts them all).
        trunks: dict[str, tuple[tuple[str, str], list[str]]] = {}
        for net in arch.networks:
            for (a, b), t in net.link_parts():
                if t is not None:
                    trunks.setdefault(t.name, ((a, b), []))[1].append(net.name)
                    continue
                cut = f"link:{net.name}:{a}~{b}" in failed
                if a not in switch_node or b not in switch_node:
                    continue
                _edge(
                    switch_node[a],
                    switch_node[b],
                    dir="none",
                    style="dashed" if cut else "bold",
                    constraint="false",
                    color=_FAILED if cut else "#566573",
                    label="cut" if cut else "",
                    fontcolor=_FAILED,
                    tooltip=f"link {net.name}: {a} - {b}",
                    **{"class": "link"},
                )
        for name, ((a, b), carried_nets) in sorted(trunks.items()):
            cut = f"trunk:{name}" in failed
            if a not in switch_node or b not in switch_node:
                continue
            _edge(
                switch_node[a],
                switch_node[b],
                dir="none",
                style="dashed" if cut else "bold",
                constraint="false",
                penwidth="3",
                color=_FAILED if cut else _TRUNK,
                fontcolor=_FAILED if cut else _TRUNK,
                fontsize="10",
                xlabel=f"trunk {name}: {', '.join(carried_nets)}" + (" (cut)" if cut else ""),
                tooltip=f"trunk {name} carries {', '.join(carried_nets)}",
                **{"class": "trunk"},
            )
        # Attachments: one edge per (node, switch); every switch of a bond
        # gets its edge, drawn as a double line.
        for n in sorted(arch.nodes, key=lambda n: n.name):
            if n.name not in server_of:
                continue
            attach: dict[str, tuple[list[str], bool]] = {}
            for i in n.interfaces:
                targets = i.switches
                if not targets:
                    net = arch.network(i.network)
                    targets = [net.switches[0]] if net.switches else [f"net:{net.name}"]
                for t in targets:
                    devs, bonded = attach.setdefault(t, ([], False))
                    attach[t] = (devs + [i.device], bonded or len(i.switches) > 1)
            for t, (devs, bonded) in sorted(attach.items()):
                if t not in switch_node:
                    continue
                down = t in carried and (f"switch:{t}" in failed or _domain_down(arch, t, failed))
                colour = _FAILED if down else _BOND if bonded else "#AEB6BE"
                _edge(
                    server_of[n.name],
                    switch_node[t],
                    dir="none",
                    color=f"{colour}:{colour}" if bonded else colour,
                    taillabel=", ".join(devs),
                    labelfontsize="9",
                    labelfontcolor="#566573",
                    style="dashed" if down else "solid",
                    penwidth="1.2" if bonded else "1",
                    tooltip=f"{n.name} {', '.join(devs)}" + (" bond" if bonded else "") + f" to {t}",
                    **{"class": "bond" if bonded else "port"},
                )

        # Power feeds: an edge per cord; a dual-corded node has one from each
        # of its feeds (it stops only when all are down).
        feed_node: dict[str, object] = {}
        for n in sorted(arch.nodes, key=lambda n: n.name):
            if n.name not in server_of:
                continue
            feeds, dual = _feeds_of(arch, n.name, chains[n.name])
            for f in feeds:
                bad = _domain_down(arch, f, failed)
                if f not in feed_node:
                    feed_node[f] = _node(
                        f"power {f}" + (" (failed)" if bad else ""),
                        _id("power", f),
                        shape="box",
                        style="rounded,filled",
                        fillcolor=_FAILED_BG if bad else "#FDEBD0",
                        color=_FAILED if bad else _POWER,
                        fontcolor=_FAILED if bad else "#2D3436",
                        fontsize="11",
                        margin="0.12",
                    )
                # Half-transparent: many cords, and the nodes' own rows say it too.
                _edge(
                    feed_node[f],
                    server_of[n.name],
                    color=_FAILED if bad else _POWER + "99",
                    arrowhead="none",
                    style="dashed" if bad else "solid",
                    penwidth="1.3" if dual else "1",
                    tooltip=f"{n.name} " + ("dual-corded, cord from " if dual else "powered by ") + f,
                    **{"class": "power dual-corded" if dual else "power"},
                )

        # Virtual IPs: an edge to every holder, bold to the preferred one.
        for v in arch.vips:
            holders = dep.vip_holders(v.name)
            if not holders:
                continue
            vnode = _node(
                f"{v.name}\n{v.address}",
                _id("vip", v.name),
                shape="cds",
                style="filled",
                fillcolor="#FCF3CF",
                fontsize="11",
                margin="0.15",
            )
            group = next((gr for gr in dep.vrrp_groups if v.name in gr.vips), None)
            for h in holders:
                if h not in server_of:
                    continue
                if after is not None and group is not None:
                    master = h in after.masters.get(group.service, [])
                else:
                    master = group is not None and group.master == h
                _edge(
                    vnode,
                    server_of[h],
                    style="bold" if master else "dashed",
                    color="#1E8449" if master else "#7B8894",
                    arrowhead="none" if not master else "normal",
                    headport="w",
                )
    return g.source
