"""The generated monitoring in the keepalived / HAProxy lab: a real Prometheus, real exporters.

When Debian's ``prometheus`` and ``prometheus-node-exporter`` are installed
and the build has ``monitoring/prometheus.yml``, :class:`LabMonitor` adds to
the drill's lab (:class:`hamodel.drill.runner.Drill`):

- a **management network**: a switch of its own (``mon``), one leg on it per
  node and one for a ``monitor`` namespace, with host routes from the monitor
  to each node's scrape addresses over that node's leg. A real site monitors
  over such a path; here it is what lets one Prometheus see both sides of a
  partition of the service network (the two-masters alert needs an observer
  of both). A node whose links crash loses this leg too: it stays
  unreachable, as a crashed host is;
- in each node's namespace ``prometheus-node-exporter`` with the generated
  ARGS (textfile folder: the node's lab folder), and keepalived's generated
  ``notify_*`` lines calling the lab's copy of the generated state script
  (``keepalived-state``), which writes the VRRP state as textfile metrics;
- HAProxy's built-in Prometheus exporter on the generated monitoring front,
  as generated (its ``haproxy.cfg`` is the lab's, unchanged there);
- in the monitor namespace ``prometheus`` with the generated scrape config
  reduced to what the lab runs (:func:`hamodel.drill.prometheus.lab_config`)
  and the rules of ``vrrp``, ``haproxy`` and ``nodes``; intervals as generated.

For each scenario :func:`expected` predicts the alerts from what the
scenario takes away (a node, a backend, a side of a partition) and the
generated rules; :meth:`LabMonitor.during` keeps the fault in place until
every predicted alert fired or the longest bound passed (``for`` + 2 scrapes
+ one evaluation + :data:`~hamodel.drill.margins.PROMETHEUS_S`), and records
any other alert (a disagreement); :meth:`LabMonitor.after` waits for them to
resolve once the lab settled again.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from hamodel.deployment import KEEPALIVED_STATE_SCRIPT, NODE_TEXTFILE_DIR
from hamodel.drill.keepalived.common import owner
from hamodel.drill.lab import Lab, LabError, Process
from hamodel.drill.margins import PROMETHEUS_S as MARGIN_S
from hamodel.drill.prometheus import (
    prometheus_api,
    start_node_exporter,
    start_prometheus,
    targets_down,
    unanswered_polls,
)
from hamodel.drill.results import Check
from hamodel.generators.monitoring import EVALUATION_INTERVAL_S, SCRAPE_INTERVAL_S
from hamodel.generators.monitoring.liveness import KEEPALIVED_UP_INTERVAL_S

AREAS = ("vrrp", "haproxy", "nodes")
MON_SWITCH = "mon"
MON_DEV = "mon0"
MON_NET = ipaddress.ip_network("10.254.0.0/24")
#: Kinds whose alerts :func:`expected` predicts and the drill asserts; the others (the Galera kinds,
#: which have their own alerts scenario) run as before, without alert checks.
PREDICTED_KINDS = (
    "holder-crash",
    "holder-kill",
    "haproxy-death",
    "backend-death",
    "single-writer",
    "partition",
    "keepalived-kill",
    "switch-failure",
    "redis-primary-kill",
)


def available(files: Mapping[str, bytes]) -> str | None:
    missing = [b for b in ("prometheus", "prometheus-node-exporter", "curl") if shutil.which(b) is None]
    if missing:
        return f"missing {', '.join(missing)}"
    if "monitoring/prometheus.yml" not in files:
        return "the build has no monitoring/prometheus.yml"
    return None


@dataclass(frozen=True)
class Rule:
    alert: str
    expr: str
    for_s: float
    labels: dict[str, str]

    @property
    def key(self) -> str:
        """The alert as :meth:`LabMonitor.firing` names it: its name, and its node for a per-node rule."""
        return f"{self.alert}{{node={self.labels['node']}}}" if "node" in self.labels else self.alert

    @property
    def bound(self) -> float:
        return self.for_s + 2 * SCRAPE_INTERVAL_S + EVALUATION_INTERVAL_S + MARGIN_S


def _rules(files: Mapping[str, bytes]) -> list[Rule]:
    out = []
    for a in AREAS:
        data = files.get(f"monitoring/rules/{a}.yml")
        if data is None:
            continue
        for r in yaml.safe_load(data)["groups"][0]["rules"]:
            out.append(Rule(r["alert"], r["expr"], float(str(r.get("for", "0s")).rstrip("s")), r.get("labels", {})))
    return out


@dataclass
class Expected:
    """The alerts a scenario must raise (key -> bound, s), and why."""

    alerts: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    #: Generated alerts the scenario concerns whose exporter the lab does not run (not evaluated), and why.
    not_evaluated: list[str] = field(default_factory=list)
    not_evaluated_why: str = ""


def expected(ctx: Any, k: Any, rules: list[Rule]) -> Expected | None:
    """The alerts the generated rules raise for what scenario ``k`` takes away; None for a kind
    not predicted here (its alerts are recorded only)."""
    kind = k.sc.kind
    if kind not in PREDICTED_KINDS:
        return None
    down: set[str] = set()  # nodes Prometheus cannot scrape
    dead_servers: set[tuple[str, str]] = set()  # (proxy, server) DOWN on every load balancer
    splits: set[str] = set()  # the VRRP groups with two masters
    no_haproxy: set[str] = set()  # nodes that answer while their HAProxy does not
    no_keepalived: set[str] = set()  # nodes that answer while their keepalived does not
    if kind in ("holder-crash", "holder-kill"):
        down = {k.old}
        why = f"{k.old} is lost: its node-down alert, the degraded-redundancy alerts of the cut sets it is in, "
        why += "and the backend-down alerts of its servers (DOWN on every remaining load balancer)"
    elif kind == "haproxy-death":
        no_haproxy = {k.old}
        why = (
            f"haproxy on {k.old} dies: keepalived moves the VIP within adverts (< the no-master rule's for:), "
            "the other load balancers still see every backend; the node answers and its HAProxy exporter "
            "does not: the HAProxy-down alert (redundancy reduced)"
        )
    elif kind in ("backend-death", "single-writer"):
        dead_servers = {(k.proxy, k.server.name)}
        why = f"{k.server.name} of {k.proxy} is DOWN on every load balancer: its backend-down alert"
    elif kind == "keepalived-kill":
        splits, no_keepalived = set(getattr(k, "held_groups", ()) or (k.group.service,)), {k.old}
        why = (
            f"keepalived on {k.old} is killed (SIGKILL): its VIP stays configured there and a backup takes "
            "over, so the address is held twice; its last VRRP state (MASTER) stays in its textfile: the "
            "keepalived-down, VIP-held-twice and two-masters alerts"
        )
    elif kind == "switch-failure":
        dead_servers, splits, why = _switch_failure(ctx, k)
    elif kind == "redis-primary-kill":
        why = (
            f"{k.sc.service}'s primary is killed and a replica promoted at once: no node, VIP or HAProxy front "
            "is lost, so no alert of these rules"
        )
    else:  # partition
        pred = getattr(k, "group", None)
        splits = {pred.service} if pred is not None else set()
        why = (
            "two VRRP masters, seen by the monitor over the management network: the two-masters and "
            "VIP-held-twice alerts; every node stays reachable and each backend is UP on the load balancers "
            "of its side"
        )
    # a node whose every load balancer but its own is scraped: the servers it hosts are DOWN there
    lbs = {n for n, hc in ctx.plan.haproxy.items() if hc is not None}
    for n in down:
        for name, be in ctx.plan.haproxy.get(next(iter(lbs - down), n)).backends.items():
            for s in be.servers:
                if owner(ctx, s.address) == n:
                    dead_servers.add((name, s.name))
    out = Expected(reason=why)
    if kind == "redis-primary-kill":
        out.not_evaluated = _rules_of(ctx.files, "redis", k.sc.service)
        out.not_evaluated_why = (
            "rules/redis.yml reads prometheus-redis-exporter, which the lab does not run: its alerts "
            "(a promotion well inside their for:) are not evaluated"
        )
    for r in rules:
        hit = False
        if r.alert.startswith("HamodelNodeDown"):
            hit = r.labels.get("node") in down
        elif r.alert.startswith("HamodelRedundancyDegraded"):
            m = re.search(r'node=~"([^"]*)"', r.expr)
            hit = bool(m) and bool(down & set(m.group(1).split("|")))
        elif r.alert.startswith("HamodelBackendDown"):
            hit = any(p == r.labels.get("proxy") for p, _ in dead_servers)
        elif r.alert.startswith("HamodelFrontDown"):
            proxy = r.labels.get("proxy")
            servers = [
                s.name
                for hc in ctx.plan.haproxy.values()
                if hc is not None and proxy in hc.backends
                for s in hc.backends[proxy].servers
            ]
            hit = bool(servers) and all((proxy, s) in dead_servers for s in servers)
        elif r.alert.startswith("HamodelHaproxyDown"):
            hit = bool(no_haproxy)
        elif r.alert.startswith("HamodelKeepalivedDown"):
            m = re.search(r'node=~"([^"]*)"', r.expr)
            hit = bool(m) and bool(no_keepalived & set(m.group(1).split("|")))
        elif r.alert.startswith(("HamodelVrrpSplitBrain", "HamodelVipHeldTwice")):
            hit = r.labels.get("service") in splits
        if hit:
            out.alerts[r.key] = max(out.alerts.get(r.key, 0.0), r.bound)
    return out


def _rules_of(files: Mapping[str, bytes], area: str, service: str | None) -> list[str]:
    """The names of ``area``'s generated rules about ``service``."""
    data = files.get(f"monitoring/rules/{area}.yml")
    if data is None:
        return []
    rules = yaml.safe_load(data)["groups"][0]["rules"]
    return sorted(r["alert"] for r in rules if r.get("labels", {}).get("service") == service)


