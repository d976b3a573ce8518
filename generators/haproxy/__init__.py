"""haproxy.cfg per node that can hold a virtual IP with services behind it.

Every service with an HAProxy front (``Service.access``, a
:class:`~hamodel.model.strategies.BehindVip`) gets one ``listen`` section
per port, named ``<service>-<port>``, on every node that may hold its VIP
(``Deployment.vip_holders``). Its servers are the service's placed nodes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from hamodel.deployment import Deployment
from hamodel.model.strategies import BehindVip
from hamodel.generators.configs import ConfigError, NodeFile, Secrets, address, environment, integer, token

TEMPLATES = Path(__file__).parent
DEST = "/etc/haproxy/haproxy.cfg"
# The pid file haproxy.cfg's global ``pidfile`` names and keepalived's track
# script reads: Debian's and Ubuntu's haproxy.service start haproxy with
# ``-p /run/haproxy.pid`` (which overrides ``pidfile``), so both agree.
PIDFILE = "/run/haproxy.pid"


@dataclass(frozen=True)
class Server:
    name: str
    address: str          # host:port as HAProxy writes it
    backup: bool
    cookie: str | None


@dataclass(frozen=True)
class Listen:
    name: str
    service: str
    vip: str
    bind: str
    family: int
    tls_crt: str | None
    backend_tls: bool         # re-encrypt to the backends (server ... ssl)
    backend_ca: str | None    # verify them against this CA; None: verify none (explicitly chosen in the model)
    mode: str
    balance: str
    inter_ms: int
    rise: int
    fall: int
    check_port: int | None
    http_path: str | None
    single_writer: bool
    sticky: bool
    timeout_client_s: int | None
    timeout_server_s: int | None
    timeout_tunnel_s: int | None
    tcp_keepalive: bool
    accept_single_backend: bool
    servers: tuple[Server, ...]


@dataclass(frozen=True)
class Stats:
    name: str
    service: str
    bind: str
    auth: str | None = field(repr=False)  # user:password: never in a repr or traceback


@dataclass(frozen=True)
class HaproxyPlan:
    node: str
    pidfile: str
    stats: tuple[Stats, ...]
    listens: tuple[Listen, ...]

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(sorted({x.service for x in self.listens} | {s.service for s in self.stats}))

    @property
    def vip_names(self) -> tuple[str, ...]:
        return tuple(sorted({x.vip for x in self.listens}))

    @property
    def families(self) -> tuple[int, ...]:
        """Address families of the VIPs this node binds (nonlocal_bind)."""
        return tuple(sorted({x.family for x in self.listens}))


def hostport(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> str:
    return f"[{addr}]:{port}" if addr.version == 6 else f"{addr}:{port}"


def fronted_services(dep: Deployment) -> list[tuple[str, BehindVip]]:
    """(service, access) of every service with an HAProxy front, by name."""
    return sorted(((s.name, s.access) for s in dep.architecture.services if s.access is not None), key=lambda x: x[0])


def backend_network(dep: Deployment, service: str, backend: str) -> str:
    """The network HAProxy reaches ``backend`` of ``service`` over.

    The VIP's own network when the backend is on it; otherwise the first
    network (by name) that the backend and every node holding the VIP share.
    """
    arch = dep.architecture
    access = arch.service(service).access
    assert access is not None
    vip_net = arch.vip(access.vip).network
    node = arch.node(backend)
    if node.interface_on(vip_net) is not None:
        return vip_net
    lbs = [arch.node(n) for n in dep.vip_holders(access.vip)]
    for i in sorted(node.interfaces, key=lambda i: i.network):
        if all(lb.interface_on(i.network) is not None for lb in lbs):
            return i.network
    raise ConfigError([(f"services[{service}]", f"backend node {backend} shares no network with the nodes holding "
                        f"{access.vip} ({', '.join(lbs_n.name for lbs_n in lbs)}): HAProxy cannot reach it")])


def backend_networks(dep: Deployment, vips: set[str]) -> set[str]:
    """Networks used to reach the backends of every service behind ``vips``."""
    out: set[str] = set()
    for name, access in fronted_services(dep):
        if access.vip in vips:
            for b in dep.placement.nodes_of(name):
                out.add(backend_network(dep, name, b))
    return out


def _writer(dep: Deployment, vip: str, backends: tuple[str, ...]) -> str:
    """The one active server of a single-writer backend: the VIP group's
    preferred master when it is a backend, else the first node by name."""
    for g in dep.vrrp_groups:
        if vip in g.vips and g.master in backends:
            return g.master
    return backends[0]


def _listens(dep: Deployment, name: str, access: BehindVip) -> list[Listen]:
    arch = dep.architecture
    where = f"services[{name}]"
    svc = arch.service(name)
    field = f"{where}.strategy" if svc.strategy is access else f"{where}.strategy.access"
    token(name, "name", f"{where}.name")
    token(access.vip, "name", f"{field}.vip")
    try:
        vip = arch.vip(access.vip)
    except KeyError:
        raise ConfigError([(f"{field}.vip", f"unknown virtual IP {access.vip!r}")]) from None
    vip_addr = address(vip.address, f"vips[{vip.name}].address")
    crt = None if access.tls is None else token(access.tls.certificate, "path", f"{field}.tls.certificate")
    http_path = None if access.check.http_path is None else token(access.check.http_path, "http_path", f"{field}.check.http_path")
    check_port = None if access.check.port is None else integer(access.check.port, 1, 65535, f"{field}.check.port")
    if access.mode not in ("tcp", "http"):
        raise ConfigError([(f"{field}.mode", f"{access.mode!r} is not tcp or http")])
    if access.balance not in ("roundrobin", "leastconn", "source", "first"):
        raise ConfigError([(f"{field}.balance", f"{access.balance!r} is not a balance algorithm hamodel writes")])
    backends = dep.placement.nodes_of(name)
    for b in backends:
        token(b, "name", f"placement[{name}]")
    writer = _writer(dep, access.vip, backends) if access.single_writer and backends else None
    bt = access.backend_tls
    backend_ca = (token(bt.ca_file, "path", f"{field}.backend_tls.ca_file")
                  if bt is not None and bt.verify and bt.ca_file is not None else None)
    timeouts = access.effective_timeouts
    out = []
    for port, bport in zip(access.ports, access.backend_ports):
        port = integer(port, 1, 65535, f"{field}.ports")
        bport = integer(bport, 1, 65535, f"{field}.backend_port" if access.backend_port else f"{field}.backend_port_offset")
        servers = []
        for b in backends:
            net = backend_network(dep, name, b)
            iface = arch.node(b).interface_on(net)
            assert iface is not None
            servers.append(Server(
                name=b, address=hostport(address(iface.address, f"nodes[{b}].interfaces[{iface.device}].address"), bport),
                backup=writer is not None and b != writer, cookie=b if access.sticky else None,
            ))
        out.append(Listen(
            name=f"{name}-{port}", service=name, vip=vip.name, bind=hostport(vip_addr, port), family=vip_addr.version,
            tls_crt=crt, backend_tls=bt is not None, backend_ca=backend_ca, mode=access.mode, balance=access.balance,
            inter_ms=integer(access.check.inter_ms, 100, 600_000, f"{field}.check.inter_ms"),
            rise=integer(access.check.rise, 1, 100, f"{field}.check.rise"),
            fall=integer(access.check.fall, 1, 100, f"{field}.check.fall"),
            check_port=check_port, http_path=http_path, single_writer=access.single_writer, sticky=access.sticky,
            timeout_client_s=timeouts["client"], timeout_server_s=timeouts["server"],
            timeout_tunnel_s=timeouts["tunnel"],
            tcp_keepalive=access.tcp_keepalive, accept_single_backend=access.accept_single_backend,
            servers=tuple(servers),
        ))
    return out


def _stats(dep: Deployment, node: str, secrets: Secrets) -> list[Stats]:
    """Stats/monitor listeners: the ports the HAProxy holder service declares,
    bound on this node's own address on the VIP network (never the VIP)."""
    arch = dep.architecture
    out = []
    for g in sorted(dep.vrrp_groups, key=lambda g: g.service):
        if node not in g.priorities:
            continue
        svc = arch.service(g.service)
        if svc.process != "haproxy":
            continue
        iface = arch.node(node).interface_on(g.network)
        if iface is None:
            continue
        for ep in svc.ports:
            port = integer(ep.port, 1, 65535, f"services[{svc.name}].ports")
            ref = getattr(ep, "auth", None)  # credentials by reference, when the model gives them
            auth = None if ref is None else secrets.get(ref, "stats_secret", f"services[{svc.name}].ports[{port}].auth")
            out.append(Stats(name=f"stats-{port}", service=svc.name,
                             bind=hostport(address(iface.address, f"nodes[{node}].interfaces[{iface.device}].address"), port),
                             auth=auth))
    return out


