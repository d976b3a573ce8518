"""corosync.conf per cluster node, and the cluster's CIB with an equivalent pcs script.

Facts come from the Deployment: the cluster's nodes (the model's
``PacemakerCluster.on`` roles), where each service was placed
(``dep.placement``), which VIPs Pacemaker holds and on which nodes
(``dep.vrrp_groups`` with ``manager == "pacemaker"``). Nothing is decided
here that the model or the placement already decided; this module only
chooses how Pacemaker expresses it (resource agents, constraints, ids).

Output layout (relative to OUT)::

    nodes/<node>/corosync/corosync.conf     one per cluster node (same text; kind ``corosync``)
    pacemaker/cib.xml                       the whole CIB (kind ``pacemaker-cib``; secret when a
                                            fence device has a password)
    pacemaker/pcs-setup.sh                  the same configuration as pcs commands (kind ``pacemaker-pcs``)

The two cluster files are listed in the manifest on the cluster's first node (by name), installed
there in ``/etc/hamodel/pacemaker/`` and applied once, from there, as a patch of hamodel's own
sections against the live CIB (:data:`hamodel.generators.pacemaker.push.CIB_PUSH`; never
``cib-push --config``, which replaces the nodes section and erases standby and node attributes),
or with ``sh /etc/hamodel/pacemaker/pcs-setup.sh``, which pushes only what it changed.

Resource ids (what a drill or an operator names):

- a Pacemaker VIP ``<vip>``: ``ip-<vip>`` (``ocf:heartbeat:IPaddr2``);
- a service: ``<service>`` and its clone ``<service>-clone``; a service whose
  name starts with a digit gets ``svc-`` in front (XML ids start with a letter);
- a fence device ``<dev>``: ``fence-<dev>``, or ``fence-<dev>-<node>`` per node.
"""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hamodel.generators.common import ConfigError, NodeFile, Secrets, address, environment, integer, token

from hamodel.deployment import IPADDR2_START_TIMEOUT_S, Deployment, corosync_token_timeout_ms
from hamodel.model.architecture import FenceDevice
from hamodel.model.base import SecretRef
from hamodel.model.strategies import ActivePassive, AppCluster, PacemakerVip

TEMPLATES = Path(__file__).parent
COROSYNC_DEST = "/etc/corosync/corosync.conf"
AUTHKEY = "/etc/corosync/authkey"
CIB_PATH = "pacemaker/cib.xml"
PCS_PATH = "pacemaker/pcs-setup.sh"
CIB_DEST = "/etc/hamodel/pacemaker/cib.xml"
PCS_DEST = "/etc/hamodel/pacemaker/pcs-setup.sh"
# The CIB schema Pacemaker 2.1.5 writes (cibadmin --empty).
CIB_SCHEMA = "pacemaker-3.9"
CIB_FEATURE_SET = "3.16.1"


# -- the plan --------------------------------------------------------------------


@dataclass(frozen=True)
class CorosyncNode:
    name: str
    nodeid: int
    addresses: tuple[str, ...]  # one per ring (link), in ring order


@dataclass(frozen=True)
class CorosyncPlan:
    cluster_name: str
    transport: str
    token_ms: int
    rings: tuple[str, ...]  # network names, link 0 first
    nodes: tuple[CorosyncNode, ...]
    two_node: bool
    wait_for_all: bool
    qdevice: str | None  # the qnetd node's name
    qdevice_host: str | None  # its address
    qdevice_algorithm: str

    @property
    def token_timeout_ms(self) -> int:
        """The token timeout corosync really uses (token_coefficient added from 3 nodes on)."""
        return corosync_token_timeout_ms(self.token_ms, len(self.nodes))


@dataclass(frozen=True)
class Op:
    name: str
    interval: str
    timeout: str | None = None
    role: str | None = None
    on_fail: str | None = None

    def id(self, rsc: str) -> str:
        # pcs' id: <resource>-<op>-interval-<interval>
        return f"{rsc}-{self.name}-interval-{self.interval}"


