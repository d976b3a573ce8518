"""The corosync.conf plan of a Pacemaker cluster: its members, rings (links) and
quorum settings, read from the Deployment.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from hamodel.generators.common import ConfigError, address, integer, token

from hamodel.deployment import Deployment, corosync_token_timeout_ms


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
