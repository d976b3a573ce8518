"""The failure explorer: a static page on which an architect fails components and
sees what the analysis says happens.

:func:`explorer_data` turns a :class:`~hamodel.deployment.Deployment` into plain
JSON: the physical view (failure domains nested as the model nests them,
nodes with their processes, switches, inter-switch links and trunks, power
feeds), the services, and each service's success formula as the analysis
states it (:mod:`hamodel.analysis.faulttree`: the same rules as the cut sets
and the availability). The formulas of every service share one table of
gates (a sub-formula used twice is stored once, children before parents),
so the page's evaluator (``static/hamodel-explorer.js``) is a single forward
pass over that table: it evaluates any combination of failures exactly and
knows no failure rule of its own.

Besides "up", the JSON carries, built from the same formula builder:

- per instance (and per VIP holder) whether it is ok: a service that is up
  with one of them lost is *degraded*;
- for a sharded service, "some shard ok and its dependencies up": *partial*;
- split brain of VRRP / Pacemaker VIP groups (two eligible holders that
  cannot reach each other on the VIP network) and of application clusters
  whose quorum is at most half of their voters (two quorate members that
  cannot reach each other); where the page cannot show a split brain (an
  ``Elected`` service with ``steps_down=False``, a Pacemaker VIP without
  fencing) the JSON says so and the page states it;
- per application cluster member whether it is in a quorum, per VIP holder
  whether it may hold the VIP.

:func:`generate` returns ``{<slug>/explorer.rst, <slug>/explorer.json}``: the
page embeds the same JSON inline (a ``file://`` page may not fetch files),
so the built docs work offline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hamodel.deployment import Deployment

__all__ = ["CSS", "JS", "STATIC", "evaluate_table", "explorer_data", "generate"]

STATIC = Path(__file__).parent / "static"
JS = "hamodel-explorer.js"
CSS = "hamodel-explorer.css"

_KIND_LABEL = {
    "node": "node",
    "proc": "process",
    "domain": "domain",
    "switch": "switch",
    "link": "link",
    "trunk": "trunk",
}


class _Table:
    """Formulas as a table of gates, children first, each gate once.

    Gates are known by object identity, as the fault-tree builder shares
    them (hashing a nested tuple walks all of it, every time); the table
    keeps every formula it numbered alive, so no id is reused."""

    def __init__(self, components: list[str]):
        self.index = {c: i for i, c in enumerate(components)}
        self.rows: list[list[Any]] = []
        self.ids: dict[int, int] = {}
        self._alive: list[tuple] = []

    def add(self, f: tuple) -> int:
        """Row number of ``f`` (its operands added first, iteratively: deep formulas are fine)."""
        stack: list[tuple[tuple, bool]] = [(f, False)]
        while stack:
            x, ready = stack.pop()
            if id(x) in self.ids:
                continue
            kids = _operands(x)
            if not ready and any(id(k) not in self.ids for k in kids):
                stack.append((x, True))
                stack.extend((k, False) for k in reversed(kids) if id(k) not in self.ids)
                continue
            op = x[0]
            if op in ("T", "F"):
                row: list[Any] = [op]
            elif op == "var":
                row = ["v", self.index[x[1]]]
            elif op == "not":
                row = ["not", self.ids[id(x[1])]]
            elif op == "atleast":
                row = ["k", x[1], [self.ids[id(k)] for k in x[2]]]
            else:
                row = [op, [self.ids[id(k)] for k in x[1]]]
            self.ids[id(x)] = len(self.rows)
            self.rows.append(row)
            self._alive.append(x)
        return self.ids[id(f)]


def _operands(x: tuple) -> tuple:
    if x[0] in ("and", "or"):
        return x[1]
    if x[0] == "atleast":
        return x[2]
    if x[0] == "not":
        return (x[1],)
    return ()


def evaluate_table(rows: list[list[Any]], components: list[str], failed: set[str]) -> list[bool]:
    """The value of every row with ``failed`` components down (the page's evaluator, in Python: tests
    compare both with :mod:`hamodel.analysis.semantics`)."""
    down = {components.index(c) for c in failed if c in components}
    out: list[bool] = []
    for r in rows:
        op = r[0]
        if op == "T":
            out.append(True)
        elif op == "F":
            out.append(False)
        elif op == "v":
            out.append(r[1] not in down)
        elif op == "not":
            out.append(not out[r[1]])
        elif op == "and":
            out.append(all(out[i] for i in r[1]))
        elif op == "or":
            out.append(any(out[i] for i in r[1]))
        else:
            out.append(sum(out[i] for i in r[2]) >= r[1])
    return out


def _label(dep: Deployment, cid: str) -> str:
    kind, _, rest = cid.partition(":")
    if kind == "proc":
        proc, _, node = rest.rpartition("@")
        return f"{proc} on {node}"
    if kind == "link":
        net, _, ends = rest.partition(":")
        a, _, b = ends.partition("~")
        return f"link {a} \u2013 {b} ({net})"
    if kind == "domain":
        d = next((x for x in dep.architecture.domains if x.name == rest), None)
        return f"{d.kind} {rest}" if d is not None else rest
    return f"{_KIND_LABEL.get(kind, kind)} {rest}"


def _domain_tree(dep: Deployment, v: Any) -> tuple[list[dict], list[str]]:
    """Top-level boxes of the physical view (domains nested as declared), and nodes in no domain."""
    arch = dep.architecture
    from hamodel.analysis.components import domain_id, switch_id

    def did(d) -> str:
        return switch_id(d.name) if d.kind == "switch" else domain_id(d.name)

    home: dict[str, list[str]] = {}
    loose: list[str] = []
    for n in arch.nodes:
        if not n.domains:
            loose.append(n.name)
            continue
        # The innermost of its domains: the one with the most ancestors.
        inner = max(n.domains, key=lambda d: (len(arch.domain_ancestors(d)), d))
        home.setdefault(inner, []).append(n.name)
    children: dict[str | None, list[Any]] = {}
    for d in arch.domains:
        children.setdefault(d.parent, []).append(d)

    def box(d) -> dict:
        return {
            "name": d.name,
            "kind": d.kind,
            "component": did(d),
            "children": [box(c) for c in children.get(d.name, [])],
            "nodes": home.get(d.name, []),
            "feeds": sorted(n.name for n in arch.nodes if d.name in n.power),
        }

    return [box(d) for d in children.get(None, [])], loose


def explorer_data(dep: Deployment, *, slug: str, k: int = 2, doc: str = "index.html") -> dict[str, Any]:
    """Everything the explorer page shows of ``dep``, as plain JSON data.

    ``slug`` and ``doc`` name the model document (its labels, and its page
    relative to the explorer page): the finding links point into it."""
    from docutils.nodes import make_id
    from hamodel.generators.docs import limitations

    from hamodel.analysis.components import node_id
    from hamodel.analysis.faulttree import TRUE, Builder, and_, not_, or_, trees
    from hamodel.model.strategies import AppCluster, Elected, External, PacemakerVip, Sharded, Vrrp

    arch = dep.architecture
    results = dep.answers()
    if results.k != k:
        raise ValueError(
            f"the explorer of k={k} needs the analysis results of k={k}; the deployment carries k={results.k}"
        )
    v = results.view
    comps = list(v.components)
    table = _Table(comps)
    # "Up" is each service's fault tree, as the analysis builds it; the finer states
    # (instances, holders, quorum, split brain) come from the same builder's parts.
    ups = trees(v, [s for s in sorted(v.services) if not isinstance(v.services[s].strategy, External)])
    b = Builder(v)
    services = []
    for name in sorted(v.services):
        svc = v.services[name]
        st = svc.strategy
        external = isinstance(st, External)
        up = TRUE if external else ups[name].up
        members: list[list[Any]] = []
        if not external and not isinstance(st, Sharded):
            members += [[f"instance on {n}", table.add(b.inst_ok(name, n))] for n in v.counted_instances(name)]
            members += [[f"VIP holder {h}", table.add(b.eligible(name, h))] for h in v.holders.get(name, ())]
        partial = None
        if isinstance(st, Sharded):
            deps = and_(b.up(d, v.access_holder(d, name)) for d in v.dependencies(name))
            partial = table.add(and_([deps, or_(b.inst_ok(name, n) for n in v.instances[name])]))
        split: int | None = None
        split_note = ""
        if isinstance(st, (Vrrp, PacemakerVip)):
            if isinstance(st, PacemakerVip) and arch.pacemaker is not None and not arch.pacemaker.fencing:
                split_note = "split brain of a Pacemaker VIP without fencing is not shown here"
            else:
                net, hs = v.vip_network[name], v.holders[name]
                split = table.add(
                    or_(
                        and_([b.eligible(name, x), b.eligible(name, y), not_(b.reach_on(x, y, net))])
                        for i, x in enumerate(hs)
                        for y in hs[i + 1 :]
                    )
                )
        elif isinstance(st, AppCluster):
            ms = v.instances[name]
            if 2 * v.quorum(name) <= len(v.cluster_voters(name)):
                split = table.add(
                    or_(
                        and_([b.in_quorum(name, x), b.in_quorum(name, y), not_(b.reach(x, y))])
                        for i, x in enumerate(ms)
                        for y in ms[i + 1 :]
                    )
                )
        elif isinstance(st, Elected) and not st.steps_down:
            split_note = "split brain of an elected writer that does not step down is not shown here"
        vip = None
        if name in v.holders:
            g = dep.group_of(name)
            prio = dict(g.priorities) if g is not None else {}
            vip = {
                "vips": list(svc.holds_vips),
                "network": v.vip_network[name],
                "holders": [
                    [h, prio.get(h), table.add(b.eligible(name, h))]
                    for h in sorted(v.holders[name], key=lambda h: (-(prio.get(h) or 0), h))
                ],
                "pacemaker": isinstance(st, PacemakerVip),
            }
        quorum = None
        if isinstance(st, AppCluster):
            quorum = {
                "need": v.quorum(name),
                "voters": len(v.cluster_voters(name)),
                "members": [[m, table.add(b.in_quorum(name, m))] for m in v.instances[name]],
            }
        services.append(
            {
                "name": name,
                "strategy": st.kind,
                "nodes": list(v.instances[name]),
                "analysed": v.analysed(name),
                "depends": list(v.dependencies(name)),
                "up": table.add(up),
                "members": members,
                "partial": partial,
                "split": split,
                "split_note": split_note,
                "vip": vip,
                "quorum": quorum,
            }
        )

    limits = [f.id for f in limitations(dep)]
    findings = []
    for f in dep.findings:
        # Limitations are sections of the document (label <slug>-finding-<n>); the rest are one table.
        label = f"{slug}-finding-{limits.index(f.id) + 1}" if f.id in limits else f"{slug}-other-findings"
        raw = f.details.get("cut_sets")
        cut_sets = [list(c) for c in raw if isinstance(c, (list, tuple))] if isinstance(raw, (list, tuple)) else []
        findings.append(
            {
                "id": f.id,
                "kind": f.kind,
                "severity": f.severity.value,
                "title": f.title,
                "services": list(f.services),
                "scenario": list(f.scenario),
                "impact": f.impact,
                "mitigation": f.mitigation,
                "link": f"{doc}#{make_id(label)}",
                "cut_sets": cut_sets,
            }
        )

    cut = results.cut_sets
    domains, loose = _domain_tree(dep, v)
    nodes = []
    for n in arch.nodes:
        procs = sorted({c for c in comps if c.startswith("proc:") and c.endswith(f"@{n.name}")})
        nodes.append(
            {
                "name": n.name,
                "component": node_id(n.name),
                "roles": sorted(n.roles),
                "power": list(n.power),
                "processes": procs,
                "services": list(dep.placement.services_on(n.name)),
                "interfaces": [[i.network, i.device, list(i.switches)] for i in n.interfaces],
            }
        )
    networks = []
    for net in arch.networks:
        links = sorted({cid for _, _, cid in v.net_links[net.name]})
        networks.append(
            {"name": net.name, "subnet": str(net.subnet), "switches": list(v.net_switches[net.name]), "links": links}
        )
    return {
        "format": 1,
        "model": arch.name,
        "k": k,
        "components": comps,
        "labels": {c: _label(dep, c) for c in comps},
        "gates": table.rows,
        "services": services,
        "domains": domains,
        "loose_nodes": loose,
        "nodes": nodes,
        "networks": networks,
        "findings": findings,
        "cut_sets": {s: [list(c) for c in sets] for s, sets in sorted(cut.items())},
        "doc": doc,
        # hamodel generates no runbooks yet: the page says so instead of linking to none.
        "runbooks": [],
    }


def data_json(data: dict[str, Any]) -> bytes:
    """Deterministic JSON (sorted keys, ASCII): the same model gives the same bytes."""
    return (json.dumps(data, sort_keys=True, ensure_ascii=True, separators=(",", ":")) + "\n").encode()


def _inline(data: dict[str, Any]) -> str:
    """The JSON safe inside an HTML ``<script>`` element: no ``<``, ``>`` or ``&`` appears raw
    (a model name like ``</script>`` stays text)."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page_rst(data: dict[str, Any], *, title: str) -> str:
    """The explorer page: a title, how to use it, the interactive part (raw HTML whose text comes only from
    the JSON, filled in by the script) and a download link of the data."""
    from hamodel.generators.docs.rst import rst_title

    heading = rst_title(f"Failure explorer: {title}", "=", overline=True)
    return f"""{heading}

.. This file is generated by hamodel; do not edit.

Fail any component (a node, a process, a rack or power feed, a switch, a link) by pressing its
button, press it again to restore it; several at once. The services then show **up**,
**degraded** (up, an instance or VIP holder lost), **partial** (a sharded service lost
shards) or **down**; VIP groups show which holders may hold the address (or a split
brain), clusters show which members are in a quorum. The panel lists the consequences with the
findings of the analysis.

Every combination is evaluated exactly from the analysis' own formulas (the fault trees
that also give the cut sets and the availability), including combinations larger than the
{data["k"]} failures the analysis searched for findings.

.. raw:: html

   <div class="hamodel-explorer" id="hamodel-explorer" data-ready="no">
   <p class="hx-noscript">This explorer needs JavaScript; the model document lists the same findings.</p>
   </div>
   <script type="application/json" id="hamodel-explorer-data">{_inline(data)}</script>

The data of this page: :download:`explorer.json <explorer.json>`.
"""


def generate(dep: Deployment, *, slug: str, k: int = 2) -> dict[str, bytes]:
    """``{<slug>/explorer.rst, <slug>/explorer.json}`` for the model document ``<slug>/index``."""
    data = explorer_data(dep, slug=slug, k=k)
    return {
        f"{slug}/explorer.json": data_json(data),
        f"{slug}/explorer.rst": page_rst(data, title=dep.architecture.title or dep.architecture.name).encode(),
    }