@dataclass(frozen=True)
class Param:
    name: str
    value: str = field(repr=False)  # may be a secret: never in a repr
    secret: bool = False


@dataclass(frozen=True)
class Primitive:
    id: str
    cls: str  # ocf | systemd | stonith
    provider: str | None
    type: str
    params: tuple[Param, ...]
    ops: tuple[Op, ...]
    what: str  # one line for comments: why this resource exists
    service: str | None = None
    clone: str | None = None  # clone id, when cloned
    promotable: bool = False
    clone_meta: tuple[tuple[str, str], ...] = ()
    force: bool = False  # pcs needs --force (systemd metadata over D-Bus)

    @property
    def agent(self) -> str:
        return ":".join(x for x in (self.cls, self.provider, self.type) if x)

    @property
    def top(self) -> str:
        """The id constraints refer to: the clone's when cloned."""
        return self.clone or self.id


def constraint_id(kind: str, *parts: str) -> str:
    """A constraint's id, unique by construction: names may hold ``-`` (and
    every other character an XML id allows), so a plain ``-`` join gives two
    constraints the same id (``w`` avoiding ``n-1`` and ``w-n`` avoiding
    ``1``). Each part is written with ``_`` doubled and parts are joined
    with a single ``_``; no part starts with ``_`` (names and scores start
    with a letter, a digit or ``-``), so the id reads back into its parts
    one way only."""
    return kind + "".join("_" + p.replace("_", "__") for p in parts)


def duplicate_ids(xml: bytes) -> list[tuple[str, list[str]]]:
    """Every ``id`` given to more than one element of a CIB document, with the
    elements' tags (resources, nvpairs, ops, constraints alike)."""
    import xml.etree.ElementTree as ET

    seen: dict[str, list[str]] = {}
    for el in ET.fromstring(xml).iter():
        if el.get("id") is not None:
            seen.setdefault(el.get("id"), []).append(el.tag)  # type: ignore[arg-type]
    return sorted((i, tags) for i, tags in seen.items() if len(tags) > 1)


@dataclass(frozen=True)
class Location:
    rsc: str
    node: str
    score: str

    @property
    def id(self) -> str:
        return constraint_id("location", self.rsc, self.node, self.score)


@dataclass(frozen=True)
class Colocation:
    rsc: str
    with_rsc: str
    score: str = "INFINITY"
    why: str = ""
    with_rsc_role: str | None = None  # "Promoted": with the promoted instance of a promotable clone

    @property
    def id(self) -> str:
        return constraint_id("colocation", self.rsc, self.with_rsc, self.score)


@dataclass(frozen=True)
class Order:
    first: str
    first_action: str
    then: str
    then_action: str
    kind: str = "Optional"
    why: str = ""

    @property
    def id(self) -> str:
        return constraint_id("order", self.first, self.then, self.kind)


@dataclass(frozen=True)
class CibPlan:
    cluster_name: str
    properties: tuple[tuple[str, str], ...]
    rsc_defaults: tuple[tuple[str, str], ...]
    nodes: tuple[CorosyncNode, ...]
    resources: tuple[Primitive, ...]
    locations: tuple[Location, ...]
    colocations: tuple[Colocation, ...]
    orders: tuple[Order, ...]

    @property
    def secret(self) -> bool:
        return any(p.secret for r in self.resources for p in r.params)

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(sorted({r.service for r in self.resources if r.service}))


@dataclass(frozen=True)
class ClusterPlan:
    """What the generated corosync.conf and CIB say (the drill lab's own plan is another type)."""

    corosync: CorosyncPlan
    cib: CibPlan


# -- agents per service ------------------------------------------------------------

