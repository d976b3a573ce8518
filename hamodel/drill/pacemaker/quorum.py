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
inside each node's namespaces (sampled every 0.5 s by
:class:`~hamodel.drill.pacemaker.quorum_observe.QuorumWatch`),
the VIP's holders (every :data:`~hamodel.drill.observe.SAMPLE_S`), and the
lab fence agent's log. Timing bounds come from corosync's runtime token and
consensus, the quorum device's timeouts and the fence devices' delay.

Run (as root): ``hamodel drill tests/data/pacemaker_qdevice.py``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from hamodel.drill.lab import LabError, interrupted_by_kill
from hamodel.drill.margins import PACEMAKER_S as MARGIN_S
from hamodel.drill.observe import SAMPLE_S, HolderWatch
from hamodel.drill.pacemaker.lab import open_lab
from hamodel.drill.pacemaker.quorum_observe import (
    QTimeouts,
    QuorumWatch,
    analysis_prediction,
    cut_links,
    cut_sets,
    delay_for,
    fences_since,
    qdevice_voting,
    restore_nodes,
    shape,
    vip_figures,
)
from hamodel.drill.pacemaker.scenarios import (
    FENCE_S,
    REACT_S,
    START_S,
    first_when,
    holders_max,
    make_check,
    place,
    run_each,
    summary,
    timeline,
    unplace,
    version_of,
    vip_of,
)
from hamodel.drill.results import Check
from hamodel.drill.scenario import ClusterRun, ClusterScenario
from hamodel.model import Architecture

__all__ = [
    "SCENARIOS",
    "SCENARIO_KINDS",
    "TITLES",
    "QuorumScenario",
    "analysis_prediction",
    "cut_sets",
    "run_quorum",
    "shape",
]


class QuorumScenario(ClusterScenario):
    """A scenario of a two_node or quorum-device cluster (``shape``); the lab's
    :class:`QuorumWatch` samples every node's quorum throughout (``ctx.quorum``)."""

    shape: ClassVar[str]

    @property
    def qw(self) -> QuorumWatch:
        return self.ctx.quorum


