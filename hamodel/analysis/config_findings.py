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
  (a port of the VIP-holding haproxy service) without ``auth`` that is not
  bound to loopback (``Endpoint(loopback=True)``).
- ``detection-order:<vrrp group>`` (medium): services whose backends run
  on the nodes that hold the group's VIP, where HAProxy needs longer to mark a dead
  backend DOWN (:func:`haproxy_detection_ms`) than keepalived needs to move
  the VIP off a dead node (:func:`vrrp_takeover_ms`): the new master sends
  clients to a dead backend until its checks catch up.
- ``track-flap:<service>`` (medium): the keepalived track script would
  flap: ``fall`` or ``rise`` of 1, or a timeout not under the interval.
- ``no-metrics-source`` (low): placed services that no generated exporter
  reports on (:mod:`hamodel.metrics`); the alerts see them only through
  their node's ``up``.
- ``vrid-collision:<network>:<vrid>`` (high): two VRRP groups, or a group
  and ``reserved_vrids``, share a router id on one segment;
  ``vrid-range:<service>`` (low): a group's id lies outside the segment's
  ``vrid_range`` (kept from a lock file).
- ``port-clash:<service>:<port>`` (critical): a service bound to every
  address (``listen="any"``) on a node where HAProxy binds a VIP on the same
  port: one of the two cannot start there.
