"""Daemons dead on a node that still answers (a leaf of the monitoring generator).

- **keepalived dead on a node** (:func:`keepalived_up_files`, :func:`keepalived_down`):
  keepalived killed by SIGKILL runs no notify script (its state metrics keep
  saying MASTER) and leaves its VIPs configured, so two nodes hold them once a
  backup takes over. A generated script, run by a systemd timer, writes
  ``hamodel_keepalived_up`` (``pgrep -F`` on keepalived's pid file) and
  ``hamodel_vip_present`` (each of the node's VIP addresses, from ``ip addr``)
  as node_exporter textfile metrics; one rule alerts on a member without
  keepalived, one on an address configured on more than one member.
- **HAProxy dead on one load balancer**: keepalived's track script moves the
  VIPs away within a few adverts, so no VIP is without a master and every
  backend is still UP on the other load balancers; only the lost redundancy
  is left, and nothing else reports it. The rule reads the ``haproxy`` scrape
  job's ``up`` (HAProxy's built-in exporter answers only while HAProxy runs),
  except where the node itself does not answer (the node-down alert says that).

The caller (:mod:`hamodel.generators.monitoring`) passes its scrape targets
and its finding lookup: this module imports nothing of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from hamodel.generators.common import NodeFile, comment
from hamodel.generators.monitoring.alert import Alert

from hamodel.deployment import Deployment, Finding
from hamodel.runbooks import Runbook, alert_name, for_alert

#: How long a load balancer's HAProxy must stay unreachable (3 scrapes: a restart is not an alert).
HAPROXY_DOWN_FOR_S = 15


def _sel(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _group(dep: Deployment, node: str) -> tuple[str, str] | None:
    """(service, manager) of the VIP group whose VIPs front ``node``'s HAProxy (the first by name)."""
    vips = {v for _, vs in dep.fronts_on(node) for v in vs}
    return next(
        ((g.service, g.manager) for g in sorted(dep.vrrp_groups, key=lambda g: g.service) if vips & set(g.vips)),
        None,
    )


def haproxy_down(
    dep: Deployment,
    rbs: list[Runbook],
    targets: Iterable[Any],
    finding: Callable[[str], Finding | None],
) -> list[Alert]:
    """One rule over every load balancer: its HAProxy exporter does not answer while its node does."""
    targets = list(targets)
    if not any(t.job == "haproxy" for t in targets):
        return []
    nodes: dict[str, dict[str, str]] = {}
    for t in targets:
        nodes.setdefault(t.job, {})[t.node] = t.address
    lbs = sorted(nodes["haproxy"])
    first = lbs[0]
    svc, manager = _group(dep, first) or (dep.fronts_on(first)[0][0], "the VIP manager")
    name = alert_name("HaproxyDown", svc)

    def up(job: str, n: str) -> str:
        return f"up{_sel(job=job, node=n, instance=nodes[job][n])}"

    node_up = [(up("node", n), "1x20") for n in lbs if n in nodes.get("node", {})]
    # silent when healthy, and when the node itself is down (its node-down alert says so)
    healthy = (*((up("haproxy", n), "1x20") for n in lbs), *node_up)
    if first in nodes.get("node", {}):
        healthy = (
            (up("haproxy", first), "0x20"),
            (up("node", first), "0x20"),
            *((up("haproxy", n), "1x20") for n in lbs[1:]),
            *(x for x in node_up if x[0] != up("node", first)),
        )
    return [
        Alert(
            "haproxy",
            name,
            'up{job="haproxy"} == 0 unless on (node) up{job="node"} == 0',
            HAPROXY_DOWN_FOR_S,
            svc,
            finding(svc),
            f"HAProxy does not answer on a load balancer whose node does: {manager} moves its VIPs "
            "away, the remaining load balancers carry every front (redundancy reduced)",
            for_alert(rbs, name),
            ((up("haproxy", first), "0x20"), *node_up, *((up("haproxy", n), "1x20") for n in lbs[1:])),
            healthy,
            ({"job": "haproxy", "node": first, "instance": nodes["haproxy"][first]},),
        )
    ]


# -- keepalived itself, and the VIP addresses a node holds -----------------------------------

#: The generated script, its systemd units, and how often the timer runs it.
KEEPALIVED_UP_SCRIPT = "/usr/local/lib/hamodel/keepalived-up"
KEEPALIVED_UP_UNIT = "hamodel-keepalived-up"
KEEPALIVED_UP_INTERVAL_S = 5
#: Debian's keepalived.service runs keepalived with this pid file (``PIDFile=``).
KEEPALIVED_PIDFILE = "/run/keepalived.pid"
#: How long keepalived must stay dead (3 runs of the timer: a restart is not an alert).
KEEPALIVED_DOWN_FOR_S = 15


def _keepalived_groups(dep: Deployment, node: str | None = None) -> list[Any]:
    return sorted(
        (g for g in dep.vrrp_groups if g.manager == "keepalived" and (node is None or node in g.priorities)),
        key=lambda g: g.service,
    )


