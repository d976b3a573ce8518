"""Plain-Python failure semantics: which services are up for one failure set.

This is the *independent* evaluator of the same rules that
:mod:`hamodel.analysis.encoding` states as Z3 formulas: graph search instead
of formulas. Tests replay every Z3 counterexample through it, and it is the
brute-force oracle (tests and ``benchmarks/bench_analysis.py``). Docs use it
for :func:`hamodel.analysis.failures.single_failure_scenarios`.

Rules (per strategy, given the failed components):

- a node is down if it, or any domain enclosing it, failed, or when it is
  dual-corded (``Node.power``) if every one of its feeds is down (a feed is
  down when it or a domain enclosing it failed); a switch is down if it, or
  any domain enclosing it, failed; a port is up iff its node and at least
  one of its switches (``switch`` and ``bond``) are; two nodes reach each
  other iff on a network they share a path of up switches and up links
  (``link:`` per network, ``trunk:`` shared by networks) joins an up switch
  of one to an up switch of the other (nodes with no modelled interface
  reach every up node);
- an instance is *ok* iff its node is up, its process did not fail and (when
  the node has interfaces) at least one of its ports is up;
- Vrrp: a holder is eligible iff up, its port on the VIP network is up and
  keepalived and the tracked process run; the VIP is up iff one is eligible;
  split brain iff two eligible holders cannot reach each other on that
  network (no quorum: each side elects a master);
- PacemakerVip: like Vrrp, but the holder must also be in a Pacemaker
  partition with quorum (cluster nodes of ``Architecture.pacemaker``): a
  cluster node is quorate iff it is up and the votes it reaches (cluster
  nodes, plus the quorum device when its node is up, ``corosync-qnetd``
  runs there and it is reachable) are at least the quorum (majority of
  nodes + qdevice); with ``two_node`` a node alone is quorate, except that
  with fencing, in a partition (the other node up but unreachable), only
  the winner of the fence race is: the node whose fencing is delayed
  longest (``FenceDevice.delay_base_s``), the first by name on equal delays;
- BehindVip: some eligible holder of the VIP reaches an ok backend;
- AppCluster: some ok member reaches >= quorum ok voters (itself
  included; voters are the members plus the instances of its ``Witness``
  services); with ``access`` the VIP holder must reach such a member;
- Elected(by=c): some ok member reaches a member of ``c`` that is in ``c``'s
  quorum (and ``c`` is up, as a dependency) and at least ``min_replicas``
  other ok members; with ``access`` the VIP holder must reach such a
  member; with ``steps_down`` (the default) never split brain (the lock is
  exclusive); without, split brain iff such a writer exists and so does an
  ok member reaching no quorate member of ``c`` but ``min_replicas`` other
  ok members that reach none either (the old master keeps writing);
- Witness: up iff some instance is ok (it only matters as a vote);
- Coordinated: >= 1 ok instance; ActivePassive(manager=None): the one
  placed instance is ok; pacemaker-managed: some ok instance in a quorate
  Pacemaker partition; Sharded: up iff every shard is ok ("partial" when
  some but not all are); External: always up;
- and every declared dependency must be up.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable

from hamodel.analysis.components import QNETD, ModelView, proc_id, switch_id
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

UP, DEGRADED, PARTIAL, DOWN = "up", "degraded", "partial", "down"


class _Lazy(dict):
    """``d[key]`` computed on first use (big models, few failures)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def __missing__(self, key):
        value = self[key] = self.fn(key)
        return value


