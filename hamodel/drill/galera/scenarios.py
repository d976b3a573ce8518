"""Galera scenarios: predict from the analysis, inject on a real cluster, measure, compare.

Each scenario is a kind (:class:`~hamodel.drill.galera.kinds.GaleraKind`) whose
steps the runner calls: ``predict`` (from the analysis' results, read through
:class:`~hamodel.drill.galera.facts.GaleraFacts`: cut sets, quorum, cold-start
outcomes), ``inject``, ``measure`` and ``checks`` (what, expected, measured,
agreed). Every scenario writes a bounded number of rows through the VIP (HAProxy's
generated single-writer listener) and, once the cluster is whole again,
counts them on every member: a committed row missing anywhere is lost.

Scenarios (``hamodel drill --scenario galera-NAME``):

- ``member-down``: the writer's mariadbd is killed; the analysis predicts
  the cluster stays Primary (no cut set of size 1) and HAProxy moves the
  writes to a backup within ``fall x inter`` (+ one interval, + margin);
- ``partition``: a backup member's bridge port goes down; quorum predicts
  the minority non-Primary (refusing writes, ERROR 1047, health check 503,
  HAProxy marks it DOWN) and the majority Primary;
- ``quorum-loss``: two members of a ``quorum-loss`` cut set are killed; the
  survivor turns non-Primary and refuses writes; recovery is the operator's
  ``pc.bootstrap=YES`` on the survivor, then the others rejoin;
- ``restart-crash``: every member SIGKILLed at once (a power loss), all
  started again: the analysis' cold-start outcome with
  ``stop="crash"`` says whether the cluster re-forms by itself;
- ``restart-graceful``: every member shut down cleanly one after the other,
  all started again: ``stop="graceful"`` says whether an operator is needed;
  if the cluster does not form, the drill runs the recovery procedure
  (bootstrap the member with ``safe_to_bootstrap: 1`` / the highest seqno)
  and times it;
- ``restart-crash-missing``: every member SIGKILLed, one does not come back:
  the cold-start outcome with one member missing says whether the two others re-form by themselves; if
  not, the drill recovers each one's position (``--wsrep-recover``),
  bootstraps the most advanced one and lets the missing member rejoin later.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any, ClassVar, Literal

from hamodel.drill.galera.kinds import GaleraKind, GaleraMeasurement, GaleraPrediction
from hamodel.drill.galera.lab import GaleraLab, LabError, healthy
from hamodel.drill.lab import required
from hamodel.drill.margins import GALERA_S as MARGIN_S
from hamodel.drill.results import Check

# How long a restarted cluster gets to form by itself: below Galera's pc.wait_prim_timeout (30 s),
# after which members still waiting for a primary component abort.
SELF_FORM_WAIT_S = 25.0


# -- helpers ------------------------------------------------------------------------


def make_check(what: str, expected: Any, measured: Any, agreed: bool | None = None) -> dict[str, Any]:
    return {
        "what": what,
        "expected": expected,
        "measured": measured,
        "agreed": bool(expected == measured if agreed is None else agreed),
    }


class Writes:
    """Bounded inserts through the VIP; remembers what was committed."""

    def __init__(self, gl: GaleraLab, scenario: str):
        self.gl, self.scenario = gl, scenario
        self.n = 0
        self.committed: dict[int, str] = {}  # n -> serving member
        self.failed: list[tuple[float, str]] = []
        self.log: list[tuple[float, bool, str]] = []

    def one(self) -> tuple[bool, str]:
        self.n += 1
        ok, out = self.gl.insert(self.scenario, self.n)
        t = time.monotonic()
        self.log.append((t, ok, out))
        if ok:
            self.committed[self.n] = out.strip()
        else:
            self.failed.append((t, out))
        return ok, out

    def burst(self, count: int, interval: float = 0.05) -> int:
        ok = 0
        for _ in range(count):
            ok += self.one()[0]
            time.sleep(interval)
        return ok

    def lost(self) -> dict[str, list[int]]:
        """Committed rows missing on each member (the cluster must be whole)."""
        out = {}
        for node in self.gl.nodes:
            rows = self.gl.rows(node, self.scenario)
            if rows is None:
                raise LabError(f"cannot read rows on {node}: {self.gl.brief(node)}")
            missing = sorted(set(self.committed) - rows)
            if missing:
                out[node] = missing
        return out


def settle(gl: GaleraLab, timeout: float = 90) -> None:
    """A verified steady state: every member Primary, Synced, healthy; HAProxy sees the writer UP."""
    gl.wait_synced(gl.nodes, timeout=timeout)
    if gl.wait(lambda: all(gl.health(n) == 200 for n in gl.nodes), 10, every=0.3) is None:
        raise LabError("health endpoints not all 200 after settling: " + str({n: gl.health(n) for n in gl.nodes}))
    if gl.plan.backend is not None:
        servers = [s.name for s in gl.plan.backend.servers]
        if gl.wait(lambda: all(gl.haproxy_status(s) == "UP" for s in servers), 15, every=0.2) is None:
            raise LabError(
                "haproxy does not see every galera server UP: " + str({s: gl.haproxy_status(s) for s in servers})
            )


def _writer(gl: GaleraLab) -> str:
    if gl.plan.backend is not None:
        return next(s.name for s in gl.plan.backend.servers if not s.backup)
    return gl.nodes[0]


def _detect_bound(gl: GaleraLab) -> float:
    """HAProxy marks a server down after ``fall`` failed checks ``inter`` apart (+1 interval of phase)."""
    s = required(gl.plan.backend, "the Galera backend in haproxy.cfg").servers[0]
    return (s.fall + 1) * s.inter_ms / 1000 + MARGIN_S


def _refuses(gl: GaleraLab, node: str, tag: str) -> tuple[bool, str]:
    """Does the member refuse a write (ERROR 1047, not ready for application use)?"""
    ok, out = gl.insert(tag, 1, node=node)
    err = next((line for line in out.splitlines() if line.startswith("ERROR")), out.strip()[:200])
    return (not ok and "1047" in out), err


class DownWatch(threading.Thread):
    """When HAProxy first reports ``server`` of the galera listener not UP (sampled every 50 ms)."""

    def __init__(self, gl: GaleraLab, server: str, t0: float, timeout: float):
        super().__init__(daemon=True, name=f"down-watch-{server}")
        self.gl, self.server, self.t0, self.timeout = gl, server, t0, timeout
        self.after: float | None = None
        self.start()

    def run(self) -> None:
        while time.monotonic() - self.t0 < self.timeout:
            st = self.gl.haproxy_status(self.server) or ""
            if st.startswith("DOWN"):
                self.after = round(time.monotonic() - self.t0, 2)
                return
            time.sleep(0.05)


def _non_primary_within(gl: GaleraLab, node: str, timeout: float) -> float | None:
    def np() -> bool:
        st = gl.status(node)
        return st is not None and st.get("wsrep_cluster_status") != "Primary"

    return gl.wait(np, timeout, every=0.1)


# -- scenarios ------------------------------------------------------------------------


def check(what: str, expected: Any, measured: Any, agreed: bool | None = None) -> Check:
    return Check(what, expected, measured, expected == measured if agreed is None else agreed)


def _lost_rows(details: dict[str, Any]) -> int:
    return sum(map(len, details["lost"].values()))


class GaleraMemberDown(GaleraKind):
    kind = "galera-member-down"
    title = "Galera: the writer's mariadbd dies; the cluster stays Primary"
    function = "member-down"
    reason = (
        "no minimal cut set of the Galera service has one member: two of three keep the quorum, and "
        "HAProxy moves the single writer to a backup after fall x inter of failed health checks"
    )

    def predict(self) -> GaleraPrediction:
        gl, an = self.attach()
        self.victim = _writer(gl)
        self.survivors = [n for n in gl.nodes if n != self.victim]
        self.bound = _detect_bound(gl) if gl.plan.backend is not None else None
        return self.prediction(
            {
                "primary": an.primary_after({an.proc(self.victim)}),
                "size": len(gl.nodes) - 1,
                "haproxy_down_within_s": self.bound,
                "why": f"no cut set of {an.service} within {{{an.proc(self.victim)}}}; "
                f"quorum {an.quorum} of {len(an.members)}",
            }
        )

    def inject(self) -> None:
        gl, bound = self.gl, self.bound
        self.w = Writes(gl, "member-down")
        self.w.burst(5)
        self.t0 = time.monotonic()
        gl.kill(self.victim)
        self.watch = DownWatch(gl, self.victim, self.t0, bound + 10) if bound is not None else None

    def observe(self) -> dict[str, Any]:
        gl, w, t0, watch = self.gl, self.w, self.t0, self.watch
        moved_s = moved_to = None
        while time.monotonic() - t0 < (self.bound or 5) + 10 and w.n < 200:
            ok, out = w.one()
            if ok and out != self.victim:
                moved_s, moved_to = round(time.monotonic() - t0, 2), out
                break
            time.sleep(0.1)
        w.burst(5)
        if watch is not None:
            watch.join()
        sts = {n: gl.status(n) for n in self.survivors}
        primary = all(healthy(s) for s in sts.values())
        size = min(int((s or {}).get("wsrep_cluster_size", 0)) for s in sts.values())
        gl.start(self.victim)
        t1 = time.monotonic()
        gl.wait_synced(gl.nodes, timeout=90)
        return {
            "victim": self.victim,
            "haproxy_down_s": watch.after if watch is not None else None,
            "first_write_on_backup_s": moved_s,
            "new_writer": moved_to,
            "primary": primary,
            "size": size,
            "rejoin_s": round(time.monotonic() - t1, 2),
            "committed": len(w.committed),
            "failed_writes": len(w.failed),
            "lost": w.lost(),
        }

    def checks(self, pred: GaleraPrediction, measured: GaleraMeasurement) -> list[Check]:
        p, m = pred.predicted, measured.details
        out = [
            check("survivors Primary and Synced", p["primary"], m["primary"]),
            check("cluster size after the failure", p["size"], m["size"]),
            check("committed rows lost", 0, _lost_rows(m)),
        ]
        bound = self.bound
        if bound is not None:
            down_s = m["haproxy_down_s"]
            out.append(
                check(
                    "HAProxy marks the writer DOWN within (s)",
                    f"<= {bound:.1f}",
                    down_s,
                    down_s is not None and down_s <= bound,
                )
            )
            new = m["new_writer"]
            out.append(check("writes move to a backup member", "a survivor", new, new in self.survivors))
        return out


class GaleraPartition(GaleraKind):
    kind = "galera-partition"
    title = "Galera: a partition isolates one member"
    function = "partition"
    reason = (
        "the quorum is a majority of the members: the isolated member turns non-Primary and refuses "
        "writes, its health check answers 503 and HAProxy stops sending to it; the two others stay Primary"
    )

    def predict(self) -> GaleraPrediction:
        gl, an = self.attach()
        lb = gl.plan.lb_node
        self.minority = next(n for n in reversed(gl.nodes) if n != lb)
        self.majority = [n for n in gl.nodes if n != self.minority]
        return self.prediction(
            {
                # one member alone keeps a primary component only if the quorum is 1
                "minority_primary": an.quorum <= 1,
                "majority_primary": len(self.majority) >= an.quorum,
                "why": f"quorum {an.quorum} of {len(an.members)}: the minority has 1, the majority {len(self.majority)}",
            }
        )

    def inject(self) -> None:
        self.w = Writes(self.gl, "partition")
        self.w.burst(5)
        self.t0 = time.monotonic()
        self.gl.cut(self.minority, up=False)

    def observe(self) -> dict[str, Any]:
        gl, w, minority = self.gl, self.w, self.minority
        np_s = _non_primary_within(gl, minority, 60)
        self.refused, err = _refuses(gl, minority, "partition-minority")
        health_min = gl.health(minority)
        hap = None
        if gl.plan.backend is not None:
            gl.wait(
                lambda: (
                    gl.haproxy_status(minority) not in ("UP", None)
                    and not str(gl.haproxy_status(minority)).startswith("UP")
                ),
                _detect_bound(gl) + 10,
            )
            hap = gl.haproxy_status(minority)
        w.burst(10)
        sts = {n: gl.status(n) for n in self.majority}
        during = {n: len([1 for v in w.committed.values() if v == n]) for n in gl.nodes}
        measured = {
            "minority": minority,
            "non_primary_after_s": None if np_s is None else round(np_s, 2),
            "minority_write": err,
            "minority_health": health_min,
            "haproxy_minority": hap,
            "majority_primary": all(healthy(s) for s in sts.values()),
            "majority_size": min(int((s or {}).get("wsrep_cluster_size", 0)) for s in sts.values()),
        }
        gl.cut(minority, up=True)
        t1 = time.monotonic()
        gl.wait_synced(gl.nodes, timeout=90)
        measured["heal_s"] = round(time.monotonic() - t1, 2)
        lost = w.lost()
        return {
            **measured,
            "committed": len(w.committed),
            "committed_by": during,
            "lost": lost,
            "elapsed_s": round(time.monotonic() - self.t0, 2),
        }

    def checks(self, pred: GaleraPrediction, measured: GaleraMeasurement) -> list[Check]:
        p, m = pred.predicted, measured.details
        pred_min = p["minority_primary"]
        out = [
            check("minority Primary", pred_min, m["non_primary_after_s"] is None),
            check("minority refuses writes (ERROR 1047)", not pred_min, self.refused),
            check("minority health check HTTP status", 200 if pred_min else 503, m["minority_health"]),
            check("majority Primary and Synced", p["majority_primary"], m["majority_primary"]),
            check("majority cluster size", len(self.majority), m["majority_size"]),
            check("committed rows lost", 0, _lost_rows(m)),
        ]
        hap = m["haproxy_minority"]
        if hap is not None:
            out.append(check("HAProxy stops sending to the minority", "DOWN", hap, hap.startswith("DOWN")))
        return out


class GaleraQuorumLoss(GaleraKind):
    kind = "galera-quorum-loss"
    title = "Galera: two members die (the quorum-loss cut set)"
    function = "quorum-loss"
    reason = (
        "two members are a minimal cut set (quorum-loss:galera): the survivor turns non-Primary and "
        "refuses writes until the operator bootstraps it (pc.bootstrap=YES)"
    )

    def predict(self) -> GaleraPrediction:
        gl, an = self.attach()
        lb = gl.plan.lb_node
        # A cut set of two members' processes that spares the node holding the VIP.
        procs = {an.proc(n): n for n in gl.nodes}
        cut = next((c for c in an.cuts if len(c) == 2 and c <= set(procs) and an.proc(lb or "") not in c), None)
        if cut is None:
            cut = frozenset(an.proc(n) for n in gl.nodes[1:3])
        self.victims = sorted(procs[c] for c in cut)
        self.survivor = next(n for n in gl.nodes if n not in self.victims)
        return self.prediction(
            {
                "primary": an.primary_after(set(cut)),
                "cut_set": sorted(cut),
                "why": f"{sorted(cut)} is a cut set of {an.service} (quorum {an.quorum} of {len(an.members)})",
            }
        )

    def inject(self) -> None:
        self.w = Writes(self.gl, "quorum-loss")
        self.w.burst(5)
        for v in self.victims:
            self.gl.kill(v)

    def observe(self) -> dict[str, Any]:
        gl, w, survivor, victims = self.gl, self.w, self.survivor, self.victims
        np_s = _non_primary_within(gl, survivor, 60)
        self.refused, err = _refuses(gl, survivor, "quorum-loss-survivor")
        health = gl.health(survivor)
        vip_ok, _ = w.one()  # through the VIP: HAProxy has no healthy server left
        # Recovery (the operator's): the survivor declares itself the primary component, the others rejoin.
        t1 = time.monotonic()
        gl.sql(survivor, "SET GLOBAL wsrep_provider_options='pc.bootstrap=YES'")
        for v in victims:
            gl.start(v)
        gl.wait_synced(gl.nodes, timeout=120)
        recovery_s = round(time.monotonic() - t1, 2)
        settle(gl)
        w.burst(3)
        return {
            "killed": victims,
            "survivor": survivor,
            "non_primary_after_s": None if np_s is None else round(np_s, 2),
            "survivor_write": err,
            "survivor_health": health,
            "write_through_vip": "committed" if vip_ok else "refused",
            "recovery": "pc.bootstrap=YES on the survivor, killed members restarted",
            "recovery_s": recovery_s,
            "committed": len(w.committed),
            "lost": w.lost(),
        }

    def checks(self, pred: GaleraPrediction, measured: GaleraMeasurement) -> list[Check]:
        p, m = pred.predicted["primary"], measured.details
        return [
            check("survivor Primary", p, m["non_primary_after_s"] is None),
            check("survivor refuses writes (ERROR 1047)", not p, self.refused),
            check("survivor health check HTTP status", 200 if p else 503, m["survivor_health"]),
            check("committed rows lost", 0, _lost_rows(m)),
        ]


def _kill_all(gl: GaleraLab) -> None:
    """Every member SIGKILLed, as close to "at once" as signals allow (a power loss)."""
    for n in gl.nodes:
        gl.procs[(n, "mariadbd")].popen.send_signal(signal.SIGKILL)
    for n in gl.nodes:
        gl.procs[(n, "mariadbd")].popen.wait(timeout=10)


class GaleraRestart(GaleraKind):
    """Every member stopped (``stop``), all started again: does the cluster re-form by itself?"""

    stop: ClassVar[Literal["crash", "graceful"]]
    case: ClassVar[str]  #: the manual-recovery finding's case for this stop

    def predict(self) -> GaleraPrediction:
        gl, an = self.attach()
        return self.prediction(
            {
                "cold_start": an.cold[self.stop],
                "model_cold_start": gl.plan.strategy.cold_start,
                "manual_recovery_finding": (an.finding or {}).get(self.case, "no finding: automatic"),
                "procedure": an.recovery,
            }
        )

    def inject(self) -> None:
        gl = self.gl
        self.w = Writes(gl, f"restart-{self.stop}")
        self.w.burst(10)
        self.order: list[str] = []
        if self.stop == "crash":
            _kill_all(gl)
        else:
            for n in gl.nodes:  # one after the other, as a maintenance stop does
                gl.stop(n)
                self.order.append(n)

    def observe(self) -> dict[str, Any]:
        gl, w = self.gl, self.w
        self.states = states = {n: gl.grastate(n) for n in gl.nodes}
        t0 = time.monotonic()
        for n in gl.nodes:
            gl.start(n)
        formed = gl.wait(
            lambda: all(
                healthy(gl.status(n)) and int((gl.status(n) or {}).get("wsrep_cluster_size", 0)) == len(gl.nodes)
                for n in gl.nodes
            ),
            SELF_FORM_WAIT_S,
            every=0.3,
        )
        by_itself = formed is not None
        measured: dict[str, Any] = {
            "stop_order": self.order or "all at once (SIGKILL)",
            "grastate": {n: {k: s.get(k) for k in ("seqno", "safe_to_bootstrap")} for n, s in states.items()},
            "formed_by_itself": by_itself,
            "formed_after_s": None if formed is None else round(formed, 2),
        }
        if not by_itself:
            measured["waiting"] = {n: gl.brief(n) for n in gl.nodes}

            # The recovery procedure: bootstrap the member safe to bootstrap (else the highest seqno).
            def rank(n: str) -> tuple:
                s = states[n]
                return (s.get("safe_to_bootstrap") == "1", int(s.get("seqno", "-1") or -1))

            boot = max(gl.nodes, key=rank)
            t1 = time.monotonic()
            # Waiting members take no connections (and give up after pc.wait_prim_timeout): stop them all,
            # start the chosen one as a new primary component, then the others, which join it.
            for n in gl.nodes:
                gl.kill(n)
            gl.start(boot, bootstrap=True)
            gl.wait_synced([boot], timeout=60)
            for n in gl.nodes:
                if n != boot:
                    gl.start(n)
            gl.wait_synced(gl.nodes, timeout=120)
            measured.update(
                {
                    "recovery": f"bootstrap {boot} (safe_to_bootstrap "
                    f"{states[boot].get('safe_to_bootstrap')}, seqno {states[boot].get('seqno')}) "
                    "with --wsrep-new-cluster",
                    "recovery_s": round(time.monotonic() - t1, 2),
                    "bootstrapped": boot,
                }
            )
        measured["total_s"] = round(time.monotonic() - t0, 2)
        settle(gl)
        w.burst(3)
        measured.update({"committed": len(w.committed), "lost": w.lost()})
        return measured

    def checks(self, pred: GaleraPrediction, measured: GaleraMeasurement) -> list[Check]:
        p, m = pred.predicted, measured.details
        out = [
            check("re-forms without an operator", p["cold_start"] == "automatic", m["formed_by_itself"]),
            check("committed rows lost", 0, _lost_rows(m)),
        ]
        if self.stop == "graceful":
            last = self.states[self.order[-1]].get("safe_to_bootstrap")
            out.append(check("the last member stopped is the one safe to bootstrap", "1", last))
        return out


class GaleraRestartCrash(GaleraRestart):
    kind = "galera-restart-crash"
    title = "Galera: every member crashes at once, all come back"
    function = "restart-crash"
    stop = "crash"
    case = "crash, every member back"
    reason = (
        "cold-start semantics of the model (cold_start), stop='crash': whether the cluster re-forms "
        "by itself (Galera's pc.recovery) or needs the operator"
    )


class GaleraRestartGraceful(GaleraRestart):
    kind = "galera-restart-graceful"
    title = "Galera: every member is stopped cleanly, all are started again"
    function = "restart-graceful"
    stop = "graceful"
    case = "graceful stop of every member"
    reason = (
        "cold-start semantics of the model, stop='graceful': after a clean stop of all, Galera waits "
        "for an operator to bootstrap the member that is safe to bootstrap (the last one stopped)"
    )


class GaleraRestartCrashMissing(GaleraKind):
    """A crash of every member after which one does not come back (the third case)."""

    kind = "galera-restart-crash-missing"
    title = "Galera: every member crashes, one does not come back"
    function = "restart-crash-missing"
    reason = (
        "cold-start semantics with one member missing: the two others do not form a primary "
        "component by themselves; the operator bootstraps the most advanced one (--wsrep-recover)"
    )

    def predict(self) -> GaleraPrediction:
        gl, an = self.attach()
        lb = gl.plan.lb_node
        self.missing = next(n for n in reversed(gl.nodes) if n != lb)
        self.back = [n for n in gl.nodes if n != self.missing]
        return self.prediction(
            {
                "cold_start": an.cold_missing,
                "model_cold_start": gl.plan.strategy.cold_start,
                "manual_recovery_finding": (an.finding or {}).get("crash, a member missing", "no finding: automatic"),
                "procedure": an.recovery,
            }
        )

    def inject(self) -> None:
        self.w = Writes(self.gl, "restart-crash-missing")
        self.w.burst(10)
        _kill_all(self.gl)

    def observe(self) -> dict[str, Any]:
        gl, w, back, missing = self.gl, self.w, self.back, self.missing
        t0 = time.monotonic()
        for n in back:
            gl.start(n)
        formed = gl.wait(lambda: all(healthy(gl.status(n)) for n in back), SELF_FORM_WAIT_S, every=0.3)
        measured: dict[str, Any] = {
            "missing": missing,
            "formed_by_itself": formed is not None,
            "formed_after_s": None if formed is None else round(formed, 2),
        }
        if formed is None:
            measured["waiting"] = {n: gl.brief(n) for n in back}
            # The recovery procedure after a crash: grastate says seqno -1 everywhere, so each
            # member's position comes from --wsrep-recover; the most advanced one is marked safe
            # to bootstrap and started as a new primary component, the other joins it.
            t1 = time.monotonic()
            for n in back:
                gl.kill(n)
            pos = {n: gl.recover_position(n) for n in back}
            boot = max(back, key=lambda n: pos[n])
            gl.set_safe_to_bootstrap(boot)
            gl.start(boot, bootstrap=True)
            gl.wait_synced([boot], timeout=60)
            for n in back:
                if n != boot:
                    gl.start(n)
            gl.wait_synced(back, timeout=120)
            measured.update(
                {
                    "recovered_positions": pos,
                    "bootstrapped": boot,
                    "recovery": f"--wsrep-recover on {', '.join(back)}; {boot} (highest seqno) marked "
                    "safe_to_bootstrap and started with --wsrep-new-cluster",
                    "recovery_s": round(time.monotonic() - t1, 2),
                }
            )
        measured["total_s"] = round(time.monotonic() - t0, 2)
        gl.start(missing)  # the missing member comes back later and rejoins
        settle(gl)
        w.burst(3)
        measured.update({"committed": len(w.committed), "lost": w.lost()})
        return measured

    def checks(self, pred: GaleraPrediction, measured: GaleraMeasurement) -> list[Check]:
        p, m = pred.predicted, measured.details
        return [
            check("re-forms without an operator", p["cold_start"] == "automatic", m["formed_by_itself"]),
            check("committed rows lost", 0, _lost_rows(m)),
        ]


#: Every Galera scenario kind of this module, in the order of a full drill.
GALERA_KINDS: tuple[type[GaleraKind], ...] = (
    GaleraMemberDown,
    GaleraPartition,
    GaleraQuorumLoss,
    GaleraRestartCrash,
    GaleraRestartGraceful,
    GaleraRestartCrashMissing,
)
