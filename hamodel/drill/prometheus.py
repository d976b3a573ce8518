"""A real Prometheus in a drill lab, with the files ``hamodel build`` generated.

What every lab that proves the generated monitoring shares (the Galera lab,
:mod:`hamodel.drill.galera.monitoring`; the keepalived / HAProxy lab,
:mod:`hamodel.drill.keepalived.monitoring`):

- :func:`start_node_exporter`: ``prometheus-node-exporter`` in a node's
  namespace with the ARGS of the generated ``/etc/default`` file, its
  textfile folder the lab node's own;
- :func:`lab_config`: the generated ``monitoring/prometheus.yml`` reduced to
  what the lab runs: the scrape jobs and the targets of the nodes whose
  exporters the lab started (a target of a node the lab does not run would
  be down, rightly, and its node-down alert would fire), and the rule files
  of the lab's areas;
- :func:`start_prometheus`: the Debian ``prometheus`` with that config;
- :func:`prometheus_api`, :func:`firing`: its HTTP API through ``curl`` in
  its namespace.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from hamodel.drill.lab import Lab, LabError

PROM_PORT = 9090


def exporter_args(data: bytes) -> list[str]:
    """ARGS="..." of a generated /etc/default file."""
    for line in data.decode().splitlines():
        if line.startswith("ARGS="):
            return shlex.split(shlex.split(line[5:])[0])
    raise LabError("no ARGS= line in a generated exporter file")


def start_node_exporter(lab: Lab, node: str, files: Mapping[str, bytes]) -> Path:
    """node_exporter in ``node``'s namespace with the generated ARGS, its textfile folder the node's
    lab folder ``textfile/`` (returned); none if one already runs there (it listens on the same port)."""
    tf = lab.node_dir(node) / "textfile"
    tf.mkdir(parents=True, exist_ok=True)
    if any(p.name == f"node-exporter@{node}" and p.alive() for p in lab.processes):
        return tf  # one lab, one exporter per node (the keepalived lab's monitoring started it)
    args = [
        a if not a.startswith("--collector.textfile.directory=") else f"--collector.textfile.directory={tf}"
        for a in exporter_args(files[f"nodes/{node}/prometheus/node-exporter"])
    ]
    lab.start(
        f"node-exporter@{node}",
        lab.node_ns(node),
        ["prometheus-node-exporter", *args],
        log=lab.node_dir(node) / "node-exporter.out",
    )
    return tf


def lab_config(
    files: Mapping[str, bytes], areas: Sequence[str], scraped: Mapping[str, Collection[str]]
) -> tuple[dict[str, Any], list[str]]:
    """The generated prometheus.yml for a lab: rule files of ``areas`` only; of the scrape jobs only
    those in ``scraped`` (job name -> the nodes whose exporter for it the lab runs), each with only
    those nodes' targets. Returns the config and what was left out (for the report's rewrites)."""
    config = yaml.safe_load(files["monitoring/prometheus.yml"])
    config["rule_files"] = [f"rules/{a}.yml" for a in areas]
    jobs, dropped = [], []
    for job in config.get("scrape_configs") or []:
        name = job["job_name"]
        nodes = scraped.get(name)
        if nodes is None:
            dropped.append(f"job {name}")
            continue
        kept = []
        for sc in job.get("static_configs") or []:
            if sc.get("labels", {}).get("node") in nodes:
                kept.append(sc)
            else:
                dropped.append(f"{name}@{sc.get('labels', {}).get('node')}")
        if kept:
            jobs.append({**job, "static_configs": kept})
        else:
            dropped.append(f"job {name}")
    config["scrape_configs"] = jobs
    return config, dropped


def start_prometheus(
    lab: Lab,
    ns: str,
    files: Mapping[str, bytes],
    areas: Sequence[str],
    folder: Path,
    scraped: Mapping[str, Collection[str]],
    keep: Callable[[dict], bool] | None = None,
) -> tuple[dict[str, dict], list[str]]:
    """Prometheus in ``ns`` with :func:`lab_config`'s config; returns the loaded rules by alert name
    (the first of a name) and the rewrites made. ``keep``: which rules to load (default all; a rule
    about something the lab does not run would report it missing, rightly)."""
    used = lab.prometheus_folders
    if folder.resolve() in used:
        # Prometheus 2.42 starts a second server on the same TSDB and WAL without a word; the two
        # then corrupt each other (the Galera lab's stopped answering mid-scenario).
        raise LabError(f"a Prometheus of this lab already uses {folder}: give each its own folder")
    used.add(folder.resolve())
    (folder / "rules").mkdir(parents=True, exist_ok=True)
    config, dropped = lab_config(files, areas, scraped)
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    rules: dict[str, dict] = {}
    left_out: list[str] = []
    for a in areas:
        data = files[f"monitoring/rules/{a}.yml"]
        if keep is not None:
            doc = yaml.safe_load(data)
            group = doc["groups"][0]
            left_out += [r["alert"] for r in group["rules"] if not keep(r)]
            group["rules"] = [r for r in group["rules"] if keep(r)]
            data = yaml.safe_dump(doc, sort_keys=False).encode()
        (folder / "rules" / f"{a}.yml").write_bytes(data)
        for r in yaml.safe_load(data)["groups"][0]["rules"] or []:
            rules.setdefault(r["alert"], r)
    lab.start(
        "prometheus",
        ns,
        [
            "prometheus",
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{PROM_PORT}",
        ],
        log=folder / "prometheus.out",
    )
    rewrites = [f"prometheus.yml rule_files -> {', '.join(config['rule_files'])} (what the lab runs)"]
    if left_out:
        rewrites.append(f"rules not loaded (about what the lab does not run): {', '.join(sorted(set(left_out)))}")
    if dropped:
        rewrites.append(f"prometheus.yml: not scraped (the lab does not run them): {', '.join(dropped)}")
    return rules, rewrites


def prometheus_api(lab: Lab, ns: str, path: str) -> Any:
    """``/api/v1/<path>``'s data from the Prometheus in ``ns``; None while it does not answer."""
    r = lab.exec(ns, ["curl", "-sf", "--max-time", "3", f"http://127.0.0.1:{PROM_PORT}/api/v1/{path}"], check=False)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)["data"]


def firing(lab: Lab, ns: str) -> set[str] | None:
    """The names of the alerts firing now; None when Prometheus did not answer (unknown: never
    read as "nothing fires", which would pass a resolve check and fail a fire check silently)."""
    data = prometheus_api(lab, ns, "alerts")
    if data is None:
        return None
    return {a["labels"]["alertname"] for a in data["alerts"] if a["state"] == "firing"}


def unanswered_polls(unanswered: int) -> dict[str, int]:
    """How many polls Prometheus left unanswered, for a measurement (said only when some were)."""
    return {"unanswered_polls": unanswered} if unanswered else {}


def targets_down(lab: Lab, ns: str, jobs: Collection[str]) -> list[str] | None:
    """The targets of ``jobs`` not up (``job@node``); None while Prometheus does not answer or has
    none of them yet."""
    data = prometheus_api(lab, ns, "targets")
    if not data:
        return None
    mine = [t for t in data["activeTargets"] if t["labels"]["job"] in jobs]
    if not mine:
        return None
    return [f"{t['labels']['job']}@{t['labels'].get('node')}" for t in mine if t["health"] != "up"]