class QuorumPartition(QuorumScenario):
    """Cut the inter-switch links of one node. two_node: the loser predicted by the analysis holds
    the VIP beforehand (the winner must take it over); qdevice: the VIP holder is isolated."""

    def predict(self) -> dict[str, Any]:
        pl = self.ctx.lab
        self.vip = vip = vip_of(pl)
        self.rid = rid = pl.vip_resources[vip.name]
        self.qshape = qshape = shape(pl.arch)
        if qshape == "two_node":
            pred = analysis_prediction(pl.arch, pl.dep, cut_links(pl, pl.nodes[0]))
            winners = [n for n, q in pred["quorate"].items() if q]
            isolated = next(n for n in pl.nodes if n not in winners)
        else:
            isolated = pl.vip_holders(vip.address)[0]
            pred = analysis_prediction(pl.arch, pl.dep, cut_links(pl, isolated))
        self.isolated = isolated
        self.moved = place(pl, rid, isolated)
        self.others = others = [n for n in pl.nodes if n != isolated]
        self.winners = winners = [n for n, q in pred["quorate"].items() if q]
        self.tm = tm = QTimeouts(pl, others[0])
        self.delays = delays = {n: delay_for(pl, n) for n in pl.nodes}
        # Fencing orders the loser's end before the winner's start. two_node: the winner's own fencing
        # waits for nothing; with a quorum device the winner first needs qnetd's vote, which ffsplit gives
        # once the isolated node's qdevice connection is gone (its heartbeat timeout, the device timeout).
        extra = tm.qdevice_ms / 1000 if qshape == "qdevice" else 0.0
        self.bound = bound = round(tm.bound(fencing=True) + extra, 2)
        if qshape == "two_node":
            reason = (
                f"two_node: each node alone is quorate; both fence the other, the device fencing {winners[0]} "
                f"waits pcmk_delay_base={delays[winners[0]]} s, so {winners[0]} fences {isolated} first"
            )
        else:
            reason = (
                f"{isolated} reaches 1 of 3 votes (itself), {', '.join(winners)} reach 2 (itself and qnetd on "
                f"{pl.qnetd_member().node}): they fence {isolated} and take the VIP"
            )
        return {
            **pred,
            "vip_on_winner_within_s": bound,
            "timeouts": tm.as_json(),
            "why": tm.why(fencing=True) + (f" + {extra:g} s quorum device timeout" if extra else ""),
            "reason": reason,
        }

    def inject(self) -> None:
        pl = self.ctx.lab
        self.dc_before = pl.dc()
        self.fenced_before = len(pl.fence_log())
        time.sleep(1.0)
        self.t0 = time.monotonic()
        self.cut = pl.isolate(self.isolated, cut=True)

    def measure(self) -> dict[str, Any]:
        pl, watch, qw, vip = self.ctx.lab, self.ctx.watch, self.qw, self.vip
        isolated, others, winners, tm, delays, t0 = (
            self.isolated,
            self.others,
            self.winners,
            self.tm,
            self.delays,
            self.t0,
        )
        try:
            pl.wait(
                lambda: bool(set(pl.vip_holders(vip.address)) & set(others)),
                self.bound + 30,
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
        fences = fences_since(pl, self.fenced_before)
        most, who = holders_max(watch, vip.address, t0)
        iso_q = [s["quorate"] for s in qw.answered(isolated, t0 + tm.detect_s + MARGIN_S, t_end)]
        win_q = [s["quorate"] for n in winners for s in qw.answered(n, t0, t_end)]
        iso_seen = [(round(t - t0, 2), s["quorate"]) for t, s in qw.of(isolated, t0, t_end) if s is not None]
        return {
            "isolated": isolated,
            "links_cut": self.cut,
            "dc_before": self.dc_before,
            "vip_placed_on_isolated": self.moved,
            "fenced": sorted({f["plug"] for f in fences}),
            "fence_done_s": round(fences[0]["done"] - t0, 2) if fences else None,
            "survivors": [n for n in pl.nodes if pl.alive(n, "corosync")],
            "vip_holders_after": pl.vip_holders(vip.address),
            "vip_on_other_side_s": first_when(watch, vip.address, t0, lambda h: bool(h & set(others))),
            "max_vip_holders": most,
            "vip_holders_at_max": who,
            "isolated_quorum_lost_s": qw.first(isolated, lambda s: not s["quorate"], t0),
            "isolated_last_quorate_s": max((t for t, q in iso_seen if q), default=None),
            "isolated_quorate_samples": iso_q[:40],
            "winner_quorum_samples": len(win_q),
            "winner_always_quorate": bool(win_q) and all(win_q),
            "fence_delays_s": delays,
            "vip_timeline": timeline(watch, vip.address, t0),
            **vip_figures(watch, vip.address, t0, winners),
        }

    def restore(self, measured: dict[str, Any] | None, /) -> None:
        """Heal the partition, the fenced node booted and every vote counted again; then what the
        isolated node's quorum did past its membership change (``observations``)."""
        pl, isolated, tm = self.ctx.lab, self.isolated, self.tm
        t1 = time.monotonic()
        if self.moved:
            unplace(pl, self.rid, avoid=isolated)
        pl.isolate(isolated, cut=False)
        restore_nodes(pl, pl.nodes)
        self.observations: list[str] = []
        if measured is None:
            return
        measured["heal_and_settle_s"] = round(time.monotonic() - t1, 2)
        last_quorate, fence_s = measured["isolated_last_quorate_s"], measured["fence_done_s"]
        if last_quorate is not None and last_quorate > tm.detect_s:
            self.observations.append(
                f"{isolated} still reported Quorate: Yes {last_quorate:.2f} s after the cut (the other side had its "
                f"new membership after about {tm.detect_s:.1f} s): "
                + (
                    "with two_node each node alone is quorate; the fence race, not quorum, decided"
                    if self.qshape == "two_node"
                    else "corosync keeps its last quorum state while it waits for the qdevice's poll; fencing, not "
                    "quorum, kept the VIP single in that window"
                )
                + f" ({isolated} fenced at {fence_s} s). The analysis' evaluation has no such transient."
            )

    def checks(self, prediction: dict[str, Any], measured: dict[str, Any], /) -> list[Check]:
        m, isolated, winners, tm, bound = measured, self.isolated, self.winners, self.tm, self.bound
        most, vip_s, holders_now = m["max_vip_holders"], m["vip_on_other_side_s"], m["vip_holders_after"]
        fence_s, lost_s = m["fence_done_s"], m["isolated_quorum_lost_s"]
        checks = [
            make_check("analysis: the winner (the only quorate side)", winners, m["survivors"]),
            make_check("exactly one node fenced, the predicted loser", [isolated], m["fenced"]),
            make_check(
                "VIP held by exactly one node afterwards, a winner",
                True,
                len(holders_now) == 1 and holders_now[0] in winners,
            ),
            make_check("VIP never held by two nodes (samples every 0.05 s)", 1, most, most <= 1),
            make_check("VIP on the winner within (s)", f"<= {bound:.1f}", vip_s, vip_s is not None and vip_s <= bound),
            make_check("the winner stays quorate throughout (corosync-quorumtool)", True, m["winner_always_quorate"]),
            make_check(
                "analysis: no split brain for this partition",
                False,
                most > 1,
                not prediction["split_brain"] and most <= 1,
            ),
        ]
        if self.qshape == "two_node":
            race = round(tm.detect_s + self.delays[winners[0]], 2)
            checks.append(
                make_check(
                    "the loser is fenced before the delayed device could fence the winner (s)",
                    f"< {race:.1f} (detection + pcmk_delay_base {self.delays[winners[0]]} s)",
                    fence_s,
                    fence_s is not None and fence_s < race,
                )
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
                    {"quorum_lost_s": lost_s, "fenced_s": fence_s, "last_seen_quorate_s": m["isolated_last_quorate_s"]},
                    ended is not None and ended <= lose_by and not prediction["quorate"][isolated],
                )
            )
        return checks

    def extra(self) -> dict[str, Any]:
        return {"observations": self.observations}


