"""The findings of the availability analysis, built from the cut sets and
the model view: single points of failure and quorum loss (with their causes
from :mod:`hamodel.analysis.causes`), split brain, missing supervision and
monitoring, manual recovery, and the Pacemaker cluster's own quorum. The
analysis (:class:`hamodel.analysis.failures.Analysis`) calls them; each builds
its finding only through a rule of :mod:`hamodel.analysis.catalogue`."""

from __future__ import annotations

from hamodel.analysis import catalogue as cat
from hamodel.analysis.causes import _explain, _fmt_set, _plural, can_spread
from hamodel.analysis.components import ModelView, component_kind, node_id, set_key, sort_set
from hamodel.analysis.cutsets import CutSet
from hamodel.analysis.results import (
    Finding,
    Severity,
)
from hamodel.model import Architecture
from hamodel.model.strategies import ActivePassive, AppCluster, Elected, External, PacemakerVip, Sharded, Vrrp


def _split_candidates(v: ModelView) -> list[str]:
    out = []
    for s, svc in sorted(v.services.items()):
        st = svc.strategy
        if (isinstance(st, (Vrrp, PacemakerVip)) and len(v.holders.get(s, ())) >= 2) or (
            isinstance(st, AppCluster) and 2 * v.quorum(s) <= len(v.cluster_voters(s))
        ):
            out.append(s)
        elif getattr(st, "steps_down", True) is False and len(v.instances[s]) >= 2:
            out.append(s)  # Elected whose cut-off old master keeps writing (Redis Sentinel)
    return out


_DEPENDENTS: list[tuple[ModelView, dict[str, list[str]]]] = []  # the last view's


def _dependents(v: ModelView, s: str) -> list[str]:
    """The services whose state ``s`` decides (see :meth:`ModelView.uses`). One
    reverse index per view: a scan of every service per finding was
    O(services x findings)."""
    if not _DEPENDENTS or _DEPENDENTS[0][0] is not v:
        index: dict[str, list[str]] = {}
        for x in sorted(v.services):
            for u in v.uses(x):
                if u != x:
                    index.setdefault(u, []).append(x)
        _DEPENDENTS[:] = [(v, index)]
    return list(_DEPENDENTS[0][1].get(s, ()))


def _cut_finding(v: ModelView, s: str, own: list[CutSet], k: int) -> Finding | None:
    if not own:
        return None
    svc = v.services[s]
    st = svc.strategy
    size = len(own[0])
    smallest = [c for c in own if len(c) == size]
    scenario = smallest[0]
    dependents = _dependents(v, s)
    details = {"min_size": size, "k": k, "cut_sets": [list(c) for c in own], "dependents": dependents}
    services = (s, *dependents)
    also = f" With it {', '.join(dependents)} {'stops' if len(dependents) == 1 else 'stop'}." if dependents else ""
    if size == 0:
        return cat.UNAVAILABLE.finding(service=s, services=services, details=details)
    if isinstance(st, AppCluster):
        q, voters = v.quorum(s), v.cluster_voters(s)
        n = len(voters)
        details.update({"quorum": q, "members": list(v.instances[s]), "witnesses": list(v.witnesses(s))})
        votes = "votes (members and witnesses)" if v.witnesses(s) else "members"
        if size == 1:
            domains = sorted({c for cs in smallest for c in cs if component_kind(c) in ("domain", "switch")})
            impact, fix = _explain(v, s, smallest)
            lost = len({x for _, x in voters} & v.nodes_killed_by(scenario))
            return cat.QUORUM_LOSS.finding(
                service=s,
                severity=Severity.HIGH if svc.required else Severity.MEDIUM,
                domains=f" ({', '.join(domains)})" if domains else "",
                services=services,
                scenario=scenario,
                quorum=q,
                voters=n,
                votes=votes,
                cause=impact,
                lost=f" ({_fmt_set(scenario)} stops {lost} of them.)" if lost else "",
                also=also,
                mitigation=fix
                if not domains
                or component_kind(domains[0]) == "switch"
                or n <= q
                or not can_spread(v, s, v.arch.domain(domains[0].split(":", 1)[1]).kind)
                else f"{fix} No failure domain may hold more than {_plural(n - q, 'vote')} of {s}.",
                details=details,
            )
        return cat.QUORUM_LOSS_INHERENT.finding(
            service=s,
            severity=Severity.LOW if size == 2 else Severity.INFO,
            size=size,
            services=services,
            scenario=scenario,
            quorum=q,
            voters=n,
            votes=votes,
            scenario_text=_fmt_set(scenario),
            details=details,
        )
    if size == 1:
        if isinstance(st, Sharded):
            return cat.PARTIAL_OUTAGE.finding(
                service=s, shard=st.shard, services=services, scenario=scenario, details=details
            )
        impact, fix = _explain(v, s, smallest)
        return cat.SPOF.finding(
            service=s,
            severity=Severity.HIGH if svc.required else Severity.LOW,
            services=services,
            scenario=scenario,
            impact=impact + also,
            mitigation=fix,
            details=details,
        )
    return cat.CUT_SETS.finding(
        service=s,
        severity=Severity.LOW if size == 2 and svc.required else Severity.INFO,
        size=size,
        services=services,
        scenario=scenario,
        sets=_plural(len(own), "minimal set"),
        sizes=size if size == k else f"{size} to {k}",
        scenario_text=_fmt_set(scenario),
        details=details,
    )


_NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}


def _split_finding(v: ModelView, s: str, sets: list[CutSet]) -> Finding:
    # A pure partition (only links cut) is the clearest demonstration.
    sets = sorted(sets, key=lambda c: (len(c), sum(component_kind(x) != "link" for x in c), set_key(c)))
    size = len(sets[0])
    svc = v.services[s]
    net = v.vip_network.get(s)
    what = (
        f"the VRRP group of {', '.join(svc.holds_vips)}"
        if isinstance(svc.strategy, Vrrp)
        else f"the VIP {', '.join(svc.holds_vips)}"
        if svc.holds_vips
        else f"the {s} cluster"
    )
    impact = None
    if isinstance(svc.strategy, Elected):
        # The old primary keeps accepting writes until it sees the others again, then
        # rejoins as a replica of the new one and drops what it took in between.
        impact = (
            f"After {_fmt_set(sets[0])} the old primary of {s}, cut off from {svc.strategy.by}'s quorum, "
            f"keeps accepting writes while the other side promotes a new primary: writes acknowledged by "
            f"the old primary in between are lost when it rejoins as a replica of the new one."
        )
    return cat.SPLIT_BRAIN.finding(
        service=s,
        severity=Severity.HIGH if size == 1 else Severity.MEDIUM,
        what=what,
        services=(s, *_dependents(v, s)),
        scenario=sets[0],
        scenario_text=_fmt_set(sets[0]),
        on_network=" on " + net if net else "",
        # What a second master serves: the address for a VRRP group or a VIP, the data for a cluster.
        served_twice="the address is held twice" if svc.holds_vips else "the data is served twice",
        # The partition found takes ``size`` failures: the links must survive that many.
        no_split="no single failure splits" if size == 1 else f"no {_NUMBER_WORDS.get(size, str(size))} failures split",
        impact=impact,
        details={"scenarios": [list(c) for c in sets], "holders": list(v.holders.get(s, v.instances[s]))},
    )


def _supervisor(svc, arch: Architecture) -> str:
    """What restarts a failed process of ``svc``: its own setting, else Pacemaker for a
    service Pacemaker manages (its monitor operation restarts a failed resource), else
    the architecture's default."""
    if svc.supervisor is not None:
        return svc.supervisor
    if isinstance(svc.strategy, PacemakerVip) or getattr(svc.strategy, "manager", None) == "pacemaker":
        return "pacemaker"
    return arch.supervisor


def _monitoring_finding(v: ModelView) -> Finding | None:
    arch = v.arch
    unsupervised = sorted(
        s
        for s, svc in v.services.items()
        if not isinstance(svc.strategy, External) and _supervisor(svc, arch) == "none"
    )
    if not unsupervised:
        return None
    monitored = any(
        isinstance(svc.strategy, External) and "monitoring" in svc.strategy.provides for svc in v.services.values()
    )
    no_failover = sorted(
        s for s, svc in v.services.items() if isinstance(svc.strategy, ActivePassive) and svc.strategy.manager is None
    )
    details = {"unsupervised": unsupervised, "no_failover": no_failover, "monitoring_modelled": monitored}
    if monitored:
        return cat.NO_AUTOMATIC_RESTART.finding(services=unsupervised, details=details)
    return cat.MONITORING_REQUIRED.finding(
        services=unsupervised,
        count=len(unsupervised),
        count_services=_plural(len(unsupervised), "service"),
        no_failover=f" and nothing fails over {', '.join(no_failover)}" if no_failover else "",
        details=details,
    )


