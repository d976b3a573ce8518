"""Pacemaker scenarios: predict from the model and the cluster's timeouts, inject on a real cluster, measure.

Each scenario is a :class:`~hamodel.drill.scenario.ClusterScenario` on a running
:class:`~hamodel.drill.pacemaker.PacemakerLab`; :func:`run_each` calls its steps
and reports ``prediction``, ``measured``, ``checks``
(:class:`~hamodel.drill.results.Check`: what, expected, measured, agreed)
and ``agreed``. A :class:`~hamodel.drill.observe.HolderWatch` samples every
:data:`~hamodel.drill.observe.SAMPLE_S` which cluster nodes hold each VIP
address, from before the injection until the cluster has settled again.

- ``node-crash``: the VIP holder loses power (every process of its
  namespace SIGKILLed, its link down, the VIP address gone with it). The
  survivors keep quorum, fence it through the lab's fence agent and start
  the VIP and cinder-volume on a survivor within the bound
  token + consensus (corosync's runtime values) + the Pacemaker allowances
  below;
- ``partition``: every link between the VIP holder's switch and the
  others is cut (the partition that the analysis of the keepalived
  architecture reports as a split brain). The isolated node loses quorum
  and, with ``no-quorum-policy=stop``, stops its resources; the majority
  fences it and starts the VIP; the VIP is never held twice.

Both scenarios end with the node back (powered on, its cluster stack
started) and the cluster settled.
"""

from __future__ import annotations

import datetime
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
from hamodel.drill.pacemaker.lab import PacemakerLab, open_lab
from hamodel.drill.results import Check, as_json
from hamodel.drill.scenario import ClusterRun, ClusterScenario
from hamodel.model import Architecture

#: After corosync has formed the new membership: the controller's reaction
#: (a new DC elected and joined when the DC was lost, the scheduler's
#: transition) before fencing starts. Measured 1-4 s on an idle 2-core lab.
REACT_S = 6.0
#: The fence action itself (fence_hamodel_lab: kill, link down), with fenced's
#: queueing and confirmation. Measured well under 1 s.
FENCE_S = 3.0
#: Starting IPaddr2 (address, ARP) and the stand-ins, with their monitors.
START_S = 3.0
#: How long the cluster may take to settle after a scenario (a booted node rejoins: dc-deadtime is 20 s).
SETTLE_S = 120.0


def make_check(what: str, expected: Any, measured: Any, agreed: bool | None = None) -> Check:
    return Check(what, expected, measured, expected == measured if agreed is None else agreed)


# -- what the analysis says, for this model and for the keepalived architecture ------


def split_brain_sets(arch: Architecture, dep) -> dict[str, list[list[str]]]:
    """The analysis' split-brain failure sets (size <= 2) of every VIP-holding service."""
    from hamodel.analysis.failures import split_brain

    sb = split_brain(arch, dep.placement, 2, dep.vrrp_groups)
    return {s: [sorted(getattr(c, "components", c)) for c in sets] for s, sets in sorted(sb.items())}


def comparison(arch: Architecture, dep, compare: Architecture | None, compare_dep=None) -> dict[str, Any]:
    """Side by side: the analysis' split-brain findings of this model and of ``compare``."""

    def one(a: Architecture, d) -> dict[str, Any]:
        groups = list(d.vrrp_groups)
        return {
            "model": a.name,
            "vip_manager": sorted({g.manager for g in groups}),
            "split_brain_findings": sorted(f.id for f in d.findings if f.kind == "split-brain"),
            "split_brain_sets": split_brain_sets(a, d),
        }

    out = {"this": one(arch, dep)}
    if compare is not None:
        if compare_dep is None:
            from hamodel.pipeline import resolve

            compare_dep = resolve(compare, analyse=True)
        out["compared"] = one(compare, compare_dep)
    return out


def fencing_enabled(configuration: str) -> bool:
    return _property(configuration, "stonith-enabled", "true").lower() in ("true", "1", "yes", "on")


def no_quorum_policy(configuration: str) -> str:
    return _property(configuration, "no-quorum-policy", "stop")