# Ops as the agents' metadata suggests them (pcs copies these defaults); given
# explicitly so that the CIB and the pcs script say the same (pcs --no-default-ops).
_SYSTEMD_OPS = (Op("monitor", "10s", "100s"), Op("start", "0s", "100s"), Op("stop", "0s", "100s"))
_AGENTS: dict[str, tuple[str, tuple[Op, ...]]] = {
    "galera": (
        "galera",
        (
            Op("demote", "0s", "120s"),
            Op("monitor", "20s", "30s"),
            Op("monitor", "10s", "30s", "Promoted"),
            Op("monitor", "30s", "30s", "Unpromoted"),
            # on-fail=block: a failed promote (a bootstrap that did not complete) stops there
            # for an operator instead of a retry that could bootstrap a second cluster from a
            # stale node; the agent's authors (and TripleO) configure the same.
            Op("promote", "0s", "300s", on_fail="block"),
            Op("start", "0s", "120s"),
            Op("stop", "0s", "120s"),
        ),
    ),
    "rabbitmq-cluster": (
        "rabbitmq-cluster",
        (Op("monitor", "10s", "40s"), Op("start", "0s", "100s"), Op("stop", "0s", "90s")),
    ),
    "redis": (
        "redis",
        (
            Op("demote", "0s", "120s"),
            Op("monitor", "45s", "60s"),
            Op("monitor", "20s", "60s", "Promoted"),
            Op("monitor", "60s", "60s", "Unpromoted"),
            Op("promote", "0s", "120s"),
            Op("start", "0s", "120s"),
            Op("stop", "0s", "120s"),
        ),
    ),
}
# The process names (Service.process) each OCF agent of Debian's resource-agents manages.
_AGENT_OF_PROCESS = {
    "mariadb": "galera",
    "mysqld": "galera",
    "mysql": "galera",
    "galera": "galera",
    "rabbitmq": "rabbitmq-cluster",
    "rabbitmq-server": "rabbitmq-cluster",
    "redis": "redis",
    "redis-server": "redis",
}
_IPADDR2_OPS = (Op("monitor", "10s", "20s"), Op("start", "0s", f"{IPADDR2_START_TIMEOUT_S}s"), Op("stop", "0s", "20s"))
_STONITH_OPS = (Op("monitor", "60s"),)


def managed_services(dep: Deployment) -> list[str]:
    """The services Pacemaker runs: Pacemaker strategies and ``supervisor="pacemaker"``."""
    out = []
    for s in dep.architecture.services:
        st = s.strategy
        if isinstance(st, PacemakerVip) or getattr(st, "manager", None) == "pacemaker" or s.supervisor == "pacemaker":
            out.append(s.name)
    return sorted(out)


def _rsc_id(name: str) -> str:
    return name if name[:1].isalpha() else f"svc-{name}"


# -- planning ----------------------------------------------------------------------


def default_rings(arch: Any, members: list[str], transport: str) -> list[str]:
    """corosync's links when the model names none: the networks every cluster
    node is on, in model order, without those carrying a public VIP (cluster
    traffic stays off the public side); two of them (knet link 0 and 1) when
    there are two, so one network's loss leaves the cluster its heartbeat.
    udp/udpu take one link."""
    public = {v.network for v in arch.vips if v.exposure == "public"}
    shared = [
        net.name for net in arch.networks if all(arch.node(n).interface_on(net.name) is not None for n in members)
    ]
    if not shared:
        raise ConfigError(
            [
                (
                    "pacemaker.rings",
                    "no network has every cluster node on it: name corosync's networks in rings; nothing was written",
                )
            ]
        )
    private = [r for r in shared if r not in public] or shared

    def one_family(r: str) -> bool:  # a link of mixed IPv4/IPv6 addresses is refused: not a default
        return len({ipaddress.ip_address(str(arch.node(n).interface_on(r).address)).version for n in members}) == 1

    return [private[0], *[r for r in private[1:] if one_family(r)][: 1 if transport == "knet" else 0]]


