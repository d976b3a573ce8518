"""Pacemaker quorum shapes on real daemons: ``two_node`` with a fence race, and a quorum device.

The reference drill (:mod:`hamodel.drill.pacemaker.scenarios`) runs a
3-node majority. A :class:`~hamodel.model.architecture.PacemakerCluster`
can also be

- ``two_node=True`` with fencing (corosync ``two_node: 1``): each node alone
  is quorate, a partition ends in a fence race; the analysis assumes the
  first cluster node wins (the model gives the device that fences it a
  static delay, ``pcmk_delay_base``);
- ``qdevice="<node>"``: corosync-qnetd on that node, corosync-qdevice
  (model net, algorithm ffsplit) on every cluster node: one more vote, held
  by the side that reaches qnetd.

Every scenario here takes its prediction from the analysis itself: the
failed components of the injection (``node:...``, ``link:...``,
``proc:corosync-qnetd@...``) are evaluated with
:class:`hamodel.analysis.semantics.Evaluation` (which cluster nodes are
quorate, which may hold the VIP, is the VIP service up, is there a split
brain), and the analysis' cut sets are quoted where they decide. The lab
measures the same things on corosync/Pacemaker: ``corosync-quorumtool -s``
inside each node's namespaces (sampled every 0.5 s by :class:`QuorumWatch`),
the VIP's holders (every :data:`~hamodel.drill.observe.SAMPLE_S`), and the
lab fence agent's log. Timing bounds come from corosync's runtime token and
consensus, the quorum device's timeouts and the fence devices' delay.

Run (as root): ``hamodel drill tests/data/pacemaker_qdevice.py``.
"""

from __future__ import annotations

import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from hamodel.drill.lab import LabError, interrupted_by_kill
from hamodel.drill.margins import PACEMAKER_S as MARGIN_S
from hamodel.drill.observe import SAMPLE_S, HolderWatch
from hamodel.drill.pacemaker.cluster_plan import cluster_nodes
from hamodel.drill.pacemaker.lab import PacemakerLab, open_lab
from hamodel.drill.pacemaker.scenarios import (
    FENCE_S,
    REACT_S,
    START_S,
    Timeouts,
    first_when,
    holders_max,
    make_check,
    overlap,
    place,
    run_each,
    settle,
    summary,
    timeline,
    unplace,
    version_of,
    vip_of,
)
from hamodel.drill.scenario import ClusterRun, WholeClusterScenario
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


def _fences_since(pl: PacemakerLab, before: int) -> list[dict]:
    return [f for f in pl.fence_log()[before:] if f.get("action") in ("off", "reboot")]


def _delay_for(pl: PacemakerLab, node: str) -> int:
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


def _cut_links(pl: PacemakerLab, node: str) -> list[str]:
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


def _vip_figures(watch: HolderWatch, addr: str, t0: float, side: list[str]) -> dict[str, Any]:
    """The VIP figures every Pacemaker drill page shows: seconds held twice, samples, on ``side`` after."""
    twice, _ = overlap(watch, addr, t0)
    return {
        "vip_held_twice_s": twice,
        "samples": len(watch.since(addr, t0)),
        "vip_on_majority_s": first_when(watch, addr, t0, lambda h: bool(h & set(side))),
    }


def _restore(pl: PacemakerLab, nodes: list[str]) -> None:
    for n in nodes:
        if not pl.alive(n) or not pl.alive(n, "corosync"):
            pl.power_on(n)
    settle(pl)
    _qdevice_voting(pl)


def _qdevice_voting(pl: PacemakerLab, timeout: float = 60) -> None:
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


# -- scenarios ----------------------------------------------------------------------------