def _property(configuration: str, name: str, default: str) -> str:
    conf = ET.fromstring(configuration)
    for nv in conf.iter("nvpair"):
        if nv.get("name") == name:
            return nv.get("value") or default
    return default


# -- observation --------------------------------------------------------------------


class Locator(threading.Thread):
    """Polls, from ``observer`` nodes, where the watched resources are active (every 0.5 s)."""

    def __init__(self, pl: PacemakerLab, rids: list[str], observers: list[str]):
        super().__init__(daemon=True, name="locator")
        self.pl, self.rids, self.observers = pl, rids, observers
        self.samples: list[tuple[float, dict[str, list[str]]]] = []
        self._halt = threading.Event()
        self.start()

    def run(self) -> None:
        while not self._halt.is_set():
            for n in self.observers:
                res = self.pl.resources(n) if self.pl.alive(n) else None
                if res is not None:
                    self.samples.append((time.monotonic(), {r: [x for x, _ in res.get(r, [])] for r in self.rids}))
                    break
            self._halt.wait(0.5)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=15)

    def first(self, rid: str, where: Callable[[list[str]], bool], t0: float) -> float | None:
        return next((round(t - t0, 2) for t, s in self.samples if t >= t0 and where(s.get(rid, []))), None)


def holders_max(watch: HolderWatch, addr: str, t0: float) -> tuple[int, list[str]]:
    samples = watch.since(addr, t0)
    worst = max(samples, key=lambda s: len(s[1]), default=(0, frozenset()))
    return len(worst[1]), sorted(worst[1])


def overlap(watch: HolderWatch, addr: str, t0: float) -> tuple[float, float | None]:
    """Seconds during which two or more nodes held ``addr`` after ``t0``, and when the last
    such period ended (seconds after ``t0``; None when there was none)."""
    samples = watch.since(addr, t0)
    total, end = 0.0, None
    for (t, h), (t_next, _) in zip(samples, samples[1:]):
        if len(h) > 1:
            total += t_next - t
            end = t_next - t0
    return round(total, 2), None if end is None else round(end, 2)


def first_when(watch: HolderWatch, addr: str, t0: float, pred: Callable[[frozenset[str]], bool]) -> float | None:
    return next((round(t - t0, 2) for t, h in watch.since(addr, t0) if pred(h)), None)


class Timeouts:
    """corosync's runtime token and consensus timeouts (ms), read from a node's cmap."""

    def __init__(self, pl: PacemakerLab, node: str):
        self.token_ms = int(pl.cmap(node, "runtime.config.totem.token") or 0)
        self.consensus_ms = int(pl.cmap(node, "runtime.config.totem.consensus") or 0)
        if not self.token_ms or not self.consensus_ms:
            raise LabError(f"cannot read corosync's runtime token/consensus on {node}")

    @property
    def detect_s(self) -> float:
        return (self.token_ms + self.consensus_ms) / 1000

    def bound(self, *, fencing: bool) -> float:
        return round(self.detect_s + REACT_S + (FENCE_S if fencing else 0) + START_S + MARGIN_S, 2)

    def why(self, *, fencing: bool) -> str:
        return (
            f"token {self.token_ms} ms + consensus {self.consensus_ms} ms (corosync runtime values) + "
            f"{REACT_S:g} s controller reaction (DC election, transition)"
            + (f" + {FENCE_S:g} s fencing" if fencing else "")
            + f" + {START_S:g} s start + {MARGIN_S:g} s margin"
        )


# -- scenarios ------------------------------------------------------------------------


def vip_of(pl: PacemakerLab):
    if not pl.plan.vips:
        raise LabError("the cluster manages no VIP")
    return pl.plan.vips[0]


def _holder(pl: PacemakerLab, addr: str) -> str:
    h = pl.vip_holders(addr)
    if len(h) != 1:
        raise LabError(f"VIP {addr} held by {h or 'nobody'} before the injection")
    return h[0]


def _single_rid(pl: PacemakerLab) -> str | None:
    """The CIB id of the first single-node service (cinder-volume) present in the configuration."""
    from hamodel.drill.pacemaker.cluster_plan import resource_id

    prims = set(pl.primitives())
    return next((resource_id(s) for s in pl.plan.single if resource_id(s) in prims), None)


