"""Collected facts -> a draft model file (Python source in the style of ``models/``).

The reverse of the generators: each generated construct is read back into
the model object that produces it (a ``vrrp_instance`` into a Vrrp
service, a ``listen`` section into a BehindVip front, an IPaddr2 resource
into a PacemakerVip, a clone into an AppCluster...). What configs cannot
say (failure domains, power, switches, dependencies) becomes a ``TODO``
comment and a placeholder that loads and checks: one domain per node.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from os.path import commonpath

from hamodel.adopt.collected import Collected
from hamodel.adopt.haproxy import Front
from hamodel.adopt.keepalived import VrrpInstance
from hamodel.adopt.source import Unmapped, safe_name

_AGENT_PROCESS = {"galera": "mariadb", "rabbitmq-cluster": "rabbitmq", "redis": "redis"}
_DB_NAMES = ("galera", "mariadb", "mysql", "percona")
DATABASE_TIMEOUT_S = 3600


def var(name: str) -> str:
    v = re.sub(r"\W", "_", name).strip("_").lower() or "x"
    return v if v[0].isalpha() else f"n_{v}"


def natural(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


@dataclass
class Draft:
    """The draft model's source and what the import could not carry over."""

    source: str
    unmapped: list[Unmapped]
    notes: list[str] = field(default_factory=list)
    nodes: int = 0
    services: int = 0


