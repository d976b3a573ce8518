"""keepalived.conf per node: one ``vrrp_instance`` per VRRP group and family.

Facts come from the Deployment (``VrrpGroup``: members, priorities, VRID,
network) and the service's :class:`~hamodel.model.strategies.Vrrp`
strategy (preemption, unicast, advert_int, auth, notify). Planning and
rendering are separate so that :func:`check_keepalived` can compare the
nodes of a group before a byte is rendered.
"""

from __future__ import annotations

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

from hamodel.deployment import HAPROXY_PIDFILE, KEEPALIVED_STATE_SCRIPT, Deployment, VrrpGroup
from hamodel.model.strategies import Vrrp

TEMPLATES = Path(__file__).parent
DEST = "/etc/keepalived/keepalived.conf"
# pgrep -x matches the 15 characters the kernel keeps of a process name.
COMM_LEN = 15
# VIPs one VRRP advert can carry (keepalived's vrrp.c: at most 255, and what
# fits in one packet of the interface MTU), sized for an MTU of 1280 or more:
# (1280 - 14 - 20 - 8 - 8) / 4 and (1280 - 14 - 40 - 8) / 16. keepalived
# moves the excess to virtual_ipaddress_excluded itself, but reports it as a
# config error (`keepalived -t` exits 5); the generator writes it that way.
ADVERT_MAX = {4: 255, 6: 76}
# keepalived (lib/parser.c) reads a line with fgets() into MAXBUF (1024)
# bytes: a longer line is cut after 1022 bytes and its tail parsed as a line
# of its own, silently (a comment's tail can become `nopreempt`).
MAX_LINE = 1022


@dataclass(frozen=True)
class VrrpScript:
    name: str
    process: str
    pattern: str
    # HAProxy is tracked through its pid file, not by name: on OpenStack
    # controllers neutron runs a metadata-proxy process named haproxy per
    # router/network, which `pgrep -x haproxy` would take for this one.
    pidfile: str | None = None
    interval: int = 2
    timeout: int = 1
    fall: int = 2
    rise: int = 2
    # 0: a failed check puts the instance in FAULT (it releases the VIP).
    # A non-zero weight only lowers the priority, which with nopreempt
    # pins the VIP on a node whose haproxy is dead: see check_keepalived.
    weight: int = 0


@dataclass(frozen=True)
class VrrpInstance:
    name: str
    service: str
    vip_names: tuple[str, ...]
    family: int
    state: str
    nopreempt: bool
    interface: str
    network: str
    vrid: int
    priority: int
    advert_int: int
    vips: tuple[str, ...]  # "address/prefix"
    unicast_src: str | None
    unicast_peers: tuple[str, ...]
    members: tuple[str, ...]
    auth: str | None = field(repr=False)  # a secret: never in a repr or traceback
    garp_master_refresh: int | None
    track_interfaces: tuple[str, ...]
    process: str  # tracked by ``script``
    script: str
    notify: str | None
    # The vrrp_script timings of the service's Vrrp.check (interval, timeout, fall, rise).
    check: tuple[int, int, int, int] = (2, 1, 2, 2)
    # Per VIP (same order as vips): the device it is added on.
    vip_devs: tuple[str, ...] = ()
    sync_group: str | None = None

    def _with_devs(self, vips: tuple[str, ...], offset: int) -> tuple[tuple[str, str], ...]:
        devs = self.vip_devs or (self.interface,) * len(self.vips)
        return tuple(zip(vips, devs[offset : offset + len(vips)]))

    @property
    def advertised(self) -> tuple[tuple[str, str], ...]:
        """(VIP, device) in ``virtual_ipaddress`` (carried in the adverts)."""
        return self._with_devs(self.vips[: ADVERT_MAX[self.family]], 0)

    @property
    def excluded(self) -> tuple[tuple[str, str], ...]:
        """(VIP, device) beyond one advert: ``virtual_ipaddress_excluded``, moved with the others."""
        return self._with_devs(self.vips[ADVERT_MAX[self.family] :], ADVERT_MAX[self.family])


