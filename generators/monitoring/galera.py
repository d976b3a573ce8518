"""Galera's alerts, from the mysqld exporter's wsrep status: a member down, no Primary
component, a member outside it, the component below its size, a member not Synced."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from hamodel.generators.monitoring.alert import Alert

from hamodel.deployment import Finding
from hamodel.runbooks import Runbook, alert_name, for_alert


def _sel(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def alerts(
    svc: str,
    nodes: list[str],
    quorum: int,
    inst: Mapping[str, str],
    finding: Callable[..., Finding | None],
    rbs: list[Runbook],
) -> list[Alert]:
    """The Galera alerts of ``svc`` (members ``nodes``, their mysqld exporter ``inst``ances);
    ``finding(kinds)`` is the most severe finding of those kinds naming ``svc``."""
    s = lambda metric, n: f"{metric}{_sel(service=svc, node=n, job='mysqld', instance=inst[n])}"
    out = []
    name = alert_name("GaleraMemberDown", svc)
    out.append(
        Alert(
            "galera",
            name,
            f"mysql_up{_sel(service=svc)} == 0 or up{_sel(job='mysqld', service=svc)} == 0",
            30,
            svc,
            finding(("quorum-loss", "cut-set")) or finding(),
            f"{svc}: a member's MariaDB does not answer",
            for_alert(rbs, name),
            ((s("mysql_up", nodes[0]), "0x20"), (s("up", nodes[0]), "1x20")),
            ((s("mysql_up", nodes[0]), "1x20"), (s("up", nodes[0]), "1x20")),
            ({"node": nodes[0], "job": "mysqld", "instance": inst[nodes[0]], "__name__": "mysql_up"},),
        )
    )
    ready = "mysql_global_status_wsrep_ready"
    name = alert_name("GaleraNoPrimary", svc)
    out.append(
        Alert(
            "galera",
            name,
            f"(count({ready}{_sel(service=svc)} == 1) or vector(0)) < 1",
            30,
            svc,
            finding(("manual-recovery", "quorum-loss")),
            f"{svc}: no member is in a Primary component and ready: the database is down; after a full "
            "stop see the runbook",
            for_alert(rbs, name),
            tuple((s(ready, n), "0x20") for n in nodes),
            tuple((s(ready, n), "1x20") for n in nodes),
            ({},),
        )
    )
    name = alert_name("GaleraNonPrimary", svc)
    out.append(
        Alert(
            "galera",
            name,
            f"{ready}{_sel(service=svc)} == 0",
            15,
            svc,
            finding(("quorum-loss", "split-brain")),
            f"{svc}: a running member is not in the Primary component (cut off or quorum lost): it refuses queries",
            None,
            ((s(ready, nodes[0]), "0x20"),),
            ((s(ready, nodes[0]), "1x20"),),
            ({"node": nodes[0], "job": "mysqld", "instance": inst[nodes[0]], "__name__": ready},),
        )
    )
    size = "mysql_global_status_wsrep_cluster_size"
    name = alert_name("GaleraClusterSizeLow", svc)
    out.append(
        Alert(
            "galera",
            name,
            f"max({size}{_sel(service=svc)}) < {len(nodes)}",
            30,
            svc,
            finding(("quorum-loss", "cut-set")),
            f"{svc}: the Primary component has fewer than {len(nodes)} members (quorum {quorum}): redundancy reduced",
            None,
            tuple((s(size, n), f"{len(nodes) - 1}x20") for n in nodes),
            tuple((s(size, n), f"{len(nodes)}x20") for n in nodes),
            ({},),
        )
    )
    state = "mysql_global_status_wsrep_local_state"
    name = alert_name("GaleraNotSynced", svc)
    out.append(
        Alert(
            "galera",
            name,
            f"{state}{_sel(service=svc)} != 4 and {ready}{_sel(service=svc)} == 1",
            120,
            svc,
            finding(("quorum-loss", "cut-set")),
            f"{svc}: a member is Primary but not Synced for 2 minutes (donor, joiner or desynced)",
            None,
            ((s(state, nodes[0]), "2x40"), (s(ready, nodes[0]), "1x40")),
            ((s(state, nodes[0]), "4x40"), (s(ready, nodes[0]), "1x40")),
            ({"node": nodes[0], "job": "mysqld", "instance": inst[nodes[0]], "__name__": state},),
        )
    )
    return out