def plan_corosync(dep: Deployment) -> CorosyncPlan:
    """corosync.conf's content: node list, links, quorum. Raises :class:`ConfigError`
    (``pacemaker.rings``, ``pacemaker.quorum``, ...) when corosync cannot express the model."""
    arch = dep.architecture
    pm = arch.pacemaker
    assert pm is not None, "corosync.conf of a model without a Pacemaker cluster"
    members = list(arch.pacemaker_nodes())
    for n in members:
        token(n, "name", f"nodes[{n}].name")
    name = token(pm.cluster_name, "name", "pacemaker.cluster_name")
    rings = list(pm.rings) or default_rings(arch, members, pm.transport)
    for r in rings:
        token(r, "name", "pacemaker.rings")
    if pm.quorum != "majority":
        votes = len(members) + (1 if pm.qdevice else 0)
        if pm.quorum != votes // 2 + 1:
            raise ConfigError(
                [
                    (
                        "pacemaker.quorum",
                        f"corosync's votequorum needs a majority of the votes "
                        f"({votes // 2 + 1} of {votes}); quorum={pm.quorum} cannot be configured: use "
                        "'majority'; nothing was written",
                    )
                ]
            )
    nodes = []
    for i, n in enumerate(members, 1):
        addrs = []
        for r in rings:
            iface = arch.node(n).interface_on(r)
            if iface is None:
                raise ConfigError(
                    [("pacemaker.rings", f"cluster node {n} has no interface on network {r}; nothing was written")]
                )
            addrs.append(str(address(iface.address, f"nodes[{n}].interfaces[{iface.device}].address")))
        nodes.append(CorosyncNode(n, i, tuple(addrs)))
    for k, r in enumerate(rings):
        families = {ipaddress.ip_address(node.addresses[k]).version for node in nodes}
        if len(families) > 1:
            raise ConfigError(
                [("pacemaker.rings", f"link {k} (network {r}) mixes IPv4 and IPv6 node addresses; nothing was written")]
            )
    host = None
    if pm.qdevice is not None:
        q = arch.node(pm.qdevice)
        iface = next((q.interface_on(r) for r in rings if q.interface_on(r) is not None), None) or (
            q.interfaces[0] if q.interfaces else None
        )
        if iface is None:
            raise ConfigError(
                [
                    (
                        "pacemaker.qdevice",
                        f"node {q.name} has no address for corosync-qdevice to reach; nothing was written",
                    )
                ]
            )
        host = str(address(iface.address, f"nodes[{q.name}].interfaces[{iface.device}].address"))
    return CorosyncPlan(
        cluster_name=name,
        transport=pm.transport,
        token_ms=integer(pm.token_ms, 100, 600_000, "pacemaker.token_ms"),
        rings=tuple(rings),
        nodes=tuple(nodes),
        two_node=bool(pm.two_node and len(members) == 2 and not pm.qdevice),
        wait_for_all=pm.wait_for_all,
        qdevice=pm.qdevice,
        qdevice_host=host,
        # ffsplit: exactly one half of an even split keeps the vote (corosync-qdevice(8)).
        qdevice_algorithm="ffsplit",
    )


def _param(name: str, value: Any, secrets: Secrets, where: str) -> Param:
    token(name, "name", where)
    if isinstance(value, SecretRef):
        return Param(name, secrets.get(value, "fence_secret", f"{where}[{name}]"), secret=True)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError([(f"{where}[{name}]", f"{value!r} is not a fence parameter value; nothing was written")])
    return Param(name, token(str(value), "param", f"{where}[{name}]"))


