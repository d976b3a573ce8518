"""Why a failure stops a service, and what would fix it, in the model's
terms: the texts of single-failure findings (impact and mitigation per
cause), derived from the component kind, the strategy and the rules'
evaluation of that one failure."""

from __future__ import annotations

from collections.abc import Sequence

from hamodel.analysis.components import ModelView, component_kind
from hamodel.analysis.cutsets import CutSet
from hamodel.analysis.semantics import Evaluation
from hamodel.model.strategies import ActivePassive, AppCluster


def _fmt_set(cs: Sequence[str]) -> str:
    return " + ".join(cs) if cs else "(nothing)"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _pcmk_fragile(v: ModelView) -> bool:
    """One Pacemaker node down loses quorum (2 nodes, majority, no qdevice)."""
    if not v.pcmk_nodes or v.pcmk_two_node:
        return False
    return len(v.pcmk_nodes) - 1 + (1 if v.pcmk_qdevice else 0) < v.pcmk_quorum


def _cause(v: ModelView, s: str, c: str) -> tuple[str, str]:
    """Why the single failure ``c`` stops ``s``, and what would fix it, in
    the model's terms (derived from the component kind and the strategy)."""
    kind, name = component_kind(c), c.split(":", 1)[1]
    st = v.services[s].strategy
    where = "its instances and VIP holders" if v.access_holder(s) or s in v.holders else "its instances"
    need = getattr(st, "min_replicas", 0)
    host = name.split("@", 1)[1] if kind == "proc" and name.split("@", 1)[0] == v.process(s) else name
    if need and kind in ("node", "proc") and host in v.instances[s] and len(v.instances[s]) - 2 < need:
        # Elected with min-replicas-to-write: the survivor is there but may not write.
        return (
            f"its writer needs {need} live replica{'s' * (need != 1)} (min_replicas) and without {host} "
            f"only {len(v.instances[s]) - 2} can remain",
            f"Run at least {need + 2} members (replicas) or lower min_replicas.",
        )
    voters = [x for w, x in v.cluster_voters(s)] if isinstance(st, AppCluster) else []
    if kind in ("node", "proc") and host in voters and v.quorum(s) >= len(voters):
        # A quorum of every vote (quorum=N of N): any member lost stops the cluster.
        return (
            f"{s} needs all {len(voters)} of its votes (quorum {v.quorum(s)}) and {host} holds one",
            f"A quorum of every member tolerates no loss: run 3 members with quorum='majority', or add a "
            f"vote-only witness (Service(strategy=Witness('{s}'))) on a third node and use quorum='majority'.",
        )
    if kind == "node":
        if name in v.pcmk_nodes and _pcmk_fragile(v) and any(v.uses_pacemaker(x) for x in (s, *v.uses(s))):
            n = len(v.pcmk_nodes)
            return (
                f"the {n}-node Pacemaker cluster needs {v.pcmk_quorum} votes, so losing {name} loses quorum "
                "and Pacemaker stops its resources",
                "Give the Pacemaker cluster a quorum device (PacemakerCluster(qdevice=...), corosync-qnetd on a "
                "third machine)" + (" or set two_node=True with fencing" if n == 2 else "") + ".",
            )
        if isinstance(st, ActivePassive) and st.manager is None:
            return (
                f"it runs only on {name} and nothing moves it",
                "Let Pacemaker move it (ActivePassive(manager='pacemaker')) or run it active/active.",
            )
        if name in v.holders.get(v.access_holder(s) or s, ()) and len(v.holders.get(v.access_holder(s) or s, ())) == 1:
            return (
                f"{name} is the only node that can hold its virtual IP",
                "Let a second node hold the virtual IP (more instances of the VIP-holding service).",
            )
        return (f"{name} runs its only usable instance", "Run more instances (replicas) on other nodes.")
    if kind == "proc":
        proc, node = name.split("@", 1)
        return (
            f"process {proc} on {node} is the only one that can serve it",
            "Run more instances on other nodes; a supervisor (supervisor='systemd') shortens the outage.",
        )
    if kind in ("domain", "switch", "link", "trunk") and isinstance(st, AppCluster):
        split = _split_votes(v, s, c)
        if split is not None:
            # Enough voters still run: the failure separates them (a transit switch, an uplink).
            what = f"{kind} {name}" if kind != "domain" else f"{v.arch.domain(name).kind} {name}"
            return (
                f"{what} splits its {len(split[0]) + sum(len(g) for g in split[1:])} running votes into groups "
                f"that cannot reach each other ({' | '.join(', '.join(g) for g in split)}) and none holds "
                f"{v.quorum(s)} of {len(v.cluster_voters(s))}",
                "Add a second path between the members' switches (a second core switch, or another link from "
                "each switch), or bond the members to switches that stay connected when it fails.",
            )
    if kind in ("domain", "switch") and isinstance(st, AppCluster):
        what = f"{v.arch.domain(name).kind} {name}"
        spare = len(v.cluster_voters(s)) - v.quorum(s)
        return (
            f"{what} stops more of its members than its quorum ({v.quorum(s)}) can lose"
            if spare > 0
            else f"{what} stops one of its members, and with quorum {v.quorum(s)} of {len(v.cluster_voters(s))} "
            f"it can lose none",
            _power_fix(v, c, "members")
            if v.arch.domain(name).kind == "power"
            else "Bond the members' interfaces to a second switch (Node(switch=[a, b]))."
            if kind == "switch"
            else f"Spread members over {v.arch.domain(name).kind}s (anti_affinity / max_per_domain)."
            if can_spread(v, s, v.arch.domain(name).kind)
            else _third_domain_fix(v, s, name),
        )
    if kind == "domain":
        d = v.arch.domain(name)
        every = ", which holds every node of the architecture" if all(c in ds for ds in v.node_domains.values()) else ""
        if d.kind == "power":
            return (f"all of {where} hang on power feed {name}{every}", _power_fix(v, c, "instances"))
        return (
            f"all of {where} are in {d.kind} {name}{every}",
            f"Spread instances over {d.kind}s (anti_affinity='{d.kind}' or max_per_domain)"
            + (", or declare it the site (site=True) if it is the whole site." if every else "."),
        )
    if (
        kind in ("switch", "link", "trunk", "domain")
        and v.pcmk_two_node
        and v.pcmk_fencing
        and any(v.uses_pacemaker(x) for x in (s, *v.uses(s)))
    ):
        race = _fence_race_loss(v, c)
        if race is not None:
            winner, loser = race
            what = f"{kind} {name}" if kind != "domain" else f"{v.arch.domain(name).kind} {name}"
            return (
                f"{what} cuts {winner} off from {loser} without stopping it: {winner} wins the 2-node fence "
                f"race (the device that fences it waits longest) and fences {loser}, but cannot serve from "
                f"where it is",
                f"Give the Pacemaker cluster a quorum device (PacemakerCluster(qdevice=...), corosync-qnetd on "
                f"a third machine), so the side that still has the network keeps quorum; or bond {winner} "
                "to a second switch.",
            )
    if kind in ("switch", "link", "trunk"):
        cut_off = _separated(v, s, c)
        if cut_off is not None:
            return (
                f"{kind} {name} separates every {s} instance from every {cut_off} instance "
                f"(both still run, but no path joins them)",
                "Add a second path between them (another inter-switch link or trunk, or bond the nodes to "
                f"a second switch), or run {s} and {cut_off} behind the same switches.",
            )
        mixed = _per_instance(v, s, c)
        if mixed is not None:
            return (
                f"{kind} {name} leaves no usable {s} instance: {mixed}",
                "Add a second path between the switches (another inter-switch link or trunk, or bond the "
                f"nodes to a second switch), or run {s}, what it depends on and its VIP holders behind the "
                "same switches.",
            )
    if kind == "switch":
        return (
            f"every path to {where} goes through switch {name}",
            "Bond the nodes' interfaces to a second switch (Node(switch=[a, b]) or Interface(bond=[...])) "
            "or run instances on nodes behind other switches.",
        )
    if kind in ("link", "trunk"):
        return (
            f"the inter-switch {kind} {name} is the only path between {where}",
            "Add a second inter-switch path (another link or trunk between the switches).",
        )
    if kind in ("nic", "cable"):
        node, member = name.split(":", 1)
        return (
            f"the {'NIC port' if kind == 'nic' else 'cable'} {member} of {node} is its last working bond member",
            f"Check the bond's other members on {node}, or bond it to a second switch "
            "(bond_mode='mlag' or 'active-backup').",
        )
    return (f"{c} fails", "Add redundancy for it.")