def settle(pl: PacemakerLab, timeout: float = SETTLE_S) -> float:
    """Every node online, a DC with quorum, every resource started, and no action pending anywhere."""
    t0 = time.monotonic()
    pl.wait(lambda: not pl.unsettled(), timeout, "the cluster settled", every=0.5, detail=pl.unsettled)
    # A node that rejoins may draw resources back (no stickiness): wait for the transitions to end.
    r = pl.tool(pl.admin_node(), ["crm_resource", "--wait", f"--timeout={int(timeout)}s"], timeout=timeout + 10)
    if r.returncode != 0:
        raise LabError(f"crm_resource --wait: exit {r.returncode}: {(r.stderr or r.stdout).strip()}")
    pl.wait(lambda: not pl.unsettled(), timeout, "the cluster settled", every=0.5, detail=pl.unsettled)
    return time.monotonic() - t0


def timeline(watch: HolderWatch, addr: str, t0: float) -> list[list]:
    """The VIP's holders from ``t0`` on, one entry per change: ``[seconds after t0, [nodes]]``."""
    out: list[list] = []
    for t, h in watch.since(addr, t0):
        if not out or out[-1][1] != sorted(h):
            out.append([round(t - t0, 2), sorted(h)])
    return out


def place(pl: PacemakerLab, rid: str, node: str) -> bool:
    """Move ``rid`` to ``node`` (crm_resource --move: a cli-prefer constraint); True when it was elsewhere."""
    admin = pl.admin_node()
    res = pl.resources(admin) or {}
    if [n for n, _ in res.get(rid, [])] == [node]:
        return False
    r = pl.tool(admin, ["crm_resource", "--move", "-r", rid, "-N", node])
    if r.returncode != 0:
        raise LabError(f"crm_resource --move {rid} to {node}: {(r.stderr or r.stdout).strip()}")
    pl.wait(
        lambda: [n for n, _ in (pl.resources(admin) or {}).get(rid, [])] == [node], 60, f"{rid} on {node}", every=0.5
    )
    settle(pl)
    return True


def unplace(pl: PacemakerLab, rid: str, avoid: str | None = None) -> None:
    """Remove the cli-prefer constraint of :func:`place` (from a quorate node other than ``avoid``)."""
    r = pl.tool(pl.admin_node(avoid), ["crm_resource", "--clear", "-r", rid])
    if r.returncode != 0:
        raise LabError(f"crm_resource --clear {rid}: {(r.stderr or r.stdout).strip()}")