def _switch_failure(ctx: Any, k: Any) -> tuple[set[tuple[str, str]], set[str], str]:
    """A switch down: the servers no load balancer reaches any more (their backend-down alerts) and the
    VRRP groups the analysis says split (two masters, the address held twice); every node still
    answers over the management network (no node-down alert)."""
    from hamodel.drill.keepalived.switch_failure import _node_switches

    dep, arch = ctx.dep, ctx.arch
    lbs = sorted(n for n, hc in ctx.plan.haproxy.items() if hc is not None)
    dead: set[tuple[str, str]] = set()
    for proxy in sorted({p for n in lbs for p in ctx.plan.haproxy[n].backends}):
        servers = {
            s.name: s
            for n in lbs
            if proxy in ctx.plan.haproxy[n].backends
            for s in ctx.plan.haproxy[n].backends[proxy].servers
        }
        for name, s in sorted(servers.items()):
            n = owner(ctx, s.address)
            if n is None or n not in ctx.plan.nodes:
                continue
            net = next((i.network for i in arch.node(n).interfaces if str(i.address) == s.address), None)
            if net is None:
                continue
            reached = [lb == n or k._reaches(_node_switches(dep, lb, net), _node_switches(dep, n, net)) for lb in lbs]
            if not any(reached):
                dead.add((proxy, name))
    splits = {g.service for g in ctx.groups if any(p.split_brain for p in k.vip_preds if p.vip in g.vips)}
    why = (
        f"switch {k.sw} down; the monitor reaches every node over the management network (no node-down alert): "
        + (
            f"the backend-down alerts of {len(dead)} server(s) no load balancer reaches; "
            if dead
            else "every server stays UP on some load balancer; "
        )
        + (f"two masters of {', '.join(sorted(splits))} (analysis: split brain)" if splits else "no VRRP group splits")
    )
    return dead, splits, why