def _stonith(d: FenceDevice, members: list[str], secrets: Secrets) -> list[tuple[Primitive, list[Location]]]:
    at = f"pacemaker.fence[{d.name}]"
    token(d.name, "name", f"{at}.name")
    agent = token(d.agent, "name", f"{at}.agent")
    shared = [_param(k, v, secrets, f"{at}.params") for k, v in sorted(d.params.items())]
    delay = (
        [Param("pcmk_delay_base", f"{integer(d.delay_base_s, 0, 3600, f'{at}.delay_base_s')}s")]
        if d.delay_base_s
        else []
    )
    out = []
    if d.per_node:
        for n, own in sorted(d.per_node.items()):
            params = shared + [_param(k, v, secrets, f"{at}.per_node[{n}]") for k, v in sorted(own.items())]
            params += [Param("pcmk_host_list", token(n, "name", f"{at}.per_node"))] + delay
            rid = f"fence-{d.name}-{n}"
            prim = Primitive(
                rid,
                "stonith",
                None,
                agent,
                tuple(sorted(params, key=lambda p: p.name)),
                _STONITH_OPS,
                f"fences {n} ({agent})",
            )
            # A node never runs the device that fences it (it could not fence itself once hung).
            out.append((prim, [Location(rid, n, "-INFINITY")]))
    else:
        targets = d.fenced(members)
        params = list(shared) + delay
        params.append(Param("pcmk_host_list", ",".join(token(n, "name", f"{at}.targets") for n in targets)))
        if d.host_map:
            params.append(
                Param(
                    "pcmk_host_map",
                    ";".join(
                        f"{token(n, 'name', f'{at}.host_map')}:{token(str(d.host_map[n]), 'param', f'{at}.host_map[{n}]')}"
                        for n in sorted(d.host_map)
                    ),
                )
            )
        rid = f"fence-{d.name}"
        out.append(
            (
                Primitive(
                    rid,
                    "stonith",
                    None,
                    agent,
                    tuple(sorted(params, key=lambda p: p.name)),
                    _STONITH_OPS,
                    f"fences {', '.join(targets)} ({agent})",
                ),
                [],
            )
        )
    return out


