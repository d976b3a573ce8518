"""``redis-promoted-kill``: the node of the promoted Redis loses power; Pacemaker promotes a survivor.

Offered for a majority cluster whose CIB runs ``ocf:heartbeat:redis`` as a
promotable clone, when Debian's ``redis-server`` is installed. The lab then
runs that agent for real on every cluster node (no stand-in:
:data:`~hamodel.drill.pacemaker.cluster_plan.REDIS_AGENT`; each node has
its own ``/etc/redis``, ``/var/lib/redis`` and an ``/etc/hosts`` naming
the nodes, see :meth:`~hamodel.drill.pacemaker.lab.PacemakerLab._redis_node`).

The scenario writes numbered keys to the promoted instance from a
survivor's namespace (the client of :mod:`hamodel.drill.keepalived.redis_loss`),
then powers the promoted node off (every process SIGKILLed, its link down),
as ``node-crash`` does. It measures, from the power loss:

- when a survivor's instance is reported ``Promoted`` by ``crm_mon``;
- when a survivor's redis-server accepts a write (``SET`` answered ``OK``,
  not ``READONLY``);
- with a VIP the CIB colocates with the promoted role (an ``IPaddr2``
  started after the promote): that it is configured on the promoted node
  alone before the power loss, when it is configured on the new primary,
  that no other node holds it on the way or after (the holder watch's
  samples, then each node's addresses), and when a client writing through
  it succeeds, answered by the new primary's redis-server (its ``run_id``);
- the acknowledged writes missing on the new primary (RPO), against the
  analysis' RPO for the service (asynchronous: any loss agrees; 0 only
  when nothing is lost).

The prediction is the analysis' recovery row of the service for a node
loss (:attr:`Deployment.recovery`, its ``scenario_rto_s``: the promoted
node lost; :mod:`hamodel.analysis.redis_promotion` derives it from
corosync's token and consensus, fencing, the agent's ``CLIENT PAUSE``
re-pointing and the clone's notification rounds, then the VIP's start).
The drill derives nothing of its own: it checks that the VIP reaches the
new primary, and a client writes through it, within ``[min - margin,
max + margin]`` (the min is a real floor: the corosync timeouts and one
re-pointing pause run before the VIP starts), and that the promotion and
the first direct write come within ``max + margin`` (they precede the
VIP; without a VIP the row ends at the promotion, and the interval applies
to it). The margin is the Pacemaker lab's (:mod:`hamodel.drill.margins`).
A row without an interval is a disagreement, never a bound made up here.
"""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from typing import Any, ClassVar

from hamodel.drill.keepalived.redis_loss import KEY as WRITER_KEY
from hamodel.drill.keepalived.redis_loss import verdict
from hamodel.drill.lab import LabError
from hamodel.drill.margins import PACEMAKER_S as MARGIN_S
from hamodel.drill.pacemaker.cluster_plan import REDIS_AGENT
from hamodel.drill.pacemaker.lab import PacemakerLab
from hamodel.drill.pacemaker.scenarios import (
    fencing_enabled,
    first_when,
    make_check,
    settle,
    timeline,
)
from hamodel.drill.scenario import ClusterRun, WholeClusterScenario

#: Seconds of writes before the power loss (the writer stops at its first error).
LOAD_S = 1.0
PROMOTED = ("Promoted", "Master")


def redis_clone(configuration: str) -> tuple[str, str, str] | None:
    """``(clone id, primitive id, port)`` of the first promotable clone of ocf:heartbeat:redis, or None."""
    conf = ET.fromstring(configuration)
    for clone in list(conf.iter("clone")) + list(conf.iter("master")):
        prim = clone.find("primitive")
        if prim is None or (prim.get("class"), prim.get("provider"), prim.get("type")) != REDIS_AGENT:
            continue
        meta = {nv.get("name"): (nv.get("value") or "").lower() for m in clone.findall("meta_attributes") for nv in m}
        if clone.tag == "master" or meta.get("promotable") in ("true", "1", "yes"):
            params = {nv.get("name"): nv.get("value") for ia in prim.findall("instance_attributes") for nv in ia}
            return clone.get("id", ""), prim.get("id", ""), params.get("port") or "6379"
    return None


def promoted_vips(configuration: str, clone: str) -> list[str]:
    """The resources the CIB colocates with the promoted role of ``clone`` (a VIP following the primary)."""
    conf = ET.fromstring(configuration)
    return sorted(
        c.get("rsc", "")
        for c in conf.iter("rsc_colocation")
        if c.get("with-rsc") == clone and c.get("with-rsc-role") in PROMOTED
    )