@dataclass(frozen=True)
class KeepalivedPlan:
    node: str
    scripts: tuple[VrrpScript, ...]
    instances: tuple[VrrpInstance, ...]

    @property
    def sync_groups(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(vrrp_sync_group name, its instances on this node), by name."""
        groups: dict[str, list[str]] = {}
        for i in self.instances:
            if i.sync_group is not None:
                groups.setdefault(i.sync_group, []).append(i.name)
        return tuple((k, tuple(sorted(v))) for k, v in sorted(groups.items()))

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(sorted({i.service for i in self.instances}))

    @property
    def vip_names(self) -> tuple[str, ...]:
        return tuple(sorted({v for i in self.instances for v in i.vip_names}))


def keepalived_groups(dep: Deployment) -> list[VrrpGroup]:
    return sorted((g for g in dep.vrrp_groups if g.manager == "keepalived"), key=lambda g: (g.service, g.vrid))


def _group_instances(dep: Deployment, g: VrrpGroup, secrets: Secrets) -> dict[str, list[VrrpInstance]]:
    """The instances of one group, per member node."""
    arch = dep.architecture
    where = f"services[{g.service}]"
    try:
        svc = arch.service(g.service)
    except KeyError:
        raise ConfigError([(f"vrrp_groups[{g.service}]", "no such service in the model")]) from None
    strat = svc.strategy
    if not isinstance(strat, Vrrp):
        raise ConfigError([(f"{where}.strategy", f"a keepalived VRRP group needs a Vrrp strategy, not {strat.kind}")])
    token(svc.name, "name", f"{where}.name")
    process = token(strat.track or svc.process, "name", f"{where}.strategy.track")
    script = f"chk_{process}"
    vrid = integer(g.vrid, 1, 255, f"vrrp_groups[{g.service}].vrid")
    advert = integer(strat.advert_int, 1, 255, f"{where}.strategy.advert_int")
    refresh = (
        None
        if strat.garp_master_refresh_s is None
        else integer(strat.garp_master_refresh_s, 1, 3600, f"{where}.strategy.garp_master_refresh_s")
    )
    notify = None if strat.notify is None else token(strat.notify, "path", f"{where}.strategy.notify")
    auth = None if strat.auth is None else secrets.get(strat.auth, "vrrp_secret", f"{where}.strategy.auth")
    c = strat.check
    check = (
        integer(c.interval_s, 1, 3600, f"{where}.strategy.check.interval_s"),
        integer(c.timeout_s, 1, 3600, f"{where}.strategy.check.timeout_s"),
        integer(c.fall, 1, 100, f"{where}.strategy.check.fall"),
        integer(c.rise, 1, 100, f"{where}.strategy.check.rise"),
    )
    try:
        arch.network(g.network)
    except KeyError:
        raise ConfigError([(f"vrrp_groups[{g.service}].network", f"unknown network {g.network!r}")]) from None

    # (name, "address/prefix", network) per family; VIPs on another network than the
    # adverts' follow on that network's interface (virtual_ipaddress ... dev).
    by_family: dict[int, list[tuple[str, str, str]]] = {}
    for v in g.vips:
        token(v, "name", f"{where}.strategy.vips")
        try:
            vip = arch.vip(v)
        except KeyError:
            raise ConfigError([(f"{where}.strategy.vips", f"unknown virtual IP {v!r}")]) from None
        try:
            vnet = arch.network(vip.network)
        except KeyError:
            raise ConfigError([(f"vips[{v}].network", f"unknown network {vip.network!r}")]) from None
        a = address(vip.address, f"vips[{v}].address")
        prefix = vnet.subnet.prefixlen if a in vnet.subnet else a.max_prefixlen
        by_family.setdefault(a.version, []).append((v, f"{a}/{prefix}", vip.network))

    if strat.auth is not None and 6 in by_family:
        raise ConfigError(
            [
                (
                    f"{where}.strategy.auth",
                    "IPv6 VIPs use VRRP version 3, which has no authentication: drop auth or use IPv4 VIPs",
                )
            ]
        )
    members = tuple(sorted(g.priorities))
    for n in members:
        token(n, "name", f"vrrp_groups[{g.service}].priorities")
    own: dict[str, tuple[str, object]] = {}
    for n in members:
        try:
            node = arch.node(n)
        except KeyError:
            raise ConfigError([(f"vrrp_groups[{g.service}].priorities", f"unknown node {n!r}")]) from None
        iface = node.interface_on(g.network)
        if iface is None:
            raise ConfigError(
                [(f"nodes[{n}].interfaces", f"no interface on network {g.network!r} for VRRP group {g.service}")]
            )
        dev = token(iface.device, "device", f"nodes[{n}].interfaces[{iface.network}].device")
        own[n] = (dev, address(iface.address, f"nodes[{n}].interfaces[{dev}].address"))

    # Interfaces besides the VRRP one that this node's HAProxy needs to
    # reach the backends behind these VIPs, or that carry some of the VIPs:
    # losing one must move the VIP.
    needed = dep.backend_networks(set(g.vips)) | {x for vips in by_family.values() for _, _, x in vips}

    def device(n: str, network: str) -> str:
        iface = arch.node(n).interface_on(network)
        if iface is None:
            raise ConfigError(
                [
                    (
                        f"nodes[{n}].interfaces",
                        f"no interface on network {network!r} for the VIPs of VRRP group {g.service}",
                    )
                ]
            )
        return token(iface.device, "device", f"nodes[{n}].interfaces[{iface.network}].device")

    out: dict[str, list[VrrpInstance]] = {}
    for family, vips in sorted(by_family.items()):
        name = svc.name if len(by_family) == 1 else f"{svc.name}_v{family}"
        for n in members:
            dev, src = own[n]
            peers: tuple[str, ...] = ()
            if strat.unicast:
                if src.version != family:  # type: ignore[attr-defined]
                    raise ConfigError(
                        [
                            (
                                f"nodes[{n}].interfaces[{dev}].address",
                                f"unicast VRRP for IPv{family} VIPs of {svc.name} needs an IPv{family} address on {g.network}",
                            )
                        ]
                    )
                peers = tuple(sorted((str(own[m][1]) for m in members if m != n), key=_addr_key))
            node = arch.node(n)
            tracked = tuple(
                sorted(
                    {
                        token(i.device, "device", f"nodes[{n}].interfaces[{i.network}].device")
                        for i in node.interfaces
                        if i.network in needed and i.network != g.network
                    }
                )
            )
            prio = g.priorities[n]
            out.setdefault(n, []).append(
                VrrpInstance(
                    name=name,
                    service=svc.name,
                    vip_names=tuple(v for v, _, _ in vips),
                    family=family,
                    state="MASTER" if strat.preempt and n == g.master else "BACKUP",
                    nopreempt=not strat.preempt,
                    interface=dev,
                    network=g.network,
                    vrid=vrid,
                    priority=integer(prio, 0, 255, f"vrrp_groups[{g.service}].priorities[{n}]"),
                    advert_int=advert,
                    vips=tuple(a for _, a, _ in vips),
                    vip_devs=tuple(dev if x == g.network else device(n, x) for _, _, x in vips),
                    # A lone member has no peer; keepalived turns a peerless
                    # unicast block into (deprecated) multicast, so write none.
                    unicast_src=str(src) if strat.unicast and peers else None,
                    unicast_peers=peers,
                    members=members,
                    auth=auth,
                    garp_master_refresh=refresh,
                    track_interfaces=tracked,
                    process=process,
                    script=script,
                    notify=notify,
                    check=check,
                    sync_group=strat.sync_group,
                )
            )
    return out


def _addr_key(a: str) -> tuple:
    import ipaddress

    ip = ipaddress.ip_address(a)
    return (ip.version, int(ip))


def plan_keepalived(dep: Deployment, secrets: Secrets) -> dict[str, KeepalivedPlan]:
    """node -> its keepalived plan, for every member of a keepalived group."""
    instances: dict[str, list[VrrpInstance]] = {}
    scripts: dict[str, dict[str, VrrpScript]] = {}
    for g in keepalived_groups(dep):
        for n, insts in _group_instances(dep, g, secrets).items():
            instances.setdefault(n, []).extend(insts)
            for i in insts:
                script = VrrpScript(
                    name=i.script,
                    process=i.process,
                    pattern=i.process[:COMM_LEN],
                    pidfile=HAPROXY_PIDFILE if i.process == "haproxy" else None,
                    interval=i.check[0],
                    timeout=i.check[1],
                    fall=i.check[2],
                    rise=i.check[3],
                )
                known = scripts.setdefault(n, {}).get(i.script)
                if known is not None and known != script:
                    raise ConfigError(
                        [
                            (
                                f"services[{i.service}].strategy.check",
                                f"node {n}: track script {i.script} is shared with another VRRP group of "
                                f"the same process with other timings: give both groups the same check",
                            )
                        ]
                    )
                scripts[n][i.script] = script
    return {
        n: KeepalivedPlan(
            node=n,
            scripts=tuple(scripts[n][k] for k in sorted(scripts[n])),
            instances=tuple(sorted(instances[n], key=lambda i: (i.vrid, i.family, i.name))),
        )
        for n in sorted(instances)
    }


def check_keepalived(dep: Deployment, plans: dict[str, KeepalivedPlan]) -> list[tuple[str, str]]:
    """Cross-node consistency of every VRRP instance; ``(where, message)``."""
    problems: list[tuple[str, str]] = []
    by_name: dict[str, dict[str, VrrpInstance]] = {}
    for n, plan in plans.items():
        weights = {s.name: s.weight for s in plan.scripts}
        for i in plan.instances:
            by_name.setdefault(i.name, {})[n] = i
            if i.nopreempt and weights.get(i.script, 0) != 0:
                problems.append(
                    (
                        f"services[{i.service}].strategy",
                        f"node {n}: track script {i.script} has weight "
                        f"{weights[i.script]} with nopreempt: a master whose check fails keeps the VIP forever",
                    )
                )
    seen_vrid: dict[tuple[str, int, int], str] = {}
    for name, per_node in sorted(by_name.items()):
        first = next(iter(per_node.values()))
        where = f"services[{first.service}]"
        for attr in ("vrid", "auth", "vips", "advert_int", "nopreempt", "family", "network", "members"):
            values = {getattr(i, attr) for i in per_node.values()}
            if len(values) > 1:
                shown = "differs" if attr == "auth" else f"differs: {sorted(map(str, values))}"
                problems.append((where, f"VRRP instance {name}: {attr} {shown} between nodes {sorted(per_node)}"))
        if set(per_node) != set(first.members):
            problems.append(
                (where, f"VRRP instance {name}: configured on {sorted(per_node)} but members are {list(first.members)}")
            )
        prios = [i.priority for i in per_node.values()]
        if len(set(prios)) != len(prios):
            problems.append((where, f"VRRP instance {name}: priorities are not distinct: {sorted(prios)}"))
        for n, i in per_node.items():
            if not 1 <= i.priority <= 254:
                problems.append(
                    (
                        where,
                        f"VRRP instance {name}: priority {i.priority} of {n} outside 1-254 (255 is for the address owner)",
                    )
                )
        srcs = {n: i.unicast_src for n, i in per_node.items()}
        if any(s is not None for s in srcs.values()):
            for n, i in per_node.items():
                expected = {s for m, s in srcs.items() if m != n}
                if set(i.unicast_peers) != expected or i.unicast_src in i.unicast_peers:
                    problems.append(
                        (
                            where,
                            f"VRRP instance {name}: unicast peers of {n} {list(i.unicast_peers)} "
                            f"are not the other members' sources {sorted(x for x in expected if x)}",
                        )
                    )
        net = dep.architecture.network(first.network)
        if first.vrid in net.reserved_vrids:
            problems.append((where, f"VRRP instance {name}: vrid {first.vrid} is reserved on network {net.name}"))
        key = (first.network, first.family, first.vrid)
        if key in seen_vrid and seen_vrid[key] != first.service:
            problems.append(
                (where, f"VRRP instance {name}: vrid {first.vrid} on {first.network} is also used by {seen_vrid[key]}")
            )
        seen_vrid.setdefault(key, first.service)
    return problems


def render_keepalived(
    dep: Deployment, plans: dict[str, KeepalivedPlan], redacted: dict[str, KeepalivedPlan]
) -> list[NodeFile]:
    template = environment(TEMPLATES).get_template("keepalived.conf.j2")
    files = []
    for n, plan in sorted(plans.items()):

        def render(p: KeepalivedPlan) -> bytes:
            data = template.render(
                node=n, model=dep.architecture.name, plan=p, state_script=KEEPALIVED_STATE_SCRIPT
            ).encode()
            _check_lines(n, data)
            return data

        files.append(
            NodeFile(
                node=n,
                kind="keepalived",
                path=f"nodes/{n}/keepalived/keepalived.conf",
                dest=DEST,
                services=plan.services,
                vips=plan.vip_names,
                data=render(plan),
                redacted=render(redacted[n]),
                secret=any(i.auth for i in plan.instances),
            )
        )
    return files


def _check_lines(node: str, data: bytes) -> None:
    """Refuse a file keepalived would misread: a line over :data:`MAX_LINE`
    bytes (only long paths can make one: comments are wrapped)."""
    for no, line in enumerate(data.split(b"\n"), 1):
        if len(line) > MAX_LINE:
            first = line.split()[0].decode("ascii", "replace") if line.split() else ""
            raise ConfigError(
                [
                    (
                        f"nodes[{node}] keepalived.conf line {no} ({first})",
                        f"{len(line)} bytes; keepalived reads at most {MAX_LINE} bytes a line and would "
                        "parse the rest as another line: shorten the value; nothing was written",
                    )
                ]
            )


def generate(dep: Deployment, secrets: Secrets, redacted: Secrets) -> list[NodeFile]:
    """Deployment -> every node's keepalived.conf (the generators' common entry point).

    Raises :class:`InconsistentConfig` when the nodes would disagree (see :func:`check_keepalived`).
    """
    plans = plan_keepalived(dep, secrets)
    problems = check_keepalived(dep, plans)
    if problems:
        raise InconsistentConfig(problems)
    return render_keepalived(dep, plans, plan_keepalived(dep, redacted))