class NodeCrash(ClusterScenario):
    """The VIP holder loses power: the survivors declare it lost, fence it and start the VIP
    (and cinder-volume) within the bound :class:`Timeouts` gives."""

    kind = "node-crash"
    title = "The VIP holder loses power: Pacemaker fences it and moves the VIP and cinder-volume"

    def predict(self) -> dict[str, Any]:
        pl = self.ctx.lab
        self.vip = vip = vip_of(pl)
        victim = _holder(pl, vip.address)
        survivors = [n for n in pl.nodes if n != victim]
        self.cinder = cinder = _single_rid(pl)
        self.fencing = fencing = fencing_enabled(pl.configuration)
        self.tm = tm = Timeouts(pl, survivors[0])
        self.bound = bound = tm.bound(fencing=fencing)
        self.moved_cinder = place(pl, cinder, victim) if cinder else False
        if self.moved_cinder:
            victim = _holder(pl, vip.address)  # unchanged unless a colocation moved the VIP along
            survivors = [n for n in pl.nodes if n != victim]
        self.victim, self.survivors = victim, survivors
        return {
            "vip_on_survivor_within_s": bound,
            "fencing": fencing,
            "why": tm.why(fencing=fencing),
            "reason": f"{victim} loses power; the two others keep quorum ({len(survivors)} of "
            f"{len(pl.nodes)} votes), fence it and start the VIP and cinder-volume",
        }

    def inject(self) -> None:
        pl, survivors = self.ctx.lab, self.survivors
        self.dc_before = pl.dc()
        self.loc = Locator(pl, [r for r in (self.cinder,) if r], survivors)
        self.fenced_before = len(pl.fence_log())
        self.observer = survivors[0]
        self.offset = pl.log_size(self.observer)
        time.sleep(1.0)
        self.t0, self.wall0 = time.monotonic(), datetime.datetime.now()
        pl.power_off(self.victim)

    def measure(self) -> dict[str, Any]:
        pl, watch, vip, loc = self.ctx.lab, self.ctx.watch, self.vip, self.loc
        victim, survivors, cinder, bound, t0 = self.victim, self.survivors, self.cinder, self.bound, self.t0
        moved = pl.wait(
            lambda: any(h in survivors for h in pl.vip_holders(vip.address)),
            bound + 30,
            "the VIP on a survivor",
            every=SAMPLE_S,
        )
        if cinder:
            try:
                pl.wait(
                    lambda: bool(loc.samples) and any(n in survivors for n in loc.samples[-1][1].get(cinder, [])),
                    bound + 30,
                    f"{cinder} on a survivor",
                    every=0.5,
                )
            except LabError:
                pass
        time.sleep(1.0)
        loc.stop()
        fences = [f for f in pl.fence_log()[self.fenced_before :] if f.get("plug") == victim]
        vip_s = first_when(watch, vip.address, t0, lambda h: bool(h & set(survivors)))
        new_holder = next(
            (sorted(h & set(survivors)) for t, h in watch.since(vip.address, t0) if h & set(survivors)), []
        )
        cinder_s = loc.first(cinder, lambda w: any(n in survivors for n in w), t0) if cinder else None
        cinder_on = (
            next(
                (w for t, s in loc.samples if t >= t0 for w in [s.get(cinder, [])] if any(n in survivors for n in w)),
                [],
            )
            if cinder
            else []
        )
        lost_s = pl.logged_after(self.observer, self.offset, rf"Node {re.escape(victim)} state is now lost", self.wall0)
        most, who = holders_max(watch, vip.address, t0)
        return {
            "victim": victim,
            "declared_lost_s": lost_s,
            "was_dc": self.dc_before == victim,
            "vip_on_survivor_s": vip_s,
            "new_holder": new_holder,
            "cinder_volume_on_survivor_s": cinder_s,
            "cinder_volume_on": cinder_on,
            "fenced": [f"{f['action']} {f['plug']}" for f in fences],
            "fence_done_s": round(fences[0]["done"] - t0, 2) if fences else None,
            "max_vip_holders": most,
            "vip_holders_at_max": who,
            "vip_move_wait_s": round(moved, 2),
            "vip_timeline": timeline(watch, vip.address, t0),
            "cinder_volume_placed_on_victim": self.moved_cinder,
        }

    def restore(self, measured: dict[str, Any] | None, /) -> None:
        pl = self.ctx.lab
        loc = getattr(self, "loc", None)
        if loc is not None:
            loc.stop()
        t1 = time.monotonic()
        if self.moved_cinder and self.cinder:
            unplace(pl, self.cinder, avoid=self.victim)
        pl.power_on(self.victim)
        settle(pl)
        if measured is not None:
            measured["rejoin_s"] = round(time.monotonic() - t1, 2)

    def checks(self, prediction: dict[str, Any], measured: dict[str, Any], /) -> list[Check]:
        bound, m = self.bound, measured
        lost_s, vip_s, most = m["declared_lost_s"], m["vip_on_survivor_s"], m["max_vip_holders"]
        detect = round(self.tm.detect_s + MARGIN_S, 2)
        checks = [
            make_check(
                "the survivors declare it lost within token + consensus (s)",
                f"<= {detect:.1f}",
                lost_s,
                lost_s is not None and lost_s <= detect,
            ),
            make_check("VIP on a survivor within (s)", f"<= {bound:.1f}", vip_s, vip_s is not None and vip_s <= bound),
            make_check("VIP held by at most one node", 1, most, most <= 1),
        ]
        if self.cinder:
            cinder_s = m["cinder_volume_on_survivor_s"]
            checks.append(
                make_check(
                    "cinder-volume on a survivor within (s)",
                    f"<= {bound:.1f}",
                    cinder_s,
                    cinder_s is not None and cinder_s <= bound,
                )
            )
        if self.fencing:
            fence_s = m["fence_done_s"]
            checks.append(
                make_check(
                    "the crashed node is fenced before the VIP moves",
                    "fenced first",
                    "fenced first"
                    if fence_s is not None and vip_s is not None and fence_s <= vip_s
                    else ("not fenced" if fence_s is None else "VIP moved first"),
                )
            )
        return checks