class _Builder:
    def __init__(self, site: Collected, name: str) -> None:
        self.site = site
        self.name = name
        self.unmapped: list[Unmapped] = []
        self.notes: list[str] = []
        self.networks: dict[str, ipaddress.IPv4Network | ipaddress.IPv6Network] = {}  # name -> subnet
        self.node_ifaces: dict[str, dict[str, tuple[str, str]]] = {}  # node -> network -> (address, device)
        self.vips: dict[str, tuple[str, str]] = {}  # vip name -> (address, network)
        self.vip_by_addr: dict[str, str] = {}
        self.public_addrs: set[str] = set()  # VIP addresses a front treats as public
        self.roles: dict[frozenset[str], str] = {}
        self.services: list[tuple[str, list[str]]] = []  # (source line, comments)
        self.imports = {"Architecture", "Network", "Node", "Rack", "Service", "VirtualIP"}
        self.strategies: set[str] = set()
        self.stats_port: dict[str, tuple[int, bool]] = {}
        self.pacemaker_src: str | None = None
        self.ap_vip_holders: dict[str, list[str]] = {}
        self.managed_access: dict[str, str] = {}  # Pacemaker clone -> its BehindVip access
        self.pending_device: dict[tuple[str, str], str] = {}  # (node, network) -> device
        self.node_comments: dict[str, list[str]] = {}  # node -> TODO comments of the draft

    # -- networks, nodes, VIPs ---------------------------------------------------------

    def network_for(self, addr: str, prefix: int | None = None, where: Unmapped | None = None) -> str:
        ip = ipaddress.ip_address(addr)
        for name, net in self.networks.items():
            if ip in net:
                return name
        guessed = prefix is None
        net = ipaddress.ip_network(
            f"{addr}/{prefix if prefix is not None else (24 if ip.version == 4 else 64)}", strict=False
        )
        name = f"net-{str(net.network_address).replace('.', '-').replace(':', '-')}"
        self.networks[name] = net
        if guessed:
            self.notes.append(f"network {name}: prefix /{net.prefixlen} guessed (no VIP on it says its size)")
        return name

    def node_address(self, node: str, addr: str, device: str | None, label: str, line: int) -> None:
        net = self.network_for(addr)
        known = self.node_ifaces.setdefault(node, {}).get(net)
        if known is None:
            self.node_ifaces[node][net] = (addr, device or "eth0")
        elif known[0] != addr:
            self.unmapped.append(
                Unmapped(label, line, f"{node} address {addr}", "ambiguous", f"{node} already has {known[0]} on {net}")
            )
        elif device and known[1] != device:
            self.node_ifaces[node][net] = (addr, device)

    def node_of_server(self, name: str) -> str:
        """A backend's node: a collected node named like the server, or like its
        first label (TripleO names servers <node>.internalapi.<domain>)."""
        if name in self.site.nodes or name.split(".")[0] not in self.site.nodes:
            return name
        return name.split(".")[0]

    def hosts(self) -> dict[str, str]:
        """Every node's /etc/hosts together (the first node's entry wins)."""
        out: dict[str, str] = {}
        for n in sorted(self.site.nodes):
            out.update({k: v for k, v in self.site.nodes[n].hosts.items() if k not in out})
        return out

    def role(self, members: set[str] | frozenset[str]) -> str:
        key = frozenset(members)
        if key not in self.roles:
            names = sorted(key, key=natural)
            prefix = re.sub(r"[-_.0-9]+$", "", _common_prefix(names)) or "group"
            name, i = prefix, 2
            while name in self.roles.values():
                name, i = f"{prefix}-{i}", i + 1
            self.roles[key] = name
        return self.roles[key]

    def add_vip(self, name: str, addr: str, prefix: int | None) -> str:
        if addr in self.vip_by_addr:
            return self.vip_by_addr[addr]
        net = self.network_for(addr, prefix)
        while name in self.vips:
            name += "-2"
        self.vips[name] = (addr, net)
        self.vip_by_addr[addr] = name
        return name

    # -- keepalived --------------------------------------------------------------------

    def vrrp(self) -> None:
        groups: dict[str, dict[str, VrrpInstance]] = {}
        for n, node in sorted(self.site.nodes.items()):
            if node.keepalived is None:
                continue
            for inst in node.keepalived.instances.values():
                groups.setdefault(inst.name, {})[n] = inst
                for a, prefix, _ in inst.vips:
                    if prefix is not None:
                        self.network_for(a, prefix)
        sync = self._sync_groups(groups)
        for gname, members in sorted(groups.items()):
            first = members[min(members, key=natural)]
            for n, inst in members.items():
                if inst.unicast_src:
                    self.node_address(
                        n, inst.unicast_src, inst.interface, inst.file, inst.lines.get("unicast_src_ip", inst.line)
                    )
            vips = []
            for i, (a, prefix, _dev) in enumerate(first.vips):
                if prefix is None:
                    self.unmapped.append(
                        Unmapped(
                            first.file,
                            first.lines.get("virtual_ipaddress", first.line),
                            f"virtual_ipaddress {a}",
                            "ambiguous",
                            "no prefix (keepalived uses /32); the draft takes the network of the members' addresses",
                        )
                    )
                vips.append(self.add_vip(f"{gname}-vip" + (f"-{i + 1}" if i else ""), a, prefix))
            for n, inst in members.items():
                if inst.unicast_src:
                    self.node_address(
                        n, inst.unicast_src, inst.interface, inst.file, inst.lines.get("unicast_src_ip", inst.line)
                    )
                elif inst.interface:
                    self.notes.append(f"{n}: no unicast_src_ip in {inst.name}; its address comes from other files")
                    self.pending_device[(n, self.vips[vips[0]][1])] = inst.interface
                for field_ in ("vrid", "vips", "advert_int", "nopreempt", "track_scripts"):
                    if getattr(inst, field_) != getattr(first, field_):
                        self.unmapped.append(
                            Unmapped(
                                inst.file,
                                inst.line,
                                f"vrrp_instance {gname} {field_}",
                                "ambiguous",
                                f"differs between nodes; {min(members, key=natural)}'s is used",
                            )
                        )
            keepalived = self.site.nodes[min(members, key=natural)].keepalived
            assert keepalived is not None  # a member of a group: it has instances
            scripts = keepalived.scripts
            process = None
            check = None
            for t in first.track_scripts:
                s = scripts.get(t)
                if s is not None and s.process:
                    process = s.process
                    if (s.interval, s.timeout or 1, s.fall, s.rise) != (2, 1, 2, 2):
                        check = {"interval_s": s.interval, "timeout_s": s.timeout or 1, "fall": s.fall, "rise": s.rise}
                    if s.weight:
                        self.unmapped.append(
                            Unmapped(
                                first.file,
                                s.line,
                                f"vrrp_script {t} weight {s.weight}",
                                "unsupported",
                                "hamodel's track scripts have weight 0 (FAULT on failure)",
                            )
                        )
                    break
            if process is None:
                self.unmapped.append(
                    Unmapped(
                        first.file,
                        first.line,
                        f"vrrp_instance {gname} track_script",
                        "ambiguous",
                        "no track script naming a process; tracking the service's own",
                    )
                )
            self._priorities(gname, members)
            args = [", ".join(var(v) for v in vips) if len(vips) == 1 else "[" + ", ".join(var(v) for v in vips) + "]"]
            if process:
                args.append(f"track={process!r}")
            if not first.nopreempt:
                args.append("preempt=True")
            args.append(f"vrid={first.vrid}")
            if first.advert_int != 1:
                args.append(f"advert_int={first.advert_int}")
            if check:
                args.append(f"check={check!r}")
            if first.garp_master_refresh:
                args.append(f"garp_master_refresh_s={first.garp_master_refresh}")
            if not first.peers and len(members) > 1:
                args.append("unicast=False")
            if gname in sync:
                args.append(f"sync_group={sync[gname]!r}")
            comments = []
            if first.auth:
                self.imports.add("SecretRef")
                env = f"HAMODEL_VRRP_{var(gname).upper()}_PASSWORD"
                args.append(f"auth=SecretRef(env={env!r})")
                comments.append(f"TODO: the VRRP password is read from ${env} at build time (never copied here).")
            self.strategies.add("Vrrp")
            kw = [f"on={self.role(set(members))!r}"]
            if process and process != gname:
                kw.insert(0, f"process={process!r}")
            self.services.append(
                (f"Service({gname!r}, {', '.join(kw)}{{ports}}, strategy=Vrrp({', '.join(args)}))", comments)
            )
            self.vrrp_services = getattr(self, "vrrp_services", {})
            self.vrrp_services[gname] = (process or gname, set(members))

    def _sync_groups(self, groups: dict[str, dict[str, VrrpInstance]]) -> dict[str, str]:
        """VRRP group -> its vrrp_sync_group, where every node that runs the
        sync group's instances names the same ones (at least two) in it."""
        seen: dict[str, dict[str, tuple[frozenset[str], str, int]]] = {}  # sync name -> node -> (members, file, line)
        for n, node in sorted(self.site.nodes.items()):
            if node.keepalived is not None:
                for sname, (ms, line) in node.keepalived.sync_groups.items():
                    seen.setdefault(sname, {})[n] = (frozenset(ms), node.keepalived.file, line)
        out: dict[str, str] = {}
        for sname, per_node in sorted(seen.items()):
            n0 = min(per_node, key=natural)
            ms, file, line = per_node[n0]
            nodes = {n for m in ms for n in groups.get(m, {})}
            why = None
            if len(ms) < 2 or any(m not in groups for m in ms):
                why = f"names {', '.join(sorted(ms))}: fewer than two VRRP instances of this site"
            elif any(per_node.get(n, (None,))[0] != ms for n in nodes) or any(
                set(groups[m]) != set(groups[next(iter(ms))]) for m in ms
            ):
                why = "its members differ between nodes, or run on different nodes"
            elif any(m in out for m in ms):
                why = "an instance in two sync groups"
            if why:
                self.unmapped.append(Unmapped(file, line, f"vrrp_sync_group {sname}", "ambiguous", why))
                continue
            out.update(dict.fromkeys(ms, sname))
        return out

    def _priorities(self, gname: str, members: dict) -> None:
        from hamodel.analysis.vrrp import priorities

        order = sorted(members, key=natural)
        expected = priorities(order)
        got = {n: i.priority for n, i in members.items()}
        if expected != got:
            n0 = min(members, key=natural)
            self.unmapped.append(
                Unmapped(
                    members[n0].file,
                    members[n0].lines.get("priority", members[n0].line),
                    f"vrrp_instance {gname} priority",
                    "unsupported",
                    f"priorities {dict(sorted(got.items()))}; hamodel allocates them by node "
                    f"name, highest first ({dict(sorted(expected.items()))}): `hamodel drift` shows it",
                )
            )

    # -- haproxy -----------------------------------------------------------------------

    def fronts(self) -> dict[str, list[tuple[str, Front]]]:
        """service name -> [(node, front)] of the first node that has each front."""
        seen: dict[str, tuple[str, Front]] = {}
        for n, node in sorted(self.site.nodes.items(), key=lambda kv: natural(kv[0])):
            if node.haproxy is None:
                continue
            for f in node.haproxy.fronts.values():
                if f.name not in seen:
                    seen[f.name] = (n, f)
                if f.stats and not f.servers:
                    port = f.binds[0].port if f.binds else 0
                    self.stats_port[n] = (port, bool(f.binds) and f.binds[0].host == "127.0.0.1")
                    if f.stats_auth:
                        self.unmapped.append(
                            Unmapped(
                                f.file,
                                f.lines.get("stats", f.line),
                                "stats auth",
                                "unsupported",
                                "give the stats port's auth=SecretRef(...) in the model",
                            )
                        )
        services: dict[str, list[tuple[str, Front]]] = {}
        redirects = []
        for fname, (n, f) in seen.items():
            if f.stats and not f.servers:
                continue
            if fname == "hamodel-metrics" and not f.servers:
                continue  # HAProxy's exporter front, which build writes for every HAProxy node (monitoring)
            if f.redirect and not f.servers:
                redirects.append(f)
                continue
            m = re.fullmatch(r"(.+?)[-_](\d+)", fname)
            svc = m.group(1) if m and f.binds and int(m.group(2)) == f.binds[0].port else fname
            services.setdefault(svc, []).append((n, f))
        self.redirects = redirects
        return services

    def behind_vip(self, svc: str, fronts: list[tuple[str, Front]]) -> tuple[str, set[str], list[str]] | None:
        """BehindVip(...) source, backend nodes, comments; None when it cannot be one."""
        _, f0 = fronts[0]
        comments: list[str] = []
        vips = []
        self.public_addrs |= f0.public
        for b in f0.binds:
            v = self.vip_by_addr.get(b.host)
            if v is None:
                self.unmapped.append(
                    Unmapped(
                        f0.file,
                        b.line,
                        f"{f0.name}: bind {b.host}:{b.port}",
                        "ambiguous",
                        "not a virtual IP of any VRRP group or IPaddr2 resource",
                    )
                )
                continue
            if vips and f0.binds and b.port != f0.binds[0].port:
                # a Front has the service's port: TripleO binds :13000 public, :5000 internal
                self.unmapped.append(
                    Unmapped(
                        f0.file,
                        b.line,
                        f"{f0.name}: bind {b.host}:{b.port}",
                        "unsupported",
                        f"another port than the first bind's ({f0.binds[0].port}): the draft's "
                        f"Front on {v} answers on {f0.binds[0].port}",
                    )
                )
            vips.append((v, b.crt))
        if not vips or not f0.servers:
            if vips:
                self.unmapped.append(Unmapped(f0.file, f0.line, f"{f0.name}", "unsupported", "a front without servers"))
            return None
        backends: dict[str, str] = {}
        for _, f in fronts:
            for s in f.servers:
                name = self.node_of_server(s.name) if safe_name(s.name) else None
                if name is None:
                    self.unmapped.append(
                        Unmapped(f.file, s.line, f"server {s.name[:40]!r}", "unsafe", "not a plain name")
                    )
                    continue
                if s.host not in ("*",):
                    try:
                        self.node_address(name, s.host, None, f.file, s.line)
                    except ValueError:
                        self.unmapped.append(
                            Unmapped(
                                f.file,
                                s.line,
                                f"server {name} {s.host}",
                                "unsupported",
                                "a backend by host name: give /etc/hosts",
                            )
                        )
                backends[name] = s.host
        ports = sorted({f.binds[0].port for _, f in fronts})
        s0 = f0.servers[0]
        bports = sorted({s.port for _, f in fronts for s in f.servers if s.port})
        args = [var(vips[0][0])]
        args.append(f"port={ports[0]}" if len(ports) == 1 else f"ports={ports}")
        if len(ports) == 1 and bports and bports != ports:
            args.append(f"backend_port={bports[0]}")
        elif len(ports) > 1 and len(bports) == len(ports) and bports != ports:
            offs = {b - p for b, p in zip(bports, ports)}
            if len(offs) == 1:
                args.append(f"backend_port_offset={offs.pop()}")
        mode = f0.mode or "tcp"
        if mode != "tcp":
            args.append(f"mode={mode!r}")
        if f0.balance != "roundrobin":
            args.append(f"balance={f0.balance!r}")
        check = {}
        if s0.inter_ms != 1000:
            check["inter_ms"] = s0.inter_ms
        for k in ("fastinter_ms", "downinter_ms"):
            if getattr(s0, k) is not None:
                check[k] = getattr(s0, k)
        if s0.rise != 2:
            check["rise"] = s0.rise
        if s0.fall != 3:
            check["fall"] = s0.fall
        if s0.check_port:
            check["port"] = s0.check_port
        if f0.http_path:
            check["http_path"] = f0.http_path
        if f0.expect_status and f0.expect_status != 200:
            check["expect_status"] = f0.expect_status
        if check:
            args.append(f"check={check!r}")
        if f0.cookie:
            args.append("sticky=True")
        single = f0.stick_dst or any(s.backup for s in f0.servers)
        if single:
            args.append("single_writer=True")
        dflt = DATABASE_TIMEOUT_S if single else None
        for t in ("client", "server", "tunnel", "http-request"):
            v = f0.timeouts.get(t)
            if v != (dflt if t in ("client", "server") else None):
                if v is None:
                    v = 60
                    comments.append(
                        f"TODO {t} timeout: hamodel writes {dflt}s for a single writer; 60 is HAProxy's defaults here"
                    )
                args.append(f"timeout_{t.replace('-', '_')}_s={int(v)}")
        if f0.tcpka:
            args.append("tcp_keepalive=True")
        if f0.maxconn:
            args.append(f"maxconn={f0.maxconn}")
        if f0.passthrough:
            args.append("tls_passthrough=True")
        # hamodel writes <svc>-<port>-redirect, OpenStack-Ansible <svc>-redirect-front-<n>
        mine = [r for r in self.redirects if r.binds and re.match(re.escape(svc) + r"[-_](\d+[-_])?redirect\b", r.name)]
        redirect = {r.binds[0].host for r in mine}
        rports = {r.binds[0].host: r.binds[0].port for r in mine}
        if vips[0][1]:
            tls = {"certificate": vips[0][1]}
            if self.vips[vips[0][0]][0] in redirect:
                tls["redirect_from"] = rports[self.vips[vips[0][0]][0]]
                self.claimed_redirects.update(r.name for r in mine if r.binds[0].host == self.vips[vips[0][0]][0])
            args.append(f"tls={tls!r}")
        if s0.ssl:
            bt: dict[str, object] = {}
            if s0.ca_file:
                bt["ca_file"] = s0.ca_file
            if s0.verify == "none":
                bt["verify"] = False
            if s0.sni is None:
                bt["server_name"] = None
            args.append(f"backend_tls={bt!r}")
        if len(vips) > 1:
            self.strategies.add("Front")
            also = []
            for v, crt in vips[1:]:
                also.append(f"Front({var(v)}" + (f", tls={{'certificate': {crt!r}}}" if crt else "") + ")")
            args.append(f"also_on=[{', '.join(also)}]")
        self.strategies.add("BehindVip")
        return f"BehindVip({', '.join(args)})", set(backends), comments

    def haproxy_services(self, managed: dict[str, str]) -> None:
        self.claimed_redirects: set[str] = set()
        self._haproxy_services(managed)
        for r in self.redirects:  # nothing silently dropped: a redirect no service's TLS front takes
            if r.name not in self.claimed_redirects:
                self.unmapped.append(
                    Unmapped(
                        r.file,
                        r.line,
                        f"{r.name}: redirect",
                        "ambiguous",
                        "an HTTP redirect front that no TLS front of a service matches (by name and VIP)",
                    )
                )

    def _haproxy_services(self, managed: dict[str, str]) -> None:
        all_fronts = self.fronts()
        self.fronts_seen = set(all_fronts)
        for svc, fronts in sorted(all_fronts.items()):
            built = self.behind_vip(svc, fronts)
            if built is None:
                continue
            access, backends, comments = built
            if not safe_name(svc):
                self.unmapped.append(Unmapped(fronts[0][1].file, fronts[0][1].line, svc, "unsafe", "not a plain name"))
                continue
            role = self.role(backends)
            dbish = any(d in svc.lower() for d in _DB_NAMES) or (
                "single_writer=True" in access and "port=3306" in access
            )
            if svc in managed:  # a Pacemaker clone of the same name: its access
                self.managed_access[svc] = access
                continue
            galera = [m for m, agent in managed.items() if agent.endswith(":galera") and m not in self.managed_access]
            if dbish and len(galera) == 1 and galera[0] not in self.fronts_seen:
                # a database front (TripleO's `listen mysql`) of the one Galera resource Pacemaker runs
                self.managed_access[galera[0]] = access
                self.notes.append(f"front {svc}: taken as the access of Pacemaker's Galera resource {galera[0]}")
                continue
            if dbish and len(backends) >= 3:
                self.strategies.add("AppCluster")
                proc = ", process='mariadb'" if svc != "mariadb" else ""
                comments.append("TODO recovery and cold_start: how this cluster restarts after every member stopped.")
                self.services.append(
                    (
                        f"Service({svc!r}{proc}, on={role!r}, replicas={len(backends)}, "
                        f"strategy=AppCluster(access={access}))",
                        comments,
                    )
                )
            else:
                if dbish:
                    comments.append(
                        "TODO: a database with fewer than 3 members; if it is a cluster, model its "
                        "witness (Witness) and make it an AppCluster."
                    )
                if "/primary" in access:
                    comments.append(
                        "TODO: the /primary check suggests Patroni: Elected(by=<the DCS service>, access=...)."
                    )
                self.services.append((f"Service({svc!r}, on={role!r}, strategy={access})", comments))


def _common_prefix(names: list[str]) -> str:

    return commonpath(names)
