"""Monitoring: Prometheus scrape config, alert rules and their tests, from the Deployment.

Two entry points:

- :func:`generate` (the config generators' ``generate(dep, secrets,
  redacted)``): per-node files installed by the playbook like any other
  (manifest :data:`~hamodel.generators.manifest.KINDS` rows
  ``keepalived_state`` and ``exporter_*``): keepalived's notify script
  writing VRRP state as node_exporter textfile metrics, and each
  exporter's ``/etc/default`` file (listen address = the node's own
  address, never ``:port`` on every interface);
- :func:`render` -> ``monitoring/prometheus.yml``, ``monitoring/rules/<area>.yml``
  and ``monitoring/tests/<area>.test.yml`` (``promtool test rules``: each
  alert fires on its failure and stays silent when healthy). A model with no
  target gets none of these files.

Every alert comes from a fact the Deployment holds (a VRRP group, an
HAProxy front, a cluster's placement) and is labelled with the finding it
answers (``finding``: the most severe matching finding of the analysis,
``none`` when the Deployment carries no findings, e.g. built without
analysis), the ``service``, a ``severity`` (the finding's word) and
annotations ``summary`` and ``runbook_url`` (the generated runbook page,
relative to the model's document, :mod:`hamodel.runbooks`).

Metrics sources (Debian packages): ``prometheus-node-exporter`` (every
node; its textfile collector carries keepalived's state, as keepalived 2.2
has no exporter), HAProxy's built-in exporter (PROMEX, frontend
``hamodel-metrics`` of the generated haproxy.cfg), ``prometheus-mysqld-exporter``
(Galera), ``prometheus-redis-exporter`` (Redis), ``prometheus-hacluster-exporter``
(the Pacemaker cluster: quorum, unclean nodes, each resource hamodel puts in
the CIB stopped everywhere or failed; :mod:`.pacemaker`), RabbitMQ's built-in
``rabbitmq_prometheus`` (:mod:`.rabbitmq`), ``prometheus-mongodb-exporter``
(:mod:`.mongodb`). A service with none of
these is listed by :func:`unmonitored` (and by the analysis' finding
``no-metrics-source``, from the same table, :mod:`hamodel.metrics`) and, in
the rules, is covered only by its node's ``up``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml
from hamodel.generators.common import NodeFile, Secrets, address, comment, environment, token
from hamodel.generators.monitoring import galera
from hamodel.generators.monitoring import liveness as lv
from hamodel.generators.monitoring import mongodb as mongo
from hamodel.generators.monitoring import pacemaker as pcmk
from hamodel.generators.monitoring import quorum as qrm
from hamodel.generators.monitoring import rabbitmq as rmq
from hamodel.generators.monitoring.alert import Alert

from hamodel.deployment import (
    HAPROXY_METRICS_PORT,
    KEEPALIVED_STATE_SCRIPT,
    NODE_TEXTFILE_DIR,
    Deployment,
    Finding,
)
from hamodel.metrics import metrics_source as _metrics_source
from hamodel.model.strategies import AppCluster, Elected
from hamodel.runbooks import Runbook, Runbooks, alert_name, for_alert, runbooks

TEMPLATES = Path(__file__).parent

SCRAPE_INTERVAL_S = 5
EVALUATION_INTERVAL_S = 5


@dataclass(frozen=True)
class Exporter:
    job: str
    package: str | None  # None: built into the daemon (HAProxy's PROMEX)
    port: int
    default_file: str | None  # Debian's /etc/default file the package's unit reads
    unit: str | None


EXPORTERS: dict[str, Exporter] = {
    "node": Exporter(
        "node", "prometheus-node-exporter", 9100, "/etc/default/prometheus-node-exporter", "prometheus-node-exporter"
    ),
    "haproxy": Exporter("haproxy", None, HAPROXY_METRICS_PORT, None, None),
    "mysqld": Exporter(
        "mysqld",
        "prometheus-mysqld-exporter",
        9104,
        "/etc/default/prometheus-mysqld-exporter",
        "prometheus-mysqld-exporter",
    ),
    "redis": Exporter(
        "redis",
        "prometheus-redis-exporter",
        9121,
        "/etc/default/prometheus-redis-exporter",
        "prometheus-redis-exporter",
    ),
    "pacemaker": Exporter("pacemaker", pcmk.PACKAGE, pcmk.PORT, pcmk.DEFAULT_FILE, pcmk.UNIT),
    "rabbitmq": Exporter(rmq.JOB, rmq.PACKAGE, rmq.PORT, rmq.CONFIG_FILE, rmq.UNIT),
    "mongodb": Exporter(mongo.JOB, mongo.PACKAGE, mongo.PORT, mongo.DEFAULT_FILE, mongo.UNIT),
}
#: Clusters watched through their own software's metrics, one scrape target per member (label service).
OWN_METRICS = ("mongodb", "mysqld", "rabbitmq", "redis")
#: The MySQL credentials file the mysqld exporter reads (a prerequisite: hamodel holds no database password).
MYSQLD_EXPORTER_CNF = "/etc/prometheus/hamodel-mysqld-exporter.cnf"


# -- what is scraped ---------------------------------------------------------------


def node_address(dep: Deployment, node: str) -> str:
    """The node's first model address (the inventory's ``hamodel_address``), checked."""
    n = dep.architecture.node(node)
    if not n.interfaces:
        return token(node, "hostname", f"nodes[{node}]")
    return str(address(n.interfaces[0].address, f"nodes[{node}].interfaces[{n.interfaces[0].device}].address"))


def _hostport(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def metrics_source(dep: Deployment, service: str) -> str | None:
    """The exporter (key of :data:`EXPORTERS`, or ``keepalived``) that reports ``service``'s own state,
    or None (:func:`hamodel.metrics.metrics_source`, the table the ``no-metrics-source`` finding reads)."""
    return _metrics_source(dep.architecture, service, (g.service for g in dep.vrrp_groups if g.manager == "keepalived"))


def unmonitored(dep: Deployment) -> list[str]:
    """Placed services without a metrics source of their own: only their node's ``up`` covers them."""
    return sorted(
        s.name
        for s in dep.architecture.services
        if dep.placement.nodes_of(s.name) and metrics_source(dep, s.name) is None
    )


