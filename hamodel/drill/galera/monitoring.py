"""The generated monitoring, proven on the real Galera lab: a real Prometheus, real exporters.

On a running :class:`~hamodel.drill.galera.GaleraLab`, :class:`PromLab`
starts, with the files ``hamodel build`` generated for the model:

- in each member's namespace ``prometheus-node-exporter`` and
  ``prometheus-mysqld-exporter`` with the ARGS of the generated
  ``/etc/default`` files (listening on the member's own address);
- in the lab's client namespace ``prometheus`` with the generated
  ``monitoring/prometheus.yml`` and the rule files of what the lab runs.

Rewrites (listed in the result): the textfile folder and the mysqld
exporter's credentials file are the lab's own (an account with PROCESS,
REPLICATION CLIENT and SELECT, over the member's socket); only ``rules/galera.yml`` and ``rules/nodes.yml`` are loaded (the
lab runs no Redis, keepalived or the API backends, whose rules would
report them missing, rightly); only the node and mysqld targets of the
members are scraped (:func:`hamodel.drill.prometheus.lab_config`: a model
with more nodes than members lists targets the lab does not run); the
scrape interval stays as generated.

:func:`drill` then asserts, against the analysis' predictions:

1. healthy: no alert fires for ``healthy_s`` (the issue's 2 minutes by default);
2. a member's mariadbd killed (analysis: the cluster stays Primary, no cut
   set of size 1): the member-down and cluster-size alerts fire within
   ``for`` + 2 scrape intervals + one evaluation + margin, no-Primary does
   not; after the member is back they resolve within 2 scrapes + margin;
3. a graceful stop of every member (the ``manual-recovery`` case): the
   no-Primary alert fires; the generated runbook is executed
   (:mod:`hamodel.drill.galera.runbook`); every alert resolves.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from typing import Any

from hamodel.drill.galera.lab import GaleraLab, LabError
from hamodel.drill.margins import PROMETHEUS_S as MARGIN_S
from hamodel.drill.prometheus import (
    exporter_args,
    firing,
    prometheus_api,
    start_node_exporter,
    start_prometheus,
    targets_down,
    unanswered_polls,
)
from hamodel.generators.monitoring import EVALUATION_INTERVAL_S, SCRAPE_INTERVAL_S
from hamodel.runbooks import alert_name

EXPORTER_USER = "hamodel_exporter"
RULE_AREAS = ("galera", "nodes")


def available() -> str | None:
    missing = [
        b
        for b in ("prometheus", "prometheus-node-exporter", "prometheus-mysqld-exporter", "curl")
        if shutil.which(b) is None
    ]
    return f"missing {', '.join(missing)}" if missing else None


class PromLab:
    def __init__(self, gl: GaleraLab, files: Mapping[str, bytes]):
        self.gl, self.files = gl, files
        # Its own folder: the keepalived lab's Prometheus (hamodel.drill.keepalived.monitoring) runs
        # in the same lab with lab.root / "prometheus"; two Prometheus on one TSDB and WAL (2.42
        # does not refuse it) lost the Galera one mid-scenario in three full drills.
        self.dir = gl.lab.root / "prometheus-galera"
        self.rewrites: list[str] = []
        self.rules: dict[str, dict] = {}

    def start(self) -> None:
        gl, lab = self.gl, self.gl.lab
        # The exporter's own database account (the manifest lists its credentials file as a prerequisite);
        # created once, Galera replicates it to every member.
        secret = os.urandom(12).hex()
        gl.sql(
            gl.nodes[0],
            f"CREATE USER IF NOT EXISTS '{EXPORTER_USER}'@'localhost' IDENTIFIED BY '{secret}'; "
            f"GRANT PROCESS, REPLICATION CLIENT, SELECT ON *.* TO '{EXPORTER_USER}'@'localhost'",
        )
        for n in gl.nodes:
            ns = lab.node_ns(n)
            start_node_exporter(lab, n, self.files)
            cnf = lab.write_file(
                lab.node_dir(n) / "exporter.cnf",
                f"[client]\nuser={EXPORTER_USER}\npassword={secret}\nsocket={gl.sock(n)}\n",
            )
            args = [
                a if not a.startswith("--config.my-cnf=") else f"--config.my-cnf={cnf}"
                for a in exporter_args(self.files[f"nodes/{n}/prometheus/mysqld-exporter"])
            ]
            lab.start(
                f"mysqld-exporter@{n}",
                ns,
                ["prometheus-mysqld-exporter", *args],
                log=lab.node_dir(n) / "mysqld-exporter.out",
            )
        self.rewrites += [
            "node exporter: --collector.textfile.directory -> the lab node's folder",
            "mysqld exporter: --config.my-cnf -> the lab's account over the member's socket",
        ]
        # Scrape only the exporters the lab runs: a model with more nodes than the Galera members
        # (multirack: 12) lists node targets the lab does not run, which would be down, rightly.
        scraped = {"node": set(gl.nodes), "mysqld": set(gl.nodes)}
        self.rules, rewrites = start_prometheus(lab, lab.client_ns, self.files, RULE_AREAS, self.dir, scraped)
        self.rewrites += rewrites

    def api(self, path: str) -> Any:
        return prometheus_api(self.gl.lab, self.gl.lab.client_ns, path)

    def firing(self) -> set[str] | None:
        return firing(self.gl.lab, self.gl.lab.client_ns)

    def wait_targets_up(self, timeout: float = 90) -> float:
        def ok() -> bool:
            return targets_down(self.gl.lab, self.gl.lab.client_ns, ("node", "mysqld")) == []

        t = self.gl.wait(ok, timeout, every=1.0)
        if t is None:
            raise LabError(f"Prometheus does not see every node and mysqld target up: {self.api('targets')}")
        return t

    def bound(self, name: str) -> float:
        """Latest a predicted alert may fire: its ``for`` + 2 scrapes + one evaluation + margin."""
        return int(self.rules[name]["for"].rstrip("s")) + 2 * SCRAPE_INTERVAL_S + EVALUATION_INTERVAL_S + MARGIN_S

    def watch(self, want: set[str], forbid: set[str], timeout: float, *, until_gone: bool = False) -> dict[str, Any]:
        """Poll every second: when each of ``want`` first fires (or, ``until_gone``, when all are gone);
        which of ``forbid`` fired meanwhile."""
        t0 = time.monotonic()
        seen: dict[str, float] = {}
        bad: set[str] = set()
        unanswered = 0
        while time.monotonic() - t0 < timeout:
            now = self.firing()
            el = round(time.monotonic() - t0, 1)
            if now is None:  # Prometheus did not answer this poll: unknown, not "nothing fires"
                unanswered += 1
                time.sleep(1.0)
                continue
            bad |= now & forbid
            if until_gone:
                if not now & want:
                    return {"gone_after_s": el, "unexpected": sorted(bad), "still": []} | unanswered_polls(unanswered)
            else:
                for a in want & now:
                    seen.setdefault(a, el)
                if want and set(seen) == want:
                    break  # (a healthy window, want empty, is watched to its end)
            time.sleep(1.0)
        if until_gone:
            still = sorted((self.firing() or want) & want)
            return {"gone_after_s": None, "unexpected": sorted(bad), "still": still} | unanswered_polls(unanswered)
        return {"fired_after_s": seen, "unexpected": sorted(bad)} | unanswered_polls(unanswered)


def _check(what: str, expected: Any, measured: Any, agreed: bool) -> dict[str, Any]:
    return {"what": what, "expected": expected, "measured": measured, "agreed": bool(agreed)}


def drill(gl: GaleraLab, files: Mapping[str, bytes], *, healthy_s: float = 120.0) -> dict[str, Any]:
    """Healthy window, member down, graceful full stop + runbook; see the module doc."""
    from hamodel.drill.galera.runbook import execute, graceful_runbook
    from hamodel.drill.galera.scenarios import settle

    svc = gl.plan.service
    pl = PromLab(gl, files)
    pl.start()
    checks: list[dict[str, Any]] = []
    measured: dict[str, Any] = {"targets_up_s": round(pl.wait_targets_up(), 1)}
    everything = set(pl.rules)
    # 1. healthy
    t_h = time.monotonic()
    h = pl.watch(set(), everything, healthy_s)
    measured["healthy"] = {"window_s": healthy_s, "watched_s": round(time.monotonic() - t_h, 1), **h}
    checks.append(_check(f"no alert in a healthy lab for {healthy_s:.0f} s", [], h["unexpected"], not h["unexpected"]))
    # 2. a member's mariadbd killed: Primary kept (analysis), so member-down and size alerts, not no-Primary
    victim = gl.nodes[-1]
    want = {alert_name("GaleraMemberDown", svc), alert_name("GaleraClusterSizeLow", svc)}
    no_primary = alert_name("GaleraNoPrimary", svc)
    gl.kill(victim)
    w = pl.watch(want, {no_primary}, max(pl.bound(a) for a in want))
    measured["member_down"] = {"victim": victim, **w}
    for a in sorted(want):
        t = w["fired_after_s"].get(a)
        checks.append(
            _check(f"member down: {a} fires within (s)", f"<= {pl.bound(a):.0f}", t, t is not None and t <= pl.bound(a))
        )
    checks.append(_check("member down: no unpredicted alert (no-Primary)", [], w["unexpected"], not w["unexpected"]))
    gl.start(victim)
    gl.wait_synced(gl.nodes, timeout=120)
    resolve_bound = 2 * SCRAPE_INTERVAL_S + EVALUATION_INTERVAL_S + MARGIN_S
    r = pl.watch(want, set(), resolve_bound + 30, until_gone=True)
    measured["member_back"] = r
    checks.append(
        _check(
            "member back: its alerts resolve within (s)",
            f"<= {resolve_bound:.0f}",
            r["gone_after_s"],
            r["gone_after_s"] is not None and r["gone_after_s"] <= resolve_bound,
        )
    )
    settle(gl)
    # 3. graceful stop of every member: no-Primary fires; the generated runbook recovers; alerts resolve
    rb = graceful_runbook(gl)
    for n in gl.nodes:
        gl.stop(n)
    f = pl.watch({no_primary}, set(), pl.bound(no_primary))
    t = f["fired_after_s"].get(no_primary)
    measured["full_stop"] = f
    checks.append(
        _check(
            f"full stop: {no_primary} fires within (s)",
            f"<= {pl.bound(no_primary):.0f}",
            t,
            t is not None and t <= pl.bound(no_primary),
        )
    )
    error = None
    if rb is None:
        error = "no generated runbook for a graceful stop"
    else:
        try:
            measured["runbook_steps"] = len(execute(gl, rb))
        except LabError as exc:
            error = str(exc)
    checks.append(_check("full stop: the generated runbook succeeded", None, error, error is None))
    if error is None:
        r = pl.watch(everything, set(), resolve_bound + 60, until_gone=True)
        measured["after_runbook"] = r
        checks.append(
            _check(
                "after the runbook: every alert resolves within (s)",
                f"<= {resolve_bound + 60:.0f}",
                r["gone_after_s"],
                r["gone_after_s"] is not None,
            )
        )
    return {
        "predicted": {"rules": sorted(pl.rules), "member_down": sorted(want), "full_stop": [no_primary]},
        "measured": {**measured, "rewrites": pl.rewrites},
        "checks": checks,
    }
