"""The CIB plan of a Pacemaker cluster: resources (agents per service, VIPs, fence
devices), their constraints and ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hamodel.generators.common import ConfigError, Secrets, address, integer, token
from hamodel.generators.pacemaker.corosync import CorosyncNode, CorosyncPlan

from hamodel.deployment import IPADDR2_START_TIMEOUT_S, Deployment, pacemaker_resource_id
from hamodel.model.architecture import FenceDevice
from hamodel.model.base import SecretRef
from hamodel.model.strategies import ActivePassive, AppCluster


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
    """The services Pacemaker runs (:meth:`Deployment.pacemaker_managed`)."""
    return dep.pacemaker_managed()


_rsc_id = pacemaker_resource_id


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