class Partition(ClusterScenario):
    """Isolate the VIP holder (made the DC first); :class:`PartitionNoFencing` runs the same
    partition with ``stonith-enabled=false`` for its duration, so that only the quorum policy acts."""

    kind = "partition"
    title = "A partition isolates the VIP holder: the minority stops, the majority fences and takes over"
    fencing: ClassVar[bool] = True

    def predict(self) -> dict[str, Any]:
        pl = self.ctx.lab
        self.vip = vip = vip_of(pl)
        self.vip_rid = pl.vip_resources.get(vip.name)
        # The worst case and a fixed order: the isolated node holds the VIP and is the DC, so its
        # partition acts on the quorum loss at once (no election needed to stop its resources).
        self.dc = dc = pl.dc()
        self.moved_vip = bool(self.vip_rid and dc and place(pl, self.vip_rid, dc))
        self.minority = minority = _holder(pl, vip.address)
        self.majority = majority = [n for n in pl.nodes if n != minority]
        self.policy = policy = no_quorum_policy(pl.configuration)
        self.shipped_fencing = fencing_enabled(pl.configuration)
        self.with_fencing = fencing = self.fencing and self.shipped_fencing
        self.tm = tm = Timeouts(pl, majority[0])
        self.bound = bound = tm.bound(fencing=fencing)
        quorum = len(pl.nodes) // 2 + 1
        # Fencing orders the minority's end before the majority's start: no overlap at all. Without
        # it, a minority that stops (no-quorum-policy=stop) ends the overlap itself, but nothing keeps
        # the majority from starting the VIP first: a transient overlap, bounded by the minority's stop.
        self.pred_split = (
            "lasting" if policy == "ignore" and not fencing else "none" if fencing else "transient at most"
        )
        return {
            "split_brain": self.pred_split,
            "no_quorum_policy": policy,
            "fencing": fencing,
            "quorum": f"{quorum} of {len(pl.nodes)} votes",
            "vip_on_majority_within_s": bound,
            "why": tm.why(fencing=fencing),
            "reason": f"{minority} alone has 1 of {len(pl.nodes)} votes (quorum {quorum}): it stops its "
            f"resources (no-quorum-policy={policy})"
            + (
                "; the majority fences it, then starts the VIP"
                if fencing
                else "; the majority starts the VIP (fencing disabled for this variant)"
            ),
        }

    def inject(self) -> None:
        pl, minority = self.ctx.lab, self.minority
        if self.shipped_fencing and not self.with_fencing:
            pl.set_property("stonith-enabled", "false")
            settle(pl)
        self.fenced_before = len(pl.fence_log())
        self.logs = {w: pl.log_size(minority, w) for w in ("pacemaker", "corosync")}
        self.offset = pl.log_size(self.majority[0])
        time.sleep(1.0)
        self.t0, self.wall0 = time.monotonic(), datetime.datetime.now()
        self.cut = pl.isolate(minority, cut=True)

    def measure(self) -> dict[str, Any]:
        pl, watch, vip = self.ctx.lab, self.ctx.watch, self.vip
        minority, majority, t0, bound = self.minority, self.majority, self.t0, self.bound
        # The minority's own view while it lives (fencing kills it).
        lost_q = None
        while time.monotonic() - t0 < bound + 30:
            if not pl.alive(minority, "corosync"):
                break
            if not pl.quorate(minority):
                lost_q = round(time.monotonic() - t0, 2)
                break
            time.sleep(0.2)
        try:
            pl.wait(
                lambda: any(h in majority for h in pl.vip_holders(vip.address)),
                bound + 30,
                "the VIP on the majority",
                every=SAMPLE_S,
            )
            pl.wait(
                lambda: minority not in pl.vip_holders(vip.address),
                30,
                "the VIP gone from the isolated node",
                every=SAMPLE_S,
            )
        except LabError:
            pass
        time.sleep(2.0)
        fences = [f for f in pl.fence_log()[self.fenced_before :] if f.get("plug") == minority]
        fence_s = round(fences[0]["done"] - t0, 2) if fences else None
        released_s = first_when(watch, vip.address, t0, lambda h: minority not in h)
        lost_s = pl.logged_after(majority[0], self.offset, rf"Node {re.escape(minority)} state is now lost", self.wall0)
        # What the minority did, from its own logs (they survive the fencing).
        plog, clog = (pl.log_since(minority, self.logs[w], w) for w in ("pacemaker", "corosync"))
        stopped = sorted(set(re.findall(rf"Result of stop operation for (\S+) on {re.escape(minority)}: ok", plog)))
        by = (
            "the isolated node itself (no quorum)"
            if self.vip_rid in stopped
            else "fencing"
            if fence_s is not None
            else "nobody"
            if released_s is None
            else "unknown"
        )
        return {
            "isolated": minority,
            "links_cut": self.cut,
            "declared_lost_by_majority_s": lost_s,
            "minority_was_dc": self.dc == minority,
            "vip_placed_on_dc": self.moved_vip,
            "minority_lost_quorum_s": lost_q,
            "minority_logged_quorum_loss": bool(
                re.search(r"non-primary component|Quorum lost|quorum lost", clog + plog)
            ),
            "minority_stopped": stopped,
            "vip_released_by_minority_s": released_s,
            "released_by": by,
            "vip_on_majority_s": first_when(watch, vip.address, t0, lambda h: bool(h & set(majority))),
            "fenced": [f"{f['action']} {f['plug']}" for f in fences],
            "fence_done_s": fence_s,
            "majority_quorate": all(pl.quorate(n) for n in majority),
        }

    def restore(self, measured: dict[str, Any] | None, /) -> None:
        """Heal the partition (the fenced node booted), fencing back on; then the figures
        that span the heal: how often the VIP was held twice, and moved after the heal."""
        pl, watch, vip, minority = self.ctx.lab, self.ctx.watch, self.vip, self.minority
        t1 = time.monotonic()
        if self.moved_vip and self.vip_rid:
            unplace(pl, self.vip_rid, avoid=minority)
        pl.isolate(minority, cut=False)
        if not pl.alive(minority) or not pl.alive(minority, "corosync"):
            pl.power_on(minority)  # fenced: the node boots and its cluster stack starts
        settle(pl)
        if self.shipped_fencing and not self.with_fencing:
            pl.set_property("stonith-enabled", "true")
            settle(pl)
        heal_s = round(time.monotonic() - t1, 2)
        if measured is None:
            return
        time.sleep(1.0)
        t0 = self.t0
        most, who = holders_max(watch, vip.address, t0)
        twice_s, twice_end = overlap(watch, vip.address, t0)
        measured.update(
            {
                "max_vip_holders": most,
                "vip_holders_at_max": who,
                "split_brain": most > 1,
                "vip_held_twice_s": twice_s,
                "vip_held_twice_until_s": twice_end,
                "samples": len(watch.since(vip.address, t0)),
                "sample_interval_s": SAMPLE_S,
                "vip_timeline": timeline(watch, vip.address, t0),
                "heal_and_settle_s": heal_s,
                "vip_moves_after_heal": max(0, len([e for e in timeline(watch, vip.address, t1) if e[1]]) - 1),
            }
        )
        links = sorted(f"link:{_vip_network(pl)}:{c}" for c in self.cut)
        this, other = self.ctx.analysis.get("this", {}), self.ctx.analysis.get("compared")
        side = {
            "partition": links,
            "pacemaker_measured_split_brain": most > 1,
            "this_model_split_brain_sets": this.get("split_brain_sets", {}),
        }
        if other is not None:
            sets = [sorted(x) for v in other.get("split_brain_sets", {}).values() for x in v]
            side.update(
                {
                    "compared_model": other["model"],
                    "compared_findings": other.get("split_brain_findings", []),
                    "compared_predicts_split_brain_for_this_partition": links in sets,
                }
            )
        measured["side_by_side"] = side

    def checks(self, prediction: dict[str, Any], measured: dict[str, Any], /) -> list[Check]:
        m, tm, bound = measured, self.tm, self.bound
        lost_s, majority_s = m["declared_lost_by_majority_s"], m["vip_on_majority_s"]
        released_s, twice = m["vip_released_by_minority_s"], (m["vip_held_twice_s"], m["vip_held_twice_until_s"])
        this = self.ctx.analysis.get("this", {})
        checks = [
            split_check(self.pred_split, m["max_vip_holders"], *twice, released_s, bound),
            make_check(
                "the majority declares it lost within token + consensus (s)",
                f"<= {tm.detect_s + MARGIN_S:.1f}",
                lost_s,
                lost_s is not None and lost_s <= tm.detect_s + MARGIN_S,
            ),
            make_check(
                "the isolated node loses quorum",
                True,
                m["minority_lost_quorum_s"] is not None or m["minority_logged_quorum_loss"],
            ),
            make_check("the majority keeps quorum", True, m["majority_quorate"]),
            make_check(
                "VIP on the majority within (s)",
                f"<= {bound:.1f}",
                majority_s,
                majority_s is not None and majority_s <= bound,
            ),
            make_check(
                "analysis of this model: split-brain findings",
                [],
                this.get("split_brain_findings", []),
                not this.get("split_brain_findings"),
            ),
        ]
        if self.with_fencing:
            checks.append(make_check("the isolated node is fenced by the majority", True, bool(m["fenced"])))
            checks.append(
                make_check(
                    "the VIP leaves the isolated node before the majority starts it",
                    True,
                    released_s is not None and majority_s is not None and released_s <= majority_s,
                )
            )
        else:
            checks.append(
                make_check(
                    "the isolated node stops its VIP itself (no-quorum-policy)",
                    self.policy == "stop",
                    bool(self.vip_rid and self.vip_rid in m["minority_stopped"]),
                )
            )
        side = m["side_by_side"]
        if "compared_model" in side:
            checks.append(
                make_check(
                    f"analysis of {side['compared_model']}: split brain for this very partition",
                    True,
                    side["compared_predicts_split_brain_for_this_partition"],
                )
            )
        return checks


