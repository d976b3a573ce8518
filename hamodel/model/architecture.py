"""The root of a model: an :class:`Architecture` and its cross-checks."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationError, model_validator

from hamodel.errors import ModelError, from_validation_error
from hamodel.model.base import HaBase, Name, Reliability
from hamodel.model.cluster import Acknowledgement, FenceDevice, PacemakerCluster
from hamodel.model.policy import Policy, policy_problems
from hamodel.model.services import Service
from hamodel.model.strategies import ActivePassive, AppCluster, External, HaproxySettings, PacemakerVip, Vrrp
from hamodel.model.topology import FailureDomain, Network, Node, VirtualIP

# Acknowledgement, FenceDevice and PacemakerCluster live in hamodel.model.cluster; importable from here as before.
__all__ = ["Acknowledgement", "Architecture", "FenceDevice", "PacemakerCluster"]

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hamodel.model.base import Data


class Architecture(HaBase):
    """A whole deployment: topology, services and their HA strategies."""

    _positional: ClassVar = ("name",)
    name: Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[^\n\r\x00]+$")]
    description: Annotated[str, Field(max_length=20_000)] = ""
    # Out of the canonical JSON while unset (as policy), so models without them keep their hash.
    title: Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[^\n\r\x00]+$")] | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="the published document's title (e.g. 'The keepalived architecture'); default: the name",
    )
    distribution: Annotated[str, Field(min_length=1, max_length=300, pattern=r"^[^\n\r\x00]+$")] | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="the software distribution and release the model describes (shown under Scope)",
    )
    domains: list[FailureDomain] = Field(default_factory=list)
    networks: list[Network] = Field(default_factory=list)
    nodes: list[Node] = Field(min_length=1)
    vips: list[VirtualIP] = Field(default_factory=list)
    services: list[Service] = Field(default_factory=list)
    pacemaker: PacemakerCluster | None = None
    supervisor: Literal["none", "systemd"] = Field(
        default="none", description="what restarts failed processes of services that do not say"
    )
    reliability: dict[Name, Reliability] = Field(
        default_factory=dict,
        description="default figures per component kind (node, process, link, or a domain kind)",
    )
    acknowledgements: list[Acknowledgement] = Field(default_factory=list)
    haproxy: HaproxySettings = Field(
        default_factory=HaproxySettings, description="global/defaults of every generated haproxy.cfg"
    )
    # Out of the canonical JSON while unset, so existing models keep their hash.
    policy: Policy | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="recovery objectives (RTO, RPO) per disruption class, every service",
    )
    docs_url: Annotated[str, Field(max_length=2000, pattern=r"^https?://[^\s\"'<>`{}|\\^]+$")] | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="where the model's generated document folder is published (http(s)://...): "
        "the alerts' runbook_url is absolute under it; unset: relative",
    )

    @classmethod
    def _error_label(cls, data: dict) -> str | None:
        return None  # paths start at the root: services[x].strategy...

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(
            self,
            name: str,
            *,
            description: str = ...,
            title: str | None = ...,
            distribution: str | None = ...,
            domains: Iterable[FailureDomain | Data] = ...,
            networks: Iterable[Network | Data] = ...,
            nodes: Iterable[Node | Data],
            vips: Iterable[VirtualIP | Data] = ...,
            services: Iterable[Service | Data] = ...,
            pacemaker: PacemakerCluster | Data | None = ...,
            supervisor: Literal["none", "systemd"] = ...,
            reliability: Mapping[str, Reliability | Data] = ...,
            acknowledgements: Iterable[Acknowledgement | Data] = ...,
            haproxy: HaproxySettings | Data = ...,
            policy: Policy | Data | None = ...,
            docs_url: str | None = ...,
        ) -> None: ...
    else:

        def __init__(self, *args: Any, **data: Any):
            # Domains used by nodes but not declared are collected automatically,
            # so ``Node(domains=[Rack("r1")])`` needs no separate list.
            declared = {(d.name if isinstance(d, FailureDomain) else d.get("name")) for d in data.get("domains") or []}
            extra: list[Any] = []
            for owner in list(data.get("networks") or []) + list(data.get("nodes") or []):
                for d in getattr(owner, "_domain_objects", None) or []:
                    if d.name not in declared:
                        declared.add(d.name)
                        extra.append(d)
            # Switches named by string only (``switches=["sw-a"]``) are declared
            # as switch domains without reliability figures.
            for net in data.get("networks") or []:
                for s in net.switches if isinstance(net, Network) else []:
                    if s not in declared:
                        declared.add(s)
                        extra.append(FailureDomain(s, kind="switch"))
            if extra:
                data["domains"] = list(data.get("domains") or []) + extra
            super().__init__(*args, **data)

    @model_validator(mode="after")
    def _cross_references(self) -> Architecture:
        problems = self.cross_check()
        if problems:
            raise ModelError(problems)
        return self

    # -- deriving variants ---------------------------------------------------

    def replace_services(self, changes: Mapping[str, Mapping[str, Any]], /, **arch_changes: Any) -> Architecture:
        """A validated variant with some services changed, by name.

        ``changes`` maps a service name to the fields that change
        (:meth:`Service.replace <hamodel.model.base.HaBase.replace>`);
        ``arch_changes`` replace fields of the architecture itself, in the
        same step, so the variant is validated once, as a whole::

            keepalived.replace_services(
                {"cinder-volume": {"replicas": "all", "strategy": ActivePassive(manager="pacemaker")}},
                pacemaker=PacemakerCluster(on=["controller"]),
            )
        """
        if "services" in arch_changes:
            raise TypeError("replace_services: give services by name in changes, not as services=")
        known = {s.name for s in self.services}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ModelError([(f"services[{n}]", "no such service to replace") for n in unknown])
        services = [s.replace(**changes[s.name]) if s.name in changes else s for s in self.services]
        return self.replace(services=services, **arch_changes)

    def replace_service(self, name: str, /, **fields: Any) -> Architecture:
        """A validated variant with one service's ``fields`` changed."""
        return self.replace_services({name: fields})

    # -- lookups ------------------------------------------------------------

    def node(self, name: str) -> Node:
        return self._index("nodes")[name]

    def service(self, name: str) -> Service:
        return self._index("services")[name]

    def vip(self, name: str) -> VirtualIP:
        return self._index("vips")[name]

    def network(self, name: str) -> Network:
        return self._index("networks")[name]

    def domain(self, name: str) -> FailureDomain:
        return self._index("domains")[name]

    def _index(self, field: str) -> dict[str, Any]:
        cache = vars(self).setdefault("_ha_index", {})
        if field not in cache:
            cache[field] = {x.name: x for x in getattr(self, field)}
        return cache[field]

    def nodes_with_roles(self, roles: list[str]) -> list[Node]:
        return [n for n in self.nodes if set(n.roles) & set(roles)]

    def client_switches(self, service: str) -> tuple[str, ...]:
        """The switches the clients of ``service`` come in through
        (``Service.clients``): the switch itself, the ``uplink`` of external
        clients, or every switch inside a failure domain that carries the
        network of the service's VIP; ``()``: anywhere on that network."""
        svc = self.service(service)
        if svc.clients is None:
            return ()
        if svc.clients == "external":
            return (svc.uplink,) if svc.uplink is not None else ()
        dom = {d.name: d for d in self.domains}.get(svc.clients)
        if dom is None:
            net = self.client_network(service)
            return tuple(sorted(self.network(net).switches)) if net is not None else ()
        if dom.kind == "switch":
            return (dom.name,)
        vips = {v.name: v for v in self.vips}
        front = svc.access
        vnet = vips[front.vip].network if front is not None and front.vip in vips else None
        carried = {sw for net in self.networks if vnet is None or net.name == vnet for sw in net.switches}
        return tuple(
            sorted(
                d.name
                for d in self.domains
                if d.kind == "switch" and d.name in carried and dom.name in self.domain_ancestors(d.name)[1:]
            )
        )

    def client_network(self, service: str) -> str | None:
        """The network ``Service.clients`` names, if it names one (not a
        switch or domain): its clients are on it, enter through any of its
        switches and reach the service over it only."""
        name = self.service(service).clients
        nets = self._index("networks")
        if name is None or name == "external" or name not in nets or name in self._index("domains"):
            return None
        return name

    def _client_net_problems(self, svc: Any, at: str, vips: dict) -> list[tuple[str, str]]:
        net = self.network(svc.clients)
        if not net.switches:
            return [(f"{at}.clients", f"network {net.name!r} has no switch for clients to come in through")]
        front = svc.access
        held = [front.vip] if front is not None else svc.holds_vips
        vnets = sorted({vips[x].network for x in held if x in vips})
        if vnets and net.name not in vnets:
            return [
                (
                    f"{at}.clients",
                    f"clients on network {net.name!r} cannot reach the virtual IP of {svc.name!r} on network "
                    f"{' or '.join(map(repr, vnets))} (the model has no routing between networks)",
                )
            ]
        if not vnets and not any(
            i.network == net.name for n in self.nodes_with_roles(list(svc.on)) for i in n.interfaces
        ):
            return [
                (
                    f"{at}.clients",
                    f"no node that can run {svc.name!r} (roles {list(svc.on)}) is on network {net.name!r}: "
                    "its clients there could reach no instance",
                )
            ]
        return []

    def _client_problems(self, svc: Any, at: str, vips: dict) -> list[tuple[str, str]]:
        p: list[tuple[str, str]] = []
        doms = {d.name: d for d in self.domains}
        front = svc.access
        vnet = vips[front.vip].network if front is not None and front.vip in vips else None
        if svc.clients in doms and svc.clients in self._index("networks"):
            return [
                (
                    f"{at}.clients",
                    f"{svc.clients!r} names both a network and a switch or failure domain: rename one",
                )
            ]
        if svc.uplink is None and svc.clients in self._index("networks"):
            return self._client_net_problems(svc, at, vips)
        if svc.clients == "external":
            up = doms.get(svc.uplink) if svc.uplink is not None else None
            if up is None or up.kind != "switch":
                return [
                    (
                        f"{at}.uplink",
                        f"clients='external' needs uplink= a switch of the model where external "
                        f"clients arrive (got {svc.uplink!r})",
                    )
                ]
            sw = up.name
        elif svc.uplink is not None:
            return [(f"{at}.uplink", "uplink is for clients='external' (external clients arrive there)")]
        else:
            dom = doms.get(svc.clients)
            if dom is None:
                return [
                    (
                        f"{at}.clients",
                        f"{svc.clients!r} is not a switch, failure domain or network of the model, nor "
                        "'external' (clients come in through an access switch, a domain's switches, "
                        "a network's switches or an uplink)",
                    )
                ]
            if dom.kind != "switch":
                if not self.client_switches(svc.name):
                    p.append(
                        (
                            f"{at}.clients",
                            f"no switch inside domain {dom.name!r} carries "
                            + (f"network {vnet!r} of the virtual IP its clients use" if vnet else "a network"),
                        )
                    )
                return p
            sw = dom.name
        field = "uplink" if svc.clients == "external" else "clients"
        nets = [net.name for net in self.networks if sw in net.switches]
        if vnet is not None and vnet not in nets:
            p.append(
                (f"{at}.{field}", f"switch {sw!r} does not carry network {vnet!r} of the virtual IP its clients use")
            )
        return p

    def domain_ancestors(self, name: str) -> list[str]:
        """``name`` and every domain it is nested in, innermost first."""
        out, cur, seen = [], name, set()
        index = self._index("domains")
        while cur is not None and cur not in seen:
            seen.add(cur)
            out.append(cur)
            cur = index[cur].parent if cur in index else None
        return out

    def node_domains(self, node: str) -> list[str]:
        """Every domain a node is in, including enclosing ones, sorted."""
        out: set[str] = set()
        for d in self.node(node).domains:
            out.update(self.domain_ancestors(d))
        return sorted(out)

    def pacemaker_nodes(self) -> tuple[str, ...]:
        """The Pacemaker cluster's nodes (those with a role of ``pacemaker.on``), by name:
        corosync's node ids (1, 2, ...) follow this order. Empty without a cluster."""
        if self.pacemaker is None:
            return ()
        return tuple(sorted(n.name for n in self.nodes_with_roles(self.pacemaker.on)))

    def acknowledged(self, finding_id: str) -> Acknowledgement | None:
        return next((a for a in self.acknowledgements if a.finding == finding_id), None)

    # -- serialisation ------------------------------------------------------

    def to_json(self) -> str:
        """Canonical JSON: same model, same bytes."""
        data = self.model_dump(mode="json", exclude_defaults=False)
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Architecture:
        """A model from JSON; strict (no NaN, no duplicate keys): see :mod:`hamodel.model.json_input`."""
        from hamodel.model.json_input import parse_model_json

        data = parse_model_json(text)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise from_validation_error(exc, data) from None

    # -- validation ---------------------------------------------------------

    def cross_check(self) -> list[tuple[str, str]]:
        """Every cross-reference and consistency rule, as (path, message)."""
        p: list[tuple[str, str]] = []
        for field in ("domains", "networks", "nodes", "vips", "services"):
            for name, count in Counter(x.name for x in getattr(self, field)).items():
                if count > 1:
                    p.append((f"{field}[{name}]", f"name used {count} times"))
        domains = {d.name: d for d in self.domains}
        networks = {n.name: n for n in self.networks}
        nodes = {n.name: n for n in self.nodes}
        vips = {v.name: v for v in self.vips}
        services = {s.name: s for s in self.services}
        roles = {r for n in self.nodes for r in n.roles}

        for d in self.domains:
            if d.parent is not None and d.parent not in domains:
                p.append((f"domains[{d.name}].parent", f"unknown failure domain {d.parent!r}"))
            seen, cur = set(), d.name
            while cur in domains and domains[cur].parent is not None:
                if cur in seen:
                    p.append((f"domains[{d.name}].parent", "failure domains nest in a cycle"))
                    break
                seen.add(cur)
                cur = domains[cur].parent  # type: ignore[assignment]

        for net in self.networks:
            for s in net.switches:
                if s not in domains:
                    p.append((f"networks[{net.name}].switches", f"unknown failure domain {s!r}"))
                elif domains[s].kind != "switch":
                    p.append((f"networks[{net.name}].switches", f"{s!r} is a {domains[s].kind}, not a switch"))

        addresses: dict[Any, str] = {}
        for node in self.nodes:
            for d in node.domains:
                if d not in domains:
                    p.append((f"nodes[{node.name}].domains", f"unknown failure domain {d!r}"))
                elif domains[d].kind == "switch":
                    p.append(
                        (f"nodes[{node.name}].domains", f"{d!r} is a switch: attach it with an interface's switch")
                    )
            for iface in node.interfaces:
                where = f"nodes[{node.name}].interfaces[{iface.device}]"
                net = networks.get(iface.network)
                if net is None:
                    p.append((f"{where}.network", f"unknown network {iface.network!r}"))
                    continue
                if iface.address not in net.subnet:
                    p.append((f"{where}.address", f"{iface.address} is not in {net.name}'s subnet {net.subnet}"))
                elif (
                    iface.address in (net.subnet.network_address, getattr(net.subnet, "broadcast_address", None))
                    and net.subnet.num_addresses > 2
                ):
                    p.append((f"{where}.address", f"{iface.address} is the subnet's network or broadcast address"))
                if iface.address in addresses:
                    p.append((f"{where}.address", f"{iface.address} is already used by {addresses[iface.address]}"))
                addresses[iface.address] = f"nodes[{node.name}]"
                if iface.switch is not None and iface.switch not in net.switches:
                    p.append((f"{where}.switch", f"{iface.switch!r} does not carry network {net.name!r}"))
                if iface.switch is None and len(net.switches) > 1:
                    p.append(
                        (f"{where}.switch", f"network {net.name!r} has several switches: say which one this port is on")
                    )
            if len({i.network for i in node.interfaces}) != len(node.interfaces):
                p.append((f"nodes[{node.name}].interfaces", "two interfaces on the same network"))

        for vip in self.vips:
            net = networks.get(vip.network)
            if net is None:
                p.append((f"vips[{vip.name}].network", f"unknown network {vip.network!r}"))
                continue
            if vip.address not in net.subnet:
                p.append((f"vips[{vip.name}].address", f"{vip.address} is not in {net.name}'s subnet {net.subnet}"))
            elif net.subnet.num_addresses > 2 and vip.address == net.subnet.network_address:
                # IPv6: the subnet-router anycast address, every router's.
                kind = "network" if vip.address.version == 4 else "subnet-router anycast (network)"
                p.append(
                    (
                        f"vips[{vip.name}].address",
                        f"{vip.address} is the {kind} address of {net.name}'s subnet {net.subnet}",
                    )
                )
            elif (
                net.subnet.num_addresses > 2
                and vip.address.version == 4
                and vip.address == net.subnet.broadcast_address
            ):
                p.append(
                    (
                        f"vips[{vip.name}].address",
                        f"{vip.address} is the broadcast address of {net.name}'s subnet {net.subnet}",
                    )
                )
            if vip.address in addresses:
                p.append(
                    (f"vips[{vip.name}].address", f"{vip.address} is also the address of {addresses[vip.address]}")
                )
            addresses[vip.address] = f"vips[{vip.name}]"

        vip_ports: dict[tuple[str, int], str] = {}
        role_ports: dict[tuple[str, int], str] = {}
        holders: dict[str, str] = {}
        for svc in self.services:
            at = f"services[{svc.name}]"
            for r in svc.on:
                if r not in roles:
                    p.append((f"{at}.on", f"no node has role {r!r}"))
            for field in ("pin", "exclude"):
                for n in getattr(svc, field):
                    if n not in nodes:
                        p.append((f"{at}.{field}", f"unknown node {n!r}"))
                    elif not set(nodes[n].roles) & set(svc.on):
                        p.append((f"{at}.{field}", f"node {n!r} has none of the roles {svc.on}"))
            for field in ("depends_on", "local_deps", "soft_deps", "starts_after", "colocate"):
                for s in getattr(svc, field):
                    if s not in services:
                        p.append((f"{at}.{field}", f"unknown service {s!r}"))
            if svc.clients is not None or svc.uplink is not None:
                p += self._client_problems(svc, at, vips)
            for d in svc.local_deps:
                dep = services.get(d)
                if (
                    dep is not None
                    and not isinstance(dep.strategy, External)
                    and not any(set(n.roles) & set(svc.on) and set(n.roles) & set(dep.on) for n in self.nodes)
                ):
                    p.append(
                        (
                            f"{at}.local_deps",
                            f"Local({d!r}): no node runs both {svc.name} (roles {svc.on}) "
                            f"and {d} (roles {dep.on}), so no instance has {d} on its own node",
                        )
                    )
            for s in getattr(svc.strategy, "via", []) or []:
                if s not in services:
                    p.append((f"{at}.strategy.via", f"unknown service {s!r}"))
            for kind in svc.max_per_domain:
                if kind != "node" and not any(d.kind == kind for d in self.domains):
                    p.append((f"{at}.max_per_domain", f"no failure domain of kind {kind!r}"))
            if svc.anti_affinity != "node" and not any(d.kind == svc.anti_affinity for d in self.domains):
                p.append((f"{at}.anti_affinity", f"no failure domain of kind {svc.anti_affinity!r}"))
            if isinstance(svc.replicas, int) and svc.pin and len(svc.pin) > svc.replicas:
                p.append((f"{at}.pin", f"{len(svc.pin)} nodes pinned but replicas={svc.replicas}"))

            strat = svc.strategy
            for v in svc.holds_vips:
                if v not in vips:
                    p.append((f"{at}.strategy.vips", f"unknown virtual IP {v!r}"))
                elif v in holders:
                    p.append((f"{at}.strategy.vips", f"virtual IP {v!r} is already held by services[{holders[v]}]"))
                else:
                    holders[v] = svc.name
                    net = networks.get(vips[v].network)
                    if net is not None:
                        for n in self.nodes_with_roles(svc.on):
                            if n.interface_on(net.name) is None:
                                p.append(
                                    (
                                        f"{at}.strategy.vips",
                                        f"node {n.name!r} may hold {v!r} but has no interface on {net.name!r}",
                                    )
                                )
            if isinstance(strat, Vrrp):
                if (
                    strat.track is not None
                    and strat.track != svc.process
                    and strat.track not in {s.process for s in self.services}
                ):
                    p.append((f"{at}.strategy.track", f"no service runs process {strat.track!r}"))
                nets = {vips[v].network for v in strat.vips if v in vips}
                if strat.sync_group is not None:
                    peers = [
                        x
                        for x in self.services
                        if isinstance(x.strategy, Vrrp) and x.strategy.sync_group == strat.sync_group
                    ]
                    if len(peers) < 2:
                        p.append(
                            (
                                f"{at}.strategy.sync_group",
                                f"sync group {strat.sync_group!r} has no other VRRP "
                                "group: name it on the groups that must fail over together",
                            )
                        )
                    elif any(sorted(x.on) != sorted(svc.on) or x.pin != svc.pin for x in peers):
                        p.append(
                            (
                                f"{at}.strategy.sync_group",
                                f"the groups of sync group {strat.sync_group!r} "
                                f"({', '.join(sorted(x.name for x in peers))}) must run on the same nodes "
                                "(same on and pin)",
                            )
                        )
                if strat.vrid is not None:
                    for net in nets:
                        if net in networks and strat.vrid in networks[net].reserved_vrids:
                            p.append((f"{at}.strategy.vrid", f"vrid {strat.vrid} is reserved on network {net!r}"))
            if isinstance(strat, (PacemakerVip,)) or (getattr(strat, "manager", None) == "pacemaker"):
                if self.pacemaker is None:
                    p.append((f"{at}.strategy", "managed by Pacemaker, but the architecture has no pacemaker cluster"))
                elif not set(svc.on) <= set(self.pacemaker.on):
                    p.append((f"{at}.on", f"runs on roles outside the pacemaker cluster ({self.pacemaker.on})"))
            if svc.supervisor == "pacemaker" and self.pacemaker is None:
                p.append((f"{at}.supervisor", "pacemaker named, but the architecture has no pacemaker cluster"))
            access = svc.access
            if access is not None:
                field = "strategy" if access is strat else "strategy.access"
                if access.vip not in vips:
                    p.append((f"{at}.{field}.vip", f"unknown virtual IP {access.vip!r}"))
                else:
                    for port in access.ports:
                        key = (access.vip, port)
                        if key in vip_ports:
                            p.append(
                                (
                                    f"{at}.{field}.ports",
                                    f"{vips[access.vip].address}:{port} is already claimed by services[{vip_ports[key]}]",
                                )
                            )
                        vip_ports[key] = svc.name
            listen = [e.port for e in svc.ports] + svc.backend_ports()
            for port in sorted(set(listen)):
                for r in svc.on:
                    key = (r, port)
                    if key in role_ports and role_ports[key] != svc.name:
                        p.append(
                            (
                                f"{at}.ports",
                                f"port {port} on role {r!r} is already claimed by services[{role_ports[key]}]",
                            )
                        )
                    role_ports.setdefault(key, svc.name)

        # The VIP of an active/passive service is its own address: no HAProxy front on it.
        for svc in self.services:
            access = svc.access
            if access is None:
                continue
            field = "strategy" if access is svc.strategy else "strategy.access"
            for i, front in enumerate(access.fronts):
                h = holders.get(str(front.vip))
                if h is not None and isinstance(services[h].strategy, (ActivePassive, AppCluster)):
                    fw = f"{field}.vip" if i == 0 else f"{field}.also_on[{i - 1}].vip"
                    what = "active/passive" if isinstance(services[h].strategy, ActivePassive) else "promoted member of"
                    p.append(
                        (
                            f"services[{svc.name}].{fw}",
                            f"virtual IP {front.vip!r} follows the {what} "
                            f"services[{h}] (its own address, no HAProxy on it): front this service on a VIP "
                            "held by Vrrp or PacemakerVip",
                        )
                    )

        # Dependency cycles make availability undefined.
        graph = {s.name: [d for d in s.dependencies if d in services] for s in self.services}
        state: dict[str, int] = {}

        def visit(n: str, path: list[str]) -> None:
            state[n] = 1
            for m in graph[n]:
                if state.get(m) == 1:
                    cyc = path[path.index(m) :] + [m] if m in path else [n, m]
                    p.append((f"services[{n}].depends_on", "dependency cycle: " + " -> ".join(cyc)))
                elif m not in state:
                    visit(m, path + [m])
            state[n] = 2

        for s in sorted(graph):
            if s not in state:
                visit(s, [s])

        if self.pacemaker is not None:
            for r in self.pacemaker.on:
                if r not in roles:
                    p.append(("pacemaker.on", f"no node has role {r!r}"))
        p.extend(self._redundancy_checks())
        for a in self.acknowledgements:
            if not a.finding:
                p.append(("acknowledgements", "empty finding id"))
        p.extend(policy_problems(self.policy, "policy", self.domains, self.networks))
        for s in self.services:
            p.extend(policy_problems(s.policy, f"services[{s.name}].policy", self.domains, self.networks))
        return p

    def _redundancy_checks(self) -> list[tuple[str, str]]:
        """Power feeds, bonds, trunks, witnesses, elections, quorum devices."""
        p: list[tuple[str, str]] = []
        domains = {d.name: d for d in self.domains}
        services = {s.name: s for s in self.services}
        networks = {n.name: n for n in self.networks}
        for node in self.nodes:
            for d in node.power:
                if d not in domains:
                    p.append((f"nodes[{node.name}].power", f"unknown failure domain {d!r}"))
                elif domains[d].kind == "switch":
                    p.append((f"nodes[{node.name}].power", f"{d!r} is a switch, not a power feed"))
                elif d in node.domains:
                    p.append((f"nodes[{node.name}].power", f"{d!r} is also in domains (where it alone stops the node)"))
            for iface in node.interfaces:
                net = networks.get(iface.network)
                for s in iface.bond:
                    if net is not None and s not in net.switches:
                        p.append(
                            (
                                f"nodes[{node.name}].interfaces[{iface.device}].bond",
                                f"{s!r} does not carry network {net.name!r}",
                            )
                        )
                if iface.bond and iface.switch is None:
                    p.append(
                        (
                            f"nodes[{node.name}].interfaces[{iface.device}].switch",
                            "a bonded interface names its first switch in switch",
                        )
                    )
        trunks: dict[str, Any] = {}
        for net in self.networks:
            for _, t in net.link_parts():
                if t is None:
                    continue
                if t.name in trunks and trunks[t.name][0] != t:
                    p.append(
                        (
                            f"networks[{net.name}].links",
                            f"trunk {t.name!r} differs from the one of the same name in networks[{trunks[t.name][1]}]",
                        )
                    )
                trunks.setdefault(t.name, (t, net.name))
        for svc in self.services:
            st = svc.strategy
            target = (
                getattr(st, "of", None)
                if st.kind == "witness"
                else getattr(st, "by", None)
                if st.kind == "elected"
                else None
            )
            if target is None:
                continue
            field = "of" if st.kind == "witness" else "by"
            other = services.get(target)
            if other is None:
                p.append((f"services[{svc.name}].strategy.{field}", f"unknown service {target!r}"))
            elif other.strategy.kind != "app_cluster":
                p.append(
                    (
                        f"services[{svc.name}].strategy.{field}",
                        f"services[{target}] keeps no quorum (it is {other.strategy.kind}, not an AppCluster)",
                    )
                )
        pm = self.pacemaker
        if pm is not None:
            members = {n.name for n in self.nodes_with_roles(pm.on)}
            if pm.qdevice is not None:
                if pm.qdevice not in {n.name for n in self.nodes}:
                    p.append(("pacemaker.qdevice", f"unknown node {pm.qdevice!r}"))
                elif pm.qdevice in members:
                    p.append(("pacemaker.qdevice", f"{pm.qdevice!r} is a cluster node; qnetd runs outside the cluster"))
                if pm.two_node:
                    p.append(("pacemaker.two_node", "two_node is for clusters without a quorum device"))
            if pm.two_node and len(members) != 2:
                p.append(("pacemaker.two_node", f"two_node needs exactly 2 cluster nodes, not {len(members)}"))
            if pm.two_node and pm.quorum != "majority":
                p.append(("pacemaker.quorum", "two_node sets the quorum itself; leave quorum='majority'"))
            p.extend(self._pacemaker_config_checks(pm, sorted(members)))
        return p

    def _pacemaker_config_checks(self, pm: PacemakerCluster, members: list[str]) -> list[tuple[str, str]]:
        """Fence devices and corosync rings: what the generated corosync.conf and CIB need.

        ``fencing=True`` without any device is not refused here (the analysis
        models fencing as a property of the cluster); ``hamodel build``
        refuses it, since it cannot write a CIB that fences nothing.
        """
        p: list[tuple[str, str]] = []
        networks = {n.name for n in self.networks}
        for name, count in Counter(d.name for d in pm.fence).items():
            if count > 1:
                p.append((f"pacemaker.fence[{name}]", f"name used {count} times"))
        if pm.fence and not pm.fencing:
            p.append(("pacemaker.fence", "fence devices given but fencing=False: set fencing=True or drop them"))
        for d in pm.fence:
            at = f"pacemaker.fence[{d.name}]"
            for field, names in (("per_node", d.per_node), ("targets", d.targets), ("host_map", d.host_map)):
                for n in sorted(names):
                    if n not in members:
                        p.append(
                            (f"{at}.{field}", f"{n!r} is not a node of the pacemaker cluster ({', '.join(members)})")
                        )
            if d.host_map and d.targets:
                missing = sorted(set(d.targets) - set(d.host_map))
                if missing:
                    p.append((f"{at}.host_map", f"no plug for {', '.join(missing)}: map every target or none"))
        if pm.fencing and pm.fence:
            fenced = {n for d in pm.fence for n in d.fenced(members)}
            for n in members:
                if n not in fenced:
                    p.append(("pacemaker.fence", f"no fence device fences node {n!r}"))
        limit = 8 if pm.transport == "knet" else 1
        if len(pm.rings) > limit:
            p.append(
                (
                    "pacemaker.rings",
                    f"corosync's {pm.transport} transport takes at most {limit} link(s), not {len(pm.rings)}",
                )
            )
        if len(set(pm.rings)) != len(pm.rings):
            p.append(("pacemaker.rings", "a network is listed twice"))
        for r in pm.rings:
            if r not in networks:
                p.append(("pacemaker.rings", f"unknown network {r!r}"))
                continue
            for n in members:
                if self.node(n).interface_on(r) is None:
                    p.append(("pacemaker.rings", f"cluster node {n!r} has no interface on network {r!r}"))
        return p