def _memo(v: ModelView) -> dict:
    """This module's answers that depend on ``v`` alone, kept on ``v`` (asked
    once per finding, they were a walk over every domain or node each time:
    O(services x nodes) at scale)."""
    return vars(v).setdefault("_causes_memo", {})


def _domains_of_kind(v: ModelView, kind: str) -> list[str]:
    """The names of the domains of ``kind`` that hold nodes, sorted."""
    memo = _memo(v)
    key = ("domains", kind)
    if key not in memo:
        memo[key] = sorted(
            {
                d.split(":", 1)[1]
                for d in v.node_domain_ids()
                if component_kind(d) == "domain" and v.arch.domain(d.split(":", 1)[1]).kind == kind
            }
        )
    return list(memo[key])


def _eligible(v: ModelView, s: str) -> list[str]:
    """The names of the nodes carrying one of ``s``'s roles, sorted (per set of roles)."""
    roles = tuple(sorted(v.services[s].on))
    memo = _memo(v)
    key = ("eligible", roles)
    if key not in memo:
        memo[key] = sorted({n for r in roles for n in _nodes_with_role(v, r)})
    return memo[key]


def _nodes_with_role(v: ModelView, role: str) -> list[str]:
    """The names of the nodes carrying ``role``."""
    memo = _memo(v)
    by_role = memo.get("roles")
    if by_role is None:
        by_role = memo["roles"] = {}
        for n in v.arch.nodes:
            for r in n.roles:
                by_role.setdefault(r, []).append(n.name)
    return by_role.get(role, [])