class LabMonitor:
    """The lab's management network, exporters and Prometheus (see the module doc)."""

    def __init__(self, ctx: Any):
        self.ctx = ctx
        self.lab: Lab = ctx.lab
        self.files: Mapping[str, bytes] = ctx.files
        self.rules = _rules(self.files)
        self.exporters: dict[str, Process] = {}
        self.liveness: dict[str, Process] = {}  # the keepalived-up loops
        self.rewrites: list[str] = []
        self.ns = ""

    # -- set up -------------------------------------------------------------------

    def notify(self, n: str) -> tuple[str, str] | None:
        """(generated path, lab path) of ``n``'s state script, written with the node's textfile folder."""
        data = self.files.get(f"nodes/{n}/keepalived/keepalived-state")
        if data is None:
            return None
        d = self.lab.node_dir(n)
        (d / "textfile").mkdir(parents=True, exist_ok=True)
        path = d / "keepalived-state"
        self.lab.write_file(path, data.decode().replace(NODE_TEXTFILE_DIR, str(d / "textfile")), mode=0o700)
        return KEEPALIVED_STATE_SCRIPT, str(path)

    def network(self) -> None:
        """The management switch, a leg per node and the monitor's routes to each scrape address."""
        lab = self.lab
        lab.add_switch(MON_SWITCH)
        self.ns = lab.add_host("monitor")
        hosts = list(MON_NET.hosts())
        lab.plug("monitor", MON_DEV, MON_SWITCH, f"{hosts[-1]}/{MON_NET.prefixlen}", ns=self.ns)
        for i, n in enumerate(sorted(self.ctx.plan.nodes)):
            lab.plug(n, MON_DEV, MON_SWITCH, f"{hosts[i]}/{MON_NET.prefixlen}")
            for addr in sorted(self._scrape_addresses(n)):
                lab.exec(self.ns, ["ip", "route", "replace", f"{addr}/32", "via", str(hosts[i])])
        self.rewrites.append(
            f"a management network ({MON_NET}, switch {MON_SWITCH}) reaches every node's scrape address from "
            "the monitor namespace, where Prometheus runs; partitions of the service network do not cut it"
        )

    def _scrape_addresses(self, n: str) -> set[str]:
        config = yaml.safe_load(self.files["monitoring/prometheus.yml"])
        return {
            t.rsplit(":", 1)[0]
            for j in config.get("scrape_configs") or []
            for sc in j.get("static_configs") or []
            if sc.get("labels", {}).get("node") == n
            for t in sc["targets"]
        }

    def start(self) -> None:
        ctx, lab = self.ctx, self.lab
        nodes = [n for n in sorted(ctx.plan.nodes) if f"nodes/{n}/prometheus/node-exporter" in self.files]
        for n in nodes:
            self._start_liveness(n)
            self._start_exporter(n)
        lbs = {n for n, np_ in ctx.plan.nodes.items() if np_.haproxy}
        scraped = {"node": set(nodes), "haproxy": lbs}
        # --quick runs stand-in backends for some services only: the others' backends are DOWN, rightly
        absent = set(ctx.plan.skipped_backend_services) - set(getattr(ctx, "real_services", ()))

        def keep(r: dict) -> bool:
            proxy_rule = r["alert"].startswith(("HamodelBackendDown", "HamodelFrontDown"))
            return not (proxy_rule and r.get("labels", {}).get("service") in absent)

        self.rules = [r for r in self.rules if keep({"alert": r.alert, "labels": r.labels})]
        _, rewrites = start_prometheus(lab, self.ns, self.files, AREAS, lab.root / "prometheus", scraped, keep)
        self.rewrites += [
            "node exporter: --collector.textfile.directory -> the lab node's folder",
            "keepalived notify lines -> the lab's copy of the generated state script (same textfile folder)",
            *rewrites,
        ]

    def _start_liveness(self, n: str) -> None:
        """The generated keepalived-up script, in the node's namespace every timer interval (what its
        systemd timer does on a real node): keepalived's pid file and textfile folder the lab's."""
        data = self.files.get(f"nodes/{n}/keepalived/keepalived-up")
        if data is None:
            return
        d = self.lab.node_dir(n)
        path = d / "keepalived-up"
        self.lab.write_file(path, data, mode=0o700)
        loop = f'while :; do sh "$0" || true; sleep {KEEPALIVED_UP_INTERVAL_S}; done'
        self.liveness[n] = self.lab.start(
            f"keepalived-up@{n}",
            self.lab.node_ns(n),
            ["sh", "-c", loop, str(path)],
            log=d / "keepalived-up.out",
            env={"HAMODEL_TEXTFILE_DIR": str(d / "textfile"), "HAMODEL_KEEPALIVED_PIDFILE": str(d / "keepalived.pid")},
        )
        if len(self.liveness) == 1:
            self.rewrites.append(
                f"keepalived-up (the generated liveness script): run every {KEEPALIVED_UP_INTERVAL_S} s by a loop "
                "in the node's namespace instead of its systemd timer; keepalived's pid file and the textfile "
                "folder the lab node's"
            )

    def _start_exporter(self, n: str) -> None:
        start_node_exporter(self.lab, n, self.files)
        self.exporters[n] = next(p for p in reversed(self.lab.processes) if p.name == f"node-exporter@{n}")

    def wait_up(self, timeout: float = 60.0) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if targets_down(self.lab, self.ns, ("node", "haproxy")) == []:
                return round(time.monotonic() - t0, 1)
            time.sleep(1.0)
        raise LabError(f"Prometheus does not see every node and haproxy target up: {self.api('targets')}")

    def api(self, path: str) -> Any:
        return prometheus_api(self.lab, self.ns, path)

    def firing(self) -> set[str] | None:
        """The alerts firing now (node-down ones per node); None when Prometheus did not answer."""
        data = self.api("alerts")
        if data is None:
            return None
        out = set()
        for a in data["alerts"]:
            if a["state"] != "firing":
                continue
            name, node = a["labels"]["alertname"], a["labels"].get("node")
            out.add(f"{name}{{node={node}}}" if name.startswith("HamodelNodeDown") and node else name)
        return out

    def longest_bound(self) -> float:
        return max((r.bound for r in self.rules), default=0.0)

    def healthy(self, window_s: float) -> dict[str, Any]:
        """Watch the settled lab for ``window_s``: no alert may fire."""
        seen: set[str] = set()
        end = time.monotonic() + window_s
        unanswered = 0
        while time.monotonic() < end:
            now = self.firing()
            if now is None:
                unanswered += 1
            else:
                seen |= now
            time.sleep(1.0)
        return {"window_s": window_s, "fired": sorted(seen)} | unanswered_polls(unanswered)

    # -- per scenario ---------------------------------------------------------------

    def during(self, k: Any, t0: float) -> dict[str, Any] | None:
        """With the fault in place: when each predicted alert fires; what else fires."""
        exp = expected(self.ctx, k, self.rules)
        if exp is None:
            return None  # a kind not predicted here keeps its own timing (no hold, no alert checks)
        want = dict(exp.alerts)
        hold = max(want.values()) if want else self.longest_bound()
        seen: dict[str, float] = {}
        others: set[str] = set()
        unanswered = 0
        while time.monotonic() - t0 < hold:
            now = self.firing()
            el = round(time.monotonic() - t0, 1)
            if now is None:  # unknown, not "nothing fires"
                unanswered += 1
                time.sleep(1.0)
                continue
            for a in now:
                if a in want:
                    seen.setdefault(a, el)
                else:
                    others.add(a)
            if want and set(seen) == set(want):
                break
            time.sleep(1.0)
        return {
            "predicted": {a: round(b, 1) for a, b in sorted(want.items())},
            "reason": exp.reason,
            **(
                {"not_evaluated": exp.not_evaluated, "not_evaluated_why": exp.not_evaluated_why}
                if exp.not_evaluated
                else {}
            ),
            "fired_after_s": dict(sorted(seen.items())),
            "unexpected": sorted(others),
            "held_s": round(time.monotonic() - t0, 1),
        } | unanswered_polls(unanswered)

    def after(self, alerts: Mapping[str, Any]) -> dict[str, Any]:
        """After the restore (the lab settled): restart an exporter the scenario killed; how long until
        every alert is gone."""
        for n, p in list(self.liveness.items()):
            if not p.alive():
                self._start_liveness(n)
        for n, p in list(self.exporters.items()):
            if not p.alive():
                self._start_exporter(n)
        bound = 2 * SCRAPE_INTERVAL_S + EVALUATION_INTERVAL_S + MARGIN_S
        t0 = time.monotonic()
        # polls left unanswered while holding the fault and while resolving: one count for the page
        unanswered = int(alerts.get("unanswered_polls", 0))
        while time.monotonic() - t0 < bound + 30:
            now = self.firing()
            if now == set():  # answered, and nothing fires (None: Prometheus did not answer)
                return {
                    "resolved_after_settled_s": round(time.monotonic() - t0, 1),
                    "resolve_bound_s": bound,
                    "still": [],
                } | unanswered_polls(unanswered)
            unanswered += now is None
            time.sleep(1.0)
        return {
            "resolved_after_settled_s": None,
            "resolve_bound_s": bound,
            "still": sorted(self.firing() or ["?"]),
        } | unanswered_polls(unanswered)

    @staticmethod
    def checks(a: Mapping[str, Any]) -> list[Check]:
        out = []
        for name, bound in a["predicted"].items():
            t = a["fired_after_s"].get(name)
            out.append(Check(f"alert {name} fires within (s)", bound, t, t is not None and t <= bound))
        bad = a["unexpected"]
        out.append(Check("no alert the analysis does not predict", [], bad, not bad))
        if a.get("not_evaluated"):  # said, not skipped: the lab runs no exporter for these rules
            out.append(
                Check(
                    f"alerts not evaluated here: {a.get('not_evaluated_why', 'their exporter does not run in the lab')}",
                    a["not_evaluated"],
                    "not evaluated",
                    True,
                )
            )
        r = a.get("resolved_after_settled_s")
        out.append(
            Check(
                "every alert resolves once the lab settled again, within (s)",
                a["resolve_bound_s"],
                r if r is not None else a.get("still"),
                r is not None and r <= a["resolve_bound_s"],
            )
        )
        return out