"""

from __future__ import annotations

from collections.abc import Sequence

from hamodel.analysis import catalogue as cat
from hamodel.analysis.results import Finding, Placement, VrrpGroup
from hamodel.model import Architecture
from hamodel.model.strategies import BehindVip, Vrrp

# Below this a single-writer database front cuts ordinary long operations
# (reports, migrations, pooled connections idle between bursts).
MIN_DATABASE_TIMEOUT_S = 600


def haproxy_detection_ms(arch: Architecture, access: BehindVip) -> int:
    """Worst case from a backend's death to HAProxy marking it DOWN, in ms.

    Checks start every ``inter``: the first one after the death starts
    within ``inter``, the ``fall``-th one ``(fall - 1) x inter`` later, and a
    check of a dead host fails after at most ``min(timeout connect, inter)``
    (HAProxy's connect timeout for checks): ``fall x inter + min(connect, inter)``.
    """
    c = access.check
    fast = c.fastinter_ms if c.fastinter_ms is not None else c.inter_ms  # the checks after the first failed one
    return c.inter_ms + (c.fall - 1) * fast + min(arch.haproxy.timeout_connect_s * 1000, c.inter_ms)


def vrrp_takeover_ms(advert_int: int) -> int:
    """Least time, in ms, before a backup takes the VIP of a dead master:
    keepalived's master-down interval is ``3 x advert_int`` plus a skew of
    under one ``advert_int``; the lower bound is what matters here."""
    return 3 * advert_int * 1000


def config_findings(
    arch: Architecture, vrrp_groups: Sequence[VrrpGroup] = (), placement: Placement | None = None
) -> list[Finding]:
    """Every configuration finding for ``arch`` with its VRRP groups (and
    its placement, which the detection-order rule needs)."""
    out: list[Finding] = []
    vips = {v.name: v for v in arch.vips}
    for s in sorted(arch.services, key=lambda s: s.name):
        access = s.access
        if access is None:
            continue
        where = f"services[{s.name}]" + (".strategy" if s.strategy is access else ".strategy.access")
        if access.single_writer:
            t = access.effective_timeouts
            short = {
                k: v for k, v in t.items() if k in ("client", "server") and (v is None or v < MIN_DATABASE_TIMEOUT_S)
            }
            if short:
                shown = ", ".join(
                    f"timeout {k} {'60 s (haproxy defaults)' if v is None else f'{v} s'}"
                    for k, v in sorted(short.items())
                )
                out.append(
                    cat.SHORT_TIMEOUT.finding(
                        service=s.name,
                        services=(s.name,),
                        shown=shown,
                        where=where,
                        minimum=MIN_DATABASE_TIMEOUT_S,
                        details={"timeouts": dict(sorted(short.items()))},
                    )
                )
        for i, front in enumerate(access.fronts):
            vip = vips.get(str(front.vip))
            if (
                vip is not None
                and vip.exposure == "public"
                and front.tls is None
                and not access.tls_passthrough
                and s.protocol is None
            ):
                fw = where if i == 0 else f"{where}.also_on[{i - 1}]"
                out.append(
                    cat.CLEARTEXT_PUBLIC.finding(
                        service=s.name,
                        services=(s.name,),
                        vip=vip.name,
                        ports=", ".join(map(str, access.ports)),
                        where=fw,
                        details={"vip": vip.name, "ports": list(access.ports)},
                    )
                )
                break
    for s in sorted(arch.services, key=lambda s: s.name):
        if s.process != "haproxy" or not s.holds_vips:
            continue
        open_ports = [ep.port for ep in s.ports if ep.auth is None and not ep.loopback]
        if open_ports:
            out.append(
                cat.STATS_NO_AUTH.finding(
                    service=s.name,
                    services=(s.name,),
                    ports=", ".join(map(str, open_ports)),
                    details={"ports": open_ports},
                )
            )
    out += _vrid_findings(arch, vrrp_groups)
    out += _timing_findings(arch, vrrp_groups, placement)
    if placement is not None:
        out += _port_clashes(arch, placement)
    out += _metrics_findings(arch, vrrp_groups, placement)
    return out


def _port_clashes(arch: Architecture, placement: Placement) -> list[Finding]:
    """A service bound to every address on a node where HAProxy binds a VIP
    on the same port (the front of another service, or its own)."""
    holders = {v: s.name for s in arch.services for v in s.holds_vips}
    fronts: dict[tuple[str, int], list[tuple[str, str]]] = {}  # (node, port) -> (front's service, vip)
    for s in arch.services:
        access = s.access
        if access is None:
            continue
        for front in access.fronts:
            h = holders.get(str(front.vip))
            if h is None:
                continue
            for n in placement.nodes_of(h):
                for p in access.ports:
                    fronts.setdefault((n, p), []).append((s.name, str(front.vip)))
    clashes: dict[tuple[str, int], dict] = {}
    for s in sorted(arch.services, key=lambda s: s.name):
        if s.listen != "any":
            continue
        ports = {*(e.port for e in s.ports), *s.backend_ports()}
        for n in placement.nodes_of(s.name):
            for p in sorted(ports):
                for front, vip in fronts.get((n, p), ()):
                    c = clashes.setdefault((s.name, p), {"front": front, "vip": vip, "nodes": []})
                    if n not in c["nodes"]:
                        c["nodes"].append(n)
    return [
        cat.PORT_CLASH.finding(
            service=s,
            services=(s, c["front"]),
            port=p,
            front=c["front"],
            vip=c["vip"],
            nodes=", ".join(c["nodes"]),
            details={"port": p, **c},
        )
        for (s, p), c in sorted(clashes.items())
    ]


def _metrics_findings(arch: Architecture, groups: Sequence[VrrpGroup], placement: Placement | None) -> list[Finding]:
    """``no-metrics-source``: placed services no generated exporter reports on (:mod:`hamodel.metrics`)."""
    from hamodel.metrics import metrics_source

    if placement is None:
        return []
    keepalived = [g.service for g in groups if g.manager == "keepalived"]
    names = sorted(
        s.name for s in arch.services if placement.nodes_of(s.name) and metrics_source(arch, s.name, keepalived) is None
    )
    if not names:
        return []
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return [
        cat.NO_METRICS_SOURCE.finding(
            services=tuple(names), count=len(names), shown=shown, details={"unmonitored": names}
        )
    ]


def _timing_findings(arch: Architecture, groups: Sequence[VrrpGroup], placement: Placement | None) -> list[Finding]:
    out: list[Finding] = []
    keepalived = sorted((g for g in groups if g.manager == "keepalived"), key=lambda g: g.service)
    for g in keepalived:
        strat = arch.service(g.service).strategy
        if not isinstance(strat, Vrrp):
            continue
        c = strat.check
        problems = []
        if c.fall < 2:
            problems.append(f"fall {c.fall}: one failed check moves the VIP")
        if c.rise < 2:
            problems.append(f"rise {c.rise}: one passed check takes the VIP back")
        if c.timeout_s >= c.interval_s:
            problems.append(
                f"timeout {c.timeout_s} s is not under the interval {c.interval_s} s: a slow check runs into the next"
            )
        if problems:
            out.append(
                cat.TRACK_FLAP.finding(
                    service=g.service,
                    services=(g.service,),
                    problems="; ".join(problems),
                    details={"interval_s": c.interval_s, "timeout_s": c.timeout_s, "fall": c.fall, "rise": c.rise},
                )
            )
    if placement is None:
        return out
    for g in keepalived:
        strat = arch.service(g.service).strategy
        if not isinstance(strat, Vrrp):
            continue
        takeover = vrrp_takeover_ms(strat.advert_int)
        late: dict[str, dict] = {}
        for s in sorted(arch.services, key=lambda s: s.name):
            access = s.access
            if access is None or not {str(f.vip) for f in access.fronts} & set(g.vips):
                continue
            shared = sorted(set(placement.nodes_of(s.name)) & set(g.priorities))
            detect = haproxy_detection_ms(arch, access)
            if shared and detect > takeover:
                late[s.name] = {
                    "haproxy_detection_ms": detect,
                    "fall": access.check.fall,
                    "inter_ms": access.check.inter_ms,
                    "nodes": shared,
                }
        if not late:
            continue
        worst = max(late, key=lambda n: (late[n]["haproxy_detection_ms"], n))
        w = late[worst]
        shown = ", ".join(f"{n} {v['haproxy_detection_ms']} ms" for n, v in late.items())
        out.append(
            cat.DETECTION_ORDER.finding(
                group=g.service,
                services=(g.service, *late),
                late=shown,
                takeover=takeover,
                worst=worst,
                detect=w["haproxy_detection_ms"],
                fall=w["fall"],
                inter=w["inter_ms"],
                connect=arch.haproxy.timeout_connect_s,
                advert=strat.advert_int,
                details={
                    "vrrp_takeover_ms": takeover,
                    "advert_int_s": strat.advert_int,
                    "timeout_connect_s": arch.haproxy.timeout_connect_s,
                    "services": late,
                },
            )
        )
    return out


def _vrid_findings(arch: Architecture, groups: Sequence[VrrpGroup]) -> list[Finding]:
    out: list[Finding] = []
    nets = {n.name: n for n in arch.networks}
    by_id: dict[tuple[str, int], list[str]] = {}
    for g in sorted((g for g in groups if g.manager == "keepalived"), key=lambda g: g.service):
        by_id.setdefault((g.network, g.vrid), []).append(g.service)
        net = nets.get(g.network)
        if net is not None and net.vrid_range is not None and g.vrid not in net.vrids:
            out.append(
                cat.VRID_RANGE.finding(
                    service=g.service,
                    services=(g.service,),
                    vrid=g.vrid,
                    network=net.name,
                    low=net.vrid_range[0],
                    high=net.vrid_range[1],
                    details={"vrid": g.vrid, "network": net.name},
                )
            )
    for (network, vrid), services in sorted(by_id.items()):
        net = nets.get(network)
        reserved = net is not None and vrid in net.reserved_vrids
        if len(services) > 1 or reserved:
            with_ = " and ".join(services) + (" and reserved_vrids" if reserved else "")
            out.append(
                cat.VRID_COLLISION.finding(
                    network=network,
                    vrid=vrid,
                    services=services,
                    sharing=with_,
                    details={"vrid": vrid, "network": network, "services": services, "reserved": reserved},
                )
            )
    return out
