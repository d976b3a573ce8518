"""What the architecture document says, read from the Deployment: the
templates' context (tables, findings, limitations, recovery, configs),
and the inputs that come from elsewhere (:class:`DocExtras`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hamodel.generators.docs import facts
from hamodel.generators.docs.cells import (
    _DETAIL_LABELS,
    _REPEATS,
    _alert_groups,
    _count,
    _detail,
    _downtime,
    _fix_first_rows,
    _join,
    _language,
    _linked,
    _literal,
    _merged_frontend_rows,
    _merged_scenario_rows,
    _merged_service_rows,
    _node_config_lines,
    _plain_detail,
    _short_reach,
)
from hamodel.generators.docs.rst import Rst, rst_escape

from hamodel.deployment import Deployment, Finding
from hamodel.model import STRATEGY_TITLES
from hamodel.model.strategies import AppCluster, BehindVip, PacemakerVip, Vrrp

LIMITATION_THRESHOLD = "medium"


@dataclass
class DocExtras:
    """Inputs that are not in the Deployment but come from their owners.

    ``configs``: the config generator's FileSet (``build_configs``);
    ``scenarios``: the failure analysis' single-failure scenarios and
    ``availability``: its per-service availability estimates, both from the
    Deployment's plain results (``Deployment.results``, computed by
    ``resolve(..., answers=True)``: the generator never asks the analysis);
    ``diagrams``: ``hamodel.generators.diagrams.generate`` output (None: not drawn);
    ``model_path``: shown as the source of the document.
    """

    configs: Mapping[str, bytes] | None = None
    secret_configs: frozenset[str] = frozenset()
    config_error: str | None = None
    scenarios: Sequence[Any] | None = None
    availability: Mapping[str, Any] | None = None
    diagrams: Mapping[str, bytes] | None = None
    model_path: str | None = None
    notes: list[str] = field(default_factory=list)
    #: Measured client outage (s) per (service, disruption class), from a drill of this model.
    measured_outage: Mapping[tuple[str, str], float] = field(default_factory=dict)
    checks_doc: str | None = None
    measured: dict[str, str] = field(default_factory=dict)  # drill scenario name -> the doc that reports it
    #: Drill scenario name -> (agreed, measured figure as reStructuredText), from the drill page's summary.
    measured_figures: dict[str, tuple[bool, str]] = field(default_factory=dict)
    #: The drill page's stamp (commit, date, model hash) the figures come from.
    measured_stamp: Mapping[str, Any] | None = None


# -- views of the deployment --------------------------------------------------


def _recovery_table(dep: Deployment, measured: Mapping[tuple[str, str], float]) -> tuple[list[str], list[list[Any]]]:
    """The recovery table (header, rows): one row per distinct prediction, its services joined."""
    table = dep.recovery
    if table is None:
        return [], []
    merged: dict[tuple, list[str]] = {}
    for r in table.rows:
        if r.rto_s is None and not r.down and table.target(r.service, "rto", r.disruption) is None:
            continue  # unknown and nobody asked: said once in the text above the table
        pred = f"{r.rto_s[0]:g} - {r.rto_s[1]:g} s" if r.rto_s is not None else ("down" if r.down else "unknown")
        rto_t, rpo_t = table.target(r.service, "rto", r.disruption), table.target(r.service, "rpo", r.disruption)
        target = (
            "; ".join(
                x
                for x in (
                    f"RTO {rto_t:g} s" if rto_t is not None else "",
                    f"RPO {rpo_t:g} s" if rpo_t is not None else "",
                )
                if x
            )
            or "-"
        )
        m = measured.get((r.service, r.disruption))
        # The timer's model path without the service's name, so services with the same timer share a row.
        dom = (r.dominated_by or "").replace(f"services[{r.service}].", "")
        rpo = "unknown" if r.rpo.startswith("unknown: the model says nothing") else r.rpo  # said once above
        key = (r.disruption, pred, dom, "-" if m is None else f"{m:g} s", target, rpo)
        merged.setdefault(key, []).append(r.service)
    order = {d: i for i, d in enumerate(("process", "node", "switch", "link", "domain", "site", "partition"))}
    rows = sorted(merged.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[1][0]))
    # The same services with the same prediction under several classes (node, switch, rack): one row.
    classes: dict[tuple, list[str]] = {}
    for (d, *rest), services in rows:
        classes.setdefault((tuple(services), *rest), []).append(d)
    fronted = [s.name for s in dep.architecture.services if s.strategy.kind == "behind_vip"]

    def who(services: tuple[str, ...]) -> Any:  # a long list of HAProxy-fronted services, counted
        if len(services) <= 8 or not set(services) <= set(fronted):
            return _join(services)
        missing = [x for x in fronted if x not in services]
        return rst_escape(
            f"{len(services)} services behind HAProxy"
            + (f" (all but {', '.join(missing)})" if missing else " (every one)")
        )

    out = [
        [who(services), ", ".join(ds), pred, rst_escape(dom) if dom else "-", meas, target, rst_escape(rpo)]
        for ((services, pred, dom, meas, target, rpo), ds) in classes.items()
    ]
    # Columns nobody filled (no drill, no target) are left out: an always-empty column says nothing.
    keep = [i for i in range(len(RECOVERY_HEADER)) if i not in (4, 5) or any(row[i] != "-" for row in out)]
    return [RECOVERY_HEADER[i] for i in keep], [[row[i] for i in keep] for row in out]


RECOVERY_HEADER = ("Services", "Disruption", "Predicted RTO", "Dominated by", "Measured", "Target", "RPO")


def _severity_at_least(f: Finding, threshold: str) -> bool:
    return f.severity.at_least(threshold)


def limitations(dep: Deployment) -> list[Finding]:
    """The findings the document lists as architecture limitations."""
    return [f for f in dep.findings if _severity_at_least(f, LIMITATION_THRESHOLD)]


def other_findings(dep: Deployment) -> list[Finding]:
    """Findings below the limitations threshold (the "Other findings" table)."""
    return [f for f in dep.findings if not _severity_at_least(f, LIMITATION_THRESHOLD)]


def _endpoint(dep: Deployment, svc) -> str:
    a = svc.access
    if a is not None:
        vip = dep.architecture.vip(a.vip)
        return ", ".join(f"{vip.address}:{p}" for p in a.ports)
    if svc.holds_vips:
        return ", ".join(str(dep.architecture.vip(v).address) for v in svc.holds_vips)
    return ""


def _context(dep: Deployment, slug: str, extras: DocExtras, sections: bool, image_root: str) -> dict[str, Any]:
    from hamodel.generators.diagrams import diagram_findings, finding_stem

    arch = dep.architecture
    placed = dep.placement
    by_strategy: dict[str, list[str]] = {}
    for s in arch.services:
        by_strategy.setdefault(s.strategy.kind, []).append(s.name)
    strategies = [(kind, STRATEGY_TITLES[kind], by_strategy[kind]) for kind in STRATEGY_TITLES if kind in by_strategy]
    if all(getattr(s.strategy, "manager", None) is None for s in arch.services if s.strategy.kind == "active_passive"):
        # As the reference says it: nothing fails these over.
        strategies = [
            (k, "No high availability (active/passive: one instance)" if k == "active_passive" else t, n)
            for k, t, n in strategies
        ]
    roles: dict[str, list[str]] = {}
    for n in arch.nodes:
        for r in n.roles:
            roles.setdefault(r, []).append(n.name)

    services = []
    for s in arch.services:
        strat = s.strategy
        detail = STRATEGY_TITLES[strat.kind]
        if isinstance(strat, AppCluster):
            detail += f" (quorum {strat.quorum}" + (", Pacemaker-managed" if strat.manager else "") + ")"
        if getattr(strat, "manager", None) == "pacemaker" and not isinstance(strat, AppCluster):
            detail += " (Pacemaker-managed)"
        services.append(
            {
                "name": s.name,
                "group": s.group or "",
                "process": s.process,
                "mode": s.mode,
                "strategy": detail,
                "nodes": list(placed.nodes_of(s.name)),
                "endpoint": _endpoint(dep, s),
                "depends": s.dependencies,
                "how": facts.strategy_words(dep, s),
                "reach": _short_reach(arch, facts.endpoint_words(dep, s)),
                "needs": s.dependencies + [f"(starts after {x})" for x in s.starts_after],
            }
        )

    nodes = [n.name for n in arch.nodes]
    matrix = [
        {"service": s.name, "cells": ["\u25cf" if n in placed.nodes_of(s.name) else "" for n in nodes]}
        for s in arch.services
    ]
    # The placement table shows the exceptions: services not on every node of their roles.
    eligible = {s.name: [n.name for n in arch.nodes_with_roles(list(s.on))] for s in arch.services}
    exceptions = [s.name for s in arch.services if s.on and list(placed.nodes_of(s.name)) != eligible[s.name]]

    domains = []
    for d in arch.domains:
        inside = [n.name for n in arch.nodes if d.name in arch.node_domains(n.name)]
        # A dual-corded node is fed by this domain but does not stop with it
        # (it stops when all its feeds fail): listed, marked, not counted.
        fed = [
            f"{n.name} (1 of {len(n.power)} feeds)"
            for n in arch.nodes
            if d.name in n.power and d.name not in arch.node_domains(n.name)
        ]
        carries = [net.name for net in arch.networks if d.name in net.switches]
        ports = [
            f"{n.name}/{i.device}" + (" (bond)" if len(i.switches) > 1 else "")
            for n in arch.nodes
            for i in n.interfaces
            if d.name in i.switches
        ]
        cut = facts.switch_cuts(dep, d.name) if d.kind == "switch" else []
        domains.append(
            {
                "name": d.name,
                "kind": d.kind,
                "parent": d.parent or "",
                "nodes": inside + fed,
                "networks": carries,
                "ports": ports,
                "cut": cut,
                "instances": sum(len(placed.services_on(n)) for n in inside + cut),
            }
        )

    vips = []
    for v in arch.vips:
        holder = next((s.name for s in arch.services if v.name in s.holds_vips), "")
        served = [s.name for s in arch.services if s.access is not None and s.access.vip == v.name]
        vips.append(
            {
                "name": v.name,
                "address": str(v.address),
                "network": v.network,
                "dns": v.dns_name or "",
                "exposure": v.exposure,
                "holder": holder,
                # many services: counted, each is in the HAProxy front table below
                "served": served if len(served) <= 6 else [f"{len(served)} services (HAProxy frontends below)"],
            }
        )
    groups = [
        {
            "service": g.service,
            "vips": list(g.vips),
            "network": g.network,
            "vrid": g.vrid,
            "manager": g.manager,
            "master": g.master,
            "priorities": [f"{m} ({g.priorities[m]})" for m in g.members],
        }
        for g in dep.vrrp_groups
    ]
    try:
        frontends = facts.frontend_rows(dep)  # the plan haproxy.cfg is written from
    except Exception as exc:
        frontends, extras.notes = [], [*extras.notes, f"HAProxy fronts not shown: {exc}"]

    drawn = set()
    if extras.diagrams is not None:
        drawn = {f.id for f in diagram_findings(dep)}

    from hamodel.generators.monitoring import alerts as monitoring_alerts

    from hamodel.runbooks import runbooks as runbooks_of

    the_runbooks = runbooks_of(dep)
    alert_names: dict[str, set[str]] = {}
    for a in monitoring_alerts(dep) if dep.findings else []:
        if a.finding is not None:
            alert_names.setdefault(a.finding.id, set()).add(a.name)

    def finding_view(f: Finding) -> dict[str, Any]:
        ack = f.acknowledged
        if ack is None:
            a = arch.acknowledged(f.id)
            ack = a.reason if a else None
        details = [
            (_DETAIL_LABELS.get(k, k.replace("_", " ").capitalize()), _detail(_plain_detail(v, dep)))
            for k, v in sorted(dict(f.details).items())
            # a detail that repeats the affected services, or the impact, says nothing new
            if not (isinstance(v, (list, tuple)) and sorted(map(str, v)) == sorted(f.services))
            and k not in _REPEATS.get(f.kind, ())
            and v not in ([], (), None)
        ]
        diagram = None
        if f.id in drawn:
            diagram = f"{image_root}diagrams/findings/{finding_stem(f)}"
        plain = lambda t: facts.plain_text(str(t), dep)
        mitigation, _, model_change = f.mitigation.partition(" Model: ")
        svc = arch.service(f.services[0]) if f.services and f.kind == "single-point-of-failure" else None
        for url in getattr(svc.strategy, "see", None) or [] if svc is not None else []:
            mitigation += f" See {url}."
        model_change = model_change.rstrip(".")
        everything = len(f.services) == len(arch.services) > 8
        expected, scenario_names, unmeasured = facts.expected_times(dep, f)
        ran = [n for n in scenario_names if n in extras.measured]
        measured = None
        if ran:  # the drill's own figures, copied; the page linked once
            figures = [
                f"{_literal(n)}: {extras.measured_figures[n][1]}"
                + ("" if extras.measured_figures[n][0] else " (disagreed with the prediction)")
                if n in extras.measured_figures
                else str(_literal(n))
                for n in ran
            ]
            measured = Rst(
                "; ".join(figures)
                + f" (:doc:`drill <{extras.measured[ran[0]]}>`)"
                + (f"; {rst_escape(unmeasured)}" if unmeasured else "")
            )
        return {
            "id": f.id,
            "kind": f.kind,
            "severity": f.severity,
            "title": plain(f.title),
            "expected": expected,
            "measured": measured,
            "unmeasured": unmeasured if extras.measured else None,
            "services": [f"every service ({len(f.services)})"]
            if everything
            else list(f.services)
            if len(f.services) <= 8
            else [f.services[0], f"and the {len(f.services) - 1} services that need it (the Needs column of Services)"],
            "scenario": [facts.plain_component(c, dep) for c in f.scenario],
            "impact": plain(f.impact),
            "mitigation": _linked(plain(mitigation)),
            "model_change": model_change,
            "acknowledged": ack,
            "details": details,
            "diagram": diagram,
            "alerts": _alert_groups(sorted(alert_names.get(f.id, ())), arch),
            "runbooks": [(r.id, r.title) for r in the_runbooks if r.finding == f.id],
        }

    configs = []
    if extras.configs:
        for path in sorted(extras.configs):
            folder, _, name = path.rpartition("/")
            if folder.startswith("nodes/"):  # one line per node: nodes/ctl-1/haproxy/haproxy.cfg
                node, _, rest = folder[len("nodes/") :].partition("/")
                folder, name = f"node {node}", f"{rest}/{name}" if rest else name
            configs.append(
                {
                    "path": path,
                    "secret": path in extras.secret_configs,
                    "language": _language(path),
                    "folder": folder or "deployment",
                    "name": name,
                }
            )
    availability = sorted(extras.availability.values(), key=lambda a: a.service) if extras.availability else []
    scenarios = list(extras.scenarios) if extras.scenarios is not None else None

    from hamodel.model.strategies import ActivePassive, Sharded

    strategy_notes = []
    # A service with a limitation of its own is explained there (impact, reason, procedure): not twice.
    limited = {
        x for f in limitations(dep) if f.kind in ("single-point-of-failure", "partial-outage") for x in f.services
    }
    for s in arch.services:
        st, where = s.strategy, _join(placed.nodes_of(s.name))
        if s.name in limited:
            continue
        if isinstance(st, ActivePassive):
            if st.manager is None:
                why = f" It runs one instance because {rst_escape(st.reason)}." if st.reason else ""
                why += "".join(f" See `{u} <{u}>`__." for u in st.see)  # a URL the model validated
                strategy_notes.append(
                    Rst(
                        f"**{rst_escape(s.name)}** runs on one node at a time ({where}); nothing "
                        "moves it to another node when that node or the process fails: an "
                        "operator starts it on a survivor." + why
                    )
                )
            else:
                strategy_notes.append(
                    Rst(
                        f"**{rst_escape(s.name)}** is configured on {where}; {rst_escape(st.manager.title())} "
                        "runs it on one of them and starts it on a survivor after a failure."
                    )
                )
        elif isinstance(st, Sharded):
            strategy_notes.append(
                Rst(
                    f"**{rst_escape(s.name)}** runs on {where}; each instance owns "
                    f"{rst_escape(st.shard)}, which cannot be failed over to another node."
                )
            )
    e, j = rst_escape, _join
    any_ack = any(arch.acknowledged(f.id) or f.acknowledged for f in other_findings(dep))
    recovery_header, recovery_rows = _recovery_table(dep, extras.measured_outage)
    rows = {
        "role_rows": [[e(r), j(ns)] for r, ns in sorted(roles.items())],
        "node_rows": [
            [
                e(n.name),
                j(n.roles),
                j([*n.domains, *([" or ".join(n.power) + " (power)"] if n.power else [])]),
                j([f"{i.address} ({i.network}, {i.device})" for i in n.interfaces]),
                f"{n.capacity.cpu:g} CPU, {n.capacity.memory_gb:g} GB",
            ]
            for n in arch.nodes
        ],
        "service_rows": _merged_service_rows(services),
        "matrix_rows": [[e(r["service"]), *r["cells"]] for r in matrix if r["service"] in exceptions],
        "domain_rows": [
            [
                e(d["name"]),
                e(d["kind"]),
                *([e(d["parent"])] if any(x["parent"] for x in domains) else []),
                j(d["nodes"] or [f"{n} (cut off)" for n in d["cut"]]),
                j(d["ports"]),
                str(d["instances"]),
            ]
            for d in domains
        ],
        "vip_rows": [
            [
                e(v["name"]),
                str(v["address"]),
                e(v["network"]),
                e(v["dns"]),
                v["exposure"],
                e(v["holder"]),
                j(v["served"]),
            ]
            for v in vips
        ],
        "group_rows": [
            [
                e(g["service"]),
                j(g["vips"]),
                e(g["network"]),
                str(g["vrid"]),
                g["manager"],
                e(g["master"]),
                j(g["priorities"]),
            ]
            for g in groups
        ],
        "frontend_rows": _merged_frontend_rows(frontends),
        "finding_rows": [
            [
                _literal(f.id),
                f.severity,
                e(facts.plain_text(f.title, dep)),
                j(f.services)
                if len(f.services) <= 8
                else e(f"{f.services[0]} and the {len(f.services) - 1} services that need it"),
                *([e(ack.reason if (ack := arch.acknowledged(f.id)) else (f.acknowledged or ""))] if any_ack else []),
            ]
            for f in other_findings(dep)
        ],
        "scenario_rows": _merged_scenario_rows(
            [
                [
                    e(facts.plain_component(sc.component, dep)),
                    j(sc.down),
                    j(sc.partial),
                    _count(sc.degraded, len(arch.services)),
                    _count(sc.running, len(arch.services)),
                ]
                for sc in (scenarios or [])
            ]
        ),
        "availability_rows": [
            [
                e(a.service),
                f"{a.availability * 100:.6f} %",
                f"{a.nines:.2f}",
                _downtime(a.availability),
                "exact" if a.exact else f"bound ({a.cut_sets} cut sets)",
            ]
            for a in availability
        ],
        "fix_first_rows": _fix_first_rows(dep) if availability else [],
        "recovery_rows": recovery_rows,
    }
    return {
        **rows,
        "strategy_notes": strategy_notes,
        "exceptions": exceptions,
        "any_ack": any_ack,
        "fronted_clusters": [
            s.name for s in arch.services if s.access is not None and not isinstance(s.strategy, BehindVip)
        ],
        "has_parents": any(d["parent"] for d in domains),
        "has_power": any(d.kind == "power" for d in arch.domains) or any(n.power for n in arch.nodes),
        "vrrp_facts": facts.vrrp_facts(dep),
        "detection": facts.detection_words(dep),
        "scope": facts.scope(dep, extras.model_path),
        "supervisor_assumed": "supervisor" not in arch.model_fields_set,
        "has_keepalived": any(g.manager == "keepalived" for g in dep.vrrp_groups),
        "has_pcmk_groups": any(g.manager == "pacemaker" for g in dep.vrrp_groups),
        "stats": [(s.name, e_.port, e_.loopback) for s in arch.services if s.holds_vips for e_ in s.ports],
        "slug": slug,
        "arch": arch,
        "dep": dep,
        "sections": sections,
        "image_root": image_root,
        "recovery_header": recovery_header,
        "model_path": extras.model_path,
        "checks_doc": extras.checks_doc,
        "stamp": _stamp_words(extras),
        "strategies": strategies,
        "roles": sorted(roles.items()),
        "services": services,
        "node_names": nodes,
        "matrix": matrix,
        "domains": domains,
        "vips": vips,
        "groups": groups,
        "frontends": frontends,
        "limitations": [finding_view(f) for f in limitations(dep)],
        "other_findings": [finding_view(f) for f in other_findings(dep)],
        "has_diagrams": extras.diagrams is not None,
        "configs": configs,
        "config_error": extras.config_error,
        "node_configs": _node_config_lines(configs),
        "scenarios": scenarios,
        "availability": availability,
        "notes": list(dep.notes) + list(extras.notes),
        "pacemaker": arch.pacemaker,
        "nonlocal_bind": sorted(dep.nonlocal_bind_nodes),
        "vrrp_kinds": (Vrrp, PacemakerVip),
        "runbooks": the_runbooks,
    }


def _stamp_words(extras: DocExtras) -> str | None:
    """Which drill the measured figures come from: its date and commit (the drill page's stamp)."""
    st = extras.measured_stamp
    if not st or not (extras.measured or extras.measured_outage):
        return None
    words = f"the drill of {st.get('date', 'an unknown date')}, at commit {st.get('commit', 'unknown')}"
    if st.get("model_sha256"):
        words += f" (model sha256 {str(st['model_sha256'])[:12]})"
    return words