def plan_cib(dep: Deployment, secrets: Secrets, corosync: CorosyncPlan) -> CibPlan:
    """The CIB's content: properties, resources, constraints, fence devices with their
    secrets resolved by ``secrets`` (placeholders when it redacts)."""
    arch = dep.architecture
    pm = arch.pacemaker
    assert pm is not None, "the CIB of a model without a Pacemaker cluster"
    members = list(arch.pacemaker_nodes())
    if pm.fencing and not pm.fence:
        raise ConfigError(
            [
                (
                    "pacemaker.fence",
                    "fencing=True but no fence device: give the cluster's STONITH "
                    "devices (FenceDevice: agent, parameters, password by SecretRef) or set fencing=False "
                    "(the analysis then reports pacemaker:no-fencing); a CIB with stonith-enabled and no "
                    "device starts no resource; nothing was written",
                )
            ]
        )
    resources: list[Primitive] = []
    locations: list[Location] = []
    colocations: list[Colocation] = []
    orders: list[Order] = []
    by_service: dict[str, Primitive] = {}

    def allowed(rsc: str, nodes: tuple[str, ...] | list[str], where: str) -> None:
        outside = sorted(set(nodes) - set(members))
        if outside:
            raise ConfigError(
                [
                    (
                        where,
                        f"placed on {', '.join(outside)}, outside the pacemaker cluster "
                        f"({', '.join(members)}); nothing was written",
                    )
                ]
            )
        # Placement decided where the service may run: Pacemaker keeps it there.
        locations.extend(Location(rsc, n, "-INFINITY") for n in members if n not in nodes)

    for name in managed_services(dep):
        svc = arch.service(name)
        where = f"services[{name}]"
        token(name, "name", f"{where}.name")
        process = token(svc.process, "name", f"{where}.process")
        nodes = dep.placement.nodes_of(name)
        if not nodes:
            raise ConfigError([(where, "not placed on any node; nothing was written")])
        rid = _rsc_id(name)
        st = svc.strategy
        if isinstance(st, ActivePassive):
            prim = Primitive(
                rid,
                "systemd",
                None,
                process,
                (),
                _SYSTEMD_OPS,
                f"{name}: active/passive, one instance on one of {', '.join(nodes)}",
                service=name,
                force=True,
            )
        elif isinstance(st, AppCluster) and _AGENT_OF_PROCESS.get(process) is not None:
            agent, ops = _AGENTS[_AGENT_OF_PROCESS[process]]
            params: tuple[Param, ...] = ()
            meta: list[tuple[str, str]] = [("interleave", "true")]
            promotable = agent in ("galera", "redis")
            if agent == "galera":
                # Every placed member is a writer-capable Galera node; the agent
                # bootstraps from the most advanced one after a full stop.
                # enable_creation: the agent initialises an empty datadir (a new node, a fresh cluster).
                params = (
                    Param("enable_creation", "true"),
                    Param("wsrep_cluster_address", "gcomm://" + ",".join(nodes)),
                )
                meta += [("promoted-max", str(len(nodes)))]
            elif agent == "redis":
                # The agent learns the promoted node from notifications (it repoints the replicas),
                # and after a full stop promotes the last known master first (no data loss).
                params = (Param("wait_last_known_master", "true"),)
                meta += [("promoted-max", "1"), ("notify", "true")]
            else:
                meta += [("ordered", "true"), ("notify", "true")]
            meta += [("clone-max", str(len(nodes)))]
            prim = Primitive(
                rid,
                "ocf",
                "heartbeat",
                agent,
                params,
                ops,
                f"{name}: {'promotable ' if promotable else ''}clone of ocf:heartbeat:{agent} on {', '.join(nodes)}",
                service=name,
                clone=f"{rid}-clone",
                promotable=promotable,
                clone_meta=tuple(sorted(meta + ([("promotable", "true")] if promotable else []))),
            )
        else:
            prim = Primitive(
                rid,
                "systemd",
                None,
                process,
                (),
                _SYSTEMD_OPS,
                f"{name}: clone of systemd:{process} on {', '.join(nodes)}",
                service=name,
                clone=f"{rid}-clone",
                force=True,
                clone_meta=(("clone-max", str(len(nodes))), ("interleave", "true")),
            )
        resources.append(prim)
        by_service[name] = prim
        allowed(prim.top, nodes, where)

    for g in sorted((g for g in dep.vrrp_groups if g.manager == "pacemaker"), key=lambda g: (g.service, g.vips)):
        holder = by_service.get(g.service)
        for v in g.vips:
            vip = arch.vip(v)
            net = arch.network(vip.network)
            a = address(vip.address, f"vips[{v}].address")
            prefix = net.subnet.prefixlen if a in net.subnet else a.max_prefixlen
            devices = {i.device for n in g.members if (i := arch.node(n).interface_on(vip.network)) is not None}
            ip_params = [Param("cidr_netmask", str(prefix)), Param("ip", str(a))]
            if len(devices) == 1:
                # Same device on every holder: say it; else IPaddr2 finds it from the routes.
                ip_params.append(Param("nic", token(devices.pop(), "device", f"vips[{v}]")))
            rid = f"ip-{token(v, 'name', f'vips[{v}].name')}"
            resources.append(
                Primitive(
                    rid,
                    "ocf",
                    "heartbeat",
                    "IPaddr2",
                    tuple(sorted(ip_params, key=lambda p: p.name)),
                    _IPADDR2_OPS,
                    f"VIP {v} ({a}) of {g.service}, held by one of {', '.join(g.members)}",
                )
            )
            allowed(rid, g.members, f"vrrp_groups[{g.service}]")
            if holder is not None and holder.promotable:
                # As the redis agent's documentation and TripleO do: the address follows the
                # promoted instance (the one that takes writes) and comes up once it is promoted;
                # Mandatory, so on a move it is stopped before the old instance is demoted.
                colocations.append(
                    Colocation(rid, holder.top, with_rsc_role="Promoted", why=f"{v} only where {g.service} is promoted")
                )
                orders.append(
                    Order(
                        holder.top,
                        "promote",
                        rid,
                        "start",
                        kind="Mandatory",
                        why=f"{v} up once {g.service} is promoted there",
                    )
                )
            elif holder is not None:
                # As TripleO does: the VIP runs where the holder (HAProxy) runs, and
                # starts first; Optional, so a HAProxy restart does not move the VIP.
                colocations.append(Colocation(rid, holder.top, why=f"{v} only where {g.service} runs"))
                orders.append(Order(rid, "start", holder.top, "start", why=f"{v} up before {g.service} binds it"))

    for name, prim in sorted(by_service.items()):
        svc = arch.service(name)
        for d in svc.dependencies:
            other = by_service.get(d)
            if other is None:
                continue
            orders.append(
                Order(
                    other.top,
                    "promote" if other.promotable else "start",
                    prim.top,
                    "start",
                    why=f"{name} depends on {d}",
                )
            )
        for d in svc.colocate:
            other = by_service.get(d)
            if other is not None:
                colocations.append(Colocation(prim.top, other.top, why=f"{name} is colocated with {d}"))

    for d in sorted(pm.fence, key=lambda d: d.name):
        for prim, locs in _stonith(d, members, secrets):
            resources.append(prim)
            locations.extend(locs)

    ids = [r.id for r in resources] + [r.clone for r in resources if r.clone]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ConfigError(
            [
                (
                    "pacemaker",
                    f"resource id {i} is generated twice (a service, VIP or fence device "
                    "name clash): rename one; nothing was written",
                )
                for i in dup
            ]
        )
    properties = (
        ("no-quorum-policy", "stop"),
        ("stonith-enabled", "true" if pm.fencing else "false"),
    )
    return CibPlan(
        cluster_name=corosync.cluster_name,
        properties=properties,
        # pcs cluster setup's default: a resource stays where it runs when its
        # preferred node returns (no second outage to move it back).
        rsc_defaults=(("resource-stickiness", "1"),),
        nodes=corosync.nodes,
        resources=tuple(resources),
        locations=tuple(sorted(set(locations), key=lambda c: c.id)),
        colocations=tuple(sorted(set(colocations), key=lambda c: c.id)),
        orders=tuple(sorted(set(orders), key=lambda c: c.id)),
    )