def _recovery_cases(cold: str) -> dict[str, str]:
    """Which full restarts of a quorum cluster need an operator, by its ``cold_start``."""
    if cold == "automatic-after-crash":
        return {
            "crash, every member back": "automatic",
            "crash, a member missing": "manual",
            "graceful stop of every member": "manual",
        }
    if cold == "automatic-when-all-back":
        return {
            "crash, every member back": "automatic",
            "crash, a member missing": "manual",
            "graceful stop of every member": "automatic once the member stopped last is back (the others "
            "wait for it at boot, a limited time)",
        }
    return {
        "crash, every member back": "manual",
        "crash, a member missing": "manual",
        "graceful stop of every member": "manual",
    }


def _manual_recovery_finding(v: ModelView) -> Finding | None:
    clusters = {
        s: svc.strategy
        for s, svc in sorted(v.services.items())
        if isinstance(svc.strategy, AppCluster) and svc.strategy.cold_start != "automatic"
    }
    manual = {s: st.recovery for s, st in clusters.items()}
    if not manual:
        return None
    # Case by case: which full restart needs the operator (what the drill measures on Galera).
    cases = {s: _recovery_cases(clusters[s].cold_start) for s in manual}

    def text(s: str, p: str) -> str:
        cold = clusters[s].cold_start
        if cold == "automatic-after-crash":
            return (
                f"{s}: re-forms by itself after a crash or power loss of every member once all are back "
                f"(saved view state); after a graceful stop of every member, or a crash after which a member "
                f"does not return, {p}"
            )
        if cold == "automatic-when-all-back":
            return (
                f"{s}: re-forms by itself once every member is back (after a graceful stop the others wait "
                f"for the member that stopped last); when a member does not return, {p}"
            )
        return f"{s}: after any full stop, {p}"

    return cat.MANUAL_RECOVERY.finding(
        services=manual,
        scenario=sort_set({node_id(n) for s in manual for n in v.instances[s]}),
        procedures="; ".join(text(s, p) for s, p in manual.items()),
        details={"procedures": manual, "cases": cases},
    )


def _pacemaker_finding(v: ModelView) -> Finding | None:
    """The consequences of the Pacemaker cluster's quorum and fencing setup."""
    pm = v.arch.pacemaker
    if pm is None:
        return None
    managed = tuple(s for s in sorted(v.services) if v.uses_pacemaker(s))
    nodes = v.pcmk_nodes
    details = {
        "nodes": list(nodes),
        "quorum": v.pcmk_quorum,
        "qdevice": pm.qdevice,
        "two_node": pm.two_node,
        "fencing": pm.fencing,
    }
    if len(nodes) == 2 and pm.qdevice is None:
        if not pm.two_node:
            return cat.PACEMAKER_TWO_NODE.finding(
                services=managed,
                scenario=(node_id(nodes[0]),),
                stopped=", ".join(managed) or "every resource",
                details=details,
            )
        if not pm.fencing:
            return cat.PACEMAKER_TWO_NODE_NO_FENCING.finding(services=managed, details=details)
        winner = v.pcmk_winner
        delays = v.fence_delays()
        race = (
            (
                f"{winner} wins: the device that fences it waits {delays[winner]} s (pcmk_delay_base), "
                f"so it fences {next(n for n in nodes if n != winner)} first"
            )
            if v.fence_race_decided()
            else (
                f"the fencing delays are equal, so timing decides; the analysis assumes {winner} wins (give it a "
                "static fencing delay, FenceDevice(delay_base_s=...))"
            )
        )
        return cat.PACEMAKER_FENCE_RACE.finding(
            services=managed, race=race, details={**details, "winner": winner, "fence_delays": delays}
        )
    if not pm.fencing:
        return cat.PACEMAKER_NO_FENCING.finding(services=managed, details=details)
    return None