@dataclass(frozen=True)
class Target:
    job: str
    node: str
    address: str  # host:port
    services: tuple[str, ...]


def targets(dep: Deployment) -> list[Target]:
    """Every scrape target, by job then node."""
    out: list[Target] = []
    for n in sorted(n.name for n in dep.architecture.nodes):
        services = dep.placement.services_on(n)
        if not services and not any(n in g.priorities for g in dep.vrrp_groups):
            continue
        addr = node_address(dep, n)
        out.append(Target("node", n, _hostport(addr, EXPORTERS["node"].port), tuple(services)))
    lbs = sorted({h for name, _ in dep.fronted_services() for h in dep.front_holders(name)})
    for n in lbs:
        out.append(
            Target(
                "haproxy",
                n,
                _hostport(node_address(dep, n), HAPROXY_METRICS_PORT),
                tuple(name for name, _ in dep.fronts_on(n)),
            )
        )
    for s in sorted(dep.architecture.services, key=lambda s: s.name):
        src = metrics_source(dep, s.name)
        if src in OWN_METRICS:
            for n in dep.placement.nodes_of(s.name):
                out.append(Target(src, n, _hostport(node_address(dep, n), EXPORTERS[src].port), (s.name,)))
    managed = {svc for svc, *_ in dep.pacemaker_resources()}
    if dep.architecture.pacemaker is not None and managed:
        for n in dep.architecture.pacemaker_nodes():
            on = tuple(sorted(set(dep.placement.services_on(n)) & managed))
            out.append(Target("pacemaker", n, _hostport(node_address(dep, n), pcmk.PORT), on))
    return sorted(out, key=lambda t: (t.job, t.node, t.services))


# -- alerts -----------------------------------------------------------------------------


_RANKED_KINDS = (
    "single-point-of-failure",
    "split-brain",
    "quorum-loss",
    "manual-recovery",
    "partial-outage",
    "cut-set",
    "no-automatic-recovery",
)


def _finding(
    dep: Deployment, service: str, kinds: tuple[str, ...] = _RANKED_KINDS, component: str | None = None
) -> Finding | None:
    """The most severe finding of one of ``kinds`` naming ``service`` first (or among its services when
    none names it first), optionally one whose cut sets hold ``component``."""

    def has(f: Finding) -> bool:
        if component is None:
            return True
        return any(component in cs for cs in f.details.get("cut_sets", ()))

    pool = [f for f in dep.findings if f.kind in kinds and has(f)]
    first = [f for f in pool if f.services[:1] == (service,)] or [f for f in pool if service in f.services]
    if not first:
        return None
    return sorted(first, key=lambda f: (-f.severity.rank, kinds.index(f.kind), f.id))[0]


