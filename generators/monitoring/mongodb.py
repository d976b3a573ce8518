"""MongoDB's alerts: what Debian's ``prometheus-mongodb-exporter`` reports.

Debian packages the 2018 exporter (``1.0.0+git20180522.e755a44``, upstream
dcu/mongodb_exporter); mongod itself is not in Debian, so these names were
read from the exporter's source at that commit and found in the installed
binary, and ``mongodb_up 0`` seen from the real exporter with no mongod
(tests/integration/test_monitoring_clusters.py), not from a live replica set:

- ``mongodb_up``: 1 when the exporter reached mongod. Without mongod the
  exporter answered after about 10 s (its dial timeout), longer than the
  5 s scrape timeout: the scrape then fails and ``up{job="mongodb"}`` is 0;
- ``mongodb_replset_master_count``: the members in state PRIMARY as the
  scraped member sees them (replSetGetStatus), no label.

The exporter's unit reads ``ARGS`` from ``/etc/default/prometheus-mongodb-exporter``
(default listen ``:9001``); the generated file makes it listen on the
node's own address and read the local mongod.

A leaf of the monitoring generator: plain data in, :class:`Alert` out.
"""

from __future__ import annotations

from hamodel.generators.monitoring.alert import Alert

from hamodel.deployment import Finding
from hamodel.runbooks import Runbook, alert_name, for_alert

PACKAGE = "prometheus-mongodb-exporter"
PORT = 9001
DEFAULT_FILE = "/etc/default/prometheus-mongodb-exporter"
UNIT = "prometheus-mongodb-exporter"
JOB = "mongodb"
AREA = "mongodb"
MONGOD_URI = "mongodb://localhost:27017"


def args(listen: str) -> str:
    """The exporter's ARGS (Go flag syntax of the 2018 exporter: one dash)."""
    return f"-web.listen-address {listen} -mongodb.uri {MONGOD_URI}"


def _sel(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def alerts(
    service: str,
    members: dict[str, str],
    member_finding: Finding | None,
    quorum_finding: Finding | None,
    runbooks: list[Runbook],
) -> list[Alert]:
    """The replica set's rules. ``members``: node -> the exporter's ``host:port``."""

    nodes = sorted(members)
    first = nodes[0]
    own = _sel(job=JOB, service=service)

    def series(metric: str, node: str) -> str:
        return f"{metric}{_sel(job=JOB, service=service, node=node, instance=members[node])}"

    target = {"job": JOB, "service": service, "node": first, "instance": members[first]}
    name = alert_name("MongodbMemberDown", service)
    out = [
        Alert(
            AREA,
            name,
            f"mongodb_up{own} == 0 or up{own} == 0",
            30,
            service,
            member_finding,
            f"{service}: a member's mongod does not answer its exporter (or the exporter does not answer)",
            for_alert(runbooks, name),
            ((series("mongodb_up", first), "0x20"), (series("up", first), "1x20")),
            ((series("mongodb_up", first), "1x20"), (series("up", first), "1x20")),
            (target,),
        )
    ]
    master = f"mongodb_replset_master_count{own}"
    name = alert_name("MongodbNoPrimary", service)
    out.append(
        Alert(
            AREA,
            name,
            f"(max({master}) or vector(0)) < 1",
            30,
            service,
            quorum_finding or member_finding,
            f"{service}: no member sees a PRIMARY: writes fail (no majority of the {len(nodes)} members, "
            "or an election that does not end)",
            for_alert(runbooks, name),
            tuple((series("mongodb_replset_master_count", n), "0x20") for n in nodes),
            tuple((series("mongodb_replset_master_count", n), "1x20") for n in nodes),
            ({},),
        )
    )
    return out
