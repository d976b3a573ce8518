"""The draft model's Python source: nodes, networks, VIPs and services from
the collected facts, TODO comments where configs are silent."""

from __future__ import annotations

import ipaddress
import re

from hamodel.adopt.collected import Collected
from hamodel.adopt.draft import Draft, _Builder, natural, var
from hamodel.adopt.pacemaker import managed_names, pacemaker, pacemaker_services

_SETTINGS = {  # HaproxySettings field -> (section, key), with its default
    "maxconn": ("globals", "maxconn", 8192),
    "frontend_maxconn": ("defaults", "maxconn", 4096),
    "retries": ("defaults", "retries", 3),
    "timeout_connect_s": ("defaults", "timeout connect", 5),
    "timeout_client_s": ("defaults", "timeout client", 60),
    "timeout_server_s": ("defaults", "timeout server", 60),
    "timeout_http_request_s": ("defaults", "timeout http-request", 10),
    "timeout_http_keep_alive_s": ("defaults", "timeout http-keep-alive", 10),
    "timeout_queue_s": ("defaults", "timeout queue", 60),
    "timeout_check_s": ("defaults", "timeout check", 10),
    "tls_min_version": ("globals", "tls_min_version", "TLSv1.2"),
}


def build_draft(site: Collected, name: str, source: str = "collected configs") -> Draft:
    """The draft model of ``site``: its source text and every directive not carried over."""
    b = _Builder(site, name)
    cib, managed = managed_names(site)
    b.vrrp()
    pacemaker(b, cib)
    b.haproxy_services(managed)
    if cib is not None and b.pacemaker_src is not None:
        pacemaker_services(b, cib)
    _hosts(b)
    return Draft(
        source=_render(b, source),
        unmapped=sorted(set(site.all_unmapped() + b.unmapped)),
        notes=b.notes,
        nodes=len(_node_names(b)),
        services=len(b.services),
    )


def _hosts(b: _Builder) -> None:
    """Nodes that only /etc/hosts gives an address for."""
    hosts: dict[str, str] = {}
    for n in sorted(b.site.nodes):
        hosts.update({k: v for k, v in b.site.nodes[n].hosts.items() if k not in hosts})
    for n in b.site.nodes:
        if not b.node_ifaces.get(n) and n in hosts:
            b.node_address(n, hosts[n], None, f"{n}/etc/hosts", 0)
    for (n, net), dev in b.pending_device.items():
        if net in b.node_ifaces.get(n, {}):
            b.node_ifaces[n][net] = (b.node_ifaces[n][net][0], dev)
    _placeholder_addresses(b)
    _distinct_devices(b)


def _distinct_devices(b: _Builder) -> None:
    """A node's networks on one device name (no file named the device, so the
    draft said eth0 for each): the later ones get the next free ethN, with a TODO."""
    for n, ifs in sorted(b.node_ifaces.items()):
        taken: set[str] = set()
        for net, (addr, dev) in sorted(ifs.items()):
            if dev in taken:
                new = next(
                    f"eth{i}"
                    for i in range(1, 4096)
                    if f"eth{i}" not in taken and f"eth{i}" not in {d for _, d in ifs.values()}
                )
                ifs[net] = (addr, new)
                b.node_comments.setdefault(n, []).append(
                    f"TODO device: {new} on {net} is a placeholder (no collected file names that interface)"
                )
                dev = new
            taken.add(dev)


def _placeholder_addresses(b: _Builder) -> None:
    """A VRRP member with no known address on its VIP's network (multicast VRRP
    names none, and /etc/hosts rarely has the public one) gets a placeholder,
    taken from the top of the network down, so that the draft loads; a TODO
    says to replace it."""
    used = {a for ifs in b.node_ifaces.values() for a, _ in ifs.values()} | {a for a, _ in b.vips.values()}
    hosts = b.hosts()
    for (n, net), dev in sorted(b.pending_device.items(), key=lambda kv: (natural(kv[0][0]), kv[0][1])):
        if net in b.node_ifaces.get(n, {}):
            continue
        subnet = b.networks[net]
        # /etc/hosts names a node's address per network as <node>.<network>.<domain> (TripleO)
        known = sorted(
            a for h, a in hosts.items() if h.startswith(n + ".") and ipaddress.ip_address(a) in subnet and a not in used
        )
        if known:
            b.node_ifaces.setdefault(n, {})[net] = (known[0], dev)
            used.add(known[0])
            b.notes.append(f"{n}: address {known[0]} on {net} from /etc/hosts")
            continue
        addr = next(str(a) for a in _from_top(subnet) if str(a) not in used)
        used.add(addr)
        b.node_ifaces.setdefault(n, {})[net] = (addr, dev)
        b.node_comments.setdefault(n, []).append(
            f"TODO address: {addr} on {net} ({dev}) is a placeholder; no collected file gives {n}'s address there"
        )
        b.notes.append(f"{n}: placeholder address {addr} on {net} (keepalived names {dev}, no file its address)")