def plan_haproxy(dep: Deployment, secrets: Secrets) -> dict[str, HaproxyPlan]:
    """node -> its HAProxy plan, for every node that may hold a fronted VIP."""
    listens: dict[str, list[Listen]] = {}
    for name, access in fronted_services(dep):
        planned = _listens(dep, name, access)  # first: refuses unsafe values, naming the field
        holders = dep.vip_holders(access.vip)
        if not holders:
            raise ConfigError([(f"services[{name}]", f"virtual IP {access.vip} is not held by any VRRP or Pacemaker "
                                "group: no HAProxy would serve it")])
        for n in holders:
            listens.setdefault(token(n, "name", f"vrrp_groups[{access.vip}]"), []).extend(planned)
    return {
        n: HaproxyPlan(node=n, pidfile=PIDFILE, stats=tuple(sorted(_stats(dep, n, secrets), key=lambda s: s.name)),
                       listens=tuple(sorted(ls, key=lambda x: x.name)))
        for n, ls in sorted(listens.items())
    }


def check_haproxy(dep: Deployment, plans: dict[str, HaproxyPlan]) -> list[tuple[str, str]]:
    """Backends that would not do what the model says; ``(where, message)``."""
    problems: list[tuple[str, str]] = []
    by_name: dict[str, dict[str, Listen]] = {}
    for n, plan in plans.items():
        binds: dict[str, str] = {}
        names: dict[str, str] = {}
        for x in [*plan.listens, *plan.stats]:
            if x.bind in binds:
                problems.append((f"services[{x.service}]", f"node {n}: {x.bind} is bound by both {binds[x.bind]} and {x.name}"))
            binds[x.bind] = x.name
            if x.name in names:
                problems.append((f"services[{x.service}]", f"node {n}: proxy name {x.name} is also used by "
                                 f"services[{names[x.name]}]: rename one of them"))
            names[x.name] = x.service
        for x in plan.listens:
            by_name.setdefault(x.name, {})[n] = x
    for name, per_node in sorted(by_name.items()):
        x = next(iter(per_node.values()))
        where = f"services[{x.service}]"
        if len(set(per_node.values())) > 1:
            problems.append((where, f"listen {name} differs between nodes {sorted(per_node)}"))
        if not x.servers:
            problems.append((where, f"listen {name}: no backend server (the service is placed nowhere)"))
        elif len(x.servers) == 1 and not x.accept_single_backend:
            problems.append((where, f"listen {name}: a backend of one server ({x.servers[0].name}) has no redundancy; "
                             "set accept_single_backend=True to accept it"))
        if x.single_writer and x.servers:
            active = [s.name for s in x.servers if not s.backup]
            if len(active) != 1:
                problems.append((where, f"listen {name}: single writer needs exactly one active server, found {active}"))
    return problems


def render_haproxy(dep: Deployment, plans: dict[str, HaproxyPlan], redacted: dict[str, HaproxyPlan]) -> list[NodeFile]:
    template = environment(TEMPLATES).get_template("haproxy.cfg.j2")
    files = []
    for n, plan in sorted(plans.items()):
        def render(p: HaproxyPlan) -> bytes:
            return template.render(node=n, model=dep.architecture.name, plan=p).encode()

        files.append(NodeFile(
            node=n, kind="haproxy", path=f"nodes/{n}/haproxy/haproxy.cfg", dest=DEST,
            services=plan.services, vips=plan.vip_names, data=render(plan), redacted=render(redacted[n]),
            secret=any(s.auth for s in plan.stats),
        ))
    return files
