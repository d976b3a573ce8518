"""Daemons dead on a node that still answers (a leaf of the monitoring generator).

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

from collections.abc import Callable, Iterable
from typing import Any

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
