"""Which exporter reports a service's own state: one table for the analysis and the monitoring generator.

A leaf (it reads the model only): :func:`metrics_source` is what the
``no-metrics-source`` finding (:mod:`hamodel.analysis.config_findings`)
and the generated Prometheus rules (:mod:`hamodel.generators.monitoring`)
both ask, so the finding names exactly the services no rule watches.
"""

from __future__ import annotations

from collections.abc import Iterable

from hamodel.model import Architecture


def software(arch: Architecture, service: str) -> str:
    """``galera``, ``rabbitmq``, ``redis``, ``mongodb`` or ``other``: the procedure and metrics family of a
    service, from its name and process (as the drills recognise Galera)."""
    svc = arch.service(service)
    words = {svc.name, svc.process or ""}
    if any("galera" in w for w in words) or words & {"mariadb", "mysql", "mysqld", "mariadbd"}:
        return "galera"
    if any("rabbit" in w for w in words):
        return "rabbitmq"
    if any("redis" in w for w in words):
        return "redis"
    if any("mongo" in w for w in words):
        return "mongodb"
    return "other"


def metrics_source(arch: Architecture, service: str, keepalived_services: Iterable[str] = ()) -> str | None:
    """``mysqld``, ``redis``, ``rabbitmq`` (its built-in ``rabbitmq_prometheus`` plugin), ``mongodb``
    (``prometheus-mongodb-exporter``), ``haproxy`` (HAProxy's built-in exporter: the VIP holder itself, or the
    service's backends as HAProxy checks them), ``keepalived`` (the state script's textfile metrics),
    ``pacemaker`` (a resource of the Pacemaker cluster: ha_cluster_exporter reports it stopped or
    failed), or None: only the node's ``up`` covers the service."""
    svc = arch.service(service)
    kind = software(arch, service)
    if kind == "galera":
        return "mysqld"
    if kind in ("redis", "rabbitmq", "mongodb"):
        return kind
    if service in set(keepalived_services):
        return "haproxy" if svc.process == "haproxy" else "keepalived"
    if svc.access is not None:
        return "haproxy"
    if arch.pacemaker is not None and (
        svc.supervisor == "pacemaker"
        or getattr(svc.strategy, "manager", None) == "pacemaker"
        or svc.strategy.kind == "pacemaker_vip"
    ):
        return "pacemaker"  # ha_cluster_exporter: the resource stopped everywhere or failed
    return None
