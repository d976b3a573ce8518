"""Facts of the architecture document an operator reads in plain words:
each service's real HA mechanism, its endpoint (VIP, client list or stats
port), HAProxy fronts from the same plan that writes ``haproxy.cfg``, what a
switch cuts off, VRRP behaviour, scope and assumptions, and failure
components without internal ids. Views of the Deployment only."""

from __future__ import annotations

from typing import Any

from hamodel.generators.words import plain_component, plain_text

from hamodel.deployment import Deployment

__all__ = [
    "detection_words",
    "endpoint_words",
    "frontend_rows",
    "plain_component",
    "plain_text",
    "scope",
    "strategy_words",
    "switch_cuts",
    "vrrp_facts",
]
from hamodel.model.strategies import (
    ActivePassive,
    AppCluster,
    BehindVip,
    Coordinated,
    Elected,
    PacemakerVip,
    Sharded,
    Vrrp,
)

_MECHANISM = {
    "rpc": "one per node, coordinating over {via}",
    "tooz": "workload partitioning (tooz over {via})",
    "client-list": "clients list every instance",
    "agent-scheduling": "several agents per network (agent scheduling)",
    "l3-ha": "L3 HA (VRRP inside the service)",
    "per-node": "one per node, serving that node",
}


def _access_words(a: BehindVip) -> str:
    words = "HAProxy"
    if a.mode == "http":
        words += ", HTTP"
    if a.single_writer:
        words += ", one writer, the others backup"
    if a.sticky:
        words += ", cookie stickiness"
    return words


def strategy_words(dep: Deployment, svc: Any) -> str:
    """How the service survives, as the reference service table says it."""
    st = svc.strategy
    if isinstance(st, ActivePassive):
        if st.manager is None:
            return "none \u2014 one instance, manual restart on a survivor"
        return f"{st.manager.title()} starts it on a survivor"
    if isinstance(st, Sharded):
        return f"none \u2014 each instance owns {st.shard}"
    if isinstance(st, Vrrp):
        return "keepalived (VRRP)"
    if isinstance(st, PacemakerVip):
        return "Pacemaker (VIP resource)"
    if isinstance(st, BehindVip):
        return _access_words(st)
    if isinstance(st, AppCluster):
        words = f"app cluster (quorum {st.quorum})"
        if st.manager:
            words += f", {st.manager.title()}-managed"
        if st.access is not None:
            words += " + " + _access_words(st.access)
        return words
    if isinstance(st, Elected):
        return f"elected master (by {st.by})"
    if isinstance(st, Coordinated):
        via = ", ".join(st.via) or "the message bus"
        return _MECHANISM[st.mechanism].format(via=via)
    return st.kind.replace("_", " ")


def endpoint_words(dep: Deployment, svc: Any) -> str:
    """Where clients reach it: VIP ports, a client-side list, or nothing (in-node)."""
    arch = dep.architecture
    a = svc.access
    if a is not None:
        vip = arch.vip(a.vip)
        return ", ".join(f"{vip.address}:{p}" for p in a.ports)
    if svc.holds_vips:
        out = ", ".join(str(arch.vip(v).address) for v in svc.holds_vips)
        local = [e for e in svc.ports if e.loopback]
        if local:
            out += "; stats " + ", ".join(f"127.0.0.1:{e.port} (on each node)" for e in local)
        return out
    ports = [e.port for e in svc.ports]
    if not ports:
        return "\u2014"
    return f"clients list {', '.join(dep.placement.nodes_of(svc.name))} (port {ports[0]})"


