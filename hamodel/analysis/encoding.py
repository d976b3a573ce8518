"""Failure semantics as Z3 formulas over Bool failure literals.

One Bool per component id (true = failed). :class:`Encoder` builds, with
memoisation, the formula "service ``s`` is up" exactly as
:mod:`hamodel.analysis.semantics` evaluates it (same rules, written
independently: formulas here, graph search there). Connectivity over
inter-switch links is a layered reachability (|switches| - 1 rounds), quorum
is a pseudo-boolean ``AtLeast`` over "member ok and reachable" terms.
"""

from __future__ import annotations

from functools import lru_cache

import z3

from hamodel.analysis.components import QNETD, ModelView, node_id, proc_id, switch_id
from hamodel.model.strategies import (
    ActivePassive,
    AppCluster,
    BehindVip,
    Coordinated,
    Elected,
    External,
    PacemakerVip,
    Sharded,
    Vrrp,
    Witness,
)

TRUE, FALSE = z3.BoolVal(True), z3.BoolVal(False)


def _or(xs: list) -> z3.BoolRef:
    xs = [x for x in xs if not z3.is_false(x)]
    if any(z3.is_true(x) for x in xs):
        return TRUE
    return FALSE if not xs else xs[0] if len(xs) == 1 else z3.Or(xs)


def _and(xs: list) -> z3.BoolRef:
    xs = [x for x in xs if not z3.is_true(x)]
    if any(z3.is_false(x) for x in xs):
        return FALSE
    return TRUE if not xs else xs[0] if len(xs) == 1 else z3.And(xs)


def _at_least(xs: list, q: int) -> z3.BoolRef:
    xs = [x for x in xs if not z3.is_false(x)]
    if q <= 0:
        return TRUE
    if len(xs) < q:
        return FALSE
    if q == 1:
        return _or(xs)
    if q == len(xs):
        return _and(xs)
    return z3.AtLeast(*xs, q)


