"""Findings about the generated HAProxy and keepalived configuration.

Not failure analysis: these are settings of the model that the generators
write faithfully but that weaken or break production, each with a
mitigation phrased in the model's own terms.

- ``short-timeout:<service>`` (medium): a single-writer database front
  (Galera) whose client or server timeout is under
  :data:`MIN_DATABASE_TIMEOUT_S`: HAProxy cuts every longer query and idle
  pooled connection. The default is
  :data:`~hamodel.model.strategies.DATABASE_TIMEOUT_S`.
- ``cleartext-public:<service>`` (medium): a front on an
  ``exposure="public"`` VIP without TLS termination.
- ``stats-no-auth:<service>`` (medium): an HAProxy statistics listener
  (a port of the VIP-holding haproxy service) without ``auth``.
- ``vrid-collision:<network>:<vrid>`` (high): two VRRP groups, or a group
  and ``reserved_vrids``, share a router id on one segment;
  ``vrid-range:<service>`` (low): a group's id lies outside the segment's
  ``vrid_range`` (kept from a lock file).
"""

from __future__ import annotations

from collections.abc import Sequence

from hamodel.analysis import catalogue as cat
from hamodel.deployment import Finding, VrrpGroup
from hamodel.model import Architecture

# Below this a single-writer database front cuts ordinary long operations
# (reports, migrations, pooled connections idle between bursts).
MIN_DATABASE_TIMEOUT_S = 600


def config_findings(arch: Architecture, vrrp_groups: Sequence[VrrpGroup] = ()) -> list[Finding]:
    """Every configuration finding for ``arch`` with its VRRP groups."""
    out: list[Finding] = []
    vips = {v.name: v for v in arch.vips}
    for s in sorted(arch.services, key=lambda s: s.name):
        access = s.access
        if access is None:
            continue
        where = f"services[{s.name}]" + (".strategy" if s.strategy is access else ".strategy.access")
        if access.single_writer:
            t = access.effective_timeouts
            short = {k: v for k, v in t.items() if k in ("client", "server") and (v is None or v < MIN_DATABASE_TIMEOUT_S)}
            if short:
                shown = ", ".join(f"timeout {k} {'60 s (haproxy defaults)' if v is None else f'{v} s'}"
                                  for k, v in sorted(short.items()))
                out.append(cat.SHORT_TIMEOUT.finding(
                    service=s.name, services=(s.name,), shown=shown, where=where, minimum=MIN_DATABASE_TIMEOUT_S,
                    details={"timeouts": {k: v for k, v in sorted(short.items())}}))
        vip = vips.get(access.vip)
        if vip is not None and vip.exposure == "public" and access.tls is None:
            out.append(cat.CLEARTEXT_PUBLIC.finding(
                service=s.name, services=(s.name,), vip=vip.name, ports=', '.join(map(str, access.ports)), where=where,
                details={"vip": vip.name, "ports": list(access.ports)}))
    for s in sorted(arch.services, key=lambda s: s.name):
        if s.process != "haproxy" or not s.holds_vips:
            continue
        open_ports = [ep.port for ep in s.ports if getattr(ep, "auth", None) is None]
        if open_ports:
            out.append(cat.STATS_NO_AUTH.finding(
                service=s.name, services=(s.name,), ports=', '.join(map(str, open_ports)),
                details={"ports": open_ports}))
    out += _vrid_findings(arch, vrrp_groups)
    return out


def _vrid_findings(arch: Architecture, groups: Sequence[VrrpGroup]) -> list[Finding]:
    out: list[Finding] = []
    nets = {n.name: n for n in arch.networks}
    by_id: dict[tuple[str, int], list[str]] = {}
    for g in sorted((g for g in groups if g.manager == "keepalived"), key=lambda g: g.service):
        by_id.setdefault((g.network, g.vrid), []).append(g.service)
        net = nets.get(g.network)
        if net is not None and net.vrid_range is not None and g.vrid not in net.vrids:
            out.append(cat.VRID_RANGE.finding(
                service=g.service, services=(g.service,), vrid=g.vrid, network=net.name, low=net.vrid_range[0],
                high=net.vrid_range[1],
                details={"vrid": g.vrid, "network": net.name}))
    for (network, vrid), services in sorted(by_id.items()):
        net = nets.get(network)
        reserved = net is not None and vrid in net.reserved_vrids
        if len(services) > 1 or reserved:
            with_ = " and ".join(services) + (" and reserved_vrids" if reserved else "")
            out.append(cat.VRID_COLLISION.finding(
                network=network, vrid=vrid, services=services, sharing=with_,
                details={"vrid": vrid, "network": network, "services": services, "reserved": reserved}))
    return out