def _sel(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _alts(values: list[str]) -> str:
    return "|".join(sorted(values))


def single_cut_findings(dep: Deployment) -> dict[str, Finding]:
    """Component -> the most severe finding (then by id) with a cut set of that component alone:
    one pass over the findings instead of one per node."""
    out: dict[str, Finding] = {}
    for x in sorted(dep.findings, key=lambda x: (-x.severity.rank, x.id)):
        for cs in x.details.get("cut_sets", ()):
            if isinstance(cs, (list, tuple)) and len(cs) == 1 and isinstance(cs[0], str):
                out.setdefault(cs[0], x)
    return out


def _node_alerts(dep: Deployment, rbs: list[Runbook]) -> list[Alert]:
    out = []
    single = single_cut_findings(dep)
    no_recovery = next((x for x in dep.findings if x.kind == "no-automatic-recovery"), None)
    for t in targets(dep):
        if t.job != "node":
            continue
        f = single.get(f"node:{t.node}") or no_recovery
        svc = f.services[0] if f else (t.services[0] if t.services else t.node)
        series = f"up{_sel(job='node', node=t.node, instance=t.address)}"
        out.append(
            Alert(
                "nodes",
                "HamodelNodeDown",
                f"up{_sel(job='node', node=t.node)} == 0",
                30,
                svc,
                f,
                f"node {t.node} does not answer (node_exporter {t.address}): the instances it runs "
                f"({len(t.services)}) are down there",
                None,
                ((series, "0x20"),),
                ((series, "1x20"),),
                ({"job": "node", "node": t.node, "instance": t.address},),
                {"node": t.node},
            )
        )
    # Degraded redundancy: the first failure of a k = 2 cut set (another one takes the service down).
    for f in sorted(dep.findings, key=lambda x: x.id):
        pairs = [cs for cs in f.details.get("cut_sets", ()) if len(cs) == 2]
        nodes = sorted({c.split(":", 1)[1] for cs in pairs for c in cs if c.startswith("node:")})
        if not nodes or f.kind not in ("quorum-loss", "cut-set"):
            continue
        svc = f.services[0]
        sel = f'up{{job="node",node=~"{_alts(nodes)}"}}'
        fire = tuple(
            (
                f"up{_sel(job='node', node=n, instance=_hostport(node_address(dep, n), 9100))}",
                "0x20" if i == 0 else "1x20",
            )
            for i, n in enumerate(nodes)
        )
        ok = tuple((s, "1x20") for s, _ in fire)
        name = alert_name("RedundancyDegraded", svc)
        out.append(
            Alert(
                "nodes",
                name,
                f"count({sel} == 0) > 0",
                30,
                svc,
                f,
                f"{svc}: a node of a two-failure cut set is down; one more failure "
                f"({', '.join('+'.join(cs) for cs in pairs[:3])}...) stops it",
                for_alert(rbs, name),
                fire,
                ok,
                ({},),
            )
        )
    return out


def _vrrp_alerts(dep: Deployment, rbs: list[Runbook]) -> list[Alert]:
    out = []
    for g in sorted(dep.vrrp_groups, key=lambda g: g.service):
        if g.manager != "keepalived":
            continue
        svc = g.service
        advert = getattr(dep.architecture.service(svc).strategy, "advert_int", 1)
        metric = f"hamodel_keepalived_master{_sel(vrrp_group=svc)}"
        series = [f"hamodel_keepalived_master{_sel(vrrp_group=svc, node=n, job='node')}" for n in g.members]
        none_ = tuple((s, "0x20") for s in series)
        one = tuple((s, "1x20" if i == 0 else "0x20") for i, s in enumerate(series))
        two = tuple((s, "1x20" if i < 2 else "0x20") for i, s in enumerate(series))
        wait = max(10, math.ceil(3 * advert + 2))
        name = alert_name("VrrpNoMaster", svc)
        out.append(
            Alert(
                "vrrp",
                name,
                f"(sum({metric}) or vector(0)) < 1",
                wait,
                svc,
                _finding(dep, svc, tuple(k for k in _RANKED_KINDS if k != "split-brain")),
                f"{svc}: no keepalived member is MASTER of "
                f"{', '.join(g.vips)} (VRID {g.vrid}): the VIP is served nowhere",
                for_alert(rbs, name),
                none_,
                one,
                ({},),
            )
        )
        sb = next((f for f in dep.findings if f.id == f"split-brain:{svc}"), None)
        if sb is not None and len(series) > 1:
            name = alert_name("VrrpSplitBrain", svc)
            out.append(
                Alert(
                    "vrrp",
                    name,
                    f"sum({metric}) > 1",
                    wait,
                    svc,
                    sb,
                    f"{svc}: more than one keepalived member is MASTER of {', '.join(g.vips)} "
                    f"(VRID {g.vrid}): the VIP is held twice (partition)",
                    for_alert(rbs, name),
                    two,
                    one,
                    ({},),
                )
            )
    return out


def _haproxy_alerts(dep: Deployment, rbs: list[Runbook]) -> list[Alert]:
    out = []
    lbs = sorted({h for name, _ in dep.fronted_services() for h in dep.front_holders(name)})
    for name, access in dep.fronted_services():
        backends = dep.placement.nodes_of(name)
        f = _finding(dep, name)
        holders = [n for n in lbs if n in dep.front_holders(name)]
        for port in access.ports:
            proxy = f"{name}-{port}"  # the listen section's name in haproxy.cfg (service-port)
            up = [f"haproxy_backend_status{_sel(proxy=proxy, state='UP', node=n, job='haproxy')}" for n in holders]
            out.append(
                Alert(
                    "haproxy",
                    alert_name("FrontDown", name),
                    f"max by (proxy) (haproxy_backend_status{_sel(proxy=proxy, state='UP')}) < 1",
                    15,
                    name,
                    f,
                    f"{name}: no backend of {proxy} is UP on any load balancer: the service is down",
                    None,
                    tuple((s, "0x20") for s in up),
                    tuple((s, "1x20") for s in up),
                    ({"proxy": proxy},),
                    {"proxy": proxy},
                )
            )
            if len(backends) > 1:
                down = [
                    (b, f"haproxy_server_status{_sel(proxy=proxy, server=b, state='DOWN', node=n, job='haproxy')}")
                    for n in holders
                    for b in backends
                ]
                first = backends[0]
                out.append(
                    Alert(
                        "haproxy",
                        alert_name("BackendDown", name),
                        f"min by (proxy, server) (haproxy_server_status{_sel(proxy=proxy, state='DOWN')}) == 1",
                        30,
                        name,
                        f,
                        f"{name}: a backend of {proxy} is DOWN on every load balancer (redundancy reduced)",
                        None,
                        tuple((s, "1x20" if b == first else "0x20") for b, s in down),
                        tuple((s, "0x20") for _, s in down),
                        ({"proxy": proxy, "server": first},),
                        {"proxy": proxy},
                    )
                )
    return out


def _galera_alerts(dep: Deployment, rbs: list[Runbook], svc: str) -> list[Alert]:
    nodes = list(dep.placement.nodes_of(svc))
    strat = dep.architecture.service(svc).strategy
    quorum = len(nodes) // 2 + 1 if not isinstance(strat, AppCluster) or strat.quorum == "majority" else strat.quorum
    inst = {n: _hostport(node_address(dep, n), EXPORTERS["mysqld"].port) for n in nodes}
    finding = lambda kinds=_RANKED_KINDS: _finding(dep, svc, kinds)
    return galera.alerts(svc, nodes, quorum, inst, finding, rbs)


def _redis_alerts(dep: Deployment, rbs: list[Runbook], svc: str) -> list[Alert]:
    nodes = list(dep.placement.nodes_of(svc))
    inst = {n: _hostport(node_address(dep, n), EXPORTERS["redis"].port) for n in nodes}
    s = lambda n, role: f"redis_instance_info{_sel(service=svc, node=n, job='redis', instance=inst[n], role=role)}"
    info = f"redis_instance_info{_sel(service=svc, role='master')}"
    f = _finding(dep, svc)
    one = tuple((s(n, "master" if i == 0 else "slave"), "1x20") for i, n in enumerate(nodes))
    out = [
        Alert(
            "redis",
            alert_name("RedisNoMaster", svc),
            f"(count({info}) or vector(0)) < 1",
            30,
            svc,
            f,
            f"{svc}: no member is master: writes fail",
            None,
            tuple((s(n, "slave"), "1x20") for n in nodes),
            one,
            ({},),
        )
    ]
    if len(nodes) > 1:
        out.append(
            Alert(
                "redis",
                alert_name("RedisTwoMasters", svc),
                f"count({info}) > 1",
                30,
                svc,
                f,
                f"{svc}: more than one member is master (split brain)",
                None,
                tuple((s(n, "master" if i < 2 else "slave"), "1x20") for i, n in enumerate(nodes)),
                one,
                ({},),
            )
        )
    return out


def _pacemaker_alerts(dep: Deployment, rbs: list[Runbook]) -> list[Alert]:
    """Pacemaker's view (ha_cluster_exporter on every cluster node): quorum, unclean nodes, and each
    resource hamodel puts in the CIB stopped everywhere or failed (:mod:`.pacemaker`)."""
    pm = dep.architecture.pacemaker
    members = {t.node: t.address for t in targets(dep) if t.job == "pacemaker"}
    if pm is None or not members:
        return []
    out = []
    for r in pcmk.rules(pm.cluster_name, members, dep.pacemaker_resources()):
        name = alert_name(r.name, r.key or r.service)
        if r.kinds:  # about the cluster itself: its own finding, if the analysis has one
            pool = [x for x in dep.findings if x.kind in r.kinds]
            f = min(pool, key=lambda x: (-x.severity.rank, r.kinds.index(x.kind), x.id)) if pool else None
        else:
            f = _finding(dep, r.service)
        out.append(
            Alert(
                "pacemaker",
                name,
                r.expr,
                r.for_s,
                r.service,
                f,
                r.summary,
                for_alert(rbs, name),
                r.firing,
                r.healthy,
                r.fired_labels,
                r.extra,
            )
        )
    return out


def _quorum_alerts(dep: Deployment, rbs: list[Runbook]) -> list[Alert]:
    """Each cluster that can lose quorum (its ``quorum-loss`` finding), from its voting nodes' ``up``;
    Galera has its own (:func:`_galera_alerts`)."""
    out = []
    for f in sorted((f for f in dep.findings if f.kind == "quorum-loss"), key=lambda f: f.id):
        svc, d = f.services[0], f.details
        if metrics_source(dep, svc) in ("mysqld", "rabbitmq", "mongodb") or "quorum" not in d:
            continue
        nodes = set(d.get("members", ())) | {n for w in d.get("witnesses", ()) for n in dep.placement.nodes_of(w)}
        voters = {n: _hostport(node_address(dep, n), EXPORTERS["node"].port) for n in sorted(nodes)}
        if len(voters) < 2:
            continue
        r = qrm.rule(svc, voters, int(d["quorum"]))
        name = alert_name("QuorumLost", svc)
        out.append(
            Alert("nodes", name, r.expr, 30, svc, f, r.summary, for_alert(rbs, name), r.firing, r.healthy, ({},))
        )
    return out


def _cluster_alerts(dep: Deployment, rbs: list[Runbook], svc: str, src: str) -> list[Alert]:
    """RabbitMQ's and MongoDB's own rules (:mod:`.rabbitmq`, :mod:`.mongodb`)."""
    members = {n: _hostport(node_address(dep, n), EXPORTERS[src].port) for n in dep.placement.nodes_of(svc)}
    q = next((f for f in dep.findings if f.id == f"quorum-loss:{svc}"), None)
    member = _finding(dep, svc, ("quorum-loss", "cut-set")) or _finding(dep, svc)
    if src == "mongodb":
        return mongo.alerts(svc, members, member, q, rbs)
    quorum = int(q.details["quorum"]) if q is not None and "quorum" in q.details else len(members) // 2 + 1
    return rmq.alerts(svc, members, quorum, member, q, rbs)


def alerts(dep: Deployment) -> list[Alert]:
    """Every alert of the Deployment, by area then name."""
    rbs = Runbooks(runbooks(dep))  # indexed by alert name
    out = _node_alerts(dep, rbs) + _quorum_alerts(dep, rbs) + _vrrp_alerts(dep, rbs) + _haproxy_alerts(dep, rbs)
    no_sb = tuple(k for k in _RANKED_KINDS if k != "split-brain")  # a load balancer lost, not two VIP holders
    out += lv.haproxy_down(dep, rbs, targets(dep), lambda svc: _finding(dep, svc, no_sb)) + _pacemaker_alerts(dep, rbs)
    sb = lambda svc: next((f for f in dep.findings if f.id == f"split-brain:{svc}"), None)
    out += lv.keepalived_down(
        dep, rbs, lambda n: _hostport(node_address(dep, n), 9100), lambda s: _finding(dep, s, no_sb), sb
    )
    for s in sorted(dep.architecture.services, key=lambda s: s.name):
        if not dep.placement.nodes_of(s.name):
            continue
        src = metrics_source(dep, s.name)
        if src == "mysqld":
            out += _galera_alerts(dep, rbs, s.name)
        elif src == "redis" and (isinstance(s.strategy, (Elected, AppCluster))):
            out += _redis_alerts(dep, rbs, s.name)
        elif src in ("rabbitmq", "mongodb"):
            out += _cluster_alerts(dep, rbs, s.name, src)
    return out


# -- files ----------------------------------------------------------------------------------


#: libyaml's emitter when PyYAML has it (the same bytes here, ten times faster: the rules of a
#: large model are most of its build's time), else the pure-Python one.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dump(data: object, header: str, dumper: type = _DUMPER) -> bytes:
    return (header + yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=False, width=1000)).encode()