def keepalived_up_files(dep: Deployment, node: str, env: Any, textfile_dir: str) -> list[NodeFile]:
    """``node``'s liveness script and the systemd service and timer that run it (none without a
    keepalived VRRP group)."""
    groups = _keepalived_groups(dep, node)
    if not groups:
        return []
    model = dep.architecture.name
    vips = [(g.service, v, str(dep.architecture.vip(v).address)) for g in groups for v in sorted(g.vips)]
    script = env.get_template("keepalived-up.sh.j2").render(
        node=node,
        model=model,
        textfile_dir=textfile_dir,
        pidfile=KEEPALIVED_PIDFILE,
        timer=f"{KEEPALIVED_UP_UNIT}.timer",
        interval=KEEPALIVED_UP_INTERVAL_S,
        vips=vips,
    )
    head = f'# {KEEPALIVED_UP_UNIT} on {node}: generated by hamodel (monitoring) from model "{comment(model)}".\n'
    what = "hamodel: keepalived liveness and VIP addresses as node_exporter textfile metrics"
    service = f"{head}[Unit]\nDescription={what}\n\n[Service]\nType=oneshot\nExecStart={KEEPALIVED_UP_SCRIPT}\n"
    timer = (
        f"{head}[Unit]\nDescription={what} (every {KEEPALIVED_UP_INTERVAL_S} s)\n\n[Timer]\n"
        f"OnBootSec={KEEPALIVED_UP_INTERVAL_S}s\nOnUnitActiveSec={KEEPALIVED_UP_INTERVAL_S}s\nAccuracySec=1s\n\n"
        "[Install]\nWantedBy=timers.target\n"
    )
    services = tuple(g.service for g in groups)
    vip_names = tuple(sorted(v for g in groups for v in g.vips))

    def nf(kind: str, path: str, dest: str, data: str) -> NodeFile:
        b = data.encode()
        return NodeFile(
            node=node,
            kind=kind,
            path=path,
            dest=dest,
            services=services,
            vips=vip_names,
            data=b,
            redacted=b,
            secret=False,
        )

    return [
        nf("keepalived_up", f"nodes/{node}/keepalived/keepalived-up", KEEPALIVED_UP_SCRIPT, script),
        *(
            nf(
                "keepalived_up_unit",
                f"nodes/{node}/systemd/{KEEPALIVED_UP_UNIT}.{ext}",
                f"/etc/systemd/system/{KEEPALIVED_UP_UNIT}.{ext}",
                data,
            )
            for ext, data in (("service", service), ("timer", timer))
        ),
    ]


def keepalived_down(
    dep: Deployment,
    rbs: list[Runbook],
    node_addr: Callable[[str], str],
    finding: Callable[[str], Finding | None],
    split_finding: Callable[[str], Finding | None],
) -> list[Alert]:
    """Per keepalived VRRP group: a member's keepalived is not running (``hamodel_keepalived_up``),
    and a VIP address configured on more than one member (``hamodel_vip_present``)."""
    out = []
    for g in _keepalived_groups(dep):
        svc, members = g.service, sorted(g.priorities)
        alts = "|".join(members)
        inst = {n: node_addr(n) for n in members}

        def s(metric: str, n: str, **labels: str) -> str:
            return f"{metric}{_sel(job='node', node=n, instance=inst[n], **labels)}"

        first = members[0]
        name = alert_name("KeepalivedDown", svc)
        out.append(
            Alert(
                "vrrp",
                name,
                f'hamodel_keepalived_up{{job="node",node=~"{alts}"}} == 0',
                KEEPALIVED_DOWN_FOR_S,
                svc,
                finding(svc),
                f"{svc}: keepalived does not run on a member whose node answers: that member takes no part in "
                "VRRP; killed (not stopped), it may still hold its VIP addresses",
                for_alert(rbs, name),
                ((s("hamodel_keepalived_up", first), "0x20"),),
                tuple((s("hamodel_keepalived_up", n), "1x20") for n in members),
                ({"job": "node", "node": first, "instance": inst[first]},),
            )
        )
        if len(members) < 2:
            continue
        advert = getattr(dep.architecture.service(svc).strategy, "advert_int", 1)
        name = alert_name("VipHeldTwice", svc)
        vip = sorted(g.vips)[0]
        addr = str(dep.architecture.vip(vip).address)

        def held(n: str, v: str, a: str) -> str:
            return s("hamodel_vip_present", n, vrrp_group=svc, vip=v, address=a)

        out.append(
            Alert(
                "vrrp",
                name,
                f"count by (vip, address) (hamodel_vip_present{_sel(vrrp_group=svc)} == 1) > 1",
                max(10, math.ceil(3 * advert + 2)),
                svc,
                split_finding(svc) or finding(svc),
                f"{svc}: a VIP address is configured on more than one member (a killed keepalived left it, "
                "or a partition): clients reach either node",
                for_alert(rbs, name),
                tuple((held(n, vip, addr), "1x20" if i < 2 else "0x20") for i, n in enumerate(members)),
                tuple((held(n, vip, addr), "1x20" if i == 0 else "0x20") for i, n in enumerate(members)),
                ({"vip": vip, "address": addr},),
            )
        )
    return out
