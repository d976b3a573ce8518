"""Mermaid flowcharts of a Deployment, for the Markdown the team already reads
(GitHub and GitLab render ```` ```mermaid ```` blocks).

- :func:`logical`: clients -> each virtual IP -> the services that hold it ->
  the services load balanced behind it; application clusters; the declared
  dependencies between services (dashed);
- :func:`physical`: failure domains as nested subgraphs, nodes inside them
  (with the services placed on each), switches, the inter-switch links and
  the power feeds of dual-corded nodes;
- :func:`affected`: a small chart of the services a change affects, for
  ``hamodel diff --format markdown``.

Every id is derived from the model name (injective, letters and digits
only) and every label is written with Mermaid's entity codes for any
character other than letters, digits, space and ``.-_:/@,``: a name with
Markdown, HTML or Mermaid syntax renders as its text. Output is
deterministic (model order, no random ids).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from hamodel.deployment import Deployment

__all__ = ["affected", "label", "logical", "markdown", "node_id", "physical"]

_SAFE = re.compile(r"[A-Za-z0-9 .\-:/@,()_+=]")


def label(text: object) -> str:
    """A quoted Mermaid label showing ``text`` as text (entity codes for every other character)."""
    return '"' + "".join(ch if _SAFE.fullmatch(ch) else f"#{ord(ch)};" for ch in str(text)) + '"'


def node_id(*parts: str) -> str:
    """A stable, injective Mermaid id: letters and digits, ``_xx`` for anything else, parts joined by ``__``."""
    return "__".join(re.sub(r"[^A-Za-z0-9]", lambda m: f"_{ord(m.group()):02x}", p) for p in parts)


def _svc(name: str) -> str:
    return node_id("svc", name)


def logical(dep: Deployment) -> str:
    """Clients, VIPs, VIP holders, the services behind them and the dependencies."""
    arch = dep.architecture
    out = ["flowchart LR", f"  clients({label('clients')})"]
    for v in arch.vips:
        out.append(f"  {node_id('vip', v.name)}{{{{{label(f'{v.name} {v.address}')}}}}}")
        out.append(f"  clients --> {node_id('vip', v.name)}")
    for s in arch.services:
        where = ", ".join(dep.placement.nodes_of(s.name))
        out.append(f"  {_svc(s.name)}[{label(f'{s.name} ({s.strategy.kind}) on {where or chr(0x2014)}')}]")
    for s in arch.services:
        for v in s.holds_vips:
            out.append(f"  {node_id('vip', v)} --- {_svc(s.name)}")
        if s.access is not None:
            holder = next((h.name for h in arch.services if s.access.vip in h.holds_vips), None)
            src = _svc(holder) if holder else node_id("vip", s.access.vip)
            ports = ",".join(str(p) for p in s.access.ports)
            out.append(f"  {src} -->|{label(ports)}| {_svc(s.name)}")
        for d in s.dependencies:
            out.append(f"  {_svc(s.name)} -.->|{label('depends on')}| {_svc(d)}")
    return "\n".join(out) + "\n"


def physical(dep: Deployment) -> str:
    """Failure domains (nested subgraphs), nodes with their services, switches, links and power feeds."""
    arch = dep.architecture
    out = ["flowchart TB"]
    children: dict[str | None, list] = {}
    for d in arch.domains:
        children.setdefault(d.parent, []).append(d)
    home: dict[str, list[str]] = {}
    loose: list[str] = []
    for n in arch.nodes:
        if n.domains:
            inner = max(n.domains, key=lambda d: (len(arch.domain_ancestors(d)), d))
            home.setdefault(inner, []).append(n.name)
        else:
            loose.append(n.name)

    def node_line(n: str, indent: str) -> str:
        on = dep.placement.services_on(n)
        # A long list would make one huge box: the names when few, else how many.
        services = ", ".join(on) if len(on) <= 6 else f"{len(on)} services"
        return f"{indent}{node_id('node', n)}[{label(n + (': ' + services if services else ''))}]"

    def emit(d, depth: int) -> None:
        pad = "  " * depth
        if d.kind == "switch" and not children.get(d.name) and not home.get(d.name):
            out.append(f"{pad}{node_id('dom', d.name)}[/{label('switch ' + d.name)}/]")
            return
        out.append(f"{pad}subgraph {node_id('dom', d.name)}[{label(f'{d.kind} {d.name}')}]")
        for c in children.get(d.name, []):
            emit(c, depth + 1)
        for n in home.get(d.name, []):
            out.append(node_line(n, pad + "  "))
        out.append(f"{pad}end")

    for d in children.get(None, []):
        emit(d, 1)
    for n in loose:
        out.append(node_line(n, "  "))
    doms = {d.name: d for d in arch.domains}
    for n in arch.nodes:
        for i in n.interfaces:
            for sw in i.switches:
                out.append(f"  {node_id('node', n.name)} ---|{label(f'{i.network} {i.device}')}| {node_id('dom', sw)}")
        for feed in n.power:
            out.append(f"  {node_id('dom', feed)} -.->|{label('power')}| {node_id('node', n.name)}")
    for net in arch.networks:
        for (a, b), t in net.link_parts():
            if a in doms and b in doms and a != b:
                text = f"{net.name}" + (f" trunk {t.name}" if t is not None else "")
                out.append(f"  {node_id('dom', a)} ===|{label(text)}| {node_id('dom', b)}")
    return "\n".join(out) + "\n"


def affected(services: Iterable[str], dep: Deployment | None = None) -> str:
    """A small chart of ``services`` (those a change affects) and, when ``dep`` is given, the
    dependencies among them and the services that depend on them."""
    names = sorted(set(services))
    out = ["flowchart LR"]
    for s in names:
        out.append(f"  {_svc(s)}[{label(s)}]:::affected")
    if dep is not None:
        wanted = set(names)
        for s in dep.architecture.services:
            for d in s.dependencies:
                if d in wanted:
                    if s.name not in wanted:
                        out.append(f"  {_svc(s.name)}[{label(s.name)}]")
                    out.append(f"  {_svc(s.name)} -.->|{label('depends on')}| {_svc(d)}")
    out.append("  classDef affected fill:#FADBD8,stroke:#C0392B")
    return "\n".join(dict.fromkeys(out)) + "\n"


def _md_text(text: str) -> str:
    """Markdown text showing ``text`` literally: HTML escaped, every punctuation character backslash-escaped."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~])", r"\\\1", text)


def markdown(dep: Deployment) -> str:
    """Both flowcharts in one Markdown file (``hamodel export --format mermaid``)."""
    return (
        f"# {_md_text(dep.architecture.name)}\n\n## Logical view\n\n```mermaid\n{logical(dep)}```\n\n"
        f"## Physical view\n\n```mermaid\n{physical(dep)}```\n"
    )