def _header(dep: Deployment, what: str) -> str:
    return (
        f'# {what}: generated by hamodel from model "{comment(dep.architecture.name)}".\n'
        "# Do not edit: change the model and run `hamodel build`.\n"
    )


def _rule(a: Alert, base: str) -> dict:
    return {
        "alert": a.name,
        "expr": a.expr,
        "for": f"{a.for_s}s",
        "labels": a.labels(),
        "annotations": a.annotations(base),
    }


def _test(a: Alert, base: str) -> list[dict]:
    span = 20 * EVALUATION_INTERVAL_S
    at = f"{min(span - EVALUATION_INTERVAL_S, a.for_s + 3 * EVALUATION_INTERVAL_S)}s"
    if a.for_s + 3 * EVALUATION_INTERVAL_S >= span:
        at = f"{span * 2 - EVALUATION_INTERVAL_S}s"
    exp = [
        {
            "exp_labels": {**{k: v for k, v in fl.items() if k != "__name__"}, **a.labels(), "alertname": a.name},
            "exp_annotations": a.annotations(base),
        }
        for fl in a.fired_labels
    ]
    return [
        {
            "name": f"{a.name} fires",
            "interval": f"{EVALUATION_INTERVAL_S}s",
            "input_series": [{"series": s, "values": v} for s, v in a.firing],
            "alert_rule_test": [{"eval_time": at, "alertname": a.name, "exp_alerts": exp}],
        },
        {
            "name": f"{a.name} stays silent when healthy",
            "interval": f"{EVALUATION_INTERVAL_S}s",
            "input_series": [{"series": s, "values": v} for s, v in a.healthy],
            "alert_rule_test": [{"eval_time": at, "alertname": a.name, "exp_alerts": []}],
        },
    ]


