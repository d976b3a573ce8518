"""The generated Galera runbook, executed on the real lab cluster (``galera-runbook``).

After a graceful stop of every member (the case the ``manual-recovery``
finding marks manual), the steps of the runbook :func:`hamodel.runbooks.runbooks`
generated for this model are executed in order, each by its ``action``:

- ``stop`` -> SIGTERM (what ``systemctl stop mariadb`` sends);
- ``read-grastate`` -> the member's ``grastate.dat``;
- ``choose-bootstrap`` -> the runbook's rule: ``safe_to_bootstrap: 1``, else
  the highest seqno (then ``set-safe-to-bootstrap`` on it);
- ``bootstrap`` -> ``mariadbd --wsrep-new-cluster`` (what ``galera_new_cluster`` runs);
- ``start`` -> ``mariadbd`` on every member not yet running;
- ``verify-primary`` -> ``SHOW STATUS``: Primary, ready, the full size.

The lab rewrites (listed in the result): the member's own ``--defaults-file``
and data folder instead of ``/var/lib/mysql``, a process instead of the
systemd unit. A step that fails (an exception, or a verify that does not
hold within its time) fails the scenario.
"""

from __future__ import annotations

import time
from typing import Any

from hamodel.drill.galera.kinds import GaleraKind, GaleraMeasurement, GaleraPrediction
from hamodel.drill.galera.lab import GaleraLab, LabError, healthy
from hamodel.drill.galera.scenarios import Writes, check, settle
from hamodel.drill.results import Check
from hamodel.runbooks import Runbook, runbooks

REWRITES = [
    "/var/lib/mysql -> the member's lab data folder (its own --defaults-file)",
    "systemctl stop/start mariadb -> SIGTERM / mariadbd --defaults-file=... in the member's namespace",
    "galera_new_cluster -> mariadbd --defaults-file=... --wsrep-new-cluster",
]


def graceful_runbook(gl: GaleraLab) -> Runbook | None:
    """The generated runbook for a graceful stop of every member of the lab's service, if any."""
    return next(
        (r for r in runbooks(gl.dep) if r.service == gl.plan.service and r.case == "graceful stop of every member"),
        None,
    )


def execute(gl: GaleraLab, rb: Runbook, *, verify_timeout: float = 120) -> list[dict[str, Any]]:
    """Run ``rb``'s steps and verifications in order; raise LabError at the first that fails."""
    states: dict[str, dict[str, str]] = {}
    chosen: str | None = None
    log: list[dict[str, Any]] = []
    t0 = time.monotonic()
    for i, s in enumerate(rb.steps + rb.verify, 1):
        entry: dict[str, Any] = {"step": i, "action": s.action, "node": s.node or chosen, "command": s.command}
        if s.action == "choose-bootstrap":
            if not states:
                raise LabError(f"runbook step {i}: nothing read to choose from")
            chosen = max(
                states,
                key=lambda n: (states[n].get("safe_to_bootstrap") == "1", int(states[n].get("seqno", "-1") or -1)),
            )
            if states[chosen].get("safe_to_bootstrap") != "1":
                gl.set_safe_to_bootstrap(chosen)
                entry["marked_safe"] = True
            entry.update(node=chosen, at_s=round(time.monotonic() - t0, 2))
            log.append(entry)
            continue
        node = s.node if s.node is not None else chosen
        if node is None:
            raise LabError(f"runbook step {i} ({s.action}): no node given and none chosen yet")
        if s.action == "stop":
            gl.stop(node)
        elif s.action == "read-grastate":
            states[node] = gl.grastate(node)
            entry["grastate"] = {k: states[node].get(k) for k in ("seqno", "safe_to_bootstrap")}
        elif s.action == "set-safe-to-bootstrap":
            gl.set_safe_to_bootstrap(node)
        elif s.action == "bootstrap":
            gl.start(node, bootstrap=True)
            gl.wait_synced([node], timeout=verify_timeout)
        elif s.action == "start":
            if not gl.alive(node):
                gl.start(node)
                gl.wait_synced([node], timeout=verify_timeout)
            else:
                entry["note"] = "already running (the bootstrapped member)"
        elif s.action == "verify-primary":
            size = len(gl.nodes)

            def whole(n: str = node, size: int = size) -> bool:
                st = gl.status(n)
                return healthy(st) and int((st or {}).get("wsrep_cluster_size", 0)) == size

            ok = gl.wait(whole, verify_timeout, every=0.3)
            if ok is None:
                raise LabError(f"runbook verify step {i} on {node}: not Primary with {size} members: {gl.brief(node)}")
        else:
            raise LabError(f"runbook step {i}: action {s.action!r} cannot be executed by the drill")
        entry["at_s"] = round(time.monotonic() - t0, 2)
        log.append(entry)
    return log


class GaleraRunbook(GaleraKind):
    """Every member stopped gracefully, then the generated runbook; Primary, all members, nothing lost."""

    kind = "galera-runbook"
    title = "Galera: every member stopped cleanly, the generated runbook brings it back"
    function = "runbook-graceful"
    reason = (
        "the manual-recovery finding marks a graceful stop of every member manual; the runbook generated "
        "for it (read grastate.dat, bootstrap the member safe to bootstrap, start the others) must restore "
        "a Primary cluster of every member without losing a committed row"
    )

    def predict(self) -> GaleraPrediction:
        gl, an = self.attach()
        self.rb = rb = graceful_runbook(gl)
        if rb is None:
            why = f"no manual-recovery case for a graceful stop: cold start {an.cold.get('graceful')}"
            return self.prediction({"runbook": None, "why": why})
        return self.prediction({"runbook": rb.id, "finding": rb.finding, "steps": len(rb.steps) + len(rb.verify)})

    def inject(self) -> None:
        if self.rb is None:
            return
        gl = self.gl
        self.w = Writes(gl, "runbook-graceful")
        self.w.burst(10)
        self.order: list[str] = []
        for n in gl.nodes:  # one after the other, as a maintenance stop does
            gl.stop(n)
            self.order.append(n)

    def observe(self) -> dict[str, Any]:
        if self.rb is None:
            return {}
        gl, w = self.gl, self.w
        t0 = time.monotonic()
        error = None
        try:
            steps = execute(gl, self.rb)
        except LabError as exc:
            steps, error = [], str(exc)
        took = round(time.monotonic() - t0, 2)
        if error is None:
            settle(gl)
            w.burst(3)
        lost = w.lost() if error is None else {}
        self.sizes = {n: int((gl.status(n) or {}).get("wsrep_cluster_size", 0)) for n in gl.nodes}
        self.primary = all(healthy(gl.status(n)) for n in gl.nodes)
        return {
            "stop_order": self.order,
            "steps": steps,
            "error": error,
            "runbook_s": took,
            "committed": len(w.committed),
            "lost": lost,
            "rewrites": REWRITES,
        }

    def checks(self, pred: GaleraPrediction, measured: GaleraMeasurement) -> list[Check]:
        if self.rb is None:
            return []
        error = measured.details["error"]
        return [
            check("every runbook step succeeded", None, error, error is None),
            check("Primary on every member after the runbook", True, self.primary),
            check("members after the runbook", len(self.gl.nodes), min(self.sizes.values())),
            check("committed rows lost", 0, sum(map(len, measured.details["lost"].values()))),
        ]