def _from_top(subnet):
    last = subnet.broadcast_address if subnet.version == 4 else subnet.network_address + subnet.num_addresses - 1
    for i in range(1, min(subnet.num_addresses - 1, 65536)):
        yield last - i


def _node_names(b: _Builder) -> list[str]:
    names = set(b.node_ifaces) | {n for members in b.roles for n in members}
    return sorted(names, key=natural)


def _settings(b: _Builder) -> dict[str, object]:
    first = next((n.haproxy for _, n in sorted(b.site.nodes.items()) if n.haproxy is not None), None)
    out: dict[str, object] = {}
    if first is None:
        return out
    for field, (section, key, default) in _SETTINGS.items():
        v = getattr(first, section).get(key)
        if v is None or v == default:
            continue
        if isinstance(v, float):
            v = max(1, round(v))
        out[field] = v
    # No maxconn in defaults: HAProxy's fronts share the process-wide one.
    maxconn = out.get("maxconn")
    if "frontend_maxconn" not in out and isinstance(maxconn, int) and maxconn < 4096:
        out["frontend_maxconn"] = maxconn
    return out


def _render(b: _Builder, source: str) -> str:
    nodes = _node_names(b)
    stats_service = None
    for svc, (process, members) in sorted(getattr(b, "vrrp_services", {}).items()):
        if process == "haproxy" and any(n in b.stats_port for n in members):
            stats_service = svc
            break
    plain = lambda t: re.sub(r"[^A-Za-z0-9_.,:/ +-]", "?", t)[:200]
    lines = [
        f'"""{plain(b.name)}: a draft model imported by `hamodel import` from {plain(source)}.',
        "",
        f"{len(nodes)} nodes, {len(b.vips)} virtual IPs and {len(b.services)} services were read from the",
        "configs. Configs do not say where nodes stand, what powers them or which switches",
        "join them: each node is its own failure domain here (see the TODO comments), so",
        "`hamodel check` proves this draft's claims only for single-node failures until",
        "you describe racks, power feeds and switches. Services that no config names (agents",
        "coordinating over a message bus, per-node daemons) are missing: add them.",
        '"""',
        "",
        f"from hamodel import {', '.join(sorted(b.imports))}",
    ]
    if b.strategies:
        lines.append(f"from hamodel.strategies import {', '.join(sorted(b.strategies))}")
    lines.append("")
    for net, subnet in sorted(b.networks.items()):
        lines.append(f"{var(net)} = Network({net!r}, subnet={str(subnet)!r})  # TODO switches: which switches carry it")
    if b.vips:
        lines.append("")
    for v, (addr, net) in sorted(b.vips.items()):
        public = ", exposure='public'" if addr in b.public_addrs else ""
        lines.append(f"{var(v)} = VirtualIP({v!r}, {addr!r}, network={var(net)}{public})")
    lines += [
        "",
        "# TODO failure domains: each node stands in a rack of its own here (no config says where it",
        "# stands); give the real racks, rooms, power feeds (power=...) and switches (switch=...).",
        "nodes = [",
    ]
    for n in nodes:
        roles = sorted(r for members, r in b.roles.items() if n in members)
        ifaces = [
            {"network": net, "address": a, "device": d} for net, (a, d) in sorted(b.node_ifaces.get(n, {}).items())
        ]
        lines += [f"    # {c}" for c in b.node_comments.get(n, [])]
        lines.append(
            f"    Node({n!r}, roles={set(roles) if roles else set()!r}, domains=[Rack({'rack-' + n!r})], "
            f"interfaces={ifaces!r}),"
        )
    lines += ["]", "", "services = ["]
    for src, comments in b.services:
        for c in comments:
            lines.append(f"    # {c}")
        name = src.split("(", 1)[1].split(",", 1)[0].strip("'\")")
        ports = ""
        if name == stats_service:
            port, loopback = next(b.stats_port[n] for n in sorted(b.stats_port))
            ports = f", ports=[{{'port': {port}, 'loopback': {loopback}}}]"
        lines.append(f"    {src.replace('{ports}', ports)},")
    lines += ["    # TODO dependencies: which service needs which (depends_on=[...]); configs do not say.", "]", ""]
    kw = [
        repr(b.name),
        "description='Imported by hamodel import: edit the TODOs, then check.'",
        f"networks=[{', '.join(var(n) for n in sorted(b.networks))}]",
        "nodes=nodes",
        f"vips=[{', '.join(var(v) for v in sorted(b.vips))}]",
        "services=services",
    ]
    if b.pacemaker_src:
        kw.append(f"pacemaker={b.pacemaker_src}")
    settings = _settings(b)
    if settings:
        kw.append(f"haproxy={settings!r}")
    lines.append("architecture = Architecture(")
    lines += [f"    {k}," for k in kw]
    lines.append(")")
    return "\n".join(lines) + "\n"