def plan_pacemaker(dep: Deployment, secrets: Secrets) -> ClusterPlan | None:
    """The cluster's plan, or None for an architecture without ``pacemaker``."""
    if dep.architecture.pacemaker is None:
        return None
    corosync = plan_corosync(dep)
    return ClusterPlan(corosync, plan_cib(dep, secrets, corosync))


# -- rendering ---------------------------------------------------------------------


def _xml(value: Any) -> str:
    """An XML attribute value (tokens already; escaped all the same)."""
    from xml.sax.saxutils import quoteattr

    return quoteattr(str(value))[1:-1]


def _xml_comment(value: Any) -> str:
    """Free text inside ``<!-- -->``: printable ASCII, no ``--``, no trailing ``-``."""
    from hamodel.generators.common import comment

    text = _xml(comment(str(value)))
    while "--" in text:
        text = text.replace("--", "- -")
    return text + " " if text.endswith("-") else text


def _pcs_create(r: Primitive) -> str:
    """The ``pcs -f "$CIB" ... create`` command of one resource, one option group a line."""
    q = shlex.quote

    head = ["pcs", '-f "$CIB"'] + (
        ["stonith", "create", q(r.id), q(r.type)] if r.cls == "stonith" else ["resource", "create", q(r.id), q(r.agent)]
    )
    # A secret never goes on pcs's command line (ps shows it to every user): see _pcs_secrets.
    head += [q(f"{p.name}={p.value}") for p in r.params if not p.secret] + ["--no-default-ops"]
    lines = [" ".join(head)]
    for o in r.ops:
        lines.append(
            " ".join(
                ["    op", o.name, f"interval={o.interval}"]
                + ([f"timeout={o.timeout}"] if o.timeout else [])
                + ([f"role={o.role}"] if o.role else [])
                + ([f"on-fail={o.on_fail}"] if o.on_fail else [])
            )
        )
    if r.clone:
        lines.append(
            " ".join(
                ["   ", "promotable" if r.promotable else "clone", q(r.clone)]
                + [q(f"{k}={v}") for k, v in r.clone_meta if k != "promotable"]
            )
        )
    if r.force:
        lines[-1] += " --force"
    return " \\\n".join(lines)


def _pcs_secrets(r: Primitive) -> str:
    """The secret parameters of ``r`` merged into the CIB file by ``cibadmin``
    from a here-document: the value goes through a pipe, never onto a command
    line (a ``pcs ... password=X`` shows in ``ps`` while it runs)."""
    secret = [p for p in r.params if p.secret]
    if not secret:
        return ""
    rid = _xml(r.id)
    pairs = "".join(
        f'<nvpair id="{rid}-instance_attributes-{_xml(p.name)}" name="{_xml(p.name)}" '
        f'value="{_xml(token(p.value, "fence_secret", "template"))}"/>'
        for p in secret
    )
    return (
        f"CIB_file=\"$CIB\" cibadmin --modify --scope resources --xml-pipe <<'HAMODEL_SECRET'\n"
        f'<primitive id="{rid}"><instance_attributes id="{rid}-instance_attributes">{pairs}'
        f"</instance_attributes></primitive>\nHAMODEL_SECRET\n"
    )