def split_check(
    pred: str, most: int, twice_s: float, twice_end: float | None, released_s: float | None, bound: float
) -> Check:
    """The VIP held by two nodes: never (``pred`` "none"), or only until the minority's own stop."""
    if most <= 1:
        measured = "none"
    elif twice_end is not None and released_s is not None and twice_end <= released_s + 2 * SAMPLE_S:
        measured = f"transient ({twice_s:.2f} s, ended by the minority's stop at {released_s:.2f} s)"
    else:
        measured = f"lasting ({twice_s:.2f} s)"
    if pred == "none":
        ok = measured == "none"
    elif pred == "transient at most":
        ok = measured == "none" or (measured.startswith("transient") and released_s is not None and released_s <= bound)
    else:
        ok = True
    return make_check("VIP held by two nodes at once (split brain)", pred, measured, ok)


def _vip_network(pl: PacemakerLab) -> str:
    return pl.arch.vip(pl.plan.vips[0].name).network


class PartitionNoFencing(Partition):
    kind = "partition-no-fencing"
    title = "The same partition with fencing disabled: the quorum policy alone keeps one VIP"
    fencing = False


#: A majority cluster's scenarios, in the report's order.
SCENARIO_KINDS: tuple[type[ClusterScenario], ...] = (NodeCrash, Partition, PartitionNoFencing)
SCENARIOS = tuple(c.kind for c in SCENARIO_KINDS)
TITLES = {c.kind: c.title for c in SCENARIO_KINDS}


