"""Architecture diagrams with the ``diagrams`` package, rendered by graphviz.

Views of a :class:`~hamodel.deployment.Deployment` (never a second source of
truth):

- ``physical``: failure domains as clusters, nodes inside them with the
  services placed on each, VIP holders marked (MASTER / backup, priority),
  switches and the inter-switch links.
- ``logical``: clients -> virtual IP -> its holder (HAProxy) -> the services
  load balanced behind it; application clusters with their peers; the
  dependencies between services.
- per finding: the physical view with the failed components of the
  finding's scenario and the services it takes down highlighted.

Output is deterministic (every graphviz id is derived from model names, no
random ``nodeid``) and self-contained: the icons ``diagrams`` references by
absolute site-packages path are embedded as ``data:`` URIs, which also makes
the SVG display when loaded through ``<img>``. Rendering happens in a
private temporary directory; the caller gets bytes.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from hamodel.generators.diagrams.after import AfterFailure, after_failure, involved_nodes

from hamodel.deployment import Deployment, Finding
from hamodel.model import STRATEGY_TITLES, Architecture

if TYPE_CHECKING:
    from diagrams import Node

__all__ = ["VIEWS", "finding_stem", "generate", "render", "render_dot"]

VIEWS: tuple[str, ...] = ("overview", "physical", "logical")

_FAILED = "#C0392B"
_FAILED_BG = "#FADBD8"
_LOST_BG = "#F5B7B1"
_MASTER_BG = "#D5F5E3"
_BACKUP_BG = "#EAF2F8"
_GREY_BG = "#D5D8DC"  # failed or cut off, after the failure
_BOND = "#7D3C98"  # bonded interfaces: both edges, drawn as a double line
_POWER = "#B9770E"  # power feeds and their cords
_TRUNK = "#1F618D"  # a trunk: one physical link carrying several networks
_WITNESS = "#6C3483"  # vote-only members
_WITNESS_BG = "#F4ECF7"


def _icon(relative: str) -> str:
    import diagrams

    return str(Path(diagrams.__file__).resolve().parent.parent / "resources" / relative)


def _id(*parts: str) -> str:
    """A stable graphviz id from model names, injective: every character
    other than a letter or digit becomes ``_xx`` (its hex code) and parts
    are joined by ``__`` (``node.a`` and ``node_a`` stay distinct)."""
    return "__".join(re.sub(r"[^A-Za-z0-9]", lambda m: f"_{ord(m.group()):02x}", p) for p in parts)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def finding_stem(finding: Finding) -> str:
    """A file-name-safe, stable stem for a finding's diagram."""
    safe = re.sub(r"[^a-z0-9_-]+", "-", finding.id.lower()).strip("-")[:60]
    return f"finding-{safe}-{hashlib.sha256(finding.id.encode()).hexdigest()[:6]}"


# -- graphviz source ---------------------------------------------------------


class _Graph:
    """Thin wrapper over ``diagrams.Diagram`` that never renders by itself."""

    def __init__(self, title: str, direction: str = "TB", **graph_attr: str):
        import diagrams

        attrs = {
            "pad": "0.4",
            "splines": "spline",
            "nodesep": "0.35",
            "ranksep": "0.6",
            "fontsize": "18",
            "labelloc": "t",
            "compound": "true",
            "newrank": "true",
        }
        attrs.update(graph_attr)
        # A plain graphviz label interprets backslash escapes (\G, \N, \L, ...)
        # and HTML entities (&amp;), and the title holds model text (the
        # architecture name): escape both so it shows as written.
        title = title.replace("\\", "\\\\").replace("&", "&amp;")
        self.diagram = diagrams.Diagram(
            title, filename="diagram", show=False, direction=direction, outformat="svg", graph_attr=attrs
        )

    def __enter__(self) -> _Graph:
        self.diagram.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        # Leave the context without diagrams' own render (which writes into
        # the current directory): we render the source ourselves.
        from diagrams import setdiagram

        setdiagram(None)  # pyright: ignore[reportArgumentType]  (diagrams' own way out of a context; typed Diagram)

    @property
    def source(self) -> str:
        return self.diagram.dot.source