def _env():
    env = environment(TEMPLATES)
    env.filters["xml"] = _xml
    env.filters["xml_comment"] = _xml_comment
    env.filters["pcs_create"] = _pcs_create
    env.filters["pcs_secrets"] = _pcs_secrets
    env.filters["sh"] = lambda v: shlex.quote(str(v))
    return env


def render_pacemaker(dep: Deployment, plan: ClusterPlan | None, redacted: ClusterPlan | None) -> list[NodeFile]:
    """corosync.conf per cluster node, cib.xml and pcs-setup.sh; nothing without a cluster."""
    if plan is None or redacted is None:
        return []
    env = _env()
    model = dep.architecture.name
    files = []
    corosync = env.get_template("corosync.conf.j2").render(model=model, c=plan.corosync, authkey=AUTHKEY).encode()
    members = tuple(n.name for n in plan.corosync.nodes)
    services = plan.cib.services
    vips = tuple(sorted({v for g in dep.vrrp_groups if g.manager == "pacemaker" for v in g.vips}))
    # knet encrypts with the cluster's key: a secret of the deployment, not generated (corosync-keygen).
    key = (AUTHKEY,) if plan.corosync.transport == "knet" else ()
    for n in members:
        files.append(
            NodeFile(
                node=n,
                kind="corosync",
                path=f"nodes/{n}/corosync/corosync.conf",
                dest=COROSYNC_DEST,
                services=services,
                vips=vips,
                data=corosync,
                redacted=corosync,
                secret=False,
                references=key,
            )
        )

    def both(name: str) -> tuple[bytes, bytes]:
        t = env.get_template(name)
        return tuple(
            t.render(
                model=model,
                cib=p.cib,
                c=p.corosync,
                schema=CIB_SCHEMA,  # type: ignore[return-value]
                feature_set=CIB_FEATURE_SET,
                cib_dest=CIB_DEST,
            ).encode()
            for p in (plan, redacted)
        )

    cib, cib_r = both("cib.xml.j2")
    dup = duplicate_ids(cib)
    if dup:
        # Ids pcs derives from a resource's (ops, nvpairs) can meet another object's.
        raise ConfigError(
            [
                (
                    "pacemaker",
                    f"the CIB would give id {i} to {len(tags)} elements ({', '.join(tags)}): "
                    "crm_verify refuses it; rename the service, VIP or fence device whose name makes it; "
                    "nothing was written",
                )
                for i, tags in dup
            ]
        )
    pcs, pcs_r = both("pcs-setup.sh.j2")
    # Cluster-wide: installed on the cluster's first node and pushed once from there.
    first = members[0]
    files.append(
        NodeFile(
            node=first,
            kind="pacemaker-cib",
            path=CIB_PATH,
            dest=CIB_DEST,
            services=services,
            vips=vips,
            data=cib,
            redacted=cib_r,
            secret=plan.cib.secret,
        )
    )
    files.append(
        NodeFile(
            node=first,
            kind="pacemaker-pcs",
            path=PCS_PATH,
            dest=PCS_DEST,
            services=services,
            vips=vips,
            data=pcs,
            redacted=pcs_r,
            secret=plan.cib.secret,
        )
    )
    return files


def generate(dep: Deployment, secrets: Secrets, redacted: Secrets) -> list[NodeFile]:
    """Deployment -> corosync.conf per cluster node, cib.xml and pcs-setup.sh (the generators'
    common entry point); nothing for an architecture without ``pacemaker``."""
    return render_pacemaker(dep, plan_pacemaker(dep, secrets), plan_pacemaker(dep, redacted))
