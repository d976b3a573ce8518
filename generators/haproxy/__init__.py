"""haproxy.cfg per node that can hold a virtual IP with services behind it.

Every service with an HAProxy front (``Service.access``, a
:class:`~hamodel.model.strategies.BehindVip`) gets one ``listen`` section
per port, named ``<service>-<port>``, bound on each of its VIPs (``vip``
and ``also_on``, each with its own TLS choice), on every node that may hold
one of them (``Deployment.front_holders``). Its servers are the service's
placed nodes. ``global`` and ``defaults`` come from the architecture's
``haproxy`` settings (:class:`~hamodel.model.strategies.HaproxySettings`):
the template holds no number of its own.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from hamodel.generators.common import (
    ConfigError,
    InconsistentConfig,
    NodeFile,
    Secrets,
    address,
    environment,
    integer,
    token,
)

from hamodel.deployment import HAPROXY_METRICS_PORT, HAPROXY_PIDFILE, HAPROXY_STATS_SOCKET, Deployment
from hamodel.model.strategies import BehindVip, Elected, HaproxySettings

TEMPLATES = Path(__file__).parent
DEST = "/etc/haproxy/haproxy.cfg"
# Kept for importers; the fact itself lives on the Deployment module.
PIDFILE = HAPROXY_PIDFILE
_CIPHERS = re.compile(r"[A-Za-z0-9_+!:.-]{1,1000}")
# Stats without authentication listen here only (the node itself).
LOOPBACK = "127.0.0.1"
# Status pages a backend's web server may serve (Apache's mod_status and mod_info,
# behind Keystone and Horizon): never answered on a public VIP.
DENIED_PATHS = ("/server-status", "/server-info")


@dataclass(frozen=True)
class Globals:
    """``global`` and ``defaults`` values, from ``Architecture.haproxy``."""

    maxconn: int
    frontend_maxconn: int
    retries: int
    timeout_connect_s: int
    timeout_client_s: int
    timeout_server_s: int
    timeout_http_request_s: int
    timeout_http_keep_alive_s: int
    timeout_queue_s: int
    timeout_check_s: int
    tls_min_version: str
    tls_ciphers: str
    tls_ciphersuites: str
    hsts_max_age_s: int = 0


@dataclass(frozen=True)
class Server:
    name: str
    address: str  # host:port as HAProxy writes it
    backup: bool
    cookie: str | None
    tls_name: str | None = None  # SNI and verifyhost of a re-encrypted backend


@dataclass(frozen=True)
class Bind:
    vip: str
    address: str  # host:port
    family: int
    tls_crt: str | None  # TLS termination on this VIP
    public: bool = False  # the VIP's exposure is public


@dataclass(frozen=True)
class Redirect:
    """A plain-HTTP port on a TLS front that answers 301 to https://."""

    name: str
    service: str
    vip: str
    bind: str


@dataclass(frozen=True)
class Listen:
    name: str
    service: str
    binds: tuple[Bind, ...]
    backend_tls: bool  # re-encrypt to the backends (server ... ssl)
    backend_ca: str | None  # verify them against this CA; None: verify none (explicitly chosen in the model)
    mode: str
    tls_passthrough: bool
    balance: str
    inter_ms: int
    rise: int
    fall: int
    check_port: int | None
    http_path: str | None
    expect_status: int
    single_writer: bool
    # One member at a time passes the check (a single writer, or the leader of an
    # Elected cluster, e.g. Patroni's /primary): when it is marked down its client
    # sessions are cut, so that clients reconnect to the next one instead of writing
    # to a member that no longer takes writes.
    shutdown_sessions: bool
    sticky: bool
    timeout_client_s: int | None
    timeout_server_s: int | None
    timeout_tunnel_s: int | None
    timeout_http_request_s: int | None
    maxconn: int | None
    tcp_keepalive: bool
    accept_single_backend: bool
    servers: tuple[Server, ...]
    fastinter_ms: int | None = None
    downinter_ms: int | None = None
    hsts_max_age_s: int = 0  # Strict-Transport-Security on TLS binds; 0: none

    @property
    def public_dsts(self) -> tuple[str, ...]:
        """Addresses of the public binds (no port) when only some binds are
        public; ``()`` when all or none are (no ``dst`` condition needed)."""
        public = [b for b in self.binds if b.public]
        if len(public) == len(self.binds):
            return ()
        return tuple(b.address.rsplit(":", 1)[0].strip("[]") for b in public)

    @property
    def denies(self) -> bool:
        """HTTP front with a public VIP: status pages denied there."""
        return self.mode == "http" and any(b.public for b in self.binds)

    @property
    def hsts(self) -> bool:
        return self.mode == "http" and self.hsts_max_age_s > 0 and any(b.tls_crt for b in self.binds)

    @property
    def secure_cookie(self) -> bool:
        """HAProxy's stickiness cookie gets ``secure`` when every bind terminates
        TLS (on a mixed front a secure cookie would never come back over the
        plain-text VIP, and HAProxy cannot set the flag per connection)."""
        return self.sticky and all(b.tls_crt for b in self.binds)

    @property
    def vip(self) -> str:
        """The first VIP (the model's ``vip``)."""
        return self.binds[0].vip

    @property
    def bind(self) -> str:
        """The first bind address (the model's ``vip``)."""
        return self.binds[0].address

    @property
    def tls_crt(self) -> str | None:
        return self.binds[0].tls_crt

    @property
    def forwarded_proto(self) -> str:
        """``https``, ``http`` or ``mixed`` (some VIPs with TLS, some without)."""
        tls = {b.tls_crt is not None for b in self.binds}
        return "mixed" if len(tls) > 1 else ("https" if True in tls else "http")