def _node(label: str, nodeid: str, icon: str | None = None, **attrs: str) -> Node:
    import diagrams

    if icon is not None:
        # The icon and its text in one HTML-like label: the text never
        # overlaps the icon, whatever its number of lines.
        text = "<BR/>".join(_e(line) for line in label.split("\n"))
        label = (
            f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            f'<TR><TD FIXEDSIZE="TRUE" WIDTH="56" HEIGHT="56"><IMG SRC="{_e(_icon(icon))}" SCALE="TRUE"/></TD></TR>'
            f'<TR><TD><FONT POINT-SIZE="11">{text}</FONT></TD></TR></TABLE>>'
        )
        attrs = {"shape": "plain", "fixedsize": "false", "width": "0", "height": "0", **attrs}
    else:
        attrs = {"fixedsize": "false", "width": "0", "height": "0", "labelloc": "c", **attrs}
    return diagrams.Node(label, nodeid=nodeid, **attrs)  # pyright: ignore[reportArgumentType]  (diagrams types **attrs as Dict: each is a str)


def _edge(a, b, **attrs: str) -> None:
    from diagrams import Edge

    # diagrams types Edge's **attrs as Dict (each is a Graphviz attribute, a str).
    if attrs.get("dir") == "none":
        a - Edge(**attrs) - b  # pyright: ignore[reportArgumentType, reportUnusedExpression]
    else:
        a >> Edge(**attrs) >> b  # pyright: ignore[reportArgumentType, reportUnusedExpression]


# -- the views --------------------------------------------------------------


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


def _how(svc) -> str:
    """A short line saying how a service survives (the diagram's label)."""
    st = svc.strategy
    kind = st.kind
    if kind == "behind_vip":
        return "behind " + st.vip
    if kind == "coordinated":
        via = f" via {', '.join(st.via)}" if st.via else ""
        return f"{st.mechanism}{via}"
    if kind == "active_passive":
        return "active/passive, " + ("Pacemaker-managed" if st.manager else "no fail-over")
    if kind == "sharded":
        return "sharded, no fail-over"
    if kind == "app_cluster":
        managed = ", Pacemaker-managed" if st.manager else ""
        return f"clustered, quorum {st.quorum}{managed}"
    if kind == "witness":
        return f"witness, votes in {st.of}"
    if kind == "elected":
        # What a cut-off leader does decides whether a partition splits it.
        return (
            f"leader lock in {st.by}"
            + ("" if st.steps_down else ", old master keeps writing")
            + (f", min {st.min_replicas} replica{'s' * (st.min_replicas != 1)}" if st.min_replicas else "")
        )
    return STRATEGY_TITLES[kind]


def _is_holder(svc) -> bool:
    """A VIP holder (HAProxy under keepalived or Pacemaker)."""
    return svc.strategy.kind in ("vrrp", "pacemaker_vip")


def _holder_label(dep: Deployment, svc, where: str) -> str:
    grp = dep.group_of(svc.name)
    if grp is None:
        return f"{svc.name}\n{where}"
    if svc.strategy.kind == "vrrp":
        return f"{svc.name}\n{where}\nVRID {grp.vrid}, master {grp.master}"
    return f"{svc.name}\n{where}\npreferred {grp.master}"


def _where(dep: Deployment, s: str) -> str:
    nodes = dep.placement.nodes_of(s)
    if not nodes:
        return "not placed"
    if len(nodes) > 3:
        return f"{len(nodes)} instances"
    return f"on {', '.join(nodes)}"