class Evaluation:
    """The state of every service under one failure set."""

    def __init__(self, v: ModelView, failed: Iterable[str]):
        self.v = v
        self.failed = frozenset(failed)
        self._node_up = _Lazy(lambda n: not v.node_down(n, self.failed))
        self._switch_up = _Lazy(lambda s: switch_id(s) not in self.failed
                                and self.failed.isdisjoint(v.switch_domains[s]))
        self._groups: dict[str, dict[str, int]] = {}
        self._up: dict[tuple[str, str | None], bool] = {}

    # -- topology -----------------------------------------------------------

    def node_up(self, n: str) -> bool:
        return self._node_up[n]

    def port_up(self, n: str, net: str) -> bool:
        if not self._node_up[n] or net not in self.v.ports[n]:
            return False
        sws = self.v.ports[n][net]
        return not sws or any(self._switch_up[s] for s in sws)

    def _switch_group(self, net: str) -> dict[str, int]:
        """Connected component number of every up switch of ``net`` (BFS)."""
        if net not in self._groups:
            adj: dict[str, list[str]] = {s: [] for s in self.v.net_switches[net]}
            for a, b, cid in self.v.net_links[net]:
                if cid not in self.failed:
                    adj[a].append(b)
                    adj[b].append(a)
            group: dict[str, int] = {}
            for start in self.v.net_switches[net]:
                if start in group or not self._switch_up[start]:
                    continue
                group[start] = len(group)
                gid = group[start]
                q = deque([start])
                while q:
                    x = q.popleft()
                    for y in adj[x]:
                        if y not in group and self._switch_up[y]:
                            group[y] = gid
                            q.append(y)
            self._groups[net] = group
        return self._groups[net]

    def reach_on(self, a: str, b: str, net: str) -> bool:
        if not (self.port_up(a, net) and self.port_up(b, net)):
            return False
        sa, sb = self.v.ports[a][net], self.v.ports[b][net]
        if not sa or not sb:
            return True
        g = self._switch_group(net)
        ga = {g[x] for x in sa if x in g}
        return any(g[y] in ga for y in sb if y in g)

    def reach(self, a: str, b: str) -> bool:
        if a == b:
            return self._node_up[a]
        shared = set(self.v.ports[a]) & set(self.v.ports[b])
        if not shared:
            if not self.v.ports[a] or not self.v.ports[b]:
                return self._node_up[a] and self._node_up[b]
            return False
        return any(self.reach_on(a, b, net) for net in sorted(shared))

    # -- instances ----------------------------------------------------------

    def inst_ok(self, s: str, n: str) -> bool:
        if not self._node_up[n] or proc_id(self.v.process(s), n) in self.failed:
            return False
        nets = self.v.ports[n]
        return not nets or any(self.port_up(n, net) for net in nets)

    def qdevice_ok(self) -> bool:
        q = self.v.pcmk_qdevice
        return q is not None and self._node_up[q] and proc_id(QNETD, q) not in self.failed

    def pcmk_quorate(self, n: str) -> bool:
        v = self.v
        if n not in v.pcmk_nodes or not self._node_up[n]:
            return False
        if v.pcmk_two_node:
            other = next(c for c in v.pcmk_nodes if c != n)
            if not v.pcmk_fencing:
                return True
            return n == v.pcmk_winner or not self._node_up[other] or self.reach(n, other)
        votes = sum(1 for c in v.pcmk_nodes if self.reach(n, c))
        if v.pcmk_qdevice is not None and self.qdevice_ok() and self.reach(n, v.pcmk_qdevice):
            votes += 1
        return votes >= v.pcmk_quorum

    def eligible(self, s: str, h: str, for_split: bool = False) -> bool:
        """Holder ``h`` of VIP-holding service ``s`` can hold the VIP."""
        v = self.v
        if not self.port_up(h, v.vip_network[s]):
            return False
        if any(proc_id(p, h) in self.failed for p in v.holder_processes(s)):
            return False
        if isinstance(v.services[s].strategy, PacemakerVip):
            if for_split and v.arch.pacemaker is not None and not v.arch.pacemaker.fencing:
                return h in v.pcmk_nodes
            return self.pcmk_quorate(h)
        return True

    def in_quorum(self, s: str, m: str) -> bool:
        v = self.v
        if not self.inst_ok(s, m):
            return False
        if v.uses_pacemaker(s) and not self.pcmk_quorate(m):
            return False
        together = sum(1 for w, x in v.cluster_voters(s) if self.inst_ok(w, x) and self.reach(m, x))
        return together >= v.quorum(s)

    def _quorate_coordinators(self, s: str) -> list[str]:
        c = self.v.coordinator(s)
        return [] if c is None else [x for x in self.v.instances[c] if self.in_quorum(c, x)]

    def _replicas_ok(self, s: str, m: str, among: list[str]) -> bool:
        """``m`` reaches at least ``min_replicas`` of ``among`` (other ok members)."""
        need = self.v.services[s].strategy.min_replicas
        return need == 0 or sum(1 for x in among if x != m and self.reach(m, x)) >= need

    def leader_candidates(self, s: str) -> list[str]:
        """Members of Elected ``s`` that can take the leader lock and write:
        ok, reaching a quorate member of the coordinator, and reaching
        ``min_replicas`` other ok members."""
        v = self.v
        quorate = self._quorate_coordinators(s)
        ok = [m for m in v.instances[s] if self.inst_ok(s, m)]
        return [m for m in ok if any(self.reach(m, x) for x in quorate) and self._replicas_ok(s, m, ok)]

    def cut_off_writers(self, s: str) -> list[str]:
        """Members of Elected ``s`` (``steps_down=False``) that would keep
        writing as an old master cut off from the coordinator's quorate
        side: ok, reaching no quorate coordinator member, and reaching
        ``min_replicas`` other members cut off like it (replicas the quorate
        side reaches are moved to the new master)."""
        v = self.v
        quorate = self._quorate_coordinators(s)
        cut = [m for m in v.instances[s] if self.inst_ok(s, m) and not any(self.reach(m, x) for x in quorate)]
        return [m for m in cut if self._replicas_ok(s, m, cut)]

    def _served(self, s: str, targets: list[str], h: str | None) -> bool:
        """Some eligible holder of the VIP ``h`` holds in front of ``s`` reaches a target."""
        if h is None:
            return bool(targets)
        return any(self.eligible(h, x) and any(self.reach(x, b) for b in targets) for x in self.v.holders[h])

    # -- services -----------------------------------------------------------

    def local_up(self, s: str, via: str | None = None) -> bool:
        """``s`` itself answers its clients (``via``: the VIP holder they come
        through; its own first front's by default)."""
        v = self.v
        h = v.access_holder(s) if via is None else via
        st = v.services[s].strategy
        inst = v.instances[s]
        if isinstance(st, External):
            return True
        if isinstance(st, (Vrrp, PacemakerVip)):
            return any(self.eligible(s, h) for h in v.holders[s])
        if isinstance(st, BehindVip):
            return self._served(s, [n for n in inst if self.inst_ok(s, n)], h)
        if isinstance(st, AppCluster):
            members = [m for m in inst if self.in_quorum(s, m)]
            return self._served(s, members, h) if st.access is not None else bool(members)
        if isinstance(st, Elected):
            members = self.leader_candidates(s)
            return self._served(s, members, h) if st.access is not None else bool(members)
        if isinstance(st, (Coordinated, Witness)):
            return any(self.inst_ok(s, n) for n in inst)
        if isinstance(st, ActivePassive):
            if st.manager is None:
                return bool(inst) and self.inst_ok(s, inst[0])
            # With vips the address follows it: the node must be on the VIP's network too.
            net = v.vip_network.get(s)
            return any(self.inst_ok(s, n) and self.pcmk_quorate(n) and (net is None or self.port_up(n, net))
                       for n in inst)
        if isinstance(st, Sharded):
            return bool(inst) and all(self.inst_ok(s, n) for n in inst)
        raise TypeError(f"unknown strategy {type(st).__name__}")

    def up(self, s: str, via: str | None = None) -> bool:
        """``s`` fully available (for Sharded: every shard) to clients that
        come through VIP holder ``via`` (default: its first front's)."""
        key = (s, self.v.access_holder(s) if via is None else via)
        if key not in self._up:
            self._up[key] = self.local_up(s, key[1]) and all(self.dep_up(s, d) for d in self.v.dependencies(s))
        return self._up[key]

    def dep_up(self, consumer: str, d: str) -> bool:
        """Dependency ``d`` up as ``consumer`` reaches it (its internal front)."""
        return self.up(d, self.v.access_holder(d, consumer))

    def state(self, s: str) -> str:
        """``up``, ``degraded`` (up, some instance or holder lost),
        ``partial`` (a sharded service lost some shards) or ``down``."""
        v = self.v
        st = v.services[s].strategy
        if isinstance(st, External):
            return UP
        deps_up = all(self.dep_up(s, d) for d in v.dependencies(s))
        if isinstance(st, Sharded):
            ok = [n for n in v.instances[s] if self.inst_ok(s, n)]
            if not deps_up or not ok:
                return DOWN
            return UP if len(ok) == len(v.instances[s]) else PARTIAL
        if not self.up(s):
            return DOWN
        lost = [n for n in v.counted_instances(s) if not self.inst_ok(s, n)]
        lost += [h for h in v.holders.get(s, ()) if not self.eligible(s, h)]
        return DEGRADED if lost else UP

    def split_brain(self, s: str) -> bool:
        """Two sides each run ``s`` as master (VIP holders without quorum,
        or an AppCluster whose quorum is at most half its members)."""
        v = self.v
        st = v.services[s].strategy
        if isinstance(st, (Vrrp, PacemakerVip)):
            net = v.vip_network[s]
            el = [h for h in v.holders[s] if self.eligible(s, h, for_split=True)]
            return any(not self.reach_on(a, b, net) for i, a in enumerate(el) for b in el[i + 1:])
        if isinstance(st, AppCluster):
            if 2 * v.quorum(s) > len(v.cluster_voters(s)):
                # Two quorums share a voter, so they cannot both elect (even
                # when, with bonds, reachability is not transitive).
                return False
            q = [m for m in v.instances[s] if self.in_quorum(s, m)]
            return any(not self.reach(a, b) for i, a in enumerate(q) for b in q[i + 1:])
        if isinstance(st, Elected) and not st.steps_down:
            # The quorate side promotes a writer while a cut-off old master
            # keeps writing (any member may have been the master).
            return bool(self.leader_candidates(s)) and bool(self.cut_off_writers(s))
        return False


def evaluate(v: ModelView, failed: Iterable[str]) -> dict[str, str]:
    """State of every service (see :meth:`Evaluation.state`) when ``failed``
    components have failed."""
    e = Evaluation(v, failed)
    return {s: e.state(s) for s in sorted(v.services)}


def is_down(v: ModelView, s: str, failed: Iterable[str]) -> bool:
    """``s`` is not fully available under ``failed``."""
    return not Evaluation(v, failed).up(s)