def ip_of(configuration: str, rid: str) -> str | None:
    """The ``ip`` parameter of the IPaddr2 primitive ``rid`` (None: not an IPaddr2)."""
    for p in ET.fromstring(configuration).iter("primitive"):
        if p.get("id") == rid and p.get("type") == "IPaddr2":
            return next(
                (nv.get("value") for ia in p.findall("instance_attributes") for nv in ia if nv.get("name") == "ip"),
                None,
            )
    return None


def predicted_interval(row: Any) -> tuple[float, float] | None:
    """The row's interval when its worst component (the promoted node) fails; None: no prediction."""
    if row is None or row.rto_s is None:
        return None
    own = getattr(row, "scenario_rto_s", None)
    return tuple(own) if own is not None else tuple(row.rto_s)  # type: ignore[return-value]


def within(what: str, measured: float | None, floor: float | None, bound: float | None):
    """A check that ``measured`` lies in ``[floor, bound]`` (no floor: ``<= bound``); no bound disagrees."""
    expected = (
        "no prediction" if bound is None else f"<= {bound:.1f}" if floor is None else f"[{floor:.1f}, {bound:.1f}]"
    )
    ok = measured is not None and bound is not None and measured <= bound and (floor is None or measured >= floor)
    return make_check(what, expected, measured, ok)


def _promoted(pl: PacemakerLab, rid: str, node: str) -> list[str]:
    res = pl.resources(node) or {}
    return [n for n, role in res.get(rid, []) if role in PROMOTED]


def _client(pl: PacemakerLab, node: str, argv: list[str], timeout: float = 10) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            ["ip", "netns", "exec", pl.lab.node_ns(node), *argv], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 124, "", "timeout")


def _accepts_write(pl: PacemakerLab, via: str, addr: str, port: str) -> bool:
    r = _client(pl, via, ["redis-cli", "-h", addr, "-p", port, "SET", "hamodel:probe", "1"], timeout=3)
    return r.returncode == 0 and r.stdout.strip() == "OK"


def _run_id(pl: PacemakerLab, via: str, addr: str, port: str) -> str | None:
    """The ``run_id`` of the redis-server answering at ``addr`` (None: no answer)."""
    r = _client(pl, via, ["redis-cli", "-h", addr, "-p", port, "INFO", "server"], timeout=3)
    return next((line.split(":", 1)[1].strip() for line in r.stdout.splitlines() if line.startswith("run_id:")), None)


def _replication(pl: PacemakerLab, via: str, addr: str, port: str) -> dict[str, str]:
    """``INFO replication`` of the redis-server at ``addr``: role, master_host,
    master_link_status, offsets (empty: no answer)."""
    r = _client(pl, via, ["redis-cli", "-h", addr, "-p", port, "INFO", "replication"], timeout=3)
    keys = ("role", "master_host", "master_link_status", "master_repl_offset", "slave_repl_offset")
    return {k: v.strip() for k, _, v in (line.partition(":") for line in r.stdout.splitlines()) if k in keys}


def _writer_keys(pl: PacemakerLab, via: str, addr: str, port: str) -> int | None:
    """How many of the writer's keys (``hamodel:w:<i>``) the redis-server at ``addr`` holds (None: no answer)."""
    r = _client(pl, via, ["redis-cli", "-h", addr, "-p", port, "--scan", "--pattern", f"{WRITER_KEY}*"], 30)
    return None if r.returncode != 0 else sum(1 for line in r.stdout.splitlines() if line.strip())


def linked_to(info: dict[str, str], primary: str, primary_addr: str) -> bool:
    """A replica of ``primary`` whose link is up (the agent names the master by node name)."""
    return (
        info.get("role") == "slave"
        and info.get("master_host") in (primary, primary_addr)
        and info.get("master_link_status") == "up"
    )


def vip_elsewhere(samples: list[tuple[float, frozenset[str]]], primary: str | None, victim: str) -> list[str]:
    """Nodes other than ``primary`` seen holding the VIP in ``samples`` (taken from the power loss on):
    a survivor that is not the new primary, or the powered-off node once the new primary holds it."""
    seen: set[str] = set()
    primary_had = False
    for _, holders in samples:
        primary_had = primary_had or primary in holders
        seen |= {h for h in holders if h != primary and (h != victim or primary_had)}
    return sorted(seen)