@dataclass(frozen=True)
class Stats:
    name: str
    service: str
    bind: str
    auth: str | None = field(repr=False)  # user:password: never in a repr or traceback


@dataclass(frozen=True)
class HaproxyPlan:
    node: str
    stats: tuple[Stats, ...]
    listens: tuple[Listen, ...]
    settings: Globals | None = None
    redirects: tuple[Redirect, ...] = ()
    stats_socket: str = HAPROXY_STATS_SOCKET
    # PROMEX (HAProxy's built-in Prometheus exporter) on the node's own address; None: no address for it.
    metrics_bind: str | None = None

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(sorted({x.service for x in self.listens} | {s.service for s in self.stats}))

    @property
    def vip_names(self) -> tuple[str, ...]:
        return tuple(sorted({b.vip for x in self.listens for b in x.binds}))

    @property
    def families(self) -> tuple[int, ...]:
        """Address families of the VIPs this node binds (nonlocal_bind)."""
        return tuple(sorted({b.family for x in self.listens for b in x.binds}))

    @property
    def uses_tls(self) -> bool:
        return any(b.tls_crt for x in self.listens for b in x.binds) or any(x.backend_tls for x in self.listens)


def hostport(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> str:
    return f"[{addr}]:{port}" if addr.version == 6 else f"{addr}:{port}"


def fronted_services(dep: Deployment) -> list[tuple[str, BehindVip]]:
    """(service, access) of every service with an HAProxy front, by name."""
    return dep.fronted_services()


def backend_network(dep: Deployment, service: str, backend: str) -> str:
    """The network HAProxy reaches ``backend`` of ``service`` over
    (:meth:`Deployment.backend_network`); refused when there is none."""
    net = dep.backend_network(service, backend)
    if net is None:
        lbs = dep.front_holders(service)
        raise ConfigError(
            [
                (
                    f"services[{service}]",
                    f"backend node {backend} shares no network with the nodes holding "
                    f"its virtual IPs ({', '.join(lbs)}): HAProxy cannot reach it",
                )
            ]
        )
    return net


def _globals(s: HaproxySettings) -> Globals:
    w = "haproxy"
    if s.frontend_maxconn > s.maxconn:
        raise ConfigError([(f"{w}.frontend_maxconn", f"{s.frontend_maxconn} exceeds maxconn {s.maxconn}")])
    for name in ("tls_ciphers", "tls_ciphersuites"):
        if not _CIPHERS.fullmatch(getattr(s, name)):
            raise ConfigError([(f"{w}.{name}", "not a cipher list (letters, digits and _+!:.- only)")])
    if s.tls_min_version not in ("TLSv1.2", "TLSv1.3"):
        raise ConfigError([(f"{w}.tls_min_version", f"{s.tls_min_version!r} is not TLSv1.2 or TLSv1.3")])
    return Globals(
        maxconn=integer(s.maxconn, 1, 10_000_000, f"{w}.maxconn"),
        frontend_maxconn=integer(s.frontend_maxconn, 1, 10_000_000, f"{w}.frontend_maxconn"),
        retries=integer(s.retries, 0, 100, f"{w}.retries"),
        **{
            k: integer(getattr(s, k), 1, 86400, f"{w}.{k}")
            for k in (
                "timeout_connect_s",
                "timeout_client_s",
                "timeout_server_s",
                "timeout_http_request_s",
                "timeout_http_keep_alive_s",
                "timeout_queue_s",
                "timeout_check_s",
            )
        },
        tls_min_version=s.tls_min_version,
        tls_ciphers=s.tls_ciphers,
        tls_ciphersuites=s.tls_ciphersuites,
        hsts_max_age_s=integer(s.hsts_max_age_s, 0, 2 * 31_536_000, f"{w}.hsts_max_age_s"),
    )


def _writer(dep: Deployment, vip: str, backends: tuple[str, ...]) -> str:
    """The one active server of a single-writer backend: the VIP group's
    preferred master when it is a backend, else the first node by name."""
    for g in dep.vrrp_groups:
        if vip in g.vips and g.master in backends:
            return g.master
    return backends[0]


def _vip(dep: Deployment, name: object, where: str) -> tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address]:
    token(name, "name", where)
    try:
        vip = dep.architecture.vip(str(name))
    except KeyError:
        raise ConfigError([(where, f"unknown virtual IP {name!r}")]) from None
    return vip.name, address(vip.address, f"vips[{vip.name}].address")


