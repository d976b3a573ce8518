"""Physical topology: failure domains, networks, nodes and virtual IPs."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PrivateAttr, field_validator, model_validator

from hamodel.model.base import HaBase, Name, NameSet, Ref, RefList, Reliability, Resources, _listify, _to_name

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from hamodel.model.base import AddressIn, Data, NamesIn, RefIn, RefsIn, SubnetIn


def _no_scope_id(value: Any) -> Any:
    # Python accepts any text after "%" as an IPv6 scope id ("fe80::1%{{ x }}",
    # "%$HOME"); it would reach haproxy.cfg (which expands $VAR), keepalived.conf
    # and the Ansible inventory. A model address is global: no scope id.
    address = getattr(value, "network_address", value)
    if getattr(address, "scope_id", None) is not None:
        raise ValueError(
            f"{str(value)!r} has an IPv6 scope id (the text after '%'): "
            "give the address without one (the interface is the node's device)"
        )
    return value


IPAddress = Annotated[ipaddress.IPv4Address | ipaddress.IPv6Address, AfterValidator(_no_scope_id)]
IPNetwork = Annotated[ipaddress.IPv4Network | ipaddress.IPv6Network, AfterValidator(_no_scope_id)]


class FailureDomain(HaBase):
    """Anything whose failure takes down everything inside it.

    ``kind`` is free text; the usual ones are ``region``, ``zone``, ``rack``,
    ``power`` and ``switch``. Domains nest through ``parent`` (a rack in a
    zone); cross-cutting ones (a power feed) simply have no parent. A domain
    of kind ``switch`` is a network switch: listed in a network's
    ``switches``, its failure cuts links rather than stopping nodes.

    ``site=True`` declares the domain the boundary of the site (so do the
    kinds ``region`` and ``site``): its failure is reported once as
    ``site-failure`` (no second site), not as a single point of failure of
    every service. Any other domain that happens to hold every node (one
    power feed, one rack) is a single point of failure.
    """

    def __hash__(self) -> int:  # usable as a dict key: addresses={mgmt: ...}
        return hash((type(self).__name__, self.name))

    _positional: ClassVar = ("name",)
    name: Name
    kind: Name
    parent: Ref | None = None
    reliability: Reliability | None = None
    # New fields stay out of the canonical JSON while unused, so existing
    # models keep their hash (manifest, inventory).
    site: bool = Field(default=False, exclude_if=lambda v: not v)

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(
            self,
            name: str,
            *,
            kind: str,
            parent: RefIn | None = ...,
            reliability: Reliability | Data | None = ...,
            site: bool = ...,
        ) -> None: ...

    @property
    def is_site(self) -> bool:
        """Declared the site boundary (``site=True``, kind region or site)."""
        return self.site or self.kind in ("region", "site")


def Site(name: str, **kw: Any) -> FailureDomain:
    return FailureDomain(name, kind="site", **kw)


def Region(name: str, **kw: Any) -> FailureDomain:
    return FailureDomain(name, kind="region", **kw)


def Zone(name: str, **kw: Any) -> FailureDomain:
    return FailureDomain(name, kind="zone", **kw)


def Rack(name: str, **kw: Any) -> FailureDomain:
    return FailureDomain(name, kind="rack", **kw)


def Power(name: str, **kw: Any) -> FailureDomain:
    return FailureDomain(name, kind="power", **kw)


def Switch(name: str, **kw: Any) -> FailureDomain:
    return FailureDomain(name, kind="switch", **kw)


def _pairs(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [tuple(_to_name(x) for x in p) if isinstance(p, (list, tuple)) else p for p in value]
    return value


class Trunk(HaBase):
    """One physical inter-switch link (a trunk) that may carry several
    networks (VLANs): list the same trunk in each network's ``links``. Its
    failure is one component, ``trunk:<name>``, cutting all of them."""

    _positional: ClassVar = ("name", "a", "b")
    name: Name
    a: Ref
    b: Ref
    reliability: Reliability | None = None

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(self, name: str, a: RefIn, b: RefIn, *, reliability: Reliability | Data | None = ...) -> None: ...

    @model_validator(mode="after")
    def _two_ends(self) -> Trunk:
        if self.a == self.b:
            raise ValueError(f"b: trunk joins switch {self.a!r} to itself")
        return self


# Router ids allocated when a network gives no vrid_range. It avoids the ids
# most likely taken on a shared segment: 1 (the first id anything picks,
# router VRRP group defaults), 10/11 (OpenStack-Ansible's external and
# internal defaults) and 51 (keepalived's sample config and kolla-ansible's
# keepalived_virtual_router_id).
DEFAULT_VRID_RANGE = (100, 254)


class Network(HaBase):
    """An L2 segment with its subnet and the switches that carry it.

    Switches of one network are joined by inter-switch links: ``links``
    lists them as pairs, or ``"mesh"`` (the default) joins every pair. Each
    link is a failure-prone component: cutting links partitions the segment.
    A :class:`Trunk` in ``links`` is a physical link shared with the other
    networks that list it (one failure cuts them all).
    """

    def __hash__(self) -> int:  # usable as a dict key: addresses={mgmt: ...}
        return hash((type(self).__name__, self.name))

    _positional: ClassVar = ("name",)
    name: Name
    subnet: IPNetwork
    switches: RefList = Field(default_factory=list)
    links: Literal["mesh"] | Annotated[list[Trunk | tuple[Ref, Ref]], BeforeValidator(_pairs)] = "mesh"
    reserved_vrids: list[Annotated[int, Field(ge=1, le=255)]] = Field(
        default_factory=list, description="VRRP router ids used on this segment by systems outside the model"
    )
    vrid_range: tuple[Annotated[int, Field(ge=1, le=255)], Annotated[int, Field(ge=1, le=255)]] | None = Field(
        default=None,
        description="VRRP router ids this model may allocate on this segment (inclusive); "
        "default DEFAULT_VRID_RANGE. Give models sharing a segment disjoint ranges",
    )
    link_reliability: Reliability | None = None
    _domain_objects: list[FailureDomain] = PrivateAttr(default_factory=list)

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(
            self,
            name: str,
            *,
            subnet: SubnetIn,
            switches: RefsIn = ...,
            links: Literal["mesh"] | Iterable[Trunk | tuple[RefIn, RefIn]] = ...,
            reserved_vrids: Iterable[int] = ...,
            vrid_range: tuple[int, int] | None = ...,
            link_reliability: Reliability | Data | None = ...,
        ) -> None: ...
    else:

        def __init__(self, *args: Any, **data: Any):
            objs = [d for d in _listify(data.get("switches")) if isinstance(d, FailureDomain)]
            super().__init__(*args, **data)
            self._domain_objects = objs

    @field_validator("subnet", mode="before")
    @classmethod
    def _strict_subnet(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                return ipaddress.ip_network(v, strict=True)
            except ValueError as exc:
                raise ValueError(f"invalid subnet {v!r}: {exc}") from None
        return v

    @model_validator(mode="after")
    def _links_between_switches(self) -> Network:
        if isinstance(self.links, list):
            for a, b in ((x.a, x.b) if isinstance(x, Trunk) else x for x in self.links):
                for s in (a, b):
                    if s not in self.switches:
                        raise ValueError(f"links: {s!r} is not one of this network's switches")
                if a == b:
                    raise ValueError(f"links: link {a!r}-{b!r} joins a switch to itself")
        if len(set(self.switches)) != len(self.switches):
            raise ValueError("switches: listed twice")
        if self.vrid_range is not None and self.vrid_range[0] > self.vrid_range[1]:
            raise ValueError(f"vrid_range: {self.vrid_range[0]} is above {self.vrid_range[1]}; give (lowest, highest)")
        return self

    @property
    def vrids(self) -> range:
        """The router ids hamodel allocates on this segment: ``vrid_range``
        or :data:`DEFAULT_VRID_RANGE`."""
        lo, hi = self.vrid_range or DEFAULT_VRID_RANGE
        return range(lo, hi + 1)

    def _domain_refs(self) -> set[str]:
        return set(self.switches)

    def switch_links(self) -> list[tuple[str, str]]:
        """Inter-switch links as sorted pairs."""
        if self.links == "mesh":
            s = sorted(self.switches)
            return [(a, b) for i, a in enumerate(s) for b in s[i + 1 :]]
        return sorted({tuple(sorted(p)) for p, _ in self.link_parts()})  # type: ignore[misc]

    def link_parts(self) -> list[tuple[tuple[str, str], Trunk | None]]:
        """Every inter-switch link as (sorted pair, the trunk it rides or None)."""
        if self.links == "mesh":
            return [(p, None) for p in self.switch_links()]
        out: dict[tuple, tuple[tuple[str, str], Trunk | None]] = {}
        for x in self.links:
            pair = tuple(sorted((x.a, x.b) if isinstance(x, Trunk) else x))
            key = (pair, x.name if isinstance(x, Trunk) else "")
            out[key] = (pair, x if isinstance(x, Trunk) else None)  # type: ignore[assignment]
        return [out[k] for k in sorted(out)]


class Interface(HaBase):
    """A node's attachment to a network: device name, address, switch port.

    ``bond`` lists further switches the same interface is bonded to (NIC
    bond, MLAG): the node keeps the network while any of ``switch`` and
    ``bond`` is up.

    ``bond_mode`` says how the bond is built, and with it the analysis
    counts each member's NIC port and cable as components of their own
    (``nic:<node>:<device>/<i>``, ``cable:<node>:<device>/<i>``):

    - ``"active-backup"`` or ``"mlag"`` (LACP across an MLAG pair): one
      member per switch of ``switch`` and ``bond``; the interface is up
      while some member, its cable and its switch are;
    - ``"802.3ad"`` (LACP to one switch): ``members`` links (2 by default),
      all to ``switch``: it survives a NIC or a cable, **not** the switch.
    """

    network: Ref
    address: IPAddress
    device: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")] = "eth0"
    switch: Ref | None = None
    bond: RefList = Field(default_factory=list, exclude_if=lambda v: not v)
    bond_mode: Literal["active-backup", "802.3ad", "mlag"] | None = Field(default=None, exclude_if=lambda v: v is None)
    members: Annotated[int, Field(ge=2, le=8)] | None = Field(default=None, exclude_if=lambda v: v is None)

    @model_validator(mode="after")
    def _bond_shape(self) -> Interface:
        if self.members is not None and self.bond_mode != "802.3ad":
            raise ValueError(
                "members: the number of links of an 802.3ad bond to one switch "
                "(bond_mode='802.3ad'); other bonds have one member per switch"
            )
        if self.bond_mode == "802.3ad" and self.bond:
            raise ValueError(
                "bond_mode: 802.3ad (LACP) runs to one switch; across two switches it needs an "
                "MLAG pair: bond_mode='mlag'"
            )
        if self.bond_mode in ("active-backup", "mlag") and not self.bond:
            raise ValueError(f"bond_mode: {self.bond_mode} needs a second switch in bond")
        if self.bond_mode is not None and self.switch is None:
            raise ValueError("bond_mode: a bonded interface names its switch")
        return self

    def bond_members(self) -> list[str]:
        """The switch of each bond member (empty when ``bond_mode`` is not given)."""
        if self.bond_mode is None or self.switch is None:
            return []
        if self.bond_mode == "802.3ad":
            return [self.switch] * (self.members or 2)
        return self.switches

    @property
    def switches(self) -> list[str]:
        """Every switch this interface is attached to (``switch`` first)."""
        return ([self.switch] if self.switch is not None else []) + [s for s in self.bond if s != self.switch]


def _interfaces(value: Any) -> Any:
    if isinstance(value, dict):
        return [{"network": _to_name(k), "address": v} for k, v in value.items()]
    return value


class Node(HaBase):
    """A machine: roles, failure domains, capacity, interfaces.

    ``addresses={mgmt: "192.0.2.11"}`` is a shorthand for interfaces on
    ``eth0``, ``eth1``, ... in order; ``switch=[a, b]`` with it bonds each
    of them to both switches.

    ``power`` lists the feeds of a dual-corded node: it stops only when
    every one of them has failed (a feed in ``domains`` stops it alone).
    """

    def __hash__(self) -> int:  # usable as a dict key: addresses={mgmt: ...}
        return hash((type(self).__name__, self.name))

    _positional: ClassVar = ("name",)
    name: Name
    roles: NameSet = Field(default_factory=list)
    domains: RefList = Field(default_factory=list)
    capacity: Resources = Resources(cpu=16, memory_gb=64)
    interfaces: list[Interface] = Field(default_factory=list)
    power: RefList = Field(default_factory=list, exclude_if=lambda v: not v)
    reliability: Reliability | None = None
    _domain_objects: list[FailureDomain] = PrivateAttr(default_factory=list)

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(
            self,
            name: str,
            *,
            roles: NamesIn = ...,
            domains: RefsIn = ...,
            capacity: Resources | Data = ...,
            interfaces: Iterable[Interface | Data] = ...,
            power: RefsIn = ...,
            reliability: Reliability | Data | None = ...,
            addresses: Mapping[Network, AddressIn] | Mapping[str, AddressIn] | None = None,
            switch: RefIn | Sequence[RefIn] | None = None,
            bond_mode: Literal["active-backup", "802.3ad", "mlag"] | None = None,
        ) -> None: ...
    else:

        def __init__(self, *args: Any, addresses: Any = None, switch: Any = None, bond_mode: Any = None, **data: Any):
            objs = [
                d for d in _listify(data.get("domains")) + _listify(data.get("power")) if isinstance(d, FailureDomain)
            ]
            bond: list[Any] = []
            if isinstance(switch, (list, tuple)):
                switch, *bond = switch
                objs.extend(d for d in bond if isinstance(d, FailureDomain))
            if isinstance(switch, FailureDomain):
                objs.append(switch)
            if addresses is not None:
                if "interfaces" in data:
                    raise TypeError("Node: give interfaces or addresses, not both")
                ifaces = []
                for i, (net, addr) in enumerate((addresses or {}).items()):
                    iface: dict[str, Any] = {"network": _to_name(net), "address": addr, "device": f"eth{i}"}
                    if switch is not None:
                        iface["switch"] = _to_name(switch)
                    if bond:
                        iface["bond"] = [_to_name(b) for b in bond]
                    if bond_mode is not None:
                        iface["bond_mode"] = bond_mode
                    ifaces.append(iface)
                data["interfaces"] = ifaces
            elif switch is not None:
                raise TypeError("Node: switch= is only a shorthand together with addresses=")
            super().__init__(*args, **data)
            self._domain_objects = objs

    @model_validator(mode="after")
    def _unique_devices(self) -> Node:
        seen: set[str] = set()
        for iface in self.interfaces:
            if iface.device in seen:
                raise ValueError(f"interfaces: device {iface.device!r} used twice")
            seen.add(iface.device)
        return self

    def _domain_refs(self) -> set[str]:
        return set(self.domains) | set(self.power) | {s for i in self.interfaces for s in i.switches}

    def interface_on(self, network: str) -> Interface | None:
        return next((i for i in self.interfaces if i.network == network), None)


class VirtualIP(HaBase):
    """An address that moves between the nodes that may hold it."""

    def __hash__(self) -> int:  # usable as a dict key: addresses={mgmt: ...}
        return hash((type(self).__name__, self.name))

    _positional: ClassVar = ("name", "address")
    name: Name
    address: IPAddress
    network: Ref
    dns_name: (
        Annotated[
            str, Field(pattern=r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")
        ]
        | None
    ) = None
    exposure: Literal["internal", "public"] = "internal"

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(
            self,
            name: str,
            address: AddressIn,
            *,
            network: RefIn,
            dns_name: str | None = ...,
            exposure: Literal["internal", "public"] = ...,
        ) -> None: ...