def partition(pl: PacemakerLab, watch: HolderWatch, qw: QuorumWatch) -> dict[str, Any]:
    """Cut the inter-switch links of one node. two_node: the loser predicted by the analysis holds
    the VIP beforehand (the winner must take it over); qdevice: the VIP holder is isolated."""
    vip = vip_of(pl)
    rid = pl.vip_resources[vip.name]
    qshape = shape(pl.arch)
    if qshape == "two_node":
        pred = analysis_prediction(pl.arch, pl.dep, _cut_links(pl, pl.nodes[0]))
        winners = [n for n, q in pred["quorate"].items() if q]
        isolated = next(n for n in pl.nodes if n not in winners)
    else:
        isolated = pl.vip_holders(vip.address)[0]
        pred = analysis_prediction(pl.arch, pl.dep, _cut_links(pl, isolated))
    moved = place(pl, rid, isolated)
    others = [n for n in pl.nodes if n != isolated]
    winners = [n for n, q in pred["quorate"].items() if q]
    tm = QTimeouts(pl, others[0])
    delays = {n: _delay_for(pl, n) for n in pl.nodes}
    dc_before = pl.dc()
    # Fencing orders the loser's end before the winner's start. two_node: the winner's own fencing
    # waits for nothing; with a quorum device the winner first needs qnetd's vote, which ffsplit gives
    # once the isolated node's qdevice connection is gone (its heartbeat timeout, the device timeout).
    extra = tm.qdevice_ms / 1000 if qshape == "qdevice" else 0.0
    bound = round(tm.bound(fencing=True) + extra, 2)
    fenced_before = len(pl.fence_log())
    time.sleep(1.0)
    t0 = time.monotonic()
    cut = pl.isolate(isolated, cut=True)
    try:
        pl.wait(
            lambda: bool(set(pl.vip_holders(vip.address)) & set(others)),
            bound + 30,
            "the VIP on the other side",
            every=SAMPLE_S,
        )
    except LabError:
        pass
    # Long enough for the other device's delay to run out: a reversed race would show now.
    settle_until = t0 + tm.detect_s + REACT_S + max(delays.values()) + FENCE_S + MARGIN_S
    while time.monotonic() < settle_until:
        time.sleep(0.2)
    t_end = time.monotonic()
    fences = _fences_since(pl, fenced_before)
    fenced = sorted({f["plug"] for f in fences})
    survivors = [n for n in pl.nodes if pl.alive(n, "corosync")]
    most, who = holders_max(watch, vip.address, t0)
    vip_s = first_when(watch, vip.address, t0, lambda h: bool(h & set(others)))
    holders_now = pl.vip_holders(vip.address)
    iso_q = [s["quorate"] for s in qw.answered(isolated, t0 + tm.detect_s + MARGIN_S, t_end)]
    win_q = [s["quorate"] for n in winners for s in qw.answered(n, t0, t_end)]
    lost_s = qw.first(isolated, lambda s: not s["quorate"], t0)
    iso_seen = [(round(t - t0, 2), s["quorate"]) for t, s in qw.of(isolated, t0, t_end) if s is not None]
    last_quorate = max((t for t, q in iso_seen if q), default=None)
    fence_s = round(fences[0]["done"] - t0, 2) if fences else None
    measured = {
        "isolated": isolated,
        "links_cut": cut,
        "dc_before": dc_before,
        "vip_placed_on_isolated": moved,
        "fenced": fenced,
        "fence_done_s": fence_s,
        "survivors": survivors,
        "vip_holders_after": holders_now,
        "vip_on_other_side_s": vip_s,
        "max_vip_holders": most,
        "vip_holders_at_max": who,
        "isolated_quorum_lost_s": lost_s,
        "isolated_last_quorate_s": last_quorate,
        "isolated_quorate_samples": iso_q[:40],
        "winner_quorum_samples": len(win_q),
        "winner_always_quorate": bool(win_q) and all(win_q),
        "fence_delays_s": delays,
        "vip_timeline": timeline(watch, vip.address, t0),
        **_vip_figures(watch, vip.address, t0, winners),
    }
    checks = [
        make_check("analysis: the winner (the only quorate side)", winners, survivors),
        make_check("exactly one node fenced, the predicted loser", [isolated], fenced),
        make_check(
            "VIP held by exactly one node afterwards, a winner",
            True,
            len(holders_now) == 1 and holders_now[0] in winners,
        ),
        make_check("VIP never held by two nodes (samples every 0.05 s)", 1, most, most <= 1),
        make_check("VIP on the winner within (s)", f"<= {bound:.1f}", vip_s, vip_s is not None and vip_s <= bound),
        make_check("the winner stays quorate throughout (corosync-quorumtool)", True, bool(win_q) and all(win_q)),
        make_check(
            "analysis: no split brain for this partition", False, most > 1, not pred["split_brain"] and most <= 1
        ),
    ]
    if qshape == "two_node":
        race = round(tm.detect_s + delays[winners[0]], 2)
        checks.append(
            make_check(
                "the loser is fenced before the delayed device could fence the winner (s)",
                f"< {race:.1f} (detection + pcmk_delay_base {delays[winners[0]]} s)",
                fence_s,
                fence_s is not None and fence_s < race,
            )
        )
        reason = (
            f"two_node: each node alone is quorate; both fence the other, the device fencing {winners[0]} "
            f"waits pcmk_delay_base={delays[winners[0]]} s, so {winners[0]} fences {isolated} first"
        )
    else:
        # corosync keeps the isolated node's last quorum state while it waits for its qdevice's poll
        # after the membership change ("waiting for quorum device Qdevice poll (but maximum for
        # <sync_timeout> ms)"): it is quorate, alone, until that wait ends or the winner fences it.
        lose_by = round(tm.detect_s + tm.qdevice_sync_ms / 1000 + MARGIN_S, 2)
        ended = lost_s if lost_s is not None else fence_s
        checks.append(
            make_check(
                f"analysis: {isolated} not quorate (1 of 3 votes): it loses quorum, or is fenced, "
                "within token + consensus + the device's sync_timeout (s)",
                f"<= {lose_by:.1f}",
                {"quorum_lost_s": lost_s, "fenced_s": fence_s, "last_seen_quorate_s": last_quorate},
                ended is not None and ended <= lose_by and not pred["quorate"][isolated],
            )
        )
        reason = (
            f"{isolated} reaches 1 of 3 votes (itself), {', '.join(winners)} reach 2 (itself and qnetd on "
            f"{pl.qnetd_member().node}): they fence {isolated} and take the VIP"
        )
    t1 = time.monotonic()
    if moved:
        unplace(pl, rid, avoid=isolated)
    pl.isolate(isolated, cut=False)
    _restore(pl, pl.nodes)
    measured["heal_and_settle_s"] = round(time.monotonic() - t1, 2)
    observations = []
    if last_quorate is not None and last_quorate > tm.detect_s:
        observations.append(
            f"{isolated} still reported Quorate: Yes {last_quorate:.2f} s after the cut (the other side had its new "
            f"membership after about {tm.detect_s:.1f} s): "
            + (
                "with two_node each node alone is quorate; the fence race, not quorum, decided"
                if qshape == "two_node"
                else "corosync keeps its last quorum state while it waits for the qdevice's poll; fencing, not "
                "quorum, kept the VIP single in that window"
            )
            + f" ({isolated} fenced at {fence_s} s). The analysis' evaluation has no such transient."
        )
    return {
        "prediction": {
            **pred,
            "vip_on_winner_within_s": bound,
            "timeouts": tm.as_json(),
            "why": tm.why(fencing=True) + (f" + {extra:g} s quorum device timeout" if extra else ""),
            "reason": reason,
        },
        "measured": measured,
        "checks": checks,
        "observations": observations,
    }