class QuorumCrash(QuorumScenario):
    """The VIP holder loses power; the other node keeps quorum (two_node, or its vote plus qnetd's)."""

    def predict(self) -> dict[str, Any]:
        from hamodel.analysis.components import node_id

        pl = self.ctx.lab
        qdevice_voting(pl)
        self.vip = vip = vip_of(pl)
        self.victim = victim = pl.vip_holders(vip.address)[0]
        self.other = other = next(n for n in pl.nodes if n != victim)
        pred = analysis_prediction(pl.arch, pl.dep, [node_id(victim)])
        tm = QTimeouts(pl, other)
        # The device that fences the victim waits its pcmk_delay_base first: a delay that wins the
        # fence race for the victim costs its failover as much.
        delay = delay_for(pl, victim)
        self.bound = bound = round(tm.bound(fencing=True) + delay, 2)
        return {
            **pred,
            "vip_on_survivor_within_s": bound,
            "why": tm.why(fencing=True)
            + (f" + {delay} s pcmk_delay_base of the device fencing {victim}" if delay else ""),
            "reason": f"{victim} loses power; {other} alone keeps quorum ("
            + ("two_node" if shape(pl.arch) == "two_node" else f"its vote and qnetd's on {pl.qnetd_member().node}")
            + f"), fences {victim} and starts the VIP",
            "timeouts": tm.as_json(),
        }

    def inject(self) -> None:
        pl = self.ctx.lab
        self.fenced_before = len(pl.fence_log())
        time.sleep(1.0)
        self.t0 = time.monotonic()
        pl.power_off(self.victim)

    def measure(self) -> dict[str, Any]:
        pl, watch, vip, victim, other, t0 = self.ctx.lab, self.ctx.watch, self.vip, self.victim, self.other, self.t0
        try:
            pl.wait(
                lambda: other in pl.vip_holders(vip.address), self.bound + 30, "the VIP on the survivor", every=SAMPLE_S
            )
        except LabError:
            pass
        time.sleep(1.0)
        t_end = time.monotonic()
        fences = [f for f in fences_since(pl, self.fenced_before) if f["plug"] == victim]
        most, who = holders_max(watch, vip.address, t0)
        surv = self.qw.answered(other, t0, t_end)
        return {
            "victim": victim,
            "survivor": other,
            "vip_on_survivor_s": first_when(watch, vip.address, t0, lambda h: other in h),
            "fenced": [victim] if fences else [],
            "fence_done_s": round(fences[0]["done"] - t0, 2) if fences else None,
            "max_vip_holders": most,
            "vip_holders_at_max": who,
            "survivor_quorum_samples": len(surv),
            "survivor_always_quorate": bool(surv) and all(s["quorate"] for s in surv),
            "survivor_votes": sorted({s["total_votes"] for s in surv if s["total_votes"] is not None}),
            "survivor_flags": (surv[-1]["flags"] if surv else []),
            "vip_timeline": timeline(watch, vip.address, t0),
            **vip_figures(watch, vip.address, t0, [other]),
        }

    def restore(self, measured: dict[str, Any] | None, /) -> None:
        t1 = time.monotonic()
        restore_nodes(self.ctx.lab, [self.victim])
        if measured is not None:
            measured["rejoin_s"] = round(time.monotonic() - t1, 2)

    def checks(self, prediction: dict[str, Any], measured: dict[str, Any], /) -> list[Check]:
        m, victim, other, bound = measured, self.victim, self.other, self.bound
        vip_s, fence_s, most = m["vip_on_survivor_s"], m["fence_done_s"], m["max_vip_holders"]
        return [
            make_check(
                f"analysis: {other} quorate without {victim}",
                prediction["quorate"][other],
                m["survivor_always_quorate"],
            ),
            make_check(
                "analysis: the VIP service stays up (survivor may hold it)",
                prediction["service_up"] and other in prediction["may_hold_vip"],
                vip_s is not None,
            ),
            make_check(
                "VIP on the survivor within (s)", f"<= {bound:.1f}", vip_s, vip_s is not None and vip_s <= bound
            ),
            make_check(
                "the crashed node is fenced before the VIP moves",
                True,
                fence_s is not None and vip_s is not None and fence_s <= vip_s,
            ),
            make_check("VIP never held by two nodes", 1, most, most <= 1),
        ]