def _public(dep: Deployment, name: str) -> bool:
    return dep.architecture.vip(name).exposure == "public"


def _listens(dep: Deployment, name: str, access: BehindVip) -> tuple[list[Listen], list[Redirect]]:
    arch = dep.architecture
    where = f"services[{name}]"
    svc = arch.service(name)
    field = f"{where}.strategy" if svc.strategy is access else f"{where}.strategy.access"
    token(name, "name", f"{where}.name")
    fronts = []  # (vip name, address, certificate, redirect port)
    for i, f in enumerate(access.fronts):
        fw = f"{field}.vip" if i == 0 else f"{field}.also_on[{i - 1}].vip"
        tw = f"{field}.tls" if i == 0 else f"{field}.also_on[{i - 1}].tls"
        vname, vaddr = _vip(dep, f.vip, fw)
        crt = None if f.tls is None else token(f.tls.certificate, "path", f"{tw}.certificate")
        redirect = (
            None
            if f.tls is None or f.tls.redirect_from is None
            else integer(f.tls.redirect_from, 1, 65535, f"{tw}.redirect_from")
        )
        fronts.append((vname, vaddr, crt, redirect))
    http_path = (
        None
        if access.check.http_path is None
        else token(access.check.http_path, "http_path", f"{field}.check.http_path")
    )
    check_port = None if access.check.port is None else integer(access.check.port, 1, 65535, f"{field}.check.port")
    if access.mode not in ("tcp", "http"):
        raise ConfigError([(f"{field}.mode", f"{access.mode!r} is not tcp or http")])
    if access.balance not in ("roundrobin", "leastconn", "source", "first"):
        raise ConfigError([(f"{field}.balance", f"{access.balance!r} is not a balance algorithm hamodel writes")])
    if any(c for _, _, c, _ in fronts) and access.mode != "http":
        raise ConfigError([(f"{field}.tls", "TLS termination needs mode http; use tls_passthrough in tcp mode")])
    backends = dep.placement.nodes_of(name)
    for b in backends:
        token(b, "name", f"placement[{name}]")
    writer = _writer(dep, str(access.vip), backends) if access.single_writer and backends else None
    bt = access.backend_tls
    backend_ca = (
        token(bt.ca_file, "path", f"{field}.backend_tls.ca_file")
        if bt is not None and bt.verify and bt.ca_file is not None
        else None
    )
    timeouts = access.effective_timeouts
    maxconn = None if access.maxconn is None else integer(access.maxconn, 1, arch.haproxy.maxconn, f"{field}.maxconn")
    out = []
    for port, bport in zip(access.ports, access.backend_ports):
        port = integer(port, 1, 65535, f"{field}.ports")
        bport = integer(
            bport, 1, 65535, f"{field}.backend_port" if access.backend_port else f"{field}.backend_port_offset"
        )
        servers = []
        for b in backends:
            net = backend_network(dep, name, b)
            iface = arch.node(b).interface_on(net)
            assert iface is not None
            servers.append(
                Server(
                    name=b,
                    address=hostport(address(iface.address, f"nodes[{b}].interfaces[{iface.device}].address"), bport),
                    backup=writer is not None and b != writer,
                    cookie=b if access.sticky else None,
                    tls_name=(
                        token(bt.name_for(b), "hostname", f"{field}.backend_tls.server_name")
                        if bt is not None and bt.name_for(b)
                        else None
                    ),
                )
            )
        out.append(
            Listen(
                name=f"{name}-{port}",
                service=name,
                binds=tuple(
                    Bind(vip=v, address=hostport(a, port), family=a.version, tls_crt=c, public=_public(dep, v))
                    for v, a, c, _ in fronts
                ),
                backend_tls=bt is not None,
                backend_ca=backend_ca,
                mode=access.mode,
                tls_passthrough=access.tls_passthrough,
                balance=access.balance,
                inter_ms=integer(access.check.inter_ms, 100, 600_000, f"{field}.check.inter_ms"),
                rise=integer(access.check.rise, 1, 100, f"{field}.check.rise"),
                fall=integer(access.check.fall, 1, 100, f"{field}.check.fall"),
                # A check port that is the server's own port is no other place: left out,
                # so the check speaks what the port speaks (check-ssl for pass-through, ssl).
                check_port=None if check_port == bport else check_port,
                http_path=http_path,
                expect_status=integer(access.check.expect_status, 100, 599, f"{field}.check.expect_status"),
                single_writer=access.single_writer,
                shutdown_sessions=access.single_writer or isinstance(svc.strategy, Elected),
                sticky=access.sticky,
                timeout_client_s=timeouts["client"],
                timeout_server_s=timeouts["server"],
                timeout_tunnel_s=timeouts["tunnel"],
                timeout_http_request_s=timeouts["http-request"],
                maxconn=maxconn,
                tcp_keepalive=access.tcp_keepalive,
                accept_single_backend=access.accept_single_backend,
                servers=tuple(servers),
                hsts_max_age_s=arch.haproxy.hsts_max_age_s,
                fastinter_ms=access.check.fastinter_ms,
                downinter_ms=access.check.downinter_ms,
            )
        )
    redirects = [
        Redirect(name=f"{name}-{r}-redirect" + ("" if i == 0 else f"-{v}"), service=name, vip=v, bind=hostport(a, r))
        for i, (v, a, _, r) in enumerate(fronts)
        if r is not None
    ]
    return out, redirects