def run_each(
    pl: PacemakerLab, kinds: list[type[ClusterScenario]], ctx: ClusterRun, say: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Every scenario in turn, each from a settled cluster: its result as the report has it."""
    out = []
    for k in kinds:
        name = k.kind
        settle(pl)
        say(f"pacemaker scenario {name} ...")
        t0 = time.monotonic()
        sc = k(ctx)
        prediction = sc.predict()
        try:
            sc.inject()
            measured = sc.measure()
        except Exception:
            sc.restore(None)  # the node back and the cluster settled (an interrupt goes straight to teardown)
            raise
        sc.restore(measured)
        checks = sc.checks(prediction, measured)
        r = as_json({"prediction": prediction, "measured": measured, "checks": checks, **sc.extra()})
        r.update(
            {
                "name": name,
                "kind": f"pacemaker-{name}",
                "vip": pl.plan.vips[0].name,
                "title": k.title,
                "agreed": all(c["agreed"] for c in r["checks"]),
                "duration_s": round(time.monotonic() - t0, 1),
            }
        )
        say(f"  {name}: {'agrees' if r['agreed'] else 'DISAGREES'} ({r['duration_s']} s)")
        out.append(r)
    return out


def summary(out: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "scenarios": len(out),
        "agreed": sum(1 for s in out if s["agreed"]),
        "disagreed": [s["name"] for s in out if not s["agreed"]],
    }


def run_all(
    arch: Architecture,
    *,
    lock: Path | None = None,
    scenarios: list[str] | None = None,
    compare: Architecture | None = None,
    model_file: str | None = None,
    progress: Callable[[str], None] | None = None,
    dep=None,
    files=None,
    kinds: tuple[type[ClusterScenario], ...] = SCENARIO_KINDS,
) -> dict[str, Any]:
    """Bring up the model's Pacemaker cluster, run the scenarios, tear down whatever happens.

    ``kinds``: the cluster lab's scenario classes (:class:`~hamodel.drill.pacemaker.cluster.PacemakerClusterLab`
    registers them); a kind's ``real_agents`` are run for real on the lab when it is selected, and a
    kind whose ``applies(configuration)`` is false for the pushed CIB is left out (a note says so).
    """
    say = progress or (lambda s: None)
    known = tuple(c.kind for c in kinds)
    names = list(scenarios or known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown Pacemaker scenario(s) {unknown}; known: {list(known)}")
    by_kind = {c.kind: c for c in kinds}
    real = frozenset(a for n in names for a in getattr(by_kind[n], "real_agents", frozenset()))
    with interrupted_by_kill():  # teardown runs on kill as on Ctrl-C
        pl = watch = None
        t_start = time.monotonic()
        try:
            pl = open_lab(arch, lock=lock, progress=say, dep=dep, files=files, real_agents=real)
            an = comparison(arch, pl.dep, compare)
            watch = HolderWatch(pl.lab, {v.address: pl.nodes for v in pl.plan.vips})
            watch.start()
            skip = [n for n in names if not getattr(by_kind[n], "applies", lambda c: True)(pl.configuration)]
            for n in skip:
                pl.plan.notes.append(
                    f"scenario {n} left out: it does not apply to this CIB (or its daemon is not installed)"
                )
            out = run_each(pl, [by_kind[n] for n in names if n not in skip], ClusterRun(pl, watch, analysis=an), say)
            return {
                "model": arch.name,
                "model_file": model_file,
                "kind": "pacemaker",
                "source": pl.plan.source,
                "nodes": pl.nodes,
                "lab_prefix": pl.lab.prefix,
                "timings": pl.timings,
                "timeouts": {
                    "token_ms": int(pl.cmap(pl.nodes[0], "runtime.config.totem.token") or 0),
                    "consensus_ms": int(pl.cmap(pl.nodes[0], "runtime.config.totem.consensus") or 0),
                },
                "substitutions": pl.substitutions,
                "notes": pl.plan.notes,
                "analysis": an,
                "daemons": {
                    "corosync": version_of(["corosync", "-v"]),
                    "pacemaker": version_of(["pacemakerd", "--version"]),
                },
                "scenarios": out,
                "duration_s": round(time.monotonic() - t_start, 1),
                "summary": summary(out),
            }
        finally:
            if watch is not None:
                watch.stop()
            if pl is not None:
                pl.teardown()


def version_of(argv: list[str]) -> str:
    import subprocess

    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=5)
        return (p.stdout or p.stderr).splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"