def frontend_rows(dep: Deployment) -> list[dict[str, Any]]:
    """The HAProxy fronts as planned for ``haproxy.cfg`` (balance, backups, stickiness)."""
    from hamodel.generators.haproxy import fronted_services, planned_listens

    out = []
    for name, access in fronted_services(dep):
        for x in planned_listens(dep, name, access):
            balance = x.balance
            active = [s.name for s in x.servers if not s.backup]
            if len(active) < len(x.servers):
                balance += f"; active {', '.join(active)}, the others backup"
            if x.single_writer:
                balance += "; stick on dst (one writer for every client)"
            if x.sticky:
                balance += "; cookie SERVERID (a client stays on one node)"
            how = []
            if x.http_path:
                how.append(f"HTTP GET {x.http_path}")
            if x.check_port:
                how.append(f"port {x.check_port}")
            how.append(f"every {x.inter_ms} ms, rise {x.rise}, fall {x.fall}")
            out.append(
                {
                    "service": name,
                    "bind": ", ".join(b.address for b in x.binds),
                    "mode": x.mode,
                    "balance": balance,
                    "backends": [s.address + (" (backup)" if s.backup else "") for s in x.servers],
                    "nodes": [s.name + (" (backup)" if s.backup else "") for s in x.servers],
                    "check": "; ".join(how),
                }
            )
    return out


def switch_cuts(dep: Deployment, switch: str) -> list[str]:
    """Nodes a switch failure cuts off: every interface of theirs is on that switch alone."""
    arch = dep.architecture
    return [n.name for n in arch.nodes if n.interfaces and all(list(i.switches) == [switch] for i in n.interfaces)]


def vrrp_facts(dep: Deployment) -> list[str]:
    """What the keepalived groups do, from each group's model settings."""
    arch = dep.architecture
    out = []
    for g in dep.vrrp_groups:
        st = arch.service(g.service).strategy
        if g.manager != "keepalived" or not isinstance(st, Vrrp):
            continue
        vips = ", ".join(g.vips)
        backup = g.members[1] if len(g.members) > 1 else g.master
        takeover = 3 * st.advert_int + (256 - g.priorities[backup]) / 256 * st.advert_int
        out.append(
            f"{g.service} ({vips}): "
            + (
                "VRRP adverts are sent unicast to the listed peers (unicast_peer) instead of VRRP's multicast "
                "group 224.0.0.18: the switches need no multicast, and only the listed peers take part. "
                if st.unicast
                else "VRRP adverts go to the multicast group 224.0.0.18. "
            )
            + (
                f"Every member starts as BACKUP with nopreempt: a recovered {g.master} does not take the address "
                "back (no second move). "
                if not st.preempt
                else f"The preferred master {g.master} takes the address back when it recovers (preempt). "
            )
            + f"Adverts every {st.advert_int} s; when the master dies, {backup} takes over after three missed "
            f"adverts plus its skew: expected {takeover:.1f} s. During a partition each side elects its own "
            "master and the address is held twice; when the partition heals the members see each other's "
            "adverts again, the lower priority steps down and the duplicate clears."
        )
    return out


def scope(dep: Deployment, model_path: str | None) -> list[str]:
    """What the model covers and what it assumes (its defaults and its inventions)."""
    arch = dep.architecture
    out = []
    roles = sorted({r for n in arch.nodes for r in n.roles})
    out.append(
        f"In scope: the {len(arch.nodes)} nodes of role{'s' * (len(roles) != 1)} {', '.join(roles)} "
        f"and the {len(arch.services)} services placed on them. Anything not in the model (other machines "
        "such as compute or storage nodes, an out-of-band network, the clients) is out of scope."
    )
    out.append(
        f"Distribution: {arch.distribution}."
        if arch.distribution
        else "Distribution: not stated in the model (its field distribution); versions and defaults of the "
        "daemons are those of the generated configs."
    )
    switches = [d.name for d in arch.domains if d.kind == "switch"]
    racks = sorted({d.kind for d in arch.domains if d.kind not in ("switch",)})
    single = [n.name for n in arch.nodes if len(n.interfaces) == 1 and len(n.interfaces[0].switches) <= 1]
    if switches or racks:
        out.append(
            "The physical layout is the model's: "
            + (f"failure domains of kind {', '.join(racks)}; " if racks else "")
            + (f"switches {', '.join(switches)}" if switches else "no switches")
            + (
                f"; {len(single)} node{'s' * (len(single) != 1)} with one network interface and no bond"
                if single
                else ""
            )
            + ". Findings about switches and partitions (split brain) depend on this layout: check it against "
            "the real cabling."
        )
    if "supervisor" not in arch.model_fields_set:
        out.append(
            "Assumed: nothing restarts a failed process (the model's default, supervisor='none'); "
            "with systemd restarting services, set supervisor='systemd' and the monitoring finding changes."
        )
    else:
        out.append(f"Failed processes are restarted by {arch.supervisor} (supervisor='{arch.supervisor}').")
    k = max((int(f.details.get("k", 0)) for f in dep.findings if isinstance(f.details.get("k"), int)), default=2)
    together = {1: "one at a time", 2: "alone and in pairs"}.get(k, f"up to {k} at once")
    out.append(
        f"Failures analysed: nodes, failure domains, switches, inter-switch links and processes, "
        f"{together}; not analysed: slow or flapping components, data corruption, operator error, load."
    )
    return out


