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
                out.append(Finding(
                    f"short-timeout:{s.name}", "config", "medium",
                    f"{s.name}'s database front cuts connections after a short idle time", (s.name,), (),
                    f"The single-writer listener of {s.name} keeps {shown}: HAProxy closes any query or pooled "
                    "connection idle or running longer than that, which applications see as a lost connection.",
                    f"Raise {where}.timeout_client_s and timeout_server_s to at least {MIN_DATABASE_TIMEOUT_S} "
                    "(the default for single_writer is 3600, as kolla-ansible uses for MariaDB).",
                    details={"timeouts": {k: v for k, v in sorted(short.items())}}))
        vip = vips.get(access.vip)
        if vip is not None and vip.exposure == "public" and access.tls is None:
            out.append(Finding(
                f"cleartext-public:{s.name}", "config", "medium",
                f"{s.name} is served in clear text on the public VIP {vip.name}", (s.name,), (),
                f"{s.name} listens on {vip.name} (exposure public) on port(s) {', '.join(map(str, access.ports))} "
                "without TLS: tokens and passwords cross untrusted networks readable and alterable.",
                f"Give {where}.tls a certificate (tls={{'certificate': '/etc/...pem'}}) so HAProxy terminates TLS "
                f"on {vip.name}, or move the front to an internal VIP.",
                details={"vip": vip.name, "ports": list(access.ports)}))
    for s in sorted(arch.services, key=lambda s: s.name):
        if s.process != "haproxy" or not s.holds_vips:
            continue
        open_ports = [ep.port for ep in s.ports if getattr(ep, "auth", None) is None]
        if open_ports:
            out.append(Finding(
                f"stats-no-auth:{s.name}", "config", "medium",
                f"HAProxy statistics of {s.name} need no password", (s.name,), (),
                f"The stats listener on port(s) {', '.join(map(str, open_ports))} of every {s.name} node answers "
                "anyone who reaches the node's address: it shows every backend and server state.",
                f"Give services[{s.name}].ports[...].auth a SecretRef (stats auth user:password), or drop the port.",
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
            out.append(Finding(
                f"vrid-range:{g.service}", "config", "low",
                f"{g.service}'s VRRP router id {g.vrid} is outside {net.name}'s vrid_range", (g.service,), (),
                f"The id (kept from the lock file or fixed in the model) lies outside vrid_range "
                f"{net.vrid_range[0]}-{net.vrid_range[1]}, so it may collide with another system on {net.name}.",
                "Build with --fresh to reallocate it inside the range, or drop the fixed vrid.",
                details={"vrid": g.vrid, "network": net.name}))
    for (network, vrid), services in sorted(by_id.items()):
        net = nets.get(network)
        reserved = net is not None and vrid in net.reserved_vrids
        if len(services) > 1 or reserved:
            with_ = " and ".join(services) + (" and reserved_vrids" if reserved else "")
            out.append(Finding(
                f"vrid-collision:{network}:{vrid}", "config", "high",
                f"VRRP router id {vrid} is used twice on {network}", tuple(services), (),
                f"{with_} share virtual_router_id {vrid} on {network}: their adverts mix, and the VIPs flap or "
                "are held by the wrong group.",
                f"Give each group its own id: set networks[{network}].vrid_range, or fix Vrrp(vrid=...).",
                details={"vrid": vrid, "network": network, "services": services, "reserved": reserved}))
    return out