def planned_listens(dep: Deployment, name: str, access: BehindVip) -> list[Listen]:
    """The ``listen`` sections of one fronted service as ``haproxy.cfg`` writes them
    (the documents show the same balance, backups and stickiness)."""
    return _listens(dep, name, access)[0]


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
            # Without a password only the node itself may read it.
            host = (
                ipaddress.ip_address(LOOPBACK)
                if ep.loopback and auth is None
                else address(iface.address, f"nodes[{node}].interfaces[{iface.device}].address")
            )
            out.append(Stats(name=f"stats-{port}", service=svc.name, bind=hostport(host, port), auth=auth))
    return out


def metrics_bind(dep: Deployment, node: str) -> str | None:
    """Where this node's HAProxy serves Prometheus metrics: its own address on
    the network of its first VRRP group (by service name), port
    :data:`~hamodel.deployment.HAPROXY_METRICS_PORT`; never a VIP."""
    arch = dep.architecture
    for g in sorted(dep.vrrp_groups, key=lambda g: g.service):
        if node in g.priorities and (iface := arch.node(node).interface_on(g.network)) is not None:
            return hostport(
                address(iface.address, f"nodes[{node}].interfaces[{iface.device}].address"), HAPROXY_METRICS_PORT
            )
    return None


def plan_haproxy(dep: Deployment, secrets: Secrets) -> dict[str, HaproxyPlan]:
    """node -> its HAProxy plan, for every node that may hold a fronted VIP."""
    settings = _globals(dep.architecture.haproxy)
    listens: dict[str, list[Listen]] = {}
    redirects: dict[str, list[Redirect]] = {}
    for name, access in fronted_services(dep):
        planned, redirected = _listens(dep, name, access)  # first: refuses unsafe values, naming the field
        holders = dep.vip_holders(str(access.vip))
        if not holders:
            raise ConfigError(
                [
                    (
                        f"services[{name}]",
                        f"virtual IP {access.vip} is not held by any VRRP or Pacemaker "
                        "group: no HAProxy would serve it",
                    )
                ]
            )
        for i, f in enumerate(access.also_on):
            if set(dep.vip_holders(str(f.vip))) != set(holders):
                raise ConfigError(
                    [
                        (
                            f"services[{name}].strategy.also_on[{i}].vip",
                            f"virtual IP {f.vip} is held by {list(dep.vip_holders(str(f.vip)))}, {access.vip} by "
                            f"{list(holders)}: one HAProxy front needs its VIPs on the same nodes",
                        )
                    ]
                )
        for n in holders:
            n = token(n, "name", f"vrrp_groups[{access.vip}]")
            listens.setdefault(n, []).extend(planned)
            redirects.setdefault(n, []).extend(redirected)
    return {
        n: HaproxyPlan(
            node=n,
            stats=tuple(sorted(_stats(dep, n, secrets), key=lambda s: s.name)),
            listens=tuple(sorted(ls, key=lambda x: x.name)),
            settings=settings,
            redirects=tuple(sorted(redirects.get(n, []), key=lambda r: r.name)),
            metrics_bind=metrics_bind(dep, n),
        )
        for n, ls in sorted(listens.items())
    }