class Encoder:
    """Memoised Z3 formulas for one :class:`ModelView`."""

    def __init__(self, v: ModelView):
        self.v = v
        self._vars: dict[str, z3.BoolRef] = {}
        # Per-instance memo tables (lru_cache on methods would share across instances).
        self.node_up = lru_cache(maxsize=None)(self._node_up)
        self.switch_up = lru_cache(maxsize=None)(self._switch_up)
        self.port_up = lru_cache(maxsize=None)(self._port_up)
        self.sw_conn = lru_cache(maxsize=None)(self._sw_conn)
        self.reach_on = lru_cache(maxsize=None)(self._reach_on)
        self.reach = lru_cache(maxsize=None)(self._reach)
        self.inst_ok = lru_cache(maxsize=None)(self._inst_ok)
        self.pcmk_quorate = lru_cache(maxsize=None)(self._pcmk_quorate)
        self.eligible = lru_cache(maxsize=None)(self._eligible)
        self.in_quorum = lru_cache(maxsize=None)(self._in_quorum)
        self._up_via = lru_cache(maxsize=None)(self._up)
        self._reach_layers: dict[tuple[str, str], dict[str, z3.BoolRef]] = {}

    def failed(self, cid: str) -> z3.BoolRef:
        """The failure literal of component ``cid``."""
        if cid not in self._vars:
            self._vars[cid] = z3.Bool(cid)
        return self._vars[cid]

    def alive(self, cid: str) -> z3.BoolRef:
        # A component outside the model (e.g. processes left out) never fails.
        return z3.Not(self.failed(cid)) if cid in self.v.component_set else TRUE

    # -- topology -----------------------------------------------------------

    def _node_up(self, n: str) -> z3.BoolRef:
        parts = [self.alive(node_id(n))] + [self.alive(d) for d in self.v.node_domains[n]]
        feeds = self.v.node_feeds.get(n, ())
        if feeds:  # dual-corded: some feed with all its enclosing domains alive
            parts.append(_or([_and([self.alive(d) for d in feed]) for feed in feeds]))
        return _and(parts)

    def _switch_up(self, s: str) -> z3.BoolRef:
        return _and([self.alive(switch_id(s))] + [self.alive(d) for d in self.v.switch_domains[s]])

    def _port_up(self, n: str, net: str) -> z3.BoolRef:
        if net not in self.v.ports[n]:
            return FALSE
        sws = self.v.ports[n][net]
        return self.node_up(n) if not sws else _and([self.node_up(n), _or([self.switch_up(x) for x in sws])])

    def _reach_from(self, net: str, a: str) -> dict[str, z3.BoolRef]:
        """Switch x reachable from switch a over up switches and links."""
        key = (net, a)
        if key not in self._reach_layers:
            sws = self.v.net_switches[net]
            adj: dict[str, list[tuple[str, str]]] = {s: [] for s in sws}
            for x, y, cid in self.v.net_links[net]:
                adj[x].append((y, cid))
                adj[y].append((x, cid))
            cur = {x: (self.switch_up(a) if x == a else FALSE) for x in sws}
            for _ in range(len(sws) - 1):
                nxt = {}
                for x in sws:
                    steps = [_and([cur[y], self.alive(cid), self.switch_up(x)])
                             for y, cid in adj[x] if not z3.is_false(cur[y])]
                    nxt[x] = _or([cur[x]] + steps)
                if all(z3.eq(nxt[x], cur[x]) for x in sws):
                    break
                cur = nxt
            self._reach_layers[key] = cur
        return self._reach_layers[key]

    def _sw_conn(self, net: str, a: str, b: str) -> z3.BoolRef:
        if a == b:
            return self.switch_up(a)
        a, b = sorted((a, b))
        return self._reach_from(net, a)[b]

    def _reach_on(self, a: str, b: str, net: str) -> z3.BoolRef:
        pa, pb = self.port_up(a, net), self.port_up(b, net)
        sa, sb = self.v.ports[a].get(net, ()), self.v.ports[b].get(net, ())
        if not sa or not sb:
            return _and([pa, pb])
        # An up switch of a's bond connected to an up switch of b's (sw_conn
        # includes both switches being up).
        return _and([self.node_up(a), self.node_up(b), _or([self.sw_conn(net, x, y) for x in sa for y in sb])])

    def _reach(self, a: str, b: str) -> z3.BoolRef:
        if a == b:
            return self.node_up(a)
        if b < a:
            return self.reach(b, a)
        shared = set(self.v.ports[a]) & set(self.v.ports[b])
        if not shared:
            if not self.v.ports[a] or not self.v.ports[b]:
                return _and([self.node_up(a), self.node_up(b)])
            return FALSE
        return _or([self.reach_on(a, b, net) for net in sorted(shared)])

    # -- instances ----------------------------------------------------------

    def _inst_ok(self, s: str, n: str) -> z3.BoolRef:
        parts = [self.node_up(n), self.alive(proc_id(self.v.process(s), n))]
        nets = self.v.ports[n]
        if nets:
            parts.append(_or([self.port_up(n, net) for net in sorted(nets)]))
        return _and(parts)

    def qdevice_ok(self) -> z3.BoolRef:
        q = self.v.pcmk_qdevice
        return FALSE if q is None else _and([self.node_up(q), self.alive(proc_id(QNETD, q))])

    def _pcmk_quorate(self, n: str) -> z3.BoolRef:
        v = self.v
        if n not in v.pcmk_nodes:
            return FALSE
        if v.pcmk_two_node:
            other = next(c for c in v.pcmk_nodes if c != n)
            if not v.pcmk_fencing or n == v.pcmk_winner:
                return self.node_up(n)
            return _and([self.node_up(n), _or([z3.Not(self.node_up(other)), self.reach(n, other)])])
        votes = [self.reach(n, c) for c in v.pcmk_nodes]
        if v.pcmk_qdevice is not None:
            votes.append(_and([self.qdevice_ok(), self.reach(n, v.pcmk_qdevice)]))
        return _and([self.node_up(n), _at_least(votes, v.pcmk_quorum)])

    def _eligible(self, s: str, h: str, for_split: bool = False) -> z3.BoolRef:
        v = self.v
        parts = [self.port_up(h, v.vip_network[s])] + [self.alive(proc_id(p, h)) for p in v.holder_processes(s)]
        if isinstance(v.services[s].strategy, PacemakerVip):
            if for_split and v.arch.pacemaker is not None and not v.arch.pacemaker.fencing:
                parts.append(TRUE if h in v.pcmk_nodes else FALSE)
            else:
                parts.append(self.pcmk_quorate(h))
        return _and(parts)

    def _in_quorum(self, s: str, m: str) -> z3.BoolRef:
        v = self.v
        parts = [self.inst_ok(s, m)]
        if v.uses_pacemaker(s):
            parts.append(self.pcmk_quorate(m))
        parts.append(_at_least([_and([self.inst_ok(w, x), self.reach(m, x)]) for w, x in v.cluster_voters(s)],
                                v.quorum(s)))
        return _and(parts)

    def _reaches_quorate(self, s: str, m: str) -> z3.BoolRef:
        """Member ``m`` of Elected ``s`` reaches a quorate member of the coordinator."""
        c = self.v.coordinator(s)
        if c is None:
            return FALSE
        return _or([_and([self.in_quorum(c, x), self.reach(m, x)]) for x in self.v.instances[c]])

    def leader_candidate(self, s: str, m: str) -> z3.BoolRef:
        """Member ``m`` of Elected ``s`` is ok, reaches a quorate member of
        the coordinator and ``min_replicas`` other ok members."""
        if self.v.coordinator(s) is None:
            return FALSE
        others = [_and([self.inst_ok(s, x), self.reach(m, x)]) for x in self.v.instances[s] if x != m]
        return _and([self.inst_ok(s, m), self._reaches_quorate(s, m),
                     _at_least(others, self.v.services[s].strategy.min_replicas)])

    def cut_off_writer(self, s: str, m: str) -> z3.BoolRef:
        """Member ``m`` of Elected ``s`` keeps writing as a cut-off old
        master: ok, reaching no quorate coordinator member, and reaching
        ``min_replicas`` other members that are cut off too."""
        def cut(x: str) -> z3.BoolRef:
            return _and([self.inst_ok(s, x), z3.Not(self._reaches_quorate(s, x))])
        others = [_and([cut(x), self.reach(m, x)]) for x in self.v.instances[s] if x != m]
        return _and([cut(m), _at_least(others, self.v.services[s].strategy.min_replicas)])

    def _served(self, s: str, targets: list[tuple[str, z3.BoolRef]], h: str | None) -> z3.BoolRef:
        if h is None:
            return _or([t for _, t in targets])
        return _or([_and([self.eligible(h, x), _or([_and([t, self.reach(x, b)]) for b, t in targets])])
                    for x in self.v.holders[h]])

    # -- services -----------------------------------------------------------

    def local_up(self, s: str, via: str | None = None) -> z3.BoolRef:
        v = self.v
        h = v.access_holder(s) if via is None else via
        st = v.services[s].strategy
        inst = v.instances[s]
        if isinstance(st, External):
            return TRUE
        if isinstance(st, (Vrrp, PacemakerVip)):
            return _or([self.eligible(s, h) for h in v.holders[s]])
        if isinstance(st, BehindVip):
            return self._served(s, [(n, self.inst_ok(s, n)) for n in inst], h)
        if isinstance(st, AppCluster):
            members = [(m, self.in_quorum(s, m)) for m in inst]
            return self._served(s, members, h) if st.access is not None else _or([t for _, t in members])
        if isinstance(st, Elected):
            members = [(m, self.leader_candidate(s, m)) for m in inst]
            return self._served(s, members, h) if st.access is not None else _or([t for _, t in members])
        if isinstance(st, (Coordinated, Witness)):
            return _or([self.inst_ok(s, n) for n in inst])
        if isinstance(st, ActivePassive):
            if st.manager is None:
                return self.inst_ok(s, inst[0]) if inst else FALSE
            net = v.vip_network.get(s)  # with vips: the address follows it
            return _or([_and([self.inst_ok(s, n), self.pcmk_quorate(n)]
                             + ([self.port_up(n, net)] if net is not None else [])) for n in inst])
        if isinstance(st, Sharded):
            return _and([self.inst_ok(s, n) for n in inst]) if inst else FALSE
        raise TypeError(f"unknown strategy {type(st).__name__}")

    def up(self, s: str, via: str | None = None) -> z3.BoolRef:
        return self._up_via(s, self.v.access_holder(s) if via is None else via)

    def _up(self, s: str, via: str | None) -> z3.BoolRef:
        """``s`` fully available (Sharded: every shard), dependencies included,
        to clients that come through VIP holder ``via`` (default: its first
        front's); a dependency is reached through its internal front."""
        v = self.v
        return _and([self.local_up(s, via)]
                     + [self.up(d, v.access_holder(d, s)) for d in v.dependencies(s)])

    def split_brain(self, s: str) -> z3.BoolRef:
        """Two masters of ``s`` that cannot see each other (see semantics)."""
        v = self.v
        st = v.services[s].strategy
        if isinstance(st, (Vrrp, PacemakerVip)):
            net = v.vip_network[s]
            hs = v.holders[s]
            el = {h: self.eligible(s, h, True) for h in hs}
            return _or([_and([el[a], el[b], z3.Not(self.reach_on(a, b, net))])
                        for i, a in enumerate(hs) for b in hs[i + 1:]])
        if isinstance(st, AppCluster):
            ms = v.instances[s]
            if 2 * v.quorum(s) > len(v.cluster_voters(s)):
                return FALSE  # two disjoint quorums cannot exist
            return _or([_and([self.in_quorum(s, a), self.in_quorum(s, b), z3.Not(self.reach(a, b))])
                        for i, a in enumerate(ms) for b in ms[i + 1:]])
        if isinstance(st, Elected) and not st.steps_down:
            ms = v.instances[s]
            return _and([_or([self.leader_candidate(s, m) for m in ms]), _or([self.cut_off_writer(s, m) for m in ms])])
        return FALSE
