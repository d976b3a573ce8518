"""Pacemaker's alerts: what Debian's ``prometheus-hacluster-exporter`` (ha_cluster_exporter) reports.

The exporter runs on every cluster node and reports the whole cluster as
``crm_mon`` and ``corosync-quorumtool`` see it from there:

- ``ha_cluster_pacemaker_resources{resource, role, status, node, clone, agent}``:
  one series per status (``active``, ``failed``, ...) of each resource
  instance, 1 when the instance has it; ``role`` is the instance's role in
  lower case (``started``, ``stopped``, ``promoted``, ``unpromoted``);
- ``ha_cluster_pacemaker_nodes{node, status}``: 1 when the node has the
  status (``online``, ``unclean``, ...);
- ``ha_cluster_corosync_quorate``: 1 when the node's partition has quorum.

Every node reports the same resources, so the rules aggregate with ``max``
over the nodes that answer: a resource counts as running when any node
sees it running. The resource ids are the CIB's
(:func:`hamodel.generators.pacemaker.cib.resource_ids`).

This module is a leaf of the monitoring generator: it returns plain
:class:`Rule` records, which :mod:`hamodel.generators.monitoring` turns
into alerts with their finding and runbook.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Debian's package, its port, and the environment file its systemd unit reads (``$ARGS``).
PACKAGE = "prometheus-hacluster-exporter"
PORT = 9664
DEFAULT_FILE = "/etc/sysconfig/prometheus-ha_cluster_exporter"
UNIT = "ha_cluster_exporter"
JOB = "pacemaker"

#: The roles of a running instance (``crm_mon`` since Pacemaker 2.1 says Promoted/Unpromoted,
#: earlier Master/Slave; the exporter lower-cases them).
RUNNING_ROLES = ("master", "promoted", "slave", "started", "unpromoted")


@dataclass(frozen=True)
class Rule:
    name: str  # alert name without the service part (alert_name(kind, service))
    service: str
    expr: str
    for_s: int
    summary: str
    firing: tuple[tuple[str, str], ...]
    healthy: tuple[tuple[str, str], ...]
    fired_labels: tuple[dict, ...]
    extra: dict
    #: For the cluster's own rules (``service`` is the cluster's name): the finding kinds about the
    #: cluster to label it with; empty for a resource's rules (the service's most severe finding).
    kinds: tuple[str, ...] = ()
    key: str = ""  # what the alert's name ends with (alert_name(name, key)); the service when empty


def _sel(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def rules(cluster: str, members: dict[str, str], resources: list[tuple[str, str, str, str]]) -> list[Rule]:
    """The cluster's rules.

    ``members``: node -> its exporter's ``host:port``; ``resources``: ``(service, resource id,
    what, key)`` for every resource hamodel puts in the CIB (the key names its alerts)."""
    nodes = sorted(members)
    first = nodes[0]

    def series(metric: str, node: str, **labels: str) -> str:
        return f"{metric}{_sel(job=JOB, node=node, instance=members[node], **labels)}"

    out = [
        Rule(
            "PacemakerNoQuorum",
            cluster,
            f"ha_cluster_corosync_quorate{_sel(job=JOB)} == 0",
            30,
            f"cluster {cluster}: a node's partition has no quorum: Pacemaker stops the resources there "
            "(no-quorum-policy) until it rejoins or is fenced",
            ((series("ha_cluster_corosync_quorate", first), "0x20"),),
            tuple((series("ha_cluster_corosync_quorate", n), "1x20") for n in nodes),
            ({"job": JOB, "node": first, "instance": members[first]},),
            {"cluster": cluster},
            ("pacemaker-quorum", "cold-start"),
        ),
        Rule(
            "PacemakerNodeUnclean",
            cluster,
            f"max by (node) (ha_cluster_pacemaker_nodes{_sel(job=JOB, status='unclean')}) == 1",
            60,
            f"cluster {cluster}: a node is unclean (lost and not yet fenced): its resources are blocked "
            "until fencing confirms it is off",
            tuple(
                (f"ha_cluster_pacemaker_nodes{_sel(job=JOB, node=n, status='unclean', instance=members[n])}", v)
                for n, v in ((first, "1x20"),)
            ),
            tuple(
                (f"ha_cluster_pacemaker_nodes{_sel(job=JOB, node=n, status='unclean', instance=members[n])}", "0x20")
                for n in nodes
            ),
            ({"node": first},),
            {"cluster": cluster},
            ("pacemaker-quorum",),
        ),
    ]
    for service, rid, what, key in resources:

        def res(status: str, role: str, node: str = first, rid: str = rid) -> str:
            return f"ha_cluster_pacemaker_resources{_sel(job=JOB, node=node, instance=members[node], resource=rid, role=role, status=status)}"

        roles = "|".join(RUNNING_ROLES)
        out.append(
            Rule(
                "PacemakerResourceStopped",
                service,
                f'(max(ha_cluster_pacemaker_resources{{job="{JOB}",resource="{rid}",role=~"{roles}",status="active"}})'
                " or vector(0)) < 1",
                30,
                f"{service}: no instance of {what} ({rid}) runs anywhere in the cluster",
                ((res("active", "stopped"), "1x20"), (res("active", "started"), "0x20")),
                ((res("active", "started"), "1x20"),),
                ({},),
                {"resource": rid},
                key=key,
            )
        )
        out.append(
            Rule(
                "PacemakerResourceFailed",
                service,
                f"max by (resource) (ha_cluster_pacemaker_resources{_sel(job=JOB, resource=rid, status='failed')}) == 1",
                30,
                f"{service}: an instance of {what} ({rid}) failed (a failed operation; it may be blocked "
                "until the failure is cleaned up: crm_resource --cleanup)",
                ((res("failed", "started"), "1x20"), (res("active", "started"), "1x20")),
                ((res("failed", "started"), "0x20"), (res("active", "started"), "1x20")),
                ({"resource": rid},),
                {"resource": rid},
                key=key,
            )
        )
    return out