def redis_promoted_kill(ctx: ClusterRun) -> dict[str, Any]:
    pl: PacemakerLab = ctx.lab
    found = redis_clone(pl.configuration)
    if found is None:
        raise LabError("the CIB runs no promotable clone of ocf:heartbeat:redis")
    clone, rid, port = found
    service = next((s.name for s in pl.arch.services if s.name == rid or getattr(s, "process", None) == "redis"), rid)
    addr = {m.node: m.address for m in pl.plan.members}
    admin = pl.admin_node()
    masters = _promoted(pl, rid, admin)
    if len(masters) != 1:
        raise LabError(f"{rid}: promoted on {masters or 'no node'} before the injection")
    victim = masters[0]
    was_dc = pl.dc() == victim
    survivors = [n for n in pl.nodes if n != victim]
    observer = survivors[0]
    fencing = fencing_enabled(pl.configuration)
    vip_rids = promoted_vips(pl.configuration, clone)
    vips = [a for a in (ip_of(pl.configuration, r) for r in vip_rids) if a]
    watched = {v.address for v in pl.plan.vips}
    vip_before: list[str] = []
    if vips:
        # The IPaddr2 starts after the promote: give it the time to come up on the promoted node.
        try:
            pl.wait(lambda: pl.vip_holders(vips[0]) == [victim], 30, f"{vips[0]} on {victim}", every=0.2)
        except LabError:
            pass
        vip_before = pl.vip_holders(vips[0])
        if vip_before != [victim]:
            raise LabError(f"{vip_rids[0]} ({vips[0]}) held by {vip_before or 'no node'}, not by {victim} alone")
    row = pl.dep.recovery.get(service, "node") if getattr(pl.dep, "recovery", None) else None
    predicted = predicted_interval(row)
    if predicted is not None:
        lo, hi = predicted
        bound = round(hi + MARGIN_S, 2)
        floor = round(max(0.0, lo - MARGIN_S), 2)
        why = (
            f"the analysis' recovery row ({service}, node; its promoted node lost): [{lo:g}, {hi:g}] s, "
            f"{row.formula if row else ''}; dominated by {row.dominated_by if row else None}; "
            f"checked within [min - {MARGIN_S:g}, max + {MARGIN_S:g}] s (the lab's margin)"
        )
    else:
        bound = floor = None
        why = f"no predicted interval in the analysis' recovery table for {service}: {row.note if row else 'no row'}"
    rpo, rpo_s = (row.rpo, row.rpo_s) if row is not None else ("unknown", None)
    # The premise of the RPO (writes since the last replication): every survivor replicates the
    # promoted instance, its link up. A lab left otherwise by an earlier scenario is a disagreement
    # (measured as it was), never a loss read as "asynchronous, any loss agrees".
    replicas = lambda: {n: _replication(pl, observer, addr[n], port) for n in survivors}
    try:
        pl.wait(
            lambda: all(linked_to(i, victim, addr[victim]) for i in replicas().values()),
            30,
            f"every survivor's {rid} replicating {victim}",
            every=0.5,
        )
    except LabError:
        pass
    replication_before = replicas()
    # The writer: numbered keys to the promoted instance, from the first survivor's namespace.
    writer = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            pl.lab.node_ns(observer),
            sys.executable,
            "-m",
            "hamodel.drill.keepalived.redis_loss",
            "write",
            addr[victim],
            port,
            str(LOAD_S + 6),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = writer.stdout.readline().strip() if writer.stdout else ""
        if ready != "ready":
            raise LabError(f"the Redis writer did not start: {ready} {writer.stderr.read() if writer.stderr else ''}")
        time.sleep(LOAD_S)
        fenced_before = len(pl.fence_log())
        replication_at_kill = replicas()
        # What each survivor holds then: the new primary must keep at least that (the RPO's
        # "writes since the last replication" are the ones after this count).
        replicated = {n: _writer_keys(pl, observer, addr[n], port) for n in survivors}
        t0 = time.monotonic()
        pl.power_off(victim)
        out, err = writer.communicate(timeout=30)
    except BaseException:
        writer.kill()
        raise
    import json

    try:
        wrote = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise LabError(f"the Redis writer's output: {out[-300:]} {err[-300:]}") from None
    promoted_s = writes_s = None
    new_primary = writer_node = None
    deadline = t0 + (bound if bound is not None else 60.0) + 30
    while time.monotonic() < deadline and (promoted_s is None or writes_s is None):
        if promoted_s is None:
            on = [n for n in _promoted(pl, rid, observer) if n in survivors]
            if on:
                promoted_s, new_primary = round(time.monotonic() - t0, 2), on[0]
        if writes_s is None:
            for n in survivors:
                if _accepts_write(pl, observer, addr[n], port):
                    writes_s, writer_node = round(time.monotonic() - t0, 2), n
                    break
        time.sleep(0.25)
    vip_s = vip_primary_s = None
    vip_after: list[str] = []
    elsewhere: list[str] = []
    vip_run_id = primary_run_id = None

    def on_primary(holders: frozenset[str] | list[str]) -> bool:
        return (new_primary or writer_node) in holders if (new_primary or writer_node) else False

    if vips:
        try:
            pl.wait(
                lambda: on_primary(pl.vip_holders(vips[0])),
                max(5.0, deadline - time.monotonic()),
                "the Redis VIP on the new primary",
                every=0.1,
            )
        except LabError:
            pass
        if vips[0] in watched:  # the drill's holder watch samples it (every observe.SAMPLE_S)
            # The watch thread may lag the direct check above on a loaded machine: wait for a
            # sample taken after it, else the move it has not sampled yet reads as "never" (CI).
            t_seen = time.monotonic()
            t_wait = t_seen
            while not ctx.watch.since(vips[0], t_seen) and time.monotonic() - t_wait < 10:
                time.sleep(0.05)
            vip_s = first_when(ctx.watch, vips[0], t0, lambda h: bool(h & set(survivors)))
            vip_primary_s = first_when(ctx.watch, vips[0], t0, on_primary)
            elsewhere = vip_elsewhere(ctx.watch.since(vips[0], t0), new_primary, victim)
        elif on_primary(pl.vip_holders(vips[0])):  # a VIP of its own: when the wait saw it
            vip_s = vip_primary_s = round(time.monotonic() - t0, 2)
    vip_answers_s = None
    if vips and vip_primary_s is not None:
        t_vip = time.monotonic()
        while time.monotonic() - t_vip < 15 and not _accepts_write(pl, observer, vips[0], port):
            time.sleep(0.25)
        if _accepts_write(pl, observer, vips[0], port):
            vip_answers_s = round(time.monotonic() - t0, 2)
        # Who answered: the redis-server behind the VIP is the new primary's (same run_id).
        vip_run_id = _run_id(pl, observer, vips[0], port)
        primary_run_id = _run_id(pl, observer, addr[new_primary], port) if new_primary else None
    if vips:
        vip_after = pl.vip_holders(vips[0])
        if vips[0] in watched:
            elsewhere = vip_elsewhere(ctx.watch.since(vips[0], t0), new_primary, victim)
        elsewhere = sorted(set(elsewhere) | {h for h in vip_after if h != new_primary})
    present = None
    if writer_node is not None:
        r = _client(
            pl,
            observer,
            [
                sys.executable,
                "-m",
                "hamodel.drill.keepalived.redis_loss",
                "count",
                addr[writer_node],
                port,
                str(wrote["acknowledged"]),
            ],
            timeout=60,
        )
        try:
            present = json.loads(r.stdout.strip().splitlines()[-1])["present"]
        except (ValueError, IndexError, KeyError):
            present = None
    lost, rpo_agreed = verdict(wrote["acknowledged"], present, rpo_s) if present is not None else (None, False)
    fences = [f for f in pl.fence_log()[fenced_before:] if f.get("plug") == victim]
    fence_s = round(fences[0]["done"] - t0, 2) if fences else None
    measured = {
        "victim": victim,
        "was_dc": was_dc,
        "survivors": survivors,
        "new_primary": new_primary,
        "promoted_on_survivor_s": promoted_s,
        "accepts_writes_s": writes_s,
        "writes_accepted_by": writer_node,
        "fenced": [f"{f['action']} {f['plug']}" for f in fences],
        "fence_done_s": fence_s,
        "vips_with_promoted": vip_rids,
        "vip_address": vips[0] if vips else None,
        "vip_holders_before": vip_before,
        "vip_on_survivor_s": vip_s,
        "vip_on_new_primary_s": vip_primary_s,
        "vip_accepts_writes_s": vip_answers_s,
        "vip_holders_after": vip_after,
        "vip_held_elsewhere": elsewhere,
        "vip_answered_by_new_primary": (vip_run_id is not None and vip_run_id == primary_run_id) if vips else None,
        "replication_before": replication_before,
        "replication_at_power_loss": replication_at_kill,
        "replicated_writes_at_power_loss": replicated,
        "writes_acknowledged": wrote["acknowledged"],
        "writer_error": wrote["error"],
        "writes_present_after": present,
        "lost": lost,
        "vip_timeline": timeline(ctx.watch, vips[0] if vips and vips[0] in watched else pl.plan.vips[0].address, t0),
    }
    expected_loss = "0" if rpo_s == 0 else ">= 0 (asynchronous)" if rpo_s is None else f"<= {rpo_s}"
    # With a VIP the row ends once the VIP is on the new primary: the promotion and the first
    # direct write come before it (within the max); without one the row ends at the promotion.
    checks = [
        make_check(
            "the analysis predicts the failover (recovery row, node)",
            "an interval",
            f"[{predicted[0]:g}, {predicted[1]:g}] s" if predicted else why,
            predicted is not None,
        ),
        within("a survivor promoted within (s)", promoted_s, None if vips else floor, bound),
        within("the new primary accepts writes within (s)", writes_s, None if vips else floor, bound),
        make_check(
            "writes go to the instance Pacemaker promoted",
            new_primary,
            writer_node,
            new_primary is not None and new_primary == writer_node,
        ),
        make_check(
            "writes acknowledged before the power loss", "> 0", wrote["acknowledged"], wrote["acknowledged"] > 0
        ),
        make_check(
            "every survivor replicates the promoted instance before the power loss",
            f"linked to {victim}",
            "; ".join(
                f"{n}: {i.get('role', 'no answer')} of {i.get('master_host', '-')}, "
                f"link {i.get('master_link_status', '-')}"
                for n, i in sorted(replication_at_kill.items())
            ),
            all(linked_to(i, victim, addr[victim]) for i in replication_at_kill.values()),
        ),
        make_check("acknowledged writes lost", expected_loss, lost, rpo_agreed),
        make_check(
            "the new primary keeps the writes it had replicated before the power loss",
            f">= {replicated.get(new_primary)}" if new_primary else "a new primary",
            present,
            new_primary is not None
            and present is not None
            and replicated.get(new_primary) is not None
            and present >= (replicated.get(new_primary) or 0),
        ),
    ]
    if fencing:
        checks.append(
            make_check(
                "the promoted node is fenced before a survivor is promoted",
                "fenced first",
                "fenced first"
                if fence_s is not None and promoted_s is not None and fence_s <= promoted_s
                else ("not fenced" if fence_s is None else "promoted first"),
            )
        )
    if vips:
        # The row's interval is the client's outage through the VIP (the IPaddr2 starts after the promote).
        checks += [
            within("the VIP with the promoted role is on the new primary within (s)", vip_primary_s, floor, bound),
            make_check(
                "the VIP is held by the new primary alone (watch samples and addresses after)",
                f"[{new_primary}], never elsewhere",
                f"{vip_after}, elsewhere: {elsewhere or 'none'}",
                new_primary is not None and vip_after == [new_primary] and not elsewhere,
            ),
            within("a client writing through the VIP succeeds within (s)", vip_answers_s, floor, bound),
            make_check(
                "the redis-server behind the VIP is the new primary's (run_id)",
                "same run_id",
                "same run_id" if measured["vip_answered_by_new_primary"] else f"{vip_run_id} vs {primary_run_id}",
                bool(measured["vip_answered_by_new_primary"]),
            ),
        ]
    t1 = time.monotonic()
    pl.power_on(victim)
    settle(pl)
    measured["rejoin_s"] = round(time.monotonic() - t1, 2)
    measured["primary_after_rejoin"] = _promoted(pl, rid, pl.admin_node())
    if vips:
        measured["vip_holders_after_rejoin"] = pl.vip_holders(vips[0])
    return {
        "service": service,
        "prediction": {
            "promoted_within_s": bound,
            "rto_s": list(predicted) if predicted else None,
            "vip_from_s": floor if vips else None,
            "source": "recovery table",
            "fencing": fencing,
            "why": why,
            "rpo": rpo,
            "rpo_s": rpo_s,
            "vip_follows_promoted": bool(vips),
            "vip_within_s": bound if vips else None,
            "reason": f"{victim} (promoted {rid}) loses power; the survivors keep quorum, "
            + ("fence it, " if fencing else "")
            + f"and promote the {rid} replica with the "
            "highest master score",
        },
        "measured": measured,
        "checks": checks,
    }


class RedisPromotedKill(WholeClusterScenario):
    kind = "redis-promoted-kill"
    title = "The promoted Redis (ocf:heartbeat:redis) loses its node: Pacemaker promotes a survivor"
    #: Agents the lab runs for real when this scenario is selected.
    real_agents: ClassVar[frozenset] = frozenset({REDIS_AGENT})

    @classmethod
    def applies(cls, configuration: str) -> bool:
        """The CIB runs Redis as a promotable clone of ocf:heartbeat:redis and redis-server is installed."""
        import shutil

        return shutil.which("redis-server") is not None and redis_clone(configuration) is not None

    @classmethod
    def run(cls, ctx: ClusterRun) -> dict[str, Any]:
        return redis_promoted_kill(ctx)
