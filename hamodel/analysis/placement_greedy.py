"""A greedy first try at placing a large model, node by node, without a solver.

On a large model (more level-1 bits than ``FINE_LIMIT``, so cells are
failure-domain sets rather than classes of interchangeable nodes) most
services are trivially satisfiable one after the other: the exact two-level
Z3 search of :mod:`hamodel.analysis.placement_solver` spent its time
proving what a greedy pass finds at once (10,000 services: minutes in one
level-1 check). :func:`greedy` places every service in turn on the least
loaded nodes that take it -- every statement checked as it goes: roles,
exclusions, pins, co-location (with room kept for the services that
follow their target), anti-affinity and ``max_per_domain``, capacity,
ports -- and keeps every previous instance it can. It answers only when
it placed everything and kept every previous instance; otherwise ``None``,
and the exact search runs as before. So the answer is never "unplaceable"
from here, and the result is always verified by
:func:`hamodel.analysis.placement.verify` afterwards.

Small models (the reference ones) never come here: their placement, and so
their lock files, are the exact search's as before.
"""

from __future__ import annotations

import heapq
from collections import defaultdict

from hamodel.analysis.placement_problem import Problem, Svc
from hamodel.ordering import natural_key


def _order(pr: Problem) -> list[Svc]:
    """Services, most constrained first; a co-location target before the services that follow it."""

    def key(sv: Svc) -> tuple:
        return (not sv.everywhere, not sv.pins, len(sv.cand) - sv.count, -(sv.req[0] + sv.req[1]), sv.index)

    seen: set[str] = set()
    out: list[Svc] = []

    def visit(sv: Svc) -> None:
        if sv.name in seen:
            return
        seen.add(sv.name)
        for t in sv.colocate:
            if t in pr.by_name:
                visit(pr.by_name[t])
        out.append(sv)

    for sv in sorted(pr.services, key=key):
        visit(sv)
    return out


def greedy(pr: Problem) -> dict[str, list[str]] | None:
    """service -> nodes (natural order), or None when the greedy pass does not place everything
    (or would move a previous instance): then the exact search decides."""
    cap = pr.node_cap
    gpos = {n: i for i, n in enumerate(sorted(cap, key=natural_key))}
    load = {n: [0, 0] for n in cap}
    ports: dict[str, set[int]] = {n: set() for n in cap}
    hosts = dict.fromkeys(cap, 0)
    version = dict.fromkeys(cap, 0)
    # room kept on a target's nodes for the services that follow it (colocate)
    followers: dict[str, list[Svc]] = defaultdict(list)
    for sv in pr.services:
        for t in sv.colocate:
            followers[t].append(sv)
    reserved: dict[str, dict[str, Svc]] = defaultdict(dict)  # node -> followers still to come there
    heaps: dict[tuple[str, ...], list] = {}  # candidate list -> lazy heap of (used, hosts, position, version, node)
    heaps_of: dict[str, list[list]] = defaultdict(list)

    def used(n: str) -> float:
        c, ld = cap[n], load[n]
        return round(max(ld[0] / c[0] if c[0] else 0, ld[1] / c[1] if c[1] else 0), 6)

    def entry(n: str) -> tuple:
        return (used(n), hosts[n], gpos[n], version[n], n)

    def heap_for(cand: list[str]) -> list:
        key = tuple(cand)  # services of one role share their candidates, and so one heap
        h = heaps.get(key)
        if h is None:
            h = [entry(n) for n in cand]
            heapq.heapify(h)
            heaps[key] = h
            for n in cand:
                heaps_of[n].append(h)
        return h

    placed: dict[str, list[str]] = {}
    for sv in _order(pr):
        s, k = sv.name, sv.count
        if sv.quorum_too_small or k > len(sv.cand):
            return None
        need = list(sv.req)
        keep_ports = set(sv.ports)
        for f in followers.get(s, ()):
            if f.name not in placed:
                need[0] += f.req[0]
                need[1] += f.req[1]
                keep_ports |= f.ports
        in_dom: dict[str, int] = defaultdict(int)
        cand_set = None

        def fits(n: str) -> bool:
            ld, c = load[n], cap[n]
            extra, taken_ports = [0, 0], ports[n]
            others = [f for f in reserved.get(n, {}).values() if f.name != s]
            for f in others:
                extra[0] += f.req[0]
                extra[1] += f.req[1]
            if ld[0] + extra[0] + need[0] > c[0] or ld[1] + extra[1] + need[1] > c[1]:
                return False
            if taken_ports & keep_ports or any(f.ports & keep_ports for f in others):
                return False
            return all(in_dom[d] < m for kind, m in sv.limits.items() for d in pr.of_kind(n, kind))

        chosen: list[str] = []

        def take(n: str) -> None:
            chosen.append(n)
            for kind in sv.limits:
                for d in pr.of_kind(n, kind):
                    in_dom[d] += 1

        if sv.colocate:
            # only where every target runs: a short list, sorted outright
            cand_set = set(sv.cand)
            common = None
            for t in sv.colocate:
                ns = set(placed.get(t, ()))
                common = ns if common is None else common & ns
            pool = sorted((n for n in common or () if n in cand_set), key=entry)
        else:
            pool = None
        pins = list(sv.pins)
        prev = sorted(pr.previous.get(s, ()), key=entry)
        if sv.everywhere:
            first = list(sv.cand)
        else:
            first = pins + [n for n in prev if n not in set(pins)]
        for n in first:
            if len(chosen) == k:
                break
            if pool is not None and n not in pool:
                return None
            if n in chosen or not fits(n):
                return None  # a pin, a previous instance or an 'all' node it cannot take: the exact search decides
            take(n)
        if len(chosen) < k:
            if pool is not None:
                for n in pool:
                    if len(chosen) == k:
                        break
                    if n not in chosen and fits(n):
                        take(n)
            else:
                h = heap_for(sv.cand)
                aside = []
                taken = set(chosen)
                while h and len(chosen) < k:
                    e = heapq.heappop(h)
                    n = e[4]
                    if e[3] != version[n]:
                        continue  # stale: the node's load changed since
                    aside.append(e)
                    if n not in taken and fits(n):
                        take(n)
                        taken.add(n)
                for e in aside:
                    if e[4] not in taken:
                        heapq.heappush(h, e)
        if len(chosen) < k:
            return None
        for n in chosen:
            ld = load[n]
            ld[0] += sv.req[0]
            ld[1] += sv.req[1]
            ports[n] |= sv.ports
            hosts[n] += 1
            for f in followers.get(s, ()):
                if f.name not in placed and f.name != s:
                    reserved[n][f.name] = f
            version[n] += 1
            e = entry(n)
            for h in heaps_of.get(n, ()):
                heapq.heappush(h, e)
        for t in sv.colocate:  # placed now: its room on its targets' nodes is no longer held
            for n in placed.get(t, ()):
                reserved.get(n, {}).pop(s, None)
        placed[s] = chosen
    return {s: sorted(ns, key=natural_key) for s, ns in placed.items()}