def render(dep: Deployment, *, runbook_base: str = "") -> dict[str, bytes]:
    """``monitoring/...`` files; ``{}`` for a model with no target.

    ``runbook_base`` is put before each ``runbook_url`` (the URL of the
    model's generated document folder; by default the model's ``docs_url``,
    relative when it has none)."""
    if not runbook_base and dep.architecture.docs_url:
        runbook_base = dep.architecture.docs_url.rstrip("/") + "/"
    ts = targets(dep)
    if not ts:
        return {}
    all_alerts = alerts(dep)
    areas = sorted({a.area for a in all_alerts})
    jobs: dict[str, list[Target]] = {}
    for t in ts:
        jobs.setdefault(t.job, []).append(t)
    scrape = []
    for job in sorted(jobs):
        static = []
        for t in jobs[job]:
            labels = {"node": t.node}
            if job in OWN_METRICS:
                labels["service"] = t.services[0]
            static.append({"targets": [t.address], "labels": labels})
        entry: dict[str, object] = {"job_name": job}
        if job == "pacemaker":
            # ha_cluster_exporter's own node label names the node a resource or status is about
            # (every member reports the whole cluster); it wins over the target's.
            entry["honor_labels"] = True
        entry["static_configs"] = static
        scrape.append(entry)
    prom = {
        "global": {
            "scrape_interval": f"{SCRAPE_INTERVAL_S}s",
            "evaluation_interval": f"{EVALUATION_INTERVAL_S}s",
            "external_labels": {"hamodel_model": dep.architecture.name},
        },
        "rule_files": [f"rules/{a}.yml" for a in areas],
        "scrape_configs": scrape,
    }
    files = {"monitoring/prometheus.yml": _dump(prom, _header(dep, "Prometheus scrape config"))}
    for area in areas:
        mine = [a for a in all_alerts if a.area == area]
        files[f"monitoring/rules/{area}.yml"] = _dump(
            {"groups": [{"name": f"hamodel-{area}", "rules": [_rule(a, runbook_base) for a in mine]}]},
            _header(dep, f"Alert rules ({area})"),
        )
        files[f"monitoring/tests/{area}.test.yml"] = _dump(
            {
                "rule_files": [f"../rules/{area}.yml"],
                "evaluation_interval": f"{EVALUATION_INTERVAL_S}s",
                "tests": [t for a in mine for t in _test(a, runbook_base)],
            },
            _header(dep, f"promtool test rules for rules/{area}.yml"),
        )
    return files


