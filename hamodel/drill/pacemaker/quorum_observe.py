"""What the quorum-shape scenarios (:mod:`hamodel.drill.pacemaker.quorum`) predict from and observe with.

- :func:`shape`: which quorum shape a model's Pacemaker cluster has;
- :func:`analysis_prediction` and :func:`cut_sets`: the analysis' own answer
  under the failure set a scenario injects;
- :class:`QuorumWatch`: ``corosync-quorumtool -s`` of every node, sampled;
- :class:`QTimeouts`: corosync's runtime timeouts plus the quorum device's;
- the lab look-ups the scenarios share (fence log, fence delays, the links a
  partition cuts) and :func:`restore_nodes`, which brings nodes back and waits
  until the cluster counts every vote again.
"""

from __future__ import annotations

import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from hamodel.drill.lab import LabError
from hamodel.drill.observe import HolderWatch
from hamodel.drill.pacemaker.cluster_plan import cluster_nodes
from hamodel.drill.pacemaker.lab import PacemakerLab
from hamodel.drill.pacemaker.scenarios import Timeouts, first_when, overlap, settle
from hamodel.model import Architecture

#: corosync-qdevice(8) defaults when corosync.conf sets none (ms).
QDEVICE_TIMEOUT_MS = 10_000
QDEVICE_SYNC_TIMEOUT_MS = 30_000


def shape(arch: Architecture) -> str | None:
    """``"qdevice"``, ``"two_node"`` (2 nodes with two_node), or None (a plain majority cluster)."""
    pm = arch.pacemaker
    if pm is None:
        return None
    if pm.qdevice:
        return "qdevice"
    if pm.two_node and len(cluster_nodes(arch)) == 2:
        return "two_node"
    return None


# -- the analysis' prediction ------------------------------------------------------------


def _vip_service(dep) -> str:
    return next(g.service for g in dep.vrrp_groups if g.manager == "pacemaker")


def analysis_prediction(arch: Architecture, dep, failed: list[str]) -> dict[str, Any]:
    """What the analysis says under the failure set ``failed``: per cluster node quorate or
    not, the nodes that may hold the VIP, whether the VIP service is up, split brain."""
    from hamodel.analysis.components import view
    from hamodel.analysis.semantics import Evaluation

    v = view(arch, dep.placement, dep.vrrp_groups)
    unknown = sorted(set(failed) - v.component_set)
    if unknown:
        raise LabError(f"the drill injects {unknown}, which the analysis does not know")
    ev = Evaluation(v, failed)
    svc = _vip_service(dep)
    return {
        "failed": sorted(failed),
        "quorate": {n: ev.pcmk_quorate(n) for n in v.pcmk_nodes},
        "may_hold_vip": [h for h in v.holders[svc] if ev.eligible(svc, h)],
        "service": svc,
        "service_up": ev.up(svc),
        "split_brain": ev.split_brain(svc),
    }


def cut_sets(dep, service: str) -> list[list[str]]:
    """The analysis' minimal cut sets of ``service`` (from its spof/cut-sets findings)."""
    out: list[list[str]] = []
    for f in dep.findings:
        if f.id in (f"spof:{service}", f"cut-sets:{service}"):
            out += [sorted(c) for c in (f.details or {}).get("cut_sets", [])]
    return out


# -- observation --------------------------------------------------------------------------


class QuorumWatch(threading.Thread):
    """``corosync-quorumtool -s`` of every cluster node whose corosync runs, every 0.5 s."""

    def __init__(self, pl: PacemakerLab):
        super().__init__(daemon=True, name="quorum-watch")
        self.pl = pl
        self.samples: list[tuple[float, str, dict | None]] = []
        self._halt = threading.Event()
        self.start()

    def run(self) -> None:
        while not self._halt.is_set():
            for n in self.pl.nodes:
                st = self.pl.quorum_status(n) if self.pl.alive(n, "corosync") else None
                self.samples.append((time.monotonic(), n, st))
            self._halt.wait(0.5)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=15)

    def of(self, node: str, t0: float, t1: float | None = None) -> list[tuple[float, dict | None]]:
        return [(t, s) for t, n, s in list(self.samples) if n == node and t >= t0 and (t1 is None or t <= t1)]

    def first(self, node: str, pred: Callable[[dict], bool], t0: float) -> float | None:
        return next((round(t - t0, 2) for t, s in self.of(node, t0) if s is not None and pred(s)), None)

    def answered(self, node: str, t0: float, t1: float) -> list[dict]:
        return [s for _, s in self.of(node, t0, t1) if s is not None]


