"""What the keepalived / HAProxy scenario kinds share: the VRRP timers and HAProxy
bounds they predict from the generated configs, and the lookups into the lab.

Every bound adds the keepalived lab's margin (:data:`MARGIN_S`, see
:mod:`hamodel.drill.margins`).
"""

from __future__ import annotations

from pathlib import Path

from hamodel.deployment import VrrpGroup
from hamodel.drill import reroot
from hamodel.drill.lab import LabError, access_of
from hamodel.drill.margins import KEEPALIVED_S as MARGIN_S
from hamodel.drill.scenario import DrillContext

__all__ = [
    "MARGIN_S",
    "advert_int",
    "detect_bound",
    "frontend",
    "group_of_vip",
    "instance",
    "master_down",
    "owner",
    "skew",
    "sock_of",
]


def group_of_vip(ctx: DrillContext, vip: str) -> VrrpGroup:
    return next(g for g in ctx.groups if vip in g.vips)


def advert_int(ctx: DrillContext, g: VrrpGroup) -> float:
    return float(getattr(ctx.arch.service(g.service).strategy, "advert_int", 1))


def master_down(ctx: DrillContext, g: VrrpGroup, node: str) -> float:
    """RFC 3768 master-down interval of ``node``: 3 x advert_int + skew."""
    a = advert_int(ctx, g)
    return 3 * a + (256 - g.priorities[node]) / 256 * a


def skew(ctx: DrillContext, g: VrrpGroup, node: str) -> float:
    return (256 - g.priorities[node]) / 256 * advert_int(ctx, g)


def instance(ctx: DrillContext, node: str, vip: str) -> reroot.VrrpInstance | None:
    """``node``'s generated vrrp_instance that carries ``vip``."""
    kc = ctx.plan.keepalived.get(node)
    addr = ctx.vip_addr[vip]
    return next((i for i in kc.instances.values() if addr in i.addresses), None) if kc else None


def owner(ctx: DrillContext, address: str) -> str | None:
    """The node with this interface address."""
    return next((n.name for n in ctx.arch.nodes for i in n.interfaces if str(i.address) == address), None)


def frontend(ctx: DrillContext, node: str, vip: str, service: str) -> tuple[str, reroot.Backend, int]:
    """``(proxy name, backend, port)`` of ``service``'s first port on ``node``'s HAProxy."""
    port = access_of(ctx.arch, service).ports[0]
    hc = ctx.plan.haproxy[node]
    name = hc.frontends.get((ctx.vip_addr[vip], port))
    be = hc.backends.get(name) if name else None
    if name is None or be is None:
        raise LabError(f"{node}'s haproxy.cfg has no proxy for {service} on {ctx.vip_addr[vip]}:{port}")
    return name, be, port


def detect_bound(ctx: DrillContext, at: str, vip: str, svc: str, dead: str, *, unreachable: bool) -> float | None:
    """When ``at``'s HAProxy has marked ``dead``'s server of ``svc`` down, at the latest.

    ``fall`` failed checks, each started ``inter`` after the previous
    one ended; a check of an unreachable host fails only at its connect
    timeout (min(timeout connect, inter) with ``timeout check``), a
    refused one at once: fall x (inter + per-check timeout) + margin.
    """
    hc = ctx.plan.haproxy.get(at)
    port = access_of(ctx.arch, svc).ports[0]
    name = hc.frontends.get((ctx.vip_addr[vip], port)) if hc else None
    be = hc.backends.get(name) if hc and name else None
    if be is None:
        return None
    srv = next((s for s in be.servers if owner(ctx, s.address) == dead), None)
    if srv is None:
        return None
    per = be.check_connect_timeout_ms(srv) if unreachable else 0
    return srv.fall * (srv.inter_ms + per) / 1000 + MARGIN_S


def sock_of(ctx: DrillContext, node: str) -> Path:
    """``node``'s HAProxy stats socket (the lab rewrites every haproxy.cfg to put it there)."""
    return ctx.lab.node_dir(node) / "haproxy.sock"
