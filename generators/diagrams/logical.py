"""The overview and logical views: clients, virtual IPs and their holders, the
services behind them, application clusters and dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hamodel.generators.diagrams.draw import _WITNESS, _e, _edge, _Graph, _id, _node

from hamodel.deployment import Deployment
from hamodel.model import STRATEGY_TITLES

if TYPE_CHECKING:
    from diagrams import Node


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
    # Rows name the VIP only when services are reached on more than one (a VIP that follows a
    # promoted instance, like Redis's under Pacemaker, is named on that row alone).
    several_vips = len({s.access.vip for s in arch.services if s.access is not None}) > 1
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
            return ", ".join(getattr(s.strategy, "vips", None) or ())  # follows the promoted instance
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