def fences_since(pl: PacemakerLab, before: int) -> list[dict]:
    return [f for f in pl.fence_log()[before:] if f.get("action") in ("off", "reboot")]


def delay_for(pl: PacemakerLab, node: str) -> int:
    """``pcmk_delay_base`` (s) of the lab CIB's fencing device that fences ``node`` (0 when none)."""
    conf = ET.fromstring(pl.configuration)
    for p in conf.iter("primitive"):
        if p.get("class") != "stonith":
            continue
        nv = {x.get("name"): x.get("value") for x in p.iter("nvpair")}
        if node in (nv.get("pcmk_host_list") or "").split():
            m = re.match(r"^(\d+)", nv.get("pcmk_delay_base") or "0")
            return int(m.group(1)) if m else 0
    return 0


def cut_links(pl: PacemakerLab, node: str) -> list[str]:
    """The analysis' component ids of what :meth:`PacemakerLab.isolate` cuts for ``node``."""
    from hamodel.analysis.components import link_id

    m = pl.plan.member(node)
    net = pl.arch.vip(pl.plan.vips[0].name).network
    if [o for o in pl.plan.members if o.switch == m.switch and o.node != node]:
        raise LabError(f"{node} shares its switch with another cluster node: the quorum drill cuts inter-switch links")
    return sorted(link_id(net, a, b) for a, b in pl.lab.isls if m.switch in (a, b))


class QTimeouts(Timeouts):
    """Timeouts plus the quorum device's (cmap ``quorum.device.timeout`` / ``sync_timeout``, else the defaults)."""

    def __init__(self, pl: PacemakerLab, node: str):
        super().__init__(pl, node)
        self.qdevice_ms = int(pl.cmap(node, "quorum.device.timeout") or QDEVICE_TIMEOUT_MS)
        self.qdevice_sync_ms = int(pl.cmap(node, "quorum.device.sync_timeout") or QDEVICE_SYNC_TIMEOUT_MS)

    def as_json(self) -> dict[str, int]:
        return {
            "token_ms": self.token_ms,
            "consensus_ms": self.consensus_ms,
            "qdevice_timeout_ms": self.qdevice_ms,
            "qdevice_sync_timeout_ms": self.qdevice_sync_ms,
        }


def vip_figures(watch: HolderWatch, addr: str, t0: float, side: list[str]) -> dict[str, Any]:
    """The VIP figures every Pacemaker drill page shows: seconds held twice, samples, on ``side`` after."""
    twice, _ = overlap(watch, addr, t0)
    return {
        "vip_held_twice_s": twice,
        "samples": len(watch.since(addr, t0)),
        "vip_on_majority_s": first_when(watch, addr, t0, lambda h: bool(h & set(side))),
    }


def restore_nodes(pl: PacemakerLab, nodes: list[str]) -> None:
    for n in nodes:
        if not pl.alive(n) or not pl.alive(n, "corosync"):
            pl.power_on(n)
    settle(pl)
    qdevice_voting(pl)


def qdevice_voting(pl: PacemakerLab, timeout: float = 60) -> None:
    """With a quorum device: wait until every node counts all votes, qnetd's included.

    Pacemaker settles before a rejoined node's corosync-qdevice has registered
    with qnetd again; a scenario that starts in that window (CI saw one) takes
    its node crash with the survivor's qdevice vote still missing, and measures
    a quorum loss that the architecture, once settled, does not have."""
    if pl.plan.qnetd is None or not pl.qnetd_alive():
        return

    def voting() -> list[str]:
        out = []
        for n in pl.nodes:
            st = pl.quorum_status(n)
            if (
                not st
                or not st["quorate"]
                or st["total_votes"] != st["expected_votes"]
                or "V" not in (st["qdevice_flags"] or "").split(",")
            ):
                out.append(f"{n}: {st and {k: st[k] for k in ('total_votes', 'expected_votes', 'qdevice_flags')}}")
        return out

    pl.wait(lambda: not voting(), timeout, "every node counting qnetd's vote", every=0.5, detail=voting)