def can_spread(v: ModelView, s: str, kind: str) -> bool:
    """Whether the votes of cluster ``s`` can be spread over the domains of
    ``kind`` that hold nodes so that losing any one of them leaves a quorum:
    each may hold at most ``votes - quorum`` votes."""
    spare = len(v.cluster_voters(s)) - v.quorum(s)
    return spare > 0 and len(_domains_of_kind(v, kind)) * spare >= len(v.cluster_voters(s))


def _third_domain_fix(v: ModelView, s: str, name: str) -> str:
    """The mitigation when there are too few domains of ``name``'s kind to spread ``s``'s votes."""
    kind = v.arch.domain(name).kind
    used = _domains_of_kind(v, kind)
    votes, q = len(v.cluster_voters(s)), v.quorum(s)
    return (
        f"With {len(used)} {kind}{'s' * (len(used) != 1)} ({', '.join(used)}), {votes} votes cannot be placed so "
        f"that losing any one {kind} leaves {q}: add a vote in another {kind} (a witness, "
        f"Service(strategy=Witness('{s}')) on a node there; for Galera the arbitrator garbd), or accept that "
        f"losing {kind} {name} stops {s}."
    )


def _power_fix(v: ModelView, c: str, what: str) -> str:
    """How to keep power domain ``c`` from stopping the nodes it stops: dual-cord
    the single-corded ones; for dual-corded ones, feeds that do not share it."""
    dead = sorted(v.nodes_killed_by({c}))
    single = [n for n in dead if not v.node_feeds.get(n)]
    if single:
        return f"Dual-cord {', '.join(single)} (Node(power=[feed_a, feed_b])) or spread {what} over feeds."
    name = c.split(":", 1)[1]
    return (
        f"{', '.join(dead)} {'is' if len(dead) == 1 else 'are'} already dual-corded, but every feed "
        f"{'it' if len(dead) == 1 else 'they'} use{'s' if len(dead) == 1 else ''} hangs on {name}: feed them "
        f"from sources that do not share it (a second UPS or utility feed), or spread {what} over such feeds."
    )


def _fence_race_loss(v: ModelView, c: str) -> tuple[str, str] | None:
    """(winner, loser) when failing ``c`` leaves both nodes of a 2-node
    cluster with fencing up but apart, the winner of the fence race without
    a port (it keeps quorum, the loser is fenced, nothing serves)."""
    e = Evaluation(v, {c})
    winner = v.pcmk_winner
    loser = next(n for n in v.pcmk_nodes if n != winner)
    if not (e.node_up(winner) and e.node_up(loser)) or e.reach(winner, loser):
        return None
    if any(e.port_up(winner, net) for net in v.ports[winner]):
        return None
    return winner, loser