def detection_words(dep: Deployment) -> str | None:
    """Why the health-check interval is what it is: HAProxy marks a dead node's
    backends down before keepalived moves the VIP (or says that it does not)."""
    from hamodel.analysis.config_findings import haproxy_detection_ms as detection_ms

    arch = dep.architecture
    groups = [g for g in dep.vrrp_groups if g.manager == "keepalived"]
    fronted = [s.access for s in arch.services if s.access is not None]
    if not groups or not fronted:
        return None
    st = arch.service(groups[0].service).strategy
    slowest = max(fronted, key=lambda access: detection_ms(arch, access))
    c = slowest.check
    det = detection_ms(arch, slowest) / 1000
    vrrp = 3 * getattr(st, "advert_int", 1)
    order = "before" if det < vrrp else "not before"
    return (
        f"Health checks run every {c.inter_ms} ms (fall {c.fall}): HAProxy marks a dead node's backends down "
        f"after at most {det:.1f} s (fall x inter + connect), {order} keepalived moves the virtual IP "
        f"(at least {vrrp} s), so the new holder does not send clients to the dead node"
        + (
            ". A 1 s interval, the usual default, would take longer than the VIP move."
            if c.fall * 1000 + min(arch.haproxy.timeout_connect_s * 1000, 1000) >= vrrp * 1000 and det < vrrp
            else "."
        )
    )


def expected_times(dep: Deployment, finding: Any) -> tuple[str | None, list[str], str | None]:
    """What a finding's failure should look like in time, the drill scenarios
    that measure it, and why it is not measured (when no drill can)."""
    from hamodel.analysis.config_findings import haproxy_detection_ms

    arch = dep.architecture
    svc = arch.service(finding.services[0]) if finding.services else None
    st = svc.strategy if svc is not None else None
    kind = finding.kind
    if kind == "split-brain" and svc is not None:
        g = dep.group_of(svc.name)
        adv = getattr(st, "advert_int", 1)
        if g is None or len(g.members) < 2:
            return None, ["partition"], None
        low = min(g.priorities.values())
        worst = 3 * adv + (256 - low) / 256 * adv
        return (
            (
                f"each side without adverts elects its own master within {worst:.1f} s of the cut (three missed "
                f"adverts plus skew); after the heal the lower priority steps down within about {adv} s"
            ),
            ["partition"],
            None,
        )
    if kind == "single-point-of-failure" and isinstance(st, ActivePassive) and st.manager is None:
        return (
            "down until an operator starts it on another node",
            [],
            "nothing moves it, so there is no take-over to time; the drill does not run it",
        )
    if kind == "partial-outage":
        return ("the shards of the failed node stay down until recovered or recreated", [], "the lab runs no agent")
    if kind == "manual-recovery":
        names = [f"galera-restart-{x}" for x in ("crash", "graceful", "crash-missing")]
        others = [s for s in finding.services if s != "galera"]
        return (
            None,
            names if "galera" in finding.services else [],
            f"{', '.join(others)}: not run in the lab" if others else None,
        )
    if kind in ("single-point-of-failure", "quorum-loss") and svc is not None and svc.access is not None:
        return (
            f"HAProxy marks a dead backend down within {haproxy_detection_ms(arch, svc.access) / 1000:.1f} s",
            [f"backend-death:{svc.name}"],
            None,
        )
    return None, [], None
