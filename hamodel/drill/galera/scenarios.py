"""Galera scenarios: predict from the analysis, inject on a real cluster, measure, compare.

Each scenario function takes a running :class:`~hamodel.drill.galera.GaleraLab`
and the :class:`GaleraFacts` of the model, and returns a JSON-ready dict:
``predicted`` (from the analysis: cut sets, quorum, cold-start semantics),
``measured``, ``checks`` (what, expected, measured, agreed) and ``agrees``.
Every scenario writes a bounded number of rows through the VIP (HAProxy's
generated single-writer listener) and, once the cluster is whole again,
counts them on every member: a committed row missing anywhere is lost.

Scenarios (``hamodel drill --scenario galera-NAME``, through :mod:`hamodel.drill.galera.kinds`):

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
  started again: :func:`~hamodel.analysis.failures.cold_start` with
  ``stop="crash"`` says whether the cluster re-forms by itself;
- ``restart-graceful``: every member shut down cleanly one after the other,
  all started again: ``stop="graceful"`` says whether an operator is needed;
  if the cluster does not form, the drill runs the recovery procedure
  (bootstrap the member with ``safe_to_bootstrap: 1`` / the highest seqno)
  and times it;
- ``restart-crash-missing``: every member SIGKILLed, one does not come back:
  ``cold_start(k=1)`` says whether the two others re-form by themselves; if
  not, the drill recovers each one's position (``--wsrep-recover``),
  bootstraps the most advanced one and lets the missing member rejoin later.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from hamodel.drill.galera.lab import GaleraLab, LabError, healthy
from hamodel.drill.lab import required
from hamodel.drill.margins import GALERA_S as MARGIN_S
from hamodel.model import Architecture
from hamodel.model.strategies import AppCluster

# How long a restarted cluster gets to form by itself: below Galera's pc.wait_prim_timeout (30 s),
# after which members still waiting for a primary component abort.
SELF_FORM_WAIT_S = 25.0


# -- what the analysis says -------------------------------------------------------


@dataclass
class GaleraFacts:
    """What the analysis says of the Galera service, as the scenarios need it
    (not :class:`hamodel.analysis.failures.Analysis`, which answers the questions)."""

    service: str
    process: str
    members: list[str]
    quorum: int
    cuts: list[frozenset[str]]  # minimal cut sets up to size 2
    cold: dict[str, str]  # stop ("crash" / "graceful") -> outcome with every member back
    recovery: str
    finding: dict[str, Any] | None  # the manual-recovery finding's case table for this service

    def primary_after(self, failed: set[str]) -> bool:
        """Does the cluster keep a primary component after ``failed`` components fail?"""
        return not any(c <= failed for c in self.cuts)

    def proc(self, node: str) -> str:
        return f"proc:{self.process}@{node}"


def analysis(arch: Architecture, dep, service: str) -> GaleraFacts:
    from hamodel.analysis.components import view
    from hamodel.analysis.failures import cold_start, cut_sets

    v = view(arch, dep.placement, dep.vrrp_groups)
    svc = arch.service(service)
    cuts = [frozenset(c) for c in cut_sets(arch, dep.placement, 2, dep.vrrp_groups, services=[service])[service]]
    cold = {
        stop: next(
            c.outcome for c in cold_start(arch, dep.placement, 0, dep.vrrp_groups, stop=stop) if c.service == service
        )
        for stop in ("crash", "graceful")
    }
    mr = next((f for f in (dep.findings or []) if f.id == "manual-recovery" and service in f.services), None)
    st = svc.strategy
    if not isinstance(st, AppCluster):
        raise LabError(f"{service} is not an application cluster (AppCluster): no Galera drill")
    return GaleraFacts(
        service,
        svc.process or svc.name,
        list(v.instances[service]),
        v.quorum(service),
        cuts,
        cold,
        st.recovery,
        (mr.details.get("cases", {}).get(service) if mr else None),
    )


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


def member_down(gl: GaleraLab, an: GaleraFacts) -> dict[str, Any]:
    victim = _writer(gl)
    survivors = [n for n in gl.nodes if n != victim]
    w = Writes(gl, "member-down")
    w.burst(5)
    pred_primary = an.primary_after({an.proc(victim)})
    bound = _detect_bound(gl) if gl.plan.backend is not None else None
    t0 = time.monotonic()
    gl.kill(victim)
    watch = DownWatch(gl, victim, t0, bound + 10) if bound is not None else None
    moved_s = moved_to = None
    while time.monotonic() - t0 < (bound or 5) + 10 and w.n < 200:
        ok, out = w.one()
        if ok and out != victim:
            moved_s, moved_to = round(time.monotonic() - t0, 2), out
            break
        time.sleep(0.1)
    w.burst(5)
    if watch is not None:
        watch.join()
    sts = {n: gl.status(n) for n in survivors}
    primary = all(healthy(s) for s in sts.values())
    size = min(int((s or {}).get("wsrep_cluster_size", 0)) for s in sts.values())
    gl.start(victim)
    t1 = time.monotonic()
    gl.wait_synced(gl.nodes, timeout=90)
    rejoin_s = round(time.monotonic() - t1, 2)
    lost = w.lost()
    checks = [
        make_check("survivors Primary and Synced", pred_primary, primary),
        make_check("cluster size after the failure", len(gl.nodes) - 1, size),
        make_check("committed rows lost", 0, sum(map(len, lost.values()))),
    ]
    if bound is not None:
        down_s = watch.after if watch is not None else None
        checks.append(
            make_check(
                "HAProxy marks the writer DOWN within (s)",
                f"<= {bound:.1f}",
                down_s,
                down_s is not None and down_s <= bound,
            )
        )
        checks.append(make_check("writes move to a backup member", "a survivor", moved_to, moved_to in survivors))
    return {
        "predicted": {
            "primary": pred_primary,
            "size": len(gl.nodes) - 1,
            "haproxy_down_within_s": bound,
            "why": f"no cut set of {an.service} within {{{an.proc(victim)}}}; quorum {an.quorum} of {len(an.members)}",
        },
        "measured": {
            "victim": victim,
            "haproxy_down_s": watch.after if watch is not None else None,
            "first_write_on_backup_s": moved_s,
            "new_writer": moved_to,
            "primary": primary,
            "size": size,
            "rejoin_s": rejoin_s,
            "committed": len(w.committed),
            "failed_writes": len(w.failed),
            "lost": lost,
        },
        "checks": checks,
    }


def partition(gl: GaleraLab, an: GaleraFacts) -> dict[str, Any]:
    lb = gl.plan.lb_node
    minority = next(n for n in reversed(gl.nodes) if n != lb)
    majority = [n for n in gl.nodes if n != minority]
    w = Writes(gl, "partition")
    w.burst(5)
    pred_min = an.quorum <= 1  # one member alone keeps a primary component only if the quorum is 1
    pred_maj = len(majority) >= an.quorum
    t0 = time.monotonic()
    gl.cut(minority, up=False)
    np_s = _non_primary_within(gl, minority, 60)
    refused, err = _refuses(gl, minority, "partition-minority")
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
    sts = {n: gl.status(n) for n in majority}
    maj_primary = all(healthy(s) for s in sts.values())
    maj_size = min(int((s or {}).get("wsrep_cluster_size", 0)) for s in sts.values())
    during = {n: len([1 for v in w.committed.values() if v == n]) for n in gl.nodes}
    gl.cut(minority, up=True)
    t1 = time.monotonic()
    gl.wait_synced(gl.nodes, timeout=90)
    heal_s = round(time.monotonic() - t1, 2)
    lost = w.lost()
    checks = [
        make_check("minority Primary", pred_min, np_s is None),
        make_check("minority refuses writes (ERROR 1047)", not pred_min, refused),
        make_check("minority health check HTTP status", 200 if pred_min else 503, health_min),
        make_check("majority Primary and Synced", pred_maj, maj_primary),
        make_check("majority cluster size", len(majority), maj_size),
        make_check("committed rows lost", 0, sum(map(len, lost.values()))),
    ]
    if hap is not None:
        checks.append(make_check("HAProxy stops sending to the minority", "DOWN", hap, hap.startswith("DOWN")))
    return {
        "predicted": {
            "minority_primary": pred_min,
            "majority_primary": pred_maj,
            "why": f"quorum {an.quorum} of {len(an.members)}: the minority has 1, the majority {len(majority)}",
        },
        "measured": {
            "minority": minority,
            "non_primary_after_s": None if np_s is None else round(np_s, 2),
            "minority_write": err,
            "minority_health": health_min,
            "haproxy_minority": hap,
            "majority_primary": maj_primary,
            "majority_size": maj_size,
            "heal_s": heal_s,
            "committed": len(w.committed),
            "committed_by": during,
            "lost": lost,
            "elapsed_s": round(time.monotonic() - t0, 2),
        },
        "checks": checks,
    }


def quorum_loss(gl: GaleraLab, an: GaleraFacts) -> dict[str, Any]:
    lb = gl.plan.lb_node
    # A cut set of two members' processes that spares the node holding the VIP.
    procs = {an.proc(n): n for n in gl.nodes}
    cut = next((c for c in an.cuts if len(c) == 2 and c <= set(procs) and an.proc(lb or "") not in c), None)
    if cut is None:
        cut = frozenset(an.proc(n) for n in gl.nodes[1:3])
    victims = sorted(procs[c] for c in cut)
    survivor = next(n for n in gl.nodes if n not in victims)
    w = Writes(gl, "quorum-loss")
    w.burst(5)
    pred_primary = an.primary_after(set(cut))
    for v in victims:
        gl.kill(v)
    np_s = _non_primary_within(gl, survivor, 60)
    refused, err = _refuses(gl, survivor, "quorum-loss-survivor")
    health = gl.health(survivor)
    vip_ok, vip_out = w.one()  # through the VIP: HAProxy has no healthy server left
    # Recovery (the operator's): the survivor declares itself the primary component, the others rejoin.
    t1 = time.monotonic()
    gl.sql(survivor, "SET GLOBAL wsrep_provider_options='pc.bootstrap=YES'")
    for v in victims:
        gl.start(v)
    gl.wait_synced(gl.nodes, timeout=120)
    recovery_s = round(time.monotonic() - t1, 2)
    settle(gl)
    w.burst(3)
    lost = w.lost()
    checks = [
        make_check("survivor Primary", pred_primary, np_s is None),
        make_check("survivor refuses writes (ERROR 1047)", not pred_primary, refused),
        make_check("survivor health check HTTP status", 200 if pred_primary else 503, health),
        make_check("committed rows lost", 0, sum(map(len, lost.values()))),
    ]
    return {
        "predicted": {
            "primary": pred_primary,
            "cut_set": sorted(cut),
            "why": f"{sorted(cut)} is a cut set of {an.service} (quorum {an.quorum} of {len(an.members)})",
        },
        "measured": {
            "killed": victims,
            "survivor": survivor,
            "non_primary_after_s": None if np_s is None else round(np_s, 2),
            "survivor_write": err,
            "survivor_health": health,
            "write_through_vip": "committed" if vip_ok else "refused",
            "recovery": "pc.bootstrap=YES on the survivor, killed members restarted",
            "recovery_s": recovery_s,
            "committed": len(w.committed),
            "lost": lost,
        },
        "checks": checks,
    }


def _full_restart(gl: GaleraLab, an: GaleraFacts, *, stop: Literal["crash", "graceful"]) -> dict[str, Any]:
    name = f"restart-{stop}"
    w = Writes(gl, name)
    w.burst(10)
    order: list[str] = []
    if stop == "crash":
        for n in gl.nodes:  # as close to "at once" as signals allow
            p = gl.procs[(n, "mariadbd")]
            p.popen.send_signal(signal.SIGKILL)
        for n in gl.nodes:
            gl.procs[(n, "mariadbd")].popen.wait(timeout=10)
    else:
        for n in gl.nodes:  # one after the other, as a maintenance stop does
            gl.stop(n)
            order.append(n)
    states = {n: gl.grastate(n) for n in gl.nodes}
    predicted = an.cold[stop]
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
        "stop_order": order or "all at once (SIGKILL)",
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
    lost = w.lost()
    measured.update({"committed": len(w.committed), "lost": lost})
    checks = [
        make_check("re-forms without an operator", predicted == "automatic", by_itself),
        make_check("committed rows lost", 0, sum(map(len, lost.values()))),
    ]
    if stop == "graceful":
        checks.append(
            make_check(
                "the last member stopped is the one safe to bootstrap", "1", states[order[-1]].get("safe_to_bootstrap")
            )
        )
    case = "crash, every member back" if stop == "crash" else "graceful stop of every member"
    return {
        "predicted": {
            "cold_start": predicted,
            "model_cold_start": gl.plan.strategy.cold_start,
            "manual_recovery_finding": (an.finding or {}).get(case, "no finding: automatic"),
            "procedure": an.recovery,
        },
        "measured": measured,
        "checks": checks,
    }


def restart_crash(gl: GaleraLab, an: GaleraFacts) -> dict[str, Any]:
    return _full_restart(gl, an, stop="crash")


def restart_graceful(gl: GaleraLab, an: GaleraFacts) -> dict[str, Any]:
    return _full_restart(gl, an, stop="graceful")


def restart_crash_missing(gl: GaleraLab, an: GaleraFacts) -> dict[str, Any]:
    """A crash of every member after which one does not come back (the third case)."""
    w = Writes(gl, "restart-crash-missing")
    w.burst(10)
    lb = gl.plan.lb_node
    missing = next(n for n in reversed(gl.nodes) if n != lb)
    back = [n for n in gl.nodes if n != missing]
    for n in gl.nodes:
        gl.procs[(n, "mariadbd")].popen.send_signal(signal.SIGKILL)
    for n in gl.nodes:
        gl.procs[(n, "mariadbd")].popen.wait(timeout=10)
    predicted = next(c.outcome for c in _cold(gl, an, k=1, stop="crash"))
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
    lost = w.lost()
    measured.update({"committed": len(w.committed), "lost": lost})
    return {
        "predicted": {
            "cold_start": predicted,
            "model_cold_start": gl.plan.strategy.cold_start,
            "manual_recovery_finding": (an.finding or {}).get("crash, a member missing", "no finding: automatic"),
            "procedure": an.recovery,
        },
        "measured": measured,
        "checks": [
            make_check("re-forms without an operator", predicted == "automatic", formed is not None),
            make_check("committed rows lost", 0, sum(map(len, lost.values()))),
        ],
    }


def _cold(gl: GaleraLab, an: GaleraFacts, *, k: int, stop: Literal["crash", "graceful"]):
    from hamodel.analysis.failures import cold_start

    dep = gl.dep
    return [c for c in cold_start(gl.arch, dep.placement, k, dep.vrrp_groups, stop=stop) if c.service == an.service]