def _split_votes(v: ModelView, s: str, c: str) -> list[list[str]] | None:
    """The groups (nodes) into which the failure of ``c`` separates the
    running voters of cluster ``s``, when enough of them still run to make a
    quorum together: the failure partitions the cluster rather than stopping
    its members. ``None`` when too few voters run to make a quorum at all."""
    e = Evaluation(v, {c})
    running = sorted({x for w, x in v.cluster_voters(s) if e.inst_ok(w, x)})
    votes = sum(1 for w, x in v.cluster_voters(s) if e.inst_ok(w, x))
    if votes < v.quorum(s):
        return None
    groups: list[list[str]] = []
    for x in running:
        for g in groups:
            if e.reach(g[0], x):
                g.append(x)
                break
        else:
            groups.append([x])
    return groups if len(groups) > 1 else None


def _separated(v: ModelView, s: str, c: str) -> str | None:
    """The dependency of ``s`` that the failure of ``c`` cuts ``s`` off from
    while both still serve on their own side, if any."""
    e = Evaluation(v, {c})
    ready = [n for n in e.members(s) if e.base(s, n)]
    if not ready:
        return None
    for d in v.dependencies(s):
        if d in v.local_dependencies(s) or not e.up(d, v.access_holder(d, s)):
            continue
        if not any(e.reaches(n, d, s) for n in ready):
            return d
    return None


def _per_instance(v: ModelView, s: str, c: str) -> str | None:
    """Why each running instance of ``s`` is unusable after the network failure ``c``, when the
    reasons differ between instances (one cannot reach a dependency, another is cut off from the
    VIP holders): the one-line causes ("the only path between ...") would be false for some of
    them. None when the reasons do not differ, or an instance stops for another reason."""
    e = Evaluation(v, {c})
    ready = [n for n in e.members(s) if e.base(s, n)]
    if len(ready) < 2:
        return None
    h = v.access_holder(s)
    holders = [x for x in v.holders.get(h, ()) if e.eligible(h, x)] if h else []
    reasons: dict[str, str] = {}
    for n in ready:
        lost = [
            d
            for d in v.dependencies(s)
            if d not in v.local_dependencies(s) and e.up(d, v.access_holder(d, s)) and not e.reaches(n, d, s)
        ]
        if lost:
            reasons[n] = f"{n} cannot reach {', '.join(lost)}"
        elif h and holders and not any(e.near(e.clients(h), x) and e.near(x, n) for x in holders):
            reasons[n] = f"{n} is cut off from the VIP holders ({', '.join(holders)})"
        else:
            return None
    if len({r.split(" ", 1)[1] for r in reasons.values()}) < 2:
        return None
    return "; ".join(reasons[n] for n in ready)


def _unmanaged_takeover(v: ModelView, s: str) -> str:
    """The mitigation of an active/passive service that nothing moves."""
    on = set(v.instances[s])
    others = [n for n in _eligible(v, s) if n not in on]
    where = f" ({', '.join(others)})" if others else ""
    st = v.services[s].strategy
    assert isinstance(st, ActivePassive), s
    # Its links (st.see) are the documents' to show: a long address does not fit a terminal line.
    why = f"It runs one instance because {st.reason}" if st.reason else ""
    return (why + ". " if why else "") + (
        f"Configure {s} on every eligible node{where} with the same host name in its configuration, and when "
        f"its node or process fails start it on a surviving node: it takes over the same work. "
        f"To make the take-over automatic, let a cluster manager run it. "
        f"Model: ActivePassive(manager='pacemaker')."
    )


def _explain(v: ModelView, s: str, sets: list[CutSet]) -> tuple[str, str]:
    """Impact and mitigation for single-failure cut sets of ``s``."""
    causes = [(cs[0], *_cause(v, s, cs[0])) for cs in sets]
    if len(causes) == 1:
        c, why, _ = causes[0]
        impact = f"{c} alone stops {s}: {why}."
    else:
        impact = f"Each of these alone stops {s}: " + "; ".join(f"{c} ({why})" for c, why, _ in causes) + "."
    st = v.services[s].strategy
    if isinstance(st, ActivePassive) and st.manager is None:
        # One instance by design (active/active is not an option for it): the fix is the
        # take-over procedure, or a manager that runs it, whatever the cause.
        return impact, _unmanaged_takeover(v, s)
    fixes: list[str] = []
    for _, _, fix in causes:
        if fix not in fixes:
            fixes.append(fix)
    return impact, " ".join(fixes)