def crash(pl: PacemakerLab, watch: HolderWatch, qw: QuorumWatch) -> dict[str, Any]:
    """The VIP holder loses power; the other node keeps quorum (two_node, or its vote plus qnetd's)."""
    from hamodel.analysis.components import node_id

    _qdevice_voting(pl)
    vip = vip_of(pl)
    victim = pl.vip_holders(vip.address)[0]
    other = next(n for n in pl.nodes if n != victim)
    pred = analysis_prediction(pl.arch, pl.dep, [node_id(victim)])
    tm = QTimeouts(pl, other)
    # The device that fences the victim waits its pcmk_delay_base first: a delay that wins the
    # fence race for the victim costs its failover as much.
    delay = _delay_for(pl, victim)
    bound = round(tm.bound(fencing=True) + delay, 2)
    fenced_before = len(pl.fence_log())
    time.sleep(1.0)
    t0 = time.monotonic()
    pl.power_off(victim)
    try:
        pl.wait(lambda: other in pl.vip_holders(vip.address), bound + 30, "the VIP on the survivor", every=SAMPLE_S)
    except LabError:
        pass
    time.sleep(1.0)
    t_end = time.monotonic()
    fences = [f for f in _fences_since(pl, fenced_before) if f["plug"] == victim]
    vip_s = first_when(watch, vip.address, t0, lambda h: other in h)
    most, who = holders_max(watch, vip.address, t0)
    surv = qw.answered(other, t0, t_end)
    fence_s = round(fences[0]["done"] - t0, 2) if fences else None
    measured = {
        "victim": victim,
        "survivor": other,
        "vip_on_survivor_s": vip_s,
        "fenced": [victim] if fences else [],
        "fence_done_s": fence_s,
        "max_vip_holders": most,
        "vip_holders_at_max": who,
        "survivor_quorum_samples": len(surv),
        "survivor_always_quorate": bool(surv) and all(s["quorate"] for s in surv),
        "survivor_votes": sorted({s["total_votes"] for s in surv if s["total_votes"] is not None}),
        "survivor_flags": (surv[-1]["flags"] if surv else []),
        "vip_timeline": timeline(watch, vip.address, t0),
        **_vip_figures(watch, vip.address, t0, [other]),
    }
    checks = [
        make_check(
            f"analysis: {other} quorate without {victim}",
            pred["quorate"][other],
            bool(surv) and all(s["quorate"] for s in surv),
        ),
        make_check(
            "analysis: the VIP service stays up (survivor may hold it)",
            pred["service_up"] and other in pred["may_hold_vip"],
            vip_s is not None,
        ),
        make_check("VIP on the survivor within (s)", f"<= {bound:.1f}", vip_s, vip_s is not None and vip_s <= bound),
        make_check(
            "the crashed node is fenced before the VIP moves",
            True,
            fence_s is not None and vip_s is not None and fence_s <= vip_s,
        ),
        make_check("VIP never held by two nodes", 1, most, most <= 1),
    ]
    t1 = time.monotonic()
    _restore(pl, [victim])
    measured["rejoin_s"] = round(time.monotonic() - t1, 2)
    return {
        "prediction": {
            **pred,
            "vip_on_survivor_within_s": bound,
            "why": tm.why(fencing=True)
            + (f" + {delay} s pcmk_delay_base of the device fencing {victim}" if delay else ""),
            "reason": f"{victim} loses power; {other} alone keeps quorum ("
            + ("two_node" if shape(pl.arch) == "two_node" else f"its vote and qnetd's on {pl.qnetd_member().node}")
            + f"), fences {victim} and starts the VIP",
            "timeouts": tm.as_json(),
        },
        "measured": measured,
        "checks": checks,
    }