class QnetdLossThenCrash(QuorumScenario):
    """corosync-qnetd dies: both nodes keep quorum (2 of 3 votes), the VIP stays. Then the node
    that does not hold the VIP loses power: the holder alone has 1 of 3 votes, loses quorum and
    stops the VIP (no-quorum-policy=stop); nobody may start it again (nor fence) without quorum.

    :meth:`restore` goes beyond the analysis (which has no memory): qnetd returns before the
    crashed node does, and the holder's quorum is measured then (``qnetd_back``)."""

    def predict(self) -> dict[str, Any]:
        from hamodel.analysis.components import QNETD, node_id, proc_id

        pl = self.ctx.lab
        self.vip = vip = vip_of(pl)
        self.q = q = pl.qnetd_member().node
        self.holder = holder = pl.vip_holders(vip.address)[0]
        self.victim = victim = next(n for n in pl.nodes if n != holder)
        step1 = [proc_id(QNETD, q)]
        self.step2 = step2 = step1 + [node_id(victim)]
        pred1 = analysis_prediction(pl.arch, pl.dep, step1)
        pred2 = analysis_prediction(pl.arch, pl.dep, step2)
        cuts = cut_sets(pl.dep, pred2["service"])
        self.tm = tm = QTimeouts(pl, holder)
        self.vote_bound = vote_bound = round(tm.qdevice_ms / 1000 + MARGIN_S, 2)
        # After the membership change votequorum waits for the qdevice's next poll (its cast-vote timer
        # runs every timeout/2, voting NACK without qnetd) before it decides: the quorum loss comes then.
        poll_s = tm.qdevice_ms / 2000
        self.lose_bound = lose_bound = round(tm.detect_s + poll_s + MARGIN_S, 2)
        self.stop_bound = stop_bound = round(tm.detect_s + poll_s + REACT_S + START_S + MARGIN_S, 2)
        # As long as a takeover would have taken.
        self.watch_s = round(tm.bound(fencing=True) + tm.qdevice_ms / 1000, 2)
        return {
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
        }

    def inject(self) -> None:
        pl = self.ctx.lab
        self.fenced_before = len(pl.fence_log())
        time.sleep(1.0)
        self.t0 = time.monotonic()
        pl.stop_qnetd()

    def measure(self) -> dict[str, Any]:
        """The quorum device's vote gone; then the second failure, the other node's power loss."""
        pl, watch, vip, holder, victim, tm, t0 = (
            self.ctx.lab,
            self.ctx.watch,
            self.vip,
            self.holder,
            self.victim,
            self.tm,
            self.t0,
        )
        votes_s: dict[str, float | None] = dict.fromkeys(pl.nodes)
        while time.monotonic() - t0 < self.vote_bound + 20 and None in votes_s.values():
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
            pl.wait(lambda: not pl.vip_holders(vip.address), self.stop_bound + 30, "the VIP stopped", every=SAMPLE_S)
        except LabError:
            pass
        while time.monotonic() < t1 + self.watch_s:
            time.sleep(0.2)
        t_end = time.monotonic()
        stopped_s = first_when(watch, vip.address, t1, lambda h: not h)
        back = [t for t, h in watch.since(vip.address, t1) if h and stopped_s is not None and t - t1 > stopped_s]
        surv = self.qw.answered(holder, t1 + tm.detect_s + MARGIN_S, t_end)
        return {
            "qnetd_host": self.q,
            "holder": holder,
            "crashed": victim,
            "qdevice_vote_gone_s": votes_s,
            "after_qnetd_loss": after1,
            "vip_holders_after_qnetd_loss": holders1,
            "holder_quorum_lost_s": self.qw.first(holder, lambda s: not s["quorate"], t1),
            "vip_stopped_s": stopped_s,
            "vip_restarted": bool(back),
            "holder_quorate_later": sorted({s["quorate"] for s in surv}),
            "watched_s": round(t_end - t1, 2),
            "fenced": sorted({f["plug"] for f in fences_since(pl, self.fenced_before)}),
            "vip_timeline": timeline(watch, vip.address, t0),
            "max_vip_holders": holders_max(watch, vip.address, t0)[0],
            **vip_figures(watch, vip.address, t1, []),  # nobody is to take it over
        }

    def restore(self, measured: dict[str, Any] | None, /) -> None:
        """qnetd back first, then the crashed node. With a measurement: the holder gets the device's
        vote back (2 of 3 votes) but wait_for_all keeps it inquorate until it has seen every node again."""
        from hamodel.analysis.components import node_id

        pl, holder, victim = self.ctx.lab, self.holder, self.victim
        self.observations: list[str] = []
        if measured is None:
            if not pl.qnetd_alive():
                pl.start_qnetd()
            restore_nodes(pl, [victim])
            return
        t2 = time.monotonic()
        offset = pl.log_size(holder, "corosync")
        if not pl.qnetd_alive():
            pl.start_qnetd()
        back = None
        while time.monotonic() - t2 < self.tm.qdevice_ms / 1000 + 20:
            st = pl.quorum_status(holder) or {}
            if st.get("total_votes") == 2:
                back = st
                break
            time.sleep(0.25)
        time.sleep(2.0)
        st = pl.quorum_status(holder) or {}
        measured["qnetd_back"] = qb = {
            "vote_back_s": round(time.monotonic() - t2 - 2.0, 2) if back else None,
            "holder_quorate": st.get("quorate"),
            "total_votes": st.get("total_votes"),
            "flags": st.get("flags"),
            "corosync_says": sorted(
                set(
                    re.findall(
                        r"Waiting for all cluster members\. Current votes: \d+ expected_votes: \d+",
                        pl.log_since(holder, offset, "corosync"),
                    )
                )
            ),
        }
        measured["analysis_with_qnetd_back"] = analysis_prediction(pl.arch, pl.dep, [node_id(victim)])["quorate"]
        if qb["total_votes"] == 2 and qb["holder_quorate"] is False and measured["analysis_with_qnetd_back"][holder]:
            self.observations.append(
                f"qnetd back: {holder} has the device's vote again (2 of 3 votes) but stays inquorate until "
                f"{victim} returns: wait_for_all re-arms when a partition loses quorum (corosync: "
                f"{'; '.join(qb['corosync_says'])}). The analysis, which has no memory, says {holder} with "
                "qnetd is quorate."
            )
        restore_nodes(pl, [victim])
        measured["recovered_s"] = round(time.monotonic() - t2, 2)

    def checks(self, prediction: dict[str, Any], measured: dict[str, Any], /) -> list[Check]:
        pl, m, holder, victim = self.ctx.lab, measured, self.holder, self.victim
        pred1, pred2, cuts = prediction["qnetd_lost"], prediction["then_node_crash"], prediction["cut_sets"]
        after1, votes_s, later = m["after_qnetd_loss"], m["qdevice_vote_gone_s"], m["holder_quorate_later"]
        lost_s, stopped_s = m["holder_quorum_lost_s"], m["vip_stopped_s"]
        down = stopped_s is not None and not m["vip_restarted"] and not m["fenced"]
        vote_bound, lose_bound, stop_bound = self.vote_bound, self.lose_bound, self.stop_bound
        return [
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
            make_check("qnetd lost: the VIP stays where it was", [holder], m["vip_holders_after_qnetd_loss"]),
            make_check(
                f"analysis: {{qnetd, {victim}}} is a cut set of {pred2['service']}",
                True,
                sorted(self.step2) in cuts and not pred2["service_up"],
            ),
            make_check(
                f"analysis: {holder} alone (1 of 3 votes) quorate",
                pred2["quorate"][holder],
                any(later) if later else None,
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
                f"service down: nobody holds the VIP for the rest of {self.watch_s:.0f} s, nobody fenced",
                "down",
                "down" if down else "up",
                down,
            ),
        ]

    def extra(self) -> dict[str, Any]:
        return {"observations": self.observations}


class TwoNodePartition(QuorumPartition):
    kind, shape = "two-node-partition", "two_node"
    title = "two_node: a partition ends in a fence race that the node fenced by the delayed device wins"


class TwoNodeCrash(QuorumCrash):
    kind, shape = "two-node-crash", "two_node"
    title = "two_node: the VIP holder loses power, the other node alone keeps quorum and takes over"


class QdevicePartition(QuorumPartition):
    kind, shape = "qdevice-partition", "qdevice"
    title = "quorum device: a partition isolates the VIP holder; the side that reaches qnetd wins"


class QdeviceNodeCrash(QuorumCrash):
    kind, shape = "qdevice-node-crash", "qdevice"
    title = "quorum device: the VIP holder loses power; the survivor plus qnetd keep quorum"


class QnetdLossNodeCrash(QnetdLossThenCrash):
    kind, shape = "qnetd-loss-node-crash", "qdevice"
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