def check_haproxy(dep: Deployment, plans: dict[str, HaproxyPlan]) -> list[tuple[str, str]]:
    """Backends that would not do what the model says; ``(where, message)``."""
    problems: list[tuple[str, str]] = []
    by_name: dict[str, dict[str, Listen]] = {}
    for n, plan in plans.items():
        binds: dict[str, str] = {}
        names: dict[str, str] = {}
        for x in [*plan.listens, *plan.stats, *plan.redirects]:
            for b in x.binds if isinstance(x, Listen) else ():
                if b.address in binds:
                    problems.append(
                        (
                            f"services[{x.service}]",
                            f"node {n}: {b.address} is bound by both {binds[b.address]} and {x.name}",
                        )
                    )
                binds[b.address] = x.name
            if not isinstance(x, Listen):
                if x.bind in binds:
                    problems.append(
                        (f"services[{x.service}]", f"node {n}: {x.bind} is bound by both {binds[x.bind]} and {x.name}")
                    )
                binds[x.bind] = x.name
            if x.name in names:
                problems.append(
                    (
                        f"services[{x.service}]",
                        f"node {n}: proxy name {x.name} is also used by services[{names[x.name]}]: rename one of them",
                    )
                )
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
            problems.append(
                (
                    where,
                    f"listen {name}: a backend of one server ({x.servers[0].name}) has no redundancy; "
                    "set accept_single_backend=True to accept it",
                )
            )
        if x.single_writer and x.servers:
            active = [s.name for s in x.servers if not s.backup]
            if len(active) != 1:
                problems.append(
                    (where, f"listen {name}: single writer needs exactly one active server, found {active}")
                )
    return problems


def render_haproxy(dep: Deployment, plans: dict[str, HaproxyPlan], redacted: dict[str, HaproxyPlan]) -> list[NodeFile]:
    template = environment(TEMPLATES).get_template("haproxy.cfg.j2")
    files = []
    for n, plan in sorted(plans.items()):

        def render(p: HaproxyPlan) -> bytes:
            return template.render(node=n, model=dep.architecture.name, plan=p, denied_paths=DENIED_PATHS).encode()

        files.append(
            NodeFile(
                node=n,
                kind="haproxy",
                path=f"nodes/{n}/haproxy/haproxy.cfg",
                dest=DEST,
                services=plan.services,
                vips=plan.vip_names,
                data=render(plan),
                redacted=render(redacted[n]),
                secret=any(s.auth for s in plan.stats),
            )
        )
    return files


def generate(dep: Deployment, secrets: Secrets, redacted: Secrets) -> list[NodeFile]:
    """Deployment -> every node's haproxy.cfg (the generators' common entry point).

    Raises :class:`InconsistentConfig` when the nodes would disagree (see :func:`check_haproxy`).
    """
    plans = plan_haproxy(dep, secrets)
    problems = check_haproxy(dep, plans)
    if problems:
        raise InconsistentConfig(problems)
    return render_haproxy(dep, plans, plan_haproxy(dep, redacted))