def _vip_and_holders(dep: Deployment, *, overview: bool) -> dict[str, str]:
    """The VIP holders (HAProxy), returns ``{vip name: holder node id}``.

    In the overview, clients -> VIP -> holder, and the holders sit in one
    cluster per strategy (Keepalived or Pacemaker)."""
    from diagrams import Cluster

    arch = dep.architecture
    holder_of: dict[str, str] = {}
    clients = _node("clients", "clients", "onprem/client/users.png") if overview else None
    vnode = {}
    if overview:
        for v in arch.vips:
            if dep.vip_holders(v.name) or any(_is_holder(s) and v.name in s.holds_vips for s in arch.services):
                vnode[v.name] = _node(
                    f"{v.name}\n{v.address}",
                    _id("vip", v.name),
                    shape="cds",
                    style="filled",
                    fillcolor="#FCF3CF",
                    fontsize="11",
                    margin="0.15",
                )
                _edge(clients, vnode[v.name])
    for kind in ("vrrp", "pacemaker_vip"):
        services = [s for s in arch.services if s.strategy.kind == kind]
        if not services:
            continue
        with (
            Cluster(
                STRATEGY_TITLES[kind],
                graph_attr={"label": STRATEGY_TITLES[kind], "fontsize": "13", "bgcolor": "#E8F8F5"},
            )
            if overview
            else _nothing()
        ):
            for s in services:
                icon = "onprem/network/haproxy.png" if s.process == "haproxy" else None
                node = _node(
                    _holder_label(dep, s, _where(dep, s.name)),
                    _id("svc", s.name),
                    icon,
                    **({} if icon else {"shape": "box", "style": "rounded"}),
                )
                for v in s.holds_vips:
                    holder_of[v] = node.nodeid
                    if v in vnode:
                        _edge(vnode[v], node, label="held by", fontsize="10")
    return holder_of


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _name_table(title: str, cells: list[str], columns: int, bgcolor: str = "#FFFFFF") -> str:
    """An HTML-like label: a bold title over ``cells`` (already escaped) laid
    out in ``columns`` columns, column-major so that sorted names read down."""
    rows = max(1, -(-len(cells) // columns))
    cols = max(1, -(-len(cells) // rows))
    body = []
    for r in range(rows):
        tds = []
        for c in range(cols):
            i = c * rows + r
            tds.append(f'<TD ALIGN="LEFT" BALIGN="LEFT">{cells[i]}</TD>' if i < len(cells) else "<TD></TD>")
        body.append("<TR>" + "".join(tds) + "</TR>")
    return (
        f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" COLOR="#7B8894" '
        f'BGCOLOR="{bgcolor}"><TR><TD COLSPAN="{cols}"><B>{_e(title)}</B></TD></TR>' + "".join(body) + "</TABLE>>"
    )


# Strategy kinds, in reading order of the overview, and the services that
# reach the clients through a VIP come first.
_OVERVIEW_ORDER = (
    "vrrp",
    "pacemaker_vip",
    "behind_vip",
    "app_cluster",
    "elected",
    "witness",
    "coordinated",
    "active_passive",
    "sharded",
    "external",
)
_FED_BY_VIP = {"behind_vip"}


def _overview(dep: Deployment) -> str:
    """Clients, the VIPs, HAProxy, and every service grouped by HA strategy,
    in the spirit of the reference architecture's figure.

    One cluster per strategy present; a strategy's services are listed in a
    table (not one node each), so 38 services stay readable at page width.
    Dependencies are drawn once per (strategy, strategy it depends on)."""
    from diagrams import Cluster

    arch = dep.architecture
    by_kind: dict[str, list] = {}
    for s in arch.services:
        by_kind.setdefault(s.strategy.kind, []).append(s)
    kind_of = {s.name: s.strategy.kind for s in arch.services}
    anchor: dict[str, Node] = {}  # kind -> a node inside its cluster
    with _Graph(f"{arch.title or arch.name}: overview", direction="TB", ranksep="0.55", nodesep="0.3") as g:
        holder_of = _vip_and_holders(dep, overview=True)
        for kind in _OVERVIEW_ORDER:
            if kind not in by_kind or kind in ("vrrp", "pacemaker_vip"):
                continue
            services = sorted(by_kind[kind], key=lambda s: s.name)
            cells = []
            for s in services:
                extra = ""
                if kind in ("app_cluster", "active_passive", "sharded", "elected", "witness"):
                    extra = _how(s).split(", ", 1)[-1] if kind not in ("elected", "witness") else _how(s)
                    if kind == "active_passive" and not s.strategy.manager:
                        extra += ", " + _where(dep, s.name)
                    extra = f'<BR ALIGN="LEFT"/><FONT POINT-SIZE="10" COLOR="#566573">{_e(extra)}</FONT>'
                cells.append(f'<FONT POINT-SIZE="11">{_e(s.name)}</FONT>{extra}')
            # Wide enough to stay short, narrow enough for the page.
            columns = 3 if len(cells) > 12 and kind in _FED_BY_VIP else 2 if len(cells) > 4 else 1
            # A long title wraps at its comma: the cluster is no wider than its table.
            title = (
                STRATEGY_TITLES[kind].replace(", ", ",\n") if len(STRATEGY_TITLES[kind]) > 32 else STRATEGY_TITLES[kind]
            )
            with Cluster(
                STRATEGY_TITLES[kind],
                graph_attr={
                    "label": title,
                    "fontsize": "13",
                    "bgcolor": "#EBF5FB" if kind in _FED_BY_VIP else "#FEF9E7" if kind == "app_cluster" else "#F4F6F6",
                },
            ):
                anchor[kind] = _node(
                    _name_table(f"{len(services)} service{'s' * (len(services) != 1)}", cells, columns),
                    _id("strategy", kind),
                    shape="plain",
                )
        # Load balancing: one edge per (holder, strategy) it feeds.
        fed: set[tuple[str, str]] = set()
        for s in arch.services:
            a = s.access
            if a is None or a.vip not in holder_of or s.strategy.kind not in anchor:
                continue
            key = (holder_of[a.vip], s.strategy.kind)
            if key in fed:
                continue
            fed.add(key)
            g.diagram.dot.edge(
                holder_of[a.vip],
                anchor[s.strategy.kind].nodeid,
                color="#2874A6",
                penwidth="1.5",
                lhead="cluster_" + STRATEGY_TITLES[s.strategy.kind],
            )
        # Witnesses vote in a cluster without depending on it: a dotted edge.
        votes = sorted({s.strategy.of for s in by_kind.get("witness", ()) if kind_of.get(s.strategy.of) in anchor})
        for kind in sorted({kind_of[c] for c in votes}):
            g.diagram.dot.edge(
                anchor["witness"].nodeid,
                anchor[kind].nodeid,
                style="dotted",
                color=_WITNESS,
                fontcolor=_WITNESS,
                fontsize="10",
                fontname="Sans-Serif",
                penwidth="1.5",
                label="votes in " + ", ".join(c for c in votes if kind_of[c] == kind),
                **{"class": "witness-vote"},
            )
        if votes:  # beside the clusters they vote in, not on a row of their own (page width)
            g.diagram.dot.body.append(
                "\t{rank=same; "
                + "; ".join(f'"{anchor[k].nodeid}"' for k in ["witness", *sorted({kind_of[c] for c in votes})])
                + "}\n"
            )
        # Dependencies between strategies, bundled: the edge is labelled with
        # the services depended on. Drawn from the provider to its users
        # (arrow back) so the clustered backbone sits above the workers.
        needs: dict[tuple[str, str], set[str]] = {}
        for s in arch.services:
            for d in s.dependencies:
                dk = kind_of.get(d)
                if dk is None or dk == s.strategy.kind or anchor.get(dk) is None or anchor.get(s.strategy.kind) is None:
                    continue
                needs.setdefault((s.strategy.kind, dk), set()).add(d)
        for (user, provider), names in sorted(needs.items()):
            attrs = {
                "style": "dashed",
                "color": "#7B8894",
                "fontsize": "10",
                "fontcolor": "#566573",
                "fontname": "Sans-Serif",
                "label": ", ".join(sorted(names)),
                "ltail": "cluster_" + STRATEGY_TITLES[user],
                "lhead": "cluster_" + STRATEGY_TITLES[provider],
            }
            if user in _FED_BY_VIP:
                g.diagram.dot.edge(anchor[user].nodeid, anchor[provider].nodeid, **attrs)
            else:
                attrs["ltail"], attrs["lhead"] = attrs["lhead"], attrs["ltail"]
                g.diagram.dot.edge(anchor[provider].nodeid, anchor[user].nodeid, dir="back", **attrs)
    return g.source


def _logical(dep: Deployment) -> str:
    """Every service, one table per group, and the dependencies between
    them: the groups that other groups depend on sit in the right-hand
    column, and a dependency is one edge per (group, service depended on),
    not one per service. The traffic path (clients, VIP, HAProxy) is the
    overview's; here a row names the VIP port a service is reached on."""
    arch = dep.architecture
    several_vips = len(arch.vips) > 1
    group_of = {s.name: s.group or "Other" for s in arch.services}
    groups: dict[str, list] = {}
    for s in arch.services:
        groups.setdefault(group_of[s.name], []).append(s)
    # A group is a provider when a service of another group depends on one
    # of its services.
    providers = sorted(
        {
            group_of[d]
            for s in arch.services
            for d in s.dependencies
            if d in group_of and group_of[d] != group_of[s.name]
        }
    )
    port = {name: f"s{i}" for i, name in enumerate(sorted(group_of))}

    def how(s) -> str:
        if _is_holder(s):
            grp = dep.group_of(s.name)
            if s.strategy.kind == "vrrp":
                return "VRRP" + (f", VRID {grp.vrid}, master {grp.master}" if grp else "")
            return "Pacemaker VIP" + (f", preferred {grp.master}" if grp else "")
        # "; " marks where a long line may wrap.
        text = "" if s.strategy.kind == "behind_vip" else _how(s).replace(", Pacemaker-managed", "; Pacemaker-managed")
        if len(dep.placement.nodes_of(s.name)) < 2:
            text += f", {_where(dep, s.name)}"
        via = set(getattr(s.strategy, "via", None) or ()) | {getattr(s.strategy, "by", None)}
        needs = [d for d in s.dependencies if d not in via]
        if needs:
            text += ("; " if text else "") + "needs " + ", ".join(needs)
        return text

    def reached(s) -> str:
        if _is_holder(s):
            return ", ".join(s.strategy.vips)
        if s.access is None:
            return ""
        return (s.access.vip + " " if several_vips else "") + ":" + ",".join(str(p) for p in s.access.ports)

    def table(group: str) -> str:
        rows = [f'<TR><TD COLSPAN="3" BGCOLOR="#D6EAF8"><FONT POINT-SIZE="15"><B>{_e(group)}</B></FONT></TD></TR>']
        for s in groups[group]:
            via = reached(s)
            # A long line wraps at its "; " (page width).
            parts = how(s).split("; ")
            # Legible at page width (the figure is scaled to the text column): every part on its own line.
            text = _e("; ".join(parts)) if len("; ".join(parts)) <= 24 else '<BR ALIGN="LEFT"/>'.join(map(_e, parts))
            rows.append(
                f'<TR><TD ALIGN="LEFT" PORT="{port[s.name]}"><FONT POINT-SIZE="12">{_e(s.name)}</FONT></TD>'
                + (
                    f'<TD ALIGN="LEFT" BALIGN="LEFT"><FONT POINT-SIZE="11" COLOR="#566573">{text}</FONT></TD>'
                    if text
                    else "<TD></TD>"
                )
                + (
                    f'<TD ALIGN="LEFT"><FONT POINT-SIZE="11" COLOR="#2874A6">{_e(via)}</FONT></TD>'
                    if via
                    else "<TD></TD>"
                )
                + "</TR>"
            )
        bg = "#FEF9E7" if group in providers else "#FFFFFF"
        return (
            f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" COLOR="#7B8894" '
            f'BGCOLOR="{bg}">' + "".join(rows) + "</TABLE>>"
        )

    # No concentrate: bundled edges could not be traced to the group they end on.
    with _Graph(
        f"{arch.title or arch.name}: logical view",
        direction="LR",
        ranksep="0.25",
        nodesep="0.15",
        pad="0.2",
        fontsize="20",
    ) as g:
        gid = {grp: _id("group", grp) for grp in groups}
        consumers = [grp for grp in sorted(groups) if grp not in providers]
        for grp in consumers + providers:
            _node(table(grp), gid[grp], shape="plain")
        dot = g.diagram.dot
        for column in (consumers, providers):
            if column and consumers and providers:
                dot.body.append("\t{rank=same; " + "; ".join(f'"{gid[c]}"' for c in column) + "}\n")
        # Dependencies: one edge per (group, group depended on); the rows
        # say which service needs which.
        pairs = sorted(
            {
                (group_of[s.name], group_of[d])
                for s in arch.services
                for d in s.dependencies
                if d in group_of and group_of[d] != group_of[s.name]
            }
        )
        for grp, other in pairs:
            same_column = (grp in providers) == (other in providers)
            dot.edge(
                gid[grp] if same_column else f"{gid[grp]}:e",
                gid[other] if same_column else f"{gid[other]}:w",
                style="dashed",
                color="#7B8894",
                arrowsize="0.7",
                **({"constraint": "false"} if same_column else {}),
            )
    return g.source


def render_dot(dep: Deployment, view: str, finding: Finding | None = None) -> str:
    """The graphviz source of one view (deterministic text)."""
    if finding is not None:
        return _physical(dep, finding)
    if view == "physical":
        return _physical(dep)
    if view == "logical":
        return _logical(dep)
    if view == "overview":
        return _overview(dep)
    raise ValueError(f"unknown diagram view {view!r}; one of {', '.join(VIEWS)}")


# -- rendering ---------------------------------------------------------------

_COMPOUND = re.compile(r' l(?:head|tail)="[^"]*"')
_HREF = re.compile(r'xlink:href="([^"]+)"')


def _embed_icons(svg: str) -> str:
    """Replace absolute icon paths by ``data:`` URIs (self-contained SVG)."""
    cache: dict[str, str] = {}

    def sub(m: re.Match) -> str:
        ref = html.unescape(m.group(1))
        if ref.startswith(("data:", "#", "http:", "https:")):
            return m.group(0)
        if ref not in cache:
            data = Path(ref).read_bytes()
            cache[ref] = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        return f'xlink:href="{cache[ref]}"'

    return _HREF.sub(sub, svg)


def _dot(source: str, fmt: str, workdir: Path) -> bytes:
    src = workdir / "diagram.gv"
    src.write_text(source, encoding="utf-8")
    out = workdir / f"diagram.{fmt}"
    proc = subprocess.run(
        ["dot", f"-T{fmt}", "-o", str(out), str(src)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SOURCE_DATE_EPOCH": "0"},
    )
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"graphviz dot -T{fmt} failed: {proc.stderr.strip()}")
    return out.read_bytes()


def render(
    dep: Deployment, view: str = "physical", *, finding: Finding | None = None, formats: Iterable[str] = ("svg", "png")
) -> dict[str, bytes]:
    """Render one view: ``{"svg": bytes, "png": bytes}``.

    Deterministic and self-contained; renders in a private temporary
    directory and leaves nothing behind.
    """
    source = render_dot(dep, view, finding)
    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="hamodel-diagram-") as tmp:
        for fmt in formats:
            try:
                data = _dot(source, fmt, Path(tmp))
            except RuntimeError:
                # Graphviz 2.42 can abort on a compound edge (lhead/ltail to
                # a cluster) in some layouts; the plain edge still says it.
                if "lhead=" not in source and "ltail=" not in source:
                    raise
                source = _COMPOUND.sub("", source)
                data = _dot(source, fmt, Path(tmp))
            if fmt == "svg":
                data = _embed_icons(data.decode("utf-8")).encode("utf-8")
            out[fmt] = data
    return out


def diagram_findings(dep: Deployment, threshold: str = "medium") -> list[Finding]:
    """The findings that get their own diagram: severity >= ``threshold``
    and a scenario to draw (a finding such as "monitoring required" has no
    failed component)."""
    every = {f"node:{n.name}" for n in dep.architecture.nodes}
    # A scenario that stops every node draws nothing but grey boxes: no diagram.
    return [f for f in dep.findings if f.severity.at_least(threshold) and f.scenario and not every <= set(f.scenario)]


def generate(dep: Deployment, *, formats: Iterable[str] = ("svg", "png")) -> dict[str, bytes]:
    """Every diagram of a deployment, as ``{relative path: bytes}``.

    ``physical.svg``, ``logical.svg`` and ``findings/<stem>.svg`` (plus PNGs).
    """
    formats = tuple(formats)
    files: dict[str, bytes] = {}
    for view in VIEWS:
        for fmt, data in render(dep, view, formats=formats).items():
            files[f"{view}.{fmt}"] = data
    for f in diagram_findings(dep):
        for fmt, data in render(dep, "physical", finding=f, formats=formats).items():
            files[f"findings/{finding_stem(f)}.{fmt}"] = data
    return dict(sorted(files.items()))