def qnetd_loss_then_crash(pl: PacemakerLab, watch: HolderWatch, qw: QuorumWatch) -> dict[str, Any]:
    """corosync-qnetd dies: both nodes keep quorum (2 of 3 votes), the VIP stays. Then the node
    that does not hold the VIP loses power: the holder alone has 1 of 3 votes, loses quorum and
    stops the VIP (no-quorum-policy=stop); nobody may start it again (nor fence) without quorum."""
    from hamodel.analysis.components import QNETD, node_id, proc_id

    vip = vip_of(pl)
    q = pl.qnetd_member().node
    holder = pl.vip_holders(vip.address)[0]
    victim = next(n for n in pl.nodes if n != holder)
    step1 = [proc_id(QNETD, q)]
    step2 = step1 + [node_id(victim)]
    pred1 = analysis_prediction(pl.arch, pl.dep, step1)
    pred2 = analysis_prediction(pl.arch, pl.dep, step2)
    cuts = cut_sets(pl.dep, pred2["service"])
    tm = QTimeouts(pl, holder)
    vote_bound = round(tm.qdevice_ms / 1000 + MARGIN_S, 2)
    # After the membership change votequorum waits for the qdevice's next poll (its cast-vote timer
    # runs every timeout/2, voting NACK without qnetd) before it decides: the quorum loss comes then.
    poll_s = tm.qdevice_ms / 2000
    lose_bound = round(tm.detect_s + poll_s + MARGIN_S, 2)
    stop_bound = round(tm.detect_s + poll_s + REACT_S + START_S + MARGIN_S, 2)
    watch_s = round(tm.bound(fencing=True) + tm.qdevice_ms / 1000, 2)  # as long as a takeover would have taken
    fenced_before = len(pl.fence_log())
    time.sleep(1.0)
    t0 = time.monotonic()
    pl.stop_qnetd()
    votes_s: dict[str, float | None] = dict.fromkeys(pl.nodes)
    while time.monotonic() - t0 < vote_bound + 20 and None in votes_s.values():
        for n in pl.nodes:
            if votes_s[n] is None and (pl.quorum_status(n) or {}).get("total_votes") == 2:
                votes_s[n] = round(time.monotonic() - t0, 2)
        time.sleep(0.1)
    time.sleep(2.0)
    t1 = time.monotonic()
    after1 = {n: pl.quorum_status(n) for n in pl.nodes}
    holders1 = pl.vip_holders(vip.address)
    pl.power_off(victim)
    try:
        pl.wait(lambda: not pl.vip_holders(vip.address), stop_bound + 30, "the VIP stopped", every=SAMPLE_S)
    except LabError:
        pass
    while time.monotonic() < t1 + watch_s:
        time.sleep(0.2)
    t_end = time.monotonic()
    stopped_s = first_when(watch, vip.address, t1, lambda h: not h)
    back = [t for t, h in watch.since(vip.address, t1) if h and stopped_s is not None and t - t1 > stopped_s]
    lost_s = qw.first(holder, lambda s: not s["quorate"], t1)
    surv = qw.answered(holder, t1 + tm.detect_s + MARGIN_S, t_end)
    fences = _fences_since(pl, fenced_before)
    measured = {
        "qnetd_host": q,
        "holder": holder,
        "crashed": victim,
        "qdevice_vote_gone_s": votes_s,
        "after_qnetd_loss": after1,
        "vip_holders_after_qnetd_loss": holders1,
        "holder_quorum_lost_s": lost_s,
        "vip_stopped_s": stopped_s,
        "vip_restarted": bool(back),
        "holder_quorate_later": sorted({s["quorate"] for s in surv}),
        "watched_s": round(t_end - t1, 2),
        "fenced": sorted({f["plug"] for f in fences}),
        "vip_timeline": timeline(watch, vip.address, t0),
        "max_vip_holders": holders_max(watch, vip.address, t0)[0],
        **_vip_figures(watch, vip.address, t1, []),
    }  # nobody is to take it over
    checks = [
        make_check(
            "analysis, qnetd lost: both nodes quorate",
            dict.fromkeys(pl.nodes, True),
            {n: bool(s and s["quorate"]) for n, s in after1.items()},
            all(pred1["quorate"].values()) and all(s and s["quorate"] for s in after1.values()),
        ),
        make_check(
            "the quorum device's vote is gone within the device timeout (s)",
            f"<= {vote_bound:.1f}",
            votes_s,
            all(x is not None and x <= vote_bound for x in votes_s.values()),
        ),
        make_check("qnetd lost: the VIP stays where it was", [holder], holders1),
        make_check(
            f"analysis: {{qnetd, {victim}}} is a cut set of {pred2['service']}",
            True,
            sorted(step2) in cuts and not pred2["service_up"],
        ),
        make_check(
            f"analysis: {holder} alone (1 of 3 votes) quorate",
            pred2["quorate"][holder],
            any(s["quorate"] for s in surv) if surv else None,
        ),
        make_check(
            f"{holder} loses quorum within token + consensus + the qdevice poll (timeout/2) (s)",
            f"<= {lose_bound:.1f}",
            lost_s,
            lost_s is not None and lost_s <= lose_bound,
        ),
        make_check(
            "the VIP is stopped (no-quorum-policy=stop) within (s)",
            f"<= {stop_bound:.1f}",
            stopped_s,
            stopped_s is not None and stopped_s <= stop_bound,
        ),
        make_check(
            f"service down: nobody holds the VIP for the rest of {watch_s:.0f} s, nobody fenced",
            "down",
            "down" if stopped_s is not None and not back and not fences else "up",
            stopped_s is not None and not back and not fences,
        ),
    ]
    # Beyond the analysis (which has no memory): qnetd returns, the holder gets the device's vote
    # back (2 of 3 votes) but wait_for_all keeps it inquorate until it has seen every node again.
    t2 = time.monotonic()
    offset = pl.log_size(holder, "corosync")
    pl.start_qnetd()
    back = None
    while time.monotonic() - t2 < tm.qdevice_ms / 1000 + 20:
        st = pl.quorum_status(holder) or {}
        if st.get("total_votes") == 2:
            back = st
            break
        time.sleep(0.25)
    time.sleep(2.0)
    st = pl.quorum_status(holder) or {}
    measured["qnetd_back"] = {
        "vote_back_s": round(time.monotonic() - t2 - 2.0, 2) if back else None,
        "holder_quorate": st.get("quorate"),
        "total_votes": st.get("total_votes"),
        "flags": st.get("flags"),
        "corosync_says": sorted(
            set(
                re.findall(
                    r"Waiting for all cluster members\. Current votes: "
                    r"\d+ expected_votes: \d+",
                    pl.log_since(holder, offset, "corosync"),
                )
            )
        ),
    }
    measured["analysis_with_qnetd_back"] = analysis_prediction(pl.arch, pl.dep, [node_id(victim)])["quorate"]
    qb = measured["qnetd_back"]
    observations = []
    if qb["total_votes"] == 2 and qb["holder_quorate"] is False and measured["analysis_with_qnetd_back"][holder]:
        observations.append(
            f"qnetd back: {holder} has the device's vote again (2 of 3 votes) but stays inquorate until {victim} "
            f"returns: wait_for_all re-arms when a partition loses quorum (corosync: {'; '.join(qb['corosync_says'])}). "
            f"The analysis, which has no memory, says {holder} with qnetd is quorate."
        )
    _restore(pl, [victim])
    measured["recovered_s"] = round(time.monotonic() - t2, 2)
    return {
        "prediction": {
            "qnetd_lost": pred1,
            "then_node_crash": pred2,
            "cut_sets": cuts,
            "vote_gone_within_s": vote_bound,
            "quorum_lost_within_s": lose_bound,
            "vip_stopped_within_s": stop_bound,
            "timeouts": tm.as_json(),
            "reason": f"without qnetd both nodes keep 2 of 3 votes; then {victim} loses power and "
            f"{holder} alone has 1 of 3: it loses quorum and stops the VIP "
            "(no-quorum-policy=stop), nobody may start it or fence",
            "why": f"device timeout {tm.qdevice_ms} ms + {MARGIN_S:g} s for the vote; "
            f"{tm.why(fencing=False)} + {poll_s:g} s qdevice poll for the stop",
        },
        "measured": measured,
        "checks": checks,
        "observations": observations,
    }