# -- per-node files -------------------------------------------------------------------


def generate(dep: Deployment, secrets: Secrets, redacted: Secrets) -> list[NodeFile]:
    """The exporters' /etc/default files and keepalived's state script, per node."""
    env = environment(TEMPLATES)
    files: list[NodeFile] = []
    by_node: dict[str, list[Target]] = {}
    for t in targets(dep):
        by_node.setdefault(t.node, []).append(t)
    script = env.get_template("keepalived-state.sh.j2")
    for n, ts in sorted(by_node.items()):
        addr = node_address(dep, n)
        for t in ts:
            ex = EXPORTERS[t.job]
            if ex.default_file is None:
                continue
            listen = _hostport(addr, ex.port)
            if t.job == "node":
                args = f"--web.listen-address={listen} --collector.textfile.directory={NODE_TEXTFILE_DIR}"
            elif t.job == "mysqld":
                args = f"--web.listen-address={listen} --config.my-cnf={MYSQLD_EXPORTER_CNF}"
            elif t.job == "pacemaker":
                args = f"--web.listen-address={listen}"
            elif t.job == "mongodb":
                args = mongo.args(listen)
            else:
                args = f"-web.listen-address {listen} -redis.addr redis://localhost:6379"
            data = (
                f'# {ex.unit} on {n}: generated by hamodel (monitoring) from model "{comment(dep.architecture.name)}";'
                " it listens on this node's own address only.\n"
                + (
                    f"# It reads {MYSQLD_EXPORTER_CNF}: [client] user= and password= of an account with "
                    "PROCESS, REPLICATION CLIENT and SELECT on *.* (not generated: hamodel holds no database "
                    "password).\n"
                    if t.job == "mysqld"
                    else ""
                )
                + f'ARGS="{args}"\n'
            ).encode()
            if t.job == "rabbitmq":  # a conf.d snippet of the broker, not an exporter's ARGS
                data = rmq.config(n, addr, comment(dep.architecture.name))
            files.append(
                NodeFile(
                    node=n,
                    kind=f"exporter_{t.job}",
                    path=f"nodes/{n}/prometheus/{t.job}-exporter",
                    dest=ex.default_file,
                    services=t.services,
                    vips=(),
                    data=data,
                    redacted=data,
                    secret=False,
                    references=(MYSQLD_EXPORTER_CNF,) if t.job == "mysqld" else (),
                )
            )
        groups = [g for g in dep.vrrp_groups if g.manager == "keepalived" and n in g.priorities]
        if groups:
            data = script.render(textfile_dir=NODE_TEXTFILE_DIR, node=n, model=dep.architecture.name).encode()
            files.append(
                NodeFile(
                    node=n,
                    kind="keepalived_state",
                    path=f"nodes/{n}/keepalived/keepalived-state",
                    dest=KEEPALIVED_STATE_SCRIPT,
                    services=tuple(sorted(g.service for g in groups)),
                    vips=tuple(sorted(v for g in groups for v in g.vips)),
                    data=data,
                    redacted=data,
                    secret=False,
                )
            )
        files += lv.keepalived_up_files(dep, n, env, NODE_TEXTFILE_DIR)
    return files