class QuorumScenario(WholeClusterScenario):
    """A scenario of a two_node or quorum-device cluster (``shape``)."""

    shape: ClassVar[str]
    step: ClassVar[Callable[[PacemakerLab, HolderWatch, QuorumWatch], dict[str, Any]]]

    @classmethod
    def run(cls, ctx: ClusterRun) -> dict[str, Any]:
        return cls.step(ctx.lab, ctx.watch, ctx.quorum)


class TwoNodePartition(QuorumScenario):
    kind, shape, step = "two-node-partition", "two_node", staticmethod(partition)
    title = "two_node: a partition ends in a fence race that the node fenced by the delayed device wins"


class TwoNodeCrash(QuorumScenario):
    kind, shape, step = "two-node-crash", "two_node", staticmethod(crash)
    title = "two_node: the VIP holder loses power, the other node alone keeps quorum and takes over"


class QdevicePartition(QuorumScenario):
    kind, shape, step = "qdevice-partition", "qdevice", staticmethod(partition)
    title = "quorum device: a partition isolates the VIP holder; the side that reaches qnetd wins"


class QdeviceNodeCrash(QuorumScenario):
    kind, shape, step = "qdevice-node-crash", "qdevice", staticmethod(crash)
    title = "quorum device: the VIP holder loses power; the survivor plus qnetd keep quorum"


class QnetdLossNodeCrash(QuorumScenario):
    kind, shape, step = "qnetd-loss-node-crash", "qdevice", staticmethod(qnetd_loss_then_crash)
    title = (
        "quorum device: qnetd dies (nothing changes), then a node crash leaves the survivor "
        "without quorum: the service stops"
    )


#: The scenarios of the two quorum shapes, in the report's order.
SCENARIO_KINDS: tuple[type[QuorumScenario], ...] = (
    TwoNodePartition,
    TwoNodeCrash,
    QdevicePartition,
    QdeviceNodeCrash,
    QnetdLossNodeCrash,
)
SCENARIOS: dict[str, tuple[str, ...]] = {
    q: tuple(c.kind for c in SCENARIO_KINDS if c.shape == q) for q in ("two_node", "qdevice")
}
TITLES = {c.kind: c.title for c in SCENARIO_KINDS}


def run_quorum(
    arch: Architecture,
    *,
    lock: Path | None = None,
    scenarios: list[str] | None = None,
    model_file: str | None = None,
    progress: Callable[[str], None] | None = None,
    dep=None,
    files=None,
) -> dict[str, Any]:
    """Bring up the model's 2-node cluster (with its qnetd host), run the scenarios of its quorum
    shape, tear down whatever happens. The report has the shape of :func:`hamodel.drill.pacemaker.scenarios.run_all`'s."""
    say = progress or (lambda s: None)
    qshape = shape(arch)
    if qshape is None:
        raise LabError("the model's Pacemaker cluster is neither two_node (2 nodes) nor has a quorum device")
    names = list(scenarios or SCENARIOS[qshape])
    unknown = [n for n in names if n not in SCENARIOS[qshape]]
    if unknown:
        raise ValueError(
            f"unknown scenario(s) {', '.join(unknown)} for a {qshape} cluster; known: {', '.join(SCENARIOS[qshape])}"
        )
    with interrupted_by_kill():  # teardown runs on kill as on Ctrl-C
        pl = watch = qw = None
        t_start = time.monotonic()
        try:
            pl = open_lab(arch, lock=lock, progress=say, dep=dep, files=files)
            watch = HolderWatch(pl.lab, {v.address: pl.nodes for v in pl.plan.vips})
            watch.start()
            qw = QuorumWatch(pl)
            by_kind = {c.kind: c for c in SCENARIO_KINDS}
            out = run_each(pl, [by_kind[n] for n in names], ClusterRun(pl, watch, quorum=qw), say)
            return {
                "model": arch.name,
                "model_file": model_file,
                "kind": "pacemaker",
                "quorum_shape": qshape,
                "source": pl.plan.source,
                "nodes": pl.nodes,
                "qnetd": pl.qnetd_member().node if pl.plan.qnetd else None,
                "lab_prefix": pl.lab.prefix,
                "timings": pl.timings,
                "timeouts": QTimeouts(pl, pl.nodes[0]).as_json(),
                "substitutions": pl.substitutions,
                "notes": pl.plan.notes,
                "findings": sorted(f.id for f in pl.dep.findings),
                "daemons": {
                    "corosync": version_of(["corosync", "-v"]),
                    "pacemaker": version_of(["pacemakerd", "--version"]),
                    **({"corosync-qnetd": version_of(["corosync-qnetd", "-v"])} if pl.plan.qnetd else {}),
                },
                "scenarios": out,
                "duration_s": round(time.monotonic() - t_start, 1),
                "summary": summary(out),
            }
        finally:
            for w in (qw, watch):
                if w is not None:
                    w.stop()
            if pl is not None:
                pl.teardown()
